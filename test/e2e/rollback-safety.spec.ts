/**
 * Rollback safety through real service processes sharing one database (two "pods"):
 * (2) while a rollback rebuilds, every GET /invoices/:id of an invoice that exists at the target
 *     answers 200 with either the previous state or the state at the target, never a 404 or a mix;
 *     writes keep being accepted and the resumed projection catches up with them;
 * (3) a pod killed (SIGKILL) mid-rebuild leaves the previous read model serving; the other pod resets
 *     the dead rollback, and the next rollback works;
 * (4) two rollbacks requested at once through the two pods: one 202, one 409.
 * The rebuild is slowed with the test-only ROLLBACK_BATCH_DELAY_MS so it can be observed; no fixed sleeps.
 */
import type { Pool } from 'pg';
import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { Answer, request } from '../support/http';
import { caughtUp as projectionCaughtUp, projections as projectionsOf } from '../support/projection-admin';
import { waitFor } from '../support/wait-for';

const ADMIN = signToken({ tenantId: 'tenant-ops', userId: 'operator-1', roles: ['admin'] }, TEST_JWT_SECRET);
const USER = signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['accountant'] }, TEST_JWT_SECRET);

const SLOW_REBUILD = {
  ROLLBACK_BATCH_SIZE: '5',
  ROLLBACK_BATCH_DELAY_MS: '60',
  ROLLBACK_PROGRESS_INTERVAL_MS: '50',
  ROLLBACK_RECOVERY_INTERVAL_MS: '300',
  LOG_LEVEL: 'info',
};

function call(service: ServiceProcess, method: string, path: string, body?: unknown, token = ADMIN): Promise<Answer> {
  return request(service.baseUrl, method, path, { token, body });
}

async function createInvoice(service: ServiceProcess, n: number, payment?: string): Promise<string> {
  const created = await call(
    service,
    'POST',
    '/invoices',
    { customerId: `C-${n}`, currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: `Lot ${n}`, quantity: 4, unitPrice: '250.00', vatRate: '0.15' }] },
    USER,
  );
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await call(service, 'POST', `/invoices/${id}/approve`, {}, USER)).status).toBe(200);
  if (payment) await pay(service, id, payment, n);
  return id;
}

async function pay(service: ServiceProcess, id: string, amount: string, n: number): Promise<void> {
  const paid = await call(service, 'POST', `/invoices/${id}/payments`, { amount, method: 'bank_transfer', reference: `P-${n}`, paidAt: '2026-11-27T10:00:00Z' }, USER);
  expect(paid.status).toBe(201);
}

const projections = (service: ServiceProcess) => projectionsOf(service.baseUrl, ADMIN);
const caughtUp = (service: ServiceProcess) => projectionCaughtUp(service.baseUrl, ADMIN);

