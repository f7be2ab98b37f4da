/**
 * The admin API over HTTP against the spawned compiled service (dist) on a fresh database: auth (401/403),
 * validation (400 naming the field, beyond-head targets), the runbook's curl command exactly as written
 * (no Content-Type: curl labels the JSON body application/x-www-form-urlencoded), hold and resume,
 * the audit record, verification failing with a non-2xx status, a rollback failing at the swap
 * (old model kept), metrics and the `projection-rollback` log lines.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Pool } from 'pg';
import { signToken } from '../../services/finance/src/http/auth/token';
import { createTestDatabase, TestDatabase } from '../support/database';
import { ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { Answer, request } from '../support/http';
import { INTEGRITY_CHECK_NAMES } from '../support/integrity-check-names';
import { caughtUp as projectionCaughtUp, projections as projectionsOf } from '../support/projection-admin';
import { waitFor } from '../support/wait-for';

const run = promisify(execFile);

const ADMIN = signToken({ tenantId: 'tenant-ops', userId: 'operator-7', roles: ['admin'] }, TEST_JWT_SECRET);
const ACCOUNTANT = signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['accountant'] }, TEST_JWT_SECRET);
const WRONG_SECRET = signToken({ tenantId: 'tenant-ops', userId: 'mallory', roles: ['admin'] }, 'another-secret-another-secret-0123456');

describe('admin API (compiled service over HTTP)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let service: ServiceProcess;
  const invoices: string[] = [];

  async function call(method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string; contentType?: string } = {}): Promise<Answer> {
    const token = options.token === undefined ? ADMIN : options.token;
    return request(service.baseUrl, method, path, { token, body: options.raw ?? options.body, contentType: options.contentType });
  }

  const projections = () => projectionsOf(service.baseUrl, ADMIN);
  const caughtUp = () => projectionCaughtUp(service.baseUrl, ADMIN);

  async function finished(operationId: string) {
    let op: any;
    await waitFor(async () => (op = (await call('GET', `/admin/finance/projection-rollback/${operationId}`)).body).status !== 'running', 30000, 'the rollback to finish');
    return op;
  }

  async function createInvoice(n: number, payment?: string): Promise<string> {
    const created = await call('POST', '/invoices', {
      token: ACCOUNTANT,
      body: { customerId: `C-${n}`, currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: `Item ${n}`, quantity: 2, unitPrice: '100.00', vatRate: '0.15' }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call('POST', `/invoices/${id}/approve`, { token: ACCOUNTANT, body: {} })).status).toBe(200);
    if (payment) {
      const paid = await call('POST', `/invoices/${id}/payments`, { token: ACCOUNTANT, body: { amount: payment, method: 'cash', reference: `R-${n}`, paidAt: '2026-11-26T10:00:00Z' } });
      expect(paid.status).toBe(201);
    }
    return id;
  }

  beforeAll(async () => {
    db = await createTestDatabase('admin_api_e2e');
    pool = db.pool();
    service = await startService({ ...db.env(), LOG_LEVEL: 'info', ROLLBACK_RECOVERY_INTERVAL_MS: '500' });
    for (let n = 0; n < 6; n++) invoices.push(await createInvoice(n, n % 2 === 0 ? '50.00' : undefined));
    await caughtUp();
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('answers 401 without a valid bearer token and 403 without the admin role, on every admin route', async () => {
    const routes: Array<[string, string]> = [
      ['POST', '/admin/finance/projection-rollback'],
      ['GET', '/admin/finance/projection-rollback'],
      ['GET', '/admin/finance/projection-rollback/00000000-0000-4000-8000-000000000000'],
      ['GET', '/admin/finance/projection-verify'],
      ['GET', '/admin/finance/projections'],
      ['POST', '/admin/finance/projection-resume'],
    ];
    for (const [method, path] of routes) {
      const body = method === 'POST' ? { targetVersion: 1 } : undefined;
      expect([path, (await call(method, path, { token: null, body })).status]).toEqual([path, 401]);
      expect([path, (await call(method, path, { token: WRONG_SECRET, body })).status]).toEqual([path, 401]);
      expect([path, (await call(method, path, { token: 'not-a-jwt', body })).status]).toEqual([path, 401]);
      const forbidden = await call(method, path, { token: ACCOUNTANT, body });
      expect([path, forbidden.status]).toEqual([path, 403]);
    }
    expect((await call('GET', '/admin/finance/projection-rollback')).body.items).toEqual([]);
  });

  it('answers 401 before looking at a malformed body (JSON or curl -d form), and 400 once authenticated', async () => {
    const path = '/admin/finance/projection-rollback';
    for (const contentType of ['application/json', 'application/x-www-form-urlencoded']) {
      const raw = '{"targetVersion": ';
      expect([contentType, (await call('POST', path, { token: null, raw, contentType })).status]).toEqual([contentType, 401]);
      expect([contentType, (await call('POST', path, { token: ACCOUNTANT, raw, contentType })).status]).toEqual([contentType, 403]);
      const authenticated = await call('POST', path, { raw, contentType });
      expect([contentType, authenticated.status, authenticated.body.message]).toEqual([contentType, 400, expect.stringMatching(/^Malformed JSON body/)]);
    }
    // Prototype poisoning is still refused (Fastify's own JSON parser).
    const poisoned = await call('POST', path, { raw: '{"targetVersion": 1, "__proto__": {"x": 1}}', contentType: 'application/json' });
    expect([poisoned.status, poisoned.body.message]).toEqual([400, expect.stringMatching(/^Malformed JSON body/)]);
    expect((await call('GET', '/admin/finance/projection-rollback')).body.items).toEqual([]);
  });

  it('answers 400 naming the field for a bad target, a target beyond the head, a bad resume or an unknown field', async () => {
    const head = BigInt((await projections()).head);
    const bad: unknown[] = [-1, 1.5, 'abc', '', '-3', '1e3', null, true, [1], { n: 1 }];
    for (const targetVersion of bad) {
      const answer = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion } });
      expect([targetVersion, answer.status, answer.body.field]).toEqual([targetVersion, 400, 'targetVersion']);
    }
    expect((await call('POST', '/admin/finance/projection-rollback', { body: {} })).body).toMatchObject({ statusCode: 400, field: 'targetVersion' });
    const beyond = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: (head + 1n).toString() } });
    expect(beyond.status).toBe(400);
    expect(beyond.body).toMatchObject({ field: 'targetVersion', head: head.toString() });
    expect(beyond.body.message).toMatch(/beyond the event store head/);
    const resume = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: 1, resume: 'later' } });
    expect(resume.body).toMatchObject({ statusCode: 400, field: 'resume' });
    const typo = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: 1, resum: false } });
    expect(typo.body).toMatchObject({ statusCode: 400, field: 'resum' });
    expect((await call('POST', '/admin/finance/projection-rollback', { raw: '[1]' })).status).toBe(400);
    expect((await call('POST', '/admin/finance/projection-rollback', { raw: '{"targetVersion": ' })).status).toBe(400);
    expect((await call('GET', '/admin/finance/projection-rollback/not-a-uuid')).body).toMatchObject({ statusCode: 400, field: 'operationId' });
    expect((await call('GET', '/admin/finance/projection-rollback/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('GET', '/admin/finance/projection-rollback?limit=0')).body).toMatchObject({ statusCode: 400, field: 'limit' });
    expect((await call('GET', '/admin/finance/projection-rollback')).body.items).toEqual([]); // nothing was started
  });

  it("accepts the runbook's curl command as written (JSON body labelled application/x-www-form-urlencoded)", async () => {
    const head = (await projections()).head as string;
    // The exact shape curl -d sends: no Content-Type given, so curl says form-urlencoded.
    const shaped = await call('POST', '/admin/finance/projection-rollback', { raw: `{"targetVersion": ${head}}`, contentType: 'application/x-www-form-urlencoded' });
    expect(shaped.status).toBe(202);
    expect(shaped.body).toEqual({ operationId: expect.any(String), status: 'running', targetVersion: head, resume: true, statusUrl: expect.any(String) });
    expect((await finished(shaped.body.operationId)).status).toBe('succeeded');

    // And the runbook's commands themselves, through the curl binary.
    const { stdout } = await run('curl', ['-s', '-X', 'POST', `${service.baseUrl}/admin/finance/projection-rollback`, '-H', `Authorization: Bearer ${ADMIN}`, '-d', `{"targetVersion": ${head}}`]);
    const started = JSON.parse(stdout);
    expect(started).toMatchObject({ status: 'running', targetVersion: head });
    expect((await finished(started.operationId)).status).toBe('succeeded');
    const verify = await run('curl', ['-s', '-f', `${service.baseUrl}/admin/finance/projection-verify`, '-H', `Authorization: Bearer ${ADMIN}`]);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    await caughtUp();
  });

  it('resume:false holds the projection at the target until POST /projection-resume; the rollback is audited', async () => {
    const { head } = await projections();
    // The target: just before the payment of invoices[4] (its amount paid goes back to 0.00; invoices[5] does not exist yet).
    const { rows } = await pool.query(
      `SELECT global_position::text AS p FROM events WHERE stream_id = $1 AND type = 'PaymentRecorded'`,
      [`invoice-${invoices[4]}`],
    );
    const target = (BigInt(rows[0].p) - 1n).toString();
    const started = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: target, resume: false } });
    expect(started.status).toBe(202);
    const op = await finished(started.body.operationId);
    expect(op).toMatchObject({
      status: 'succeeded',
      phase: 'done',
      targetVersion: target,
      lastReplayedPosition: target,
      resume: false,
      requestedBy: 'operator-7',
      tenantId: 'tenant-ops',
      error: null,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      durationMs: expect.any(Number),
      eventsReplayed: Number(target),
      counts: expect.objectContaining({ invoices: 5, payments: 2, previous: expect.objectContaining({ invoices: 6, payments: 3 }) }),
    });
    const held = await projections();
    expect(held).toMatchObject({ state: 'held', holdPosition: target, checkpoint: op.lastReplayedPosition });
    // Writes are still accepted while held; the read model stays at the target.
    const later = await createInvoice(99);
    expect((await call('GET', `/invoices/${invoices[4]}`, { token: ACCOUNTANT })).body).toMatchObject({ status: 'APPROVED', amountPaid: '0.00' });
    expect((await call('GET', `/invoices/${invoices[0]}`, { token: ACCOUNTANT })).body).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: '50.00' });
    expect((await call('GET', `/invoices/${invoices[5]}`, { token: ACCOUNTANT })).status).toBe(404);
    expect((await call('GET', `/invoices/${later}`, { token: ACCOUNTANT })).status).toBe(404);
    expect((await projections()).state).toBe('held');

    const resumed = await call('POST', '/admin/finance/projection-resume');
    expect(resumed).toMatchObject({ status: 200, body: { state: 'running', previousState: 'held', resumed: true } });
    await caughtUp();
    expect((await call('GET', `/invoices/${invoices[4]}`, { token: ACCOUNTANT })).body).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: '50.00' });
    expect((await call('GET', `/invoices/${invoices[5]}`, { token: ACCOUNTANT })).status).toBe(200);
    expect((await call('GET', `/invoices/${later}`, { token: ACCOUNTANT })).status).toBe(200);
    expect((await call('POST', '/admin/finance/projection-resume')).body).toMatchObject({ state: 'running', resumed: false });
    expect(BigInt((await projections()).head)).toBeGreaterThan(BigInt(head));

    // The audit table keeps who, when, target, result, counts and duration.
    const audit = await pool.query(
      `SELECT requested_by, tenant_id, target_position::text AS target, resume, status, phase, events_replayed::int AS events, duration_ms, finished_at, counts
         FROM projection_rollback_operations WHERE id = $1`,
      [started.body.operationId],
    );
    expect(audit.rows[0]).toMatchObject({ requested_by: 'operator-7', tenant_id: 'tenant-ops', target, resume: false, status: 'succeeded', phase: 'done', events: op.eventsReplayed });
    expect(Number(audit.rows[0].duration_ms)).toBeGreaterThanOrEqual(0);
    expect(audit.rows[0].finished_at).toBeInstanceOf(Date);
    expect(audit.rows[0].counts).toMatchObject({ invoices: 5, previous: { invoices: 6 } });
    const list = await call('GET', '/admin/finance/projection-rollback?limit=2');
    expect(list.body.items.map((o: any) => o.operationId)[0]).toBe(started.body.operationId);
    expect(list.body.items).toHaveLength(2);
  });

  it('verification failing answers non-2xx with the failing checks (curl -f fails)', async () => {
    await caughtUp();
    const ok = await call('GET', '/admin/finance/projection-verify');
    expect(ok.status).toBe(200);
    expect(ok.body.checks.map((c: any) => c.name)).toEqual(INTEGRITY_CHECK_NAMES);
    await pool.query(`UPDATE invoice_read_model SET amount_paid_minor = amount_paid_minor + 1 WHERE id = $1`, [invoices[1]]);
    await pool.query(`INSERT INTO payment_read_model (id, invoice_id, tenant_id, amount_minor, method, reference, paid_at, position)
                      VALUES (gen_random_uuid(), gen_random_uuid(), 'tenant-a', 1, 'cash', 'x', now(), 1)`);
    try {
      const failing = await call('GET', '/admin/finance/projection-verify');
      expect(failing.status).toBeGreaterThanOrEqual(400);
      expect(failing.body.ok).toBe(false);
      const failed = failing.body.checks.filter((c: any) => !c.ok).map((c: any) => c.name);
      expect(failed).toEqual(expect.arrayContaining(['orphaned_payments', 'invoice_amount_paid', 'invoice_status']));
      expect(failing.body.checks.find((c: any) => c.name === 'invoice_amount_paid').sample).toContain(invoices[1]);
      await expect(run('curl', ['-s', '-f', `${service.baseUrl}/admin/finance/projection-verify`, '-H', `Authorization: Bearer ${ADMIN}`])).rejects.toMatchObject({ code: 22 });
    } finally {
      // A rollback to the head repairs the read model.
      const head = (await projections()).head;
      const repair = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: head } });
      expect((await finished(repair.body.operationId)).status).toBe('succeeded');
    }
    expect((await call('GET', '/admin/finance/projection-verify')).status).toBe(200);
  });

  it('a rollback that fails at the swap keeps the previous read model and checkpoint, resumes, and records why', async () => {
    await caughtUp();
    const before = await projections();
    const invoiceBefore = (await call('GET', `/invoices/${invoices[0]}`, { token: ACCOUNTANT })).body;
    // A view on the live table makes DROP TABLE fail inside the swap transaction.
    await pool.query('CREATE VIEW rollback_blocker AS SELECT id FROM invoice_read_model');
    try {
      const started = await call('POST', '/admin/finance/projection-rollback', { body: { targetVersion: '1' } });
      expect(started.status).toBe(202);
      const op = await finished(started.body.operationId);
      expect(op).toMatchObject({ status: 'failed', phase: 'swapping' });
      expect(op.error).toMatch(/depend/);
      const after = await projections();
      expect(after).toMatchObject({ state: 'running', checkpoint: before.checkpoint });
      expect((await call('GET', `/invoices/${invoices[0]}`, { token: ACCOUNTANT })).body).toEqual(invoiceBefore);
      const shadows = await pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%_rollback_shadow'`);
      expect(shadows.rows[0].n).toBe(0);
    } finally {
      await pool.query('DROP VIEW rollback_blocker');
    }
  });

  it('exports the rollback metrics and logs every rollback line with operation, operationId and targetVersion', async () => {
    const metrics = await (await fetch(service.metricsUrl)).text();
    expect(metrics).toMatch(/finance_projection_rollback_total\{result="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/finance_projection_rollback_total\{result="failed"\} [1-9]/);
    expect(metrics).toMatch(/finance_projection_rollback_events_replayed_total [1-9]/);
    expect(metrics).toMatch(/finance_projection_rollback_duration_seconds_count [1-9]/);
    expect(metrics).toMatch(/finance_projection_events_total\{mode="rebuild"\} [1-9]/);

    const lines = service
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.operation === 'projection-rollback');
    const { items } = (await call('GET', '/admin/finance/projection-rollback')).body;
    expect(items.length).toBeGreaterThan(0);
    for (const op of items) {
      const own = lines.filter((l) => l.operationId === op.operationId);
      expect(own.map((l) => l.msg)).toEqual(expect.arrayContaining(['projection rollback started', expect.stringMatching(/^projection (rollback succeeded|rollback failed)/)]));
      for (const line of own) expect(line.targetVersion).toBe(op.targetVersion);
    }
  });
});
