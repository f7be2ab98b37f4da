/**
 * A page the live projection reads ahead fails while the page before it is written: the manager logs
 * the failure and retries, and the process lives on. Run in a child process (the compiled code), because
 * a rejection nothing handles yet ends a real Node process but not a Jest worker.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PostgresEventStore } from '../../services/finance/src/event-store/postgres-event-store';
import { appendSpecs, EventSpec, FinanceEventBuilder } from '../../services/finance/src/projections/testing/finance-event-fixtures';
import { createTestDatabase, migrateTestDatabase, TestDatabase } from '../support/database';
import { PROJECT_ROOT } from '../support/service-process';

function runChild(db: TestDatabase): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'test', 'support', 'read-ahead-failure-child.cjs')], {
      env: { ...process.env, PGHOST: db.host, PGPORT: String(db.port), PGUSER: db.user, PGPASSWORD: db.password, PGDATABASE: db.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the live projection when a page read ahead fails', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('read_ahead');
    await migrateTestDatabase(db);
    const b = new FinanceEventBuilder('tenant-r');
    const specs: EventSpec[] = [];
    for (let i = 0; i < 20; i++) specs.push(b.journalEntry({ memo: `entry ${i}` })); // two pages and more at 10 a page
    await appendSpecs(new PostgresEventStore(db.pool()), specs);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('logs the failure, retries and catches up, and the process does not die', async () => {
    const { code, stdout, stderr } = await runChild(db);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(stdout.trim());
    expect(result).toEqual({ caughtUp: true, head: '20', errors: ['projection: batch failed; retrying'] });
  });
});
