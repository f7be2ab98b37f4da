/**
 * The projection rollback as operators meet it: real service processes on one database, over HTTP.
 * - readers keep getting complete invoices while a rollback runs; writes keep being accepted and show up after;
 * - two rollbacks requested at once through two instances: one 202, one 409;
 * - an instance killed mid-rebuild leaves the old read model serving, another instance recovers, the next rollback works.
 * The rebuild is slowed with the test-only ROLLBACK_BATCH_DELAY_MS so it can be observed; no fixed sleeps.
 */
import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { ServiceProcess, startService, TEST_JWT_SECRET, waitFor } from '../support/service-process';

const admin = signToken({ tenantId: 'tenant-ops', userId: 'operator', roles: ['admin'] }, TEST_JWT_SECRET);

const SLOW_REBUILD = {
  ROLLBACK_BATCH_SIZE: '10',
  ROLLBACK_BATCH_DELAY_MS: '150',
  ROLLBACK_PROGRESS_INTERVAL_MS: '100',
  ROLLBACK_RECOVERY_INTERVAL_MS: '300',
  LOG_LEVEL: 'info',
};

interface Answer {
  status: number;
  body: any;
}

async function call(service: ServiceProcess, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(service.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const invoiceBody = (n: number) => ({
  customerId: `C-${1000 + n}`,
  currency: 'BDT',
  dueDate: '2026-12-31',
  lines: [{ description: `Cement lot ${n}`, quantity: 10, unitPrice: '550.00', vatRate: '0.15' }],
});

async function createInvoice(service: ServiceProcess, n: number, payment?: string): Promise<string> {
  const created = await call(service, 'POST', '/invoices', invoiceBody(n));
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await call(service, 'POST', `/invoices/${id}/approve`)).status).toBe(200);
  if (payment) {
    const paid = await call(service, 'POST', `/invoices/${id}/payments`, { amount: payment, method: 'cash', reference: `R-${n}`, paidAt: '2026-11-26T10:00:00Z' });
    expect(paid.status).toBe(201);
  }
  return id;
}

async function projections(service: ServiceProcess) {
  const answer = await call(service, 'GET', '/admin/finance/projections');
  expect(answer.status).toBe(200);
  return answer.body as { state: string; checkpoint: string; head: string };
}

async function caughtUp(service: ServiceProcess): Promise<void> {
  await waitFor(async () => {
    const p = await projections(service);
    return p.state === 'running' && p.checkpoint === p.head;
  }, 20000, 'the projection to reach the head');
}

async function operation(service: ServiceProcess, id: string) {
  const answer = await call(service, 'GET', `/admin/finance/projection-rollback/${id}`);
  expect(answer.status).toBe(200);
  return answer.body as { status: string; phase: string; eventsReplayed: number; error: string | null };
}

/** An invoice read is complete when its amounts agree with each other. */
function expectComplete(invoice: any): void {
  const minor = (s: string) => BigInt(s.replace('.', ''));
  expect(minor(invoice.subtotal) + minor(invoice.vatTotal)).toBe(minor(invoice.total));
  expect(minor(invoice.total) - minor(invoice.amountPaid)).toBe(minor(invoice.balanceDue));
  expect(['APPROVED', 'PARTIALLY_PAID', 'PAID']).toContain(invoice.status);
}

