/**
 * Yields the items of several async iterables as each becomes ready, each source in its own order.
 * Every source has one next() requested at a time. Leaving early closes every source.
 */
export async function* mergeAsync<T>(sources: ReadonlyArray<AsyncIterable<T>>): AsyncGenerator<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const request = (index: number) => {
    const next = iterators[index].next().then((result) => ({ index, result }));
    next.catch(() => undefined); // observed through the race below; avoids an unhandled rejection if we stop first
    pending.set(index, next);
  };
  const open = new Set(iterators.keys());
  try {
    for (const index of iterators.keys()) request(index);
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      pending.delete(index);
      if (result.done) {
        open.delete(index);
        continue;
      }
      request(index);
      yield result.value;
    }
  } finally {
    await Promise.all([...open].map((index) => iterators[index].return?.().catch(() => undefined)));
  }
}
