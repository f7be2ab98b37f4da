/**
 * docs/runbook.md "Try it on your machine": the projection-rollback procedure run exactly as written, against
 * `npm start` on localhost:3000 / 9090 (everything after its `npm ci` line: this test runs inside an installed
 * tree). Only the embedded PostgreSQL's data directory and port are redirected, through the environment.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDataDir } from '../support/postgres-process';
import { freePort, PROJECT_ROOT } from '../support/service-process';

const runbook = readFileSync(join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');

function localProcedure(): string {
  const section = /<!-- runbook-local:start -->\s*```bash\n([\s\S]*?)```\s*<!-- runbook-local:end -->/.exec(runbook);
  if (!section) throw new Error('docs/runbook.md has no runbook-local block');
  const lines = section[1].split('\n');
  expect(lines[0]).toBe('npm ci');
  return lines.slice(1).join('\n');
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

describe('runbook: projection rollback on this machine', () => {
  it('works as written against npm start', async () => {
    for (const port of [3000, 9090]) expect({ port, free: await portIsFree(port) }).toEqual({ port, free: true });
    const script = localProcedure();
    expect(script).toContain('/admin/finance/projection-rollback');
    const child = spawn('bash', ['-eo', 'pipefail', '-c', script], {
      cwd: PROJECT_ROOT,
      detached: true, // its own process group, so whatever it leaves behind can be stopped
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        EMBEDDED_PG_DATA_DIR: tempDataDir('finance-runbook-'),
        EMBEDDED_PG_PORT: String(await freePort()),
      },
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* the group has already gone */
    }
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    expect(output).toMatch(/"ok":true/); // projection-verify
    expect(output).toMatch(/"operation":"projection-rollback"/); // the log lines the runbook greps
    expect(output).toMatch(/finance_projection_rollback_total\{result="succeeded"\} 1$/m);
    const log = readFileSync('/tmp/finance-service.log', 'utf8');
    expect(log).toMatch(/shutdown complete/);
  }, 240000);
});
