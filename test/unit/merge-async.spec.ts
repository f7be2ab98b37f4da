import { mergeAsync } from '../../services/finance/src/util/merge-async';

/** A source whose items are released by the test, and which records being closed. */
function controlledSource<T>() {
  const waiting: Array<(value: IteratorResult<T>) => void> = [];
  const ready: Array<IteratorResult<T>> = [];
  const state = { closed: false };
  const deliver = (result: IteratorResult<T>) => {
    const resolve = waiting.shift();
    if (resolve) resolve(result);
    else ready.push(result);
  };
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: () => (ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise<IteratorResult<T>>((resolve) => waiting.push(resolve))),
      return: async () => {
        state.closed = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return { iterable, push: (value: T) => deliver({ done: false, value }), end: () => deliver({ done: true, value: undefined }), state };
}

async function* items<T>(...values: T[]): AsyncGenerator<T> {
  for (const value of values) yield value;
}

describe('mergeAsync', () => {
  it('yields items as their source makes them ready, each source in its own order', async () => {
    const a = controlledSource<string>();
    const b = controlledSource<string>();
    const merged = mergeAsync([a.iterable, b.iterable]);
    b.push('b1');
    expect((await merged.next()).value).toBe('b1');
    a.push('a1');
    expect((await merged.next()).value).toBe('a1');
    b.push('b2');
    b.end();
    expect((await merged.next()).value).toBe('b2');
    a.push('a2');
    a.end();
    expect((await merged.next()).value).toBe('a2');
    expect((await merged.next()).done).toBe(true);
  });

  it('yields every item of every source', async () => {
    const out: number[] = [];
    for await (const n of mergeAsync([items(1, 2, 3), items<number>(), items(10, 20)])) out.push(n);
    expect(out.filter((n) => n < 10)).toEqual([1, 2, 3]);
    expect(out.filter((n) => n >= 10)).toEqual([10, 20]);
  });

  it('closes the sources still open when the consumer leaves early', async () => {
    const a = controlledSource<string>();
    const b = controlledSource<string>();
    a.push('a1');
    b.push('b1');
    b.end();
    for await (const item of mergeAsync([a.iterable, b.iterable])) {
      expect(item).toMatch(/1$/);
      a.push('a2'); // lets a's pending next() settle, so its return() can run
      break;
    }
    expect(a.state.closed).toBe(true);
  });

  it("passes a source's error on, and closes the others", async () => {
    const a = controlledSource<string>();
    async function* failing(): AsyncGenerator<string> {
      yield 'x';
      throw new Error('source broke');
    }
    const merged = mergeAsync([failing(), a.iterable]);
    expect((await merged.next()).value).toBe('x');
    const next = merged.next();
    a.push('a1'); // lets a's pending next() settle, so its return() can run
    await expect(next).rejects.toThrow('source broke');
    expect(a.state.closed).toBe(true);
  });
});
