/**
 * Child process for test/e2e/projection-read-failure.spec.ts: a real Node process (Jest's own would not
 * end on an unhandled rejection) runs the compiled ProjectionManager over the PostgreSQL event store of
 * the database in PG* env, with the second page of the first read failing while the first page's batch
 * is written. Prints one JSON line and exits 0 once the checkpoint reaches the head; exits 1 on an
 * unhandled rejection (Node's default), 2 past the deadline.
 */
const { join } = require('node:path');
const { Pool } = require('pg');

const dist = join(__dirname, '..', '..', 'dist', 'services', 'finance', 'src');
const { PostgresEventStore } = require(join(dist, 'event-store', 'postgres-event-store.js'));
const { ProjectionManager } = require(join(dist, 'projections', 'projection-manager.js'));
const { readCheckpoint } = require(join(dist, 'projections', 'projection-state.js'));

const deadline = setTimeout(() => {
  console.log(JSON.stringify({ caughtUp: false }));
  process.exit(2);
}, 20_000);

/** The real store, except that its first readAll fails on its second page (a dropped connection, say). */
function failingSecondPage(store) {
  let failed = false;
  return new Proxy(store, {
    get(target, key) {
      if (key !== 'readAll') return Reflect.get(target, key);
      return (options) => {
        const pages = target.readAll(options);
        if (failed) return pages;
        failed = true;
        return {
          [Symbol.asyncIterator]() {
            const inner = pages[Symbol.asyncIterator]();
            let page = 0;
            return {
              next: () => (++page === 2 ? Promise.reject(new Error('injected: the read-ahead page failed')) : inner.next()),
              return: (value) => inner.return?.(value) ?? Promise.resolve({ done: true, value }),
            };
          },
        };
      };
    },
  });
}

async function main() {
  const pool = new Pool({ max: 4 });
  pool.on('error', () => undefined);
  const store = new PostgresEventStore(pool);
  const errors = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (obj, msg) => errors.push(msg) };
  const manager = new ProjectionManager({ pool, eventStore: failingSecondPage(store), batchSize: 10, idlePollMs: 25, leaderRetryMs: 100, errorBackoffMs: 50, metricsRefreshMs: 0, logger });
  manager.start();
  const head = await store.headPosition();
  while ((await readCheckpoint(pool)) !== head) await new Promise((resolve) => setTimeout(resolve, 25));
  await manager.stop();
  await pool.end();
  clearTimeout(deadline);
  console.log(JSON.stringify({ caughtUp: true, head: head.toString(), errors }));
}

main().catch((error) => {
  console.error(error);
  process.exit(3);
});