async function operation(service: ServiceProcess, id: string) {
  const answer = await call(service, 'GET', `/admin/finance/projection-rollback/${id}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

async function invoiceStates(service: ServiceProcess, ids: string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const id of ids) {
    const answer = await call(service, 'GET', `/invoices/${id}`, undefined, USER);
    expect(answer.status).toBe(200);
    states.set(id, JSON.stringify(answer.body));
  }
  return states;
}

describe('rollback safety with two service instances on one database', () => {
  let db: TestDatabase;
  let pool: Pool;
  let a: ServiceProcess;
  let b: ServiceProcess;
  const ids: string[] = [];
  let target: string;
  let atHead: Map<string, string>;
  let atTarget: Map<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('rollback_safety_e2e');
    pool = db.pool();
    a = await startService({ ...db.env(), ...SLOW_REBUILD });
    b = await startService({ ...db.env(), ...SLOW_REBUILD, MIGRATE_ON_START: 'false' });
    for (let n = 0; n < 16; n++) ids.push(await createInvoice(a, n, n % 2 === 0 ? '100.00' : undefined));
    await caughtUp(a);
    target = (await projections(a)).head;
    atTarget = await invoiceStates(a, ids);
    // After the target, one more payment on every third invoice: at most one event each, so an invoice
    // can only ever read as its state at the target or its state at the head.
    for (let n = 0; n < 16; n += 3) await pay(b, ids[n], '200.00', 100 + n);
    await caughtUp(a);
    atHead = await invoiceStates(b, ids);
  }, 120000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  it('(2) readers never see a 404 or a half-built invoice during the rebuild; writes are accepted and caught up after', async () => {
    const seen: string[] = [];
    const problems: string[] = [];
    let running = true;
    const readers = [a, b].map(async (service, r) => {
      for (let i = r; running; i++) {
        const id = ids[i % ids.length];
        const answer = await call(service, 'GET', `/invoices/${id}`, undefined, USER);
        const text = JSON.stringify(answer.body);
        if (answer.status !== 200) problems.push(`${id}: HTTP ${answer.status}`);
        else if (text !== atHead.get(id) && text !== atTarget.get(id)) problems.push(`${id}: neither the previous nor the target state: ${text}`);
        else seen.push(text === atHead.get(id) ? 'head' : 'target');
      }
    });

    const requested = await call(a, 'POST', '/admin/finance/projection-rollback', { targetVersion: target, resume: false });
    expect(requested.status).toBe(202);
    const id = requested.body.operationId as string;
    await waitFor(async () => (await operation(b, id)).phase === 'replaying', 10000, 'the replay');
    expect((await projections(b)).state).toBe('rebuilding');
    // Writes during the rebuild are accepted.
    const written = [await createInvoice(b, 200, '300.00'), await createInvoice(a, 201)];
    await pay(b, ids[1], '50.00', 300);
    // ... and they did land during it: the rebuild was still under way after the last one.
    expect(await operation(b, id)).toMatchObject({ status: 'running', phase: 'replaying' });
    await waitFor(async () => (await operation(a, id)).status !== 'running', 60000, 'the rollback to end');
    // Held at the target: the readers see the target states now.
    const readsAfterSwap = seen.length;
    await waitFor(() => seen.length > readsAfterSwap + 10, 10000, 'reads after the swap');
    running = false;
    await Promise.all(readers);

    expect(await operation(b, id)).toMatchObject({ status: 'succeeded', error: null });
    expect(problems).toEqual([]);
    expect(seen).toContain('head');
    expect(seen).toContain('target');
    expect(await invoiceStates(a, ids)).toEqual(atTarget);
    for (const w of written) expect((await call(a, 'GET', `/invoices/${w}`, undefined, USER)).status).toBe(404);

    expect((await call(b, 'POST', '/admin/finance/projection-resume')).status).toBe(200);
    await caughtUp(a);
    expect((await call(a, 'GET', `/invoices/${written[0]}`, undefined, USER)).body).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: '300.00' });
    expect((await call(b, 'GET', `/invoices/${written[1]}`, undefined, USER)).body).toMatchObject({ status: 'APPROVED' });
    expect((await call(a, 'GET', `/invoices/${ids[1]}`, undefined, USER)).body).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: '50.00' });
    expect((await call(a, 'GET', `/invoices/${ids[3]}`, undefined, USER)).body.amountPaid).toBe('200.00');
    expect((await call(b, 'GET', '/admin/finance/projection-verify')).status).toBe(200);
    atHead = await invoiceStates(a, ids);
  });

  it('(4) two rollbacks requested at once through two instances: one 202, one 409', async () => {
    const body = { targetVersion: target };
    const [first, second] = await Promise.all([
      call(a, 'POST', '/admin/finance/projection-rollback', body),
      call(b, 'POST', '/admin/finance/projection-rollback', body),
    ]);
    expect([first.status, second.status].sort()).toEqual([202, 409]);
    const accepted = first.status === 202 ? first : second;
    const refused = first.status === 409 ? first : second;
    expect(refused.body).toMatchObject({ code: 'ROLLBACK_IN_PROGRESS', operationId: accepted.body.operationId });
    // While it runs, any further request from either pod is refused too.
    expect((await call(a, 'POST', '/admin/finance/projection-rollback', body)).status).toBe(409);
    await waitFor(async () => (await operation(a, accepted.body.operationId)).status === 'succeeded', 60000, 'the accepted rollback');
    await caughtUp(b);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM projection_rollback_operations WHERE id = $1`, [refused.body.operationId]);
    expect(rows[0].n).toBe(1); // the refused request created no operation of its own: it names the running one
  });

  it('(3) an instance killed mid-rebuild leaves the old model serving; the other resets it; the next rollback works', async () => {
    const before = await invoiceStates(b, ids);
    const checkpointBefore = (await projections(b)).checkpoint;
    const requested = await call(a, 'POST', '/admin/finance/projection-rollback', { targetVersion: target });
    expect(requested.status).toBe(202);
    const id = requested.body.operationId as string;
    await waitFor(async () => {
      const op = await operation(b, id);
      return op.phase === 'replaying' && op.eventsReplayed > 0;
    }, 10000, 'the rebuild to be under way');
    await a.kill(); // SIGKILL: no cleanup runs in the dying process

    // The previous read model keeps serving, complete, from the surviving instance.
    expect(await invoiceStates(b, ids)).toEqual(before);
    await waitFor(async () => (await operation(b, id)).status === 'failed', 15000, 'the dead rollback to be reset');
    const dead = await operation(b, id);
    expect(dead.error).toMatch(/^interrupted/);
    expect(dead.finishedAt).not.toBeNull();
    const after = await projections(b);
    expect(after.state).toBe('running');
    expect(BigInt(after.checkpoint)).toBeGreaterThanOrEqual(BigInt(checkpointBefore));
    const shadows = await pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%_rollback_shadow'`);
    expect(shadows.rows[0].n).toBe(0);
    expect(await invoiceStates(b, ids)).toEqual(before);
    expect(b.output()).toMatch(/"operation":"projection-rollback","operationId":"[^"]+","targetVersion":"\d+".*reset an interrupted projection rollback/);

    const next = await call(b, 'POST', '/admin/finance/projection-rollback', { targetVersion: target, resume: false });
    expect(next.status).toBe(202);
    await waitFor(async () => (await operation(b, next.body.operationId)).status === 'succeeded', 60000, 'the next rollback');
    expect(await projections(b)).toMatchObject({ state: 'held', checkpoint: target, holdPosition: target });
    expect(await invoiceStates(b, ids)).toEqual(atTarget);
    expect((await call(b, 'POST', '/admin/finance/projection-resume')).status).toBe(200);
    await caughtUp(b);
    expect(await invoiceStates(b, ids)).toEqual(before);
  });
});