describe('projection rollback through running service instances', () => {
  let db: TestDatabase;
  let a: ServiceProcess;
  let b: ServiceProcess;
  const before: string[] = [];
  let target: bigint;

  beforeAll(async () => {
    db = await createTestDatabase('finance_operator_rollback');
    a = await startService({ ...db.env(), ...SLOW_REBUILD });
    b = await startService({ ...db.env(), ...SLOW_REBUILD, MIGRATE_ON_START: 'false' });
    for (let n = 0; n < 30; n++) before.push(await createInvoice(a, n, n % 2 === 0 ? '1000.00' : undefined));
    await caughtUp(a);
    target = BigInt((await projections(a)).head);
    // Events after the target: payments the rollback will drop from the read model.
    for (let n = 0; n < 30; n += 3) {
      const paid = await call(b, 'POST', `/invoices/${before[n]}/payments`, { amount: '500.00', method: 'bank_transfer', reference: `L-${n}`, paidAt: '2026-11-27T10:00:00Z' });
      expect(paid.status).toBe(201);
    }
    await caughtUp(a);
  }, 120000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('keeps serving complete invoices and accepting writes while it rebuilds, then catches up with them', async () => {
    let reads = 0;
    const readProblems: string[] = [];
    let rebuilding = true;
    const reader = (async () => {
      for (let i = 0; rebuilding; i++) {
        const id = before[i % before.length];
        const answer = await call(i % 2 ? a : b, 'GET', `/invoices/${id}`);
        reads++;
        if (answer.status !== 200) readProblems.push(`${id}: ${answer.status}`);
        else expectComplete(answer.body);
      }
    })();

    const requested = await call(a, 'POST', '/admin/finance/projection-rollback', { targetVersion: target.toString() });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ status: expect.any(String), targetVersion: target.toString() });
    const written: string[] = [];
    await waitFor(async () => (await operation(b, requested.body.operationId)).phase === 'replaying', 10000, 'the rebuild to replay');
    for (let n = 100; n < 105; n++) written.push(await createInvoice(b, n, '100.00')); // writes during the rebuild
    await waitFor(async () => (await operation(b, requested.body.operationId)).status !== 'running', 60000, 'the rollback to end');
    rebuilding = false;
    await reader;

    expect(await operation(a, requested.body.operationId)).toMatchObject({ status: 'succeeded', error: null });
    expect(readProblems).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    await caughtUp(b);
    for (const id of written) expect((await call(a, 'GET', `/invoices/${id}`)).body).toMatchObject({ id, status: 'PARTIALLY_PAID', amountPaid: '100.00' });
    const paidAfterTarget = await call(a, 'GET', `/invoices/${before[3]}`);
    expect(paidAfterTarget.body.amountPaid).toBe('500.00'); // resumed projection re-applied the later payment
    expect((await call(b, 'GET', '/admin/finance/projection-verify')).status).toBe(200);
  });

  it('answers one 202 and one 409 when two instances are asked at once', async () => {
    const body = { targetVersion: target.toString() };
    const [first, second] = await Promise.all([
      call(a, 'POST', '/admin/finance/projection-rollback', body),
      call(b, 'POST', '/admin/finance/projection-rollback', body),
    ]);
    expect([first.status, second.status].sort()).toEqual([202, 409]);
    const accepted = first.status === 202 ? first : second;
    await waitFor(async () => (await operation(a, accepted.body.operationId)).status === 'succeeded', 60000, 'the accepted rollback');
    await caughtUp(a);
  });

  it('leaves the old read model serving when the rebuilding instance is killed, and the next rollback works', async () => {
    const requested = await call(a, 'POST', '/admin/finance/projection-rollback', { targetVersion: target.toString() });
    expect(requested.status).toBe(202);
    const id = requested.body.operationId as string;
    await waitFor(async () => {
      const op = await operation(b, id);
      return op.phase === 'replaying' && op.eventsReplayed > 0;
    }, 10000, 'the rebuild to be under way');
    await a.kill(); // SIGKILL mid-rebuild

    for (const invoiceId of before) {
      const answer = await call(b, 'GET', `/invoices/${invoiceId}`);
      expect(answer.status).toBe(200);
      expectComplete(answer.body);
    }
    await waitFor(async () => (await operation(b, id)).status === 'failed', 15000, 'the dead rollback to be marked failed');
    expect((await operation(b, id)).error).toMatch(/interrupted/i);
    await caughtUp(b);
    expect((await call(b, 'GET', `/invoices/${before[3]}`)).body.amountPaid).toBe('500.00');

    const next = await call(b, 'POST', '/admin/finance/projection-rollback', { targetVersion: target.toString(), resume: false });
    expect(next.status).toBe(202);
    await waitFor(async () => (await operation(b, next.body.operationId)).status === 'succeeded', 60000, 'the next rollback');
    const held = await projections(b);
    expect(held).toMatchObject({ state: 'held', checkpoint: target.toString() });
    expect((await call(b, 'GET', `/invoices/${before[3]}`)).body.amountPaid).toBe('0.00'); // the later payment is not in the model at the target
    expect((await call(b, 'POST', '/admin/finance/projection-resume')).status).toBe(200);
    await caughtUp(b);
    expect((await call(b, 'GET', `/invoices/${before[3]}`)).body.amountPaid).toBe('500.00');
  });
});
