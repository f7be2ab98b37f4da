import type { ClientBase, QueryResult, QueryResultRow } from 'pg';

/**
 * One database session used as a FIFO of work: each piece starts when the previous one has finished,
 * so a read queued after a write on the same lane sees it. Several lanes give PostgreSQL several
 * backends to work in while Node folds the next batch. After a failure every later piece fails with
 * the first error (the rebuild is abandoned as a whole).
 */
export class SqlLane<C extends ClientBase = ClientBase> {
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    readonly name: string,
    readonly client: C,
  ) {}

  /** Runs `work` after everything queued before it; resolves with its result. */
  run<T>(work: (client: C) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return work(this.client);
    });
    this.tail = result.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    return result;
  }

  /** One statement, queued like any other work. */
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    return this.run((client) => client.query<R>(text, values));
  }

  /** Queues `work` without waiting; its failure surfaces at the next run() or idle(). */
  submit(work: (client: C) => Promise<unknown>): void {
    this.run(work).catch(() => undefined);
  }

  /** Resolves once everything queued so far has finished; throws the lane's first failure. */
  async idle(): Promise<void> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Spreads tasks over runners (lanes, or anything that works one task at a time): each runner takes the
 * next task when it has finished its previous one. Results come back in the tasks' order.
 */
export async function runSpread<R, T>(runners: readonly R[], tasks: ReadonlyArray<(runner: R) => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    runners.map(async (runner) => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index](runner);
      }
    }),
  );
  return results;
}
