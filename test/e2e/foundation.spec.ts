import { spawn } from 'node:child_process';
import { createTestDatabase, TestDatabase } from '../support/database';
import { signToken } from '../../services/finance/src/http/auth/token';
import { PROJECT_ROOT, SERVICE_MAIN, ServiceProcess, startService, TEST_JWT_SECRET } from '../support/service-process';
import { waitFor } from '../support/wait-for';

describe('the service process: probes, metrics, logs and errors', () => {
  let db: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    db = await createTestDatabase('finance_foundation');
    service = await startService({ ...db.env(), ROLLOUT_STAGE: 'week1-20percent', PROJECTION_ENABLED: 'false' });
  });

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('answers liveness and readiness with 200 and names each readiness check', async () => {
    const live = await fetch(`${service.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${service.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { details: Record<string, unknown> };
    expect(Object.keys(body.details).sort()).toEqual(['database', 'eventStore', 'schema', 'shutdown']);
  });

  it('serves the same metrics on the HTTP port and on METRICS_PORT', async () => {
    for (let i = 0; i < 3; i++) await fetch(`${service.baseUrl}/health/live`);
    await fetch(`${service.baseUrl}/no/such/route/123`);
    await fetch(`${service.baseUrl}/no/such/route/456`);
    for (const url of [`${service.baseUrl}/metrics`, service.metricsUrl]) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
      expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
      expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.3",method="GET",route="\/health\/live",status_code="200"\} [1-9]/m);
      expect(text).toMatch(/^http_requests_total\{method="GET",route="\/health\/live",status_code="200"\} [3-9]/m);
      expect(text).toMatch(/^finance_app_info\{version="[^"]+",rollout_stage="week1-20percent"\} 1$/m);
      for (const gauge of ['finance_db_pool_in_use', 'finance_db_pool_idle', 'finance_db_pool_waiting', 'finance_db_pool_max']) {
        expect(text).toMatch(new RegExp(`^${gauge} \\d+$`, 'm'));
      }
      expect(text).toMatch(/^finance_db_pool_max 10$/m);
      // Unknown paths share one label value; no raw URLs or ids become label values.
      expect(text).toMatch(/route="<unmatched>",status_code="404"/);
      expect(text).not.toMatch(/route="\/no\/such/);
    }
  });

  it('reports the head, checkpoint and lag gauges although it does not project (PROJECTION_ENABLED=false)', async () => {
    const token = signToken({ tenantId: 'tenant-a', userId: 'alice', roles: ['accountant'] }, TEST_JWT_SECRET);
    const created = await fetch(`${service.baseUrl}/invoices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 'C-1', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'Item', quantity: 1, unitPrice: '10.00', vatRate: '0.15' }] }),
    });
    expect(created.status).toBe(201);
    const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
    let text = '';
    // Nobody projects, so the event stays unprojected: the head moves, the checkpoint does not.
    await waitFor(async () => gauge((text = await (await fetch(`${service.baseUrl}/metrics`)).text()), 'finance_event_store_head_position') >= 1, 10_000, 'the head gauge to move');
    expect(gauge(text, 'finance_projection_checkpoint_position')).toBe(0);
    expect(gauge(text, 'finance_projection_lag_events')).toBe(gauge(text, 'finance_event_store_head_position'));
  });

  it('answers unknown routes, wrong methods and malformed JSON with a JSON 4xx and no stack', async () => {
    const unknown = await fetch(`${service.baseUrl}/nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });

    const wrongMethod = await fetch(`${service.baseUrl}/health/live`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' });
    // Paths with a parameter too (Fastify's findRoute matches route patterns, not request paths).
    const id = '3f0c6a52-9d0b-4c1e-8a57-0d4f2f1b6e11';
    const wrongOnInvoice = await fetch(`${service.baseUrl}/invoices/${id}`, { method: 'DELETE' });
    expect([wrongOnInvoice.status, wrongOnInvoice.headers.get('allow')]).toEqual([405, 'GET']);
    const wrongOnApprove = await fetch(`${service.baseUrl}/invoices/${id}/approve`);
    expect([wrongOnApprove.status, wrongOnApprove.headers.get('allow')]).toEqual([405, 'POST']);
    expect((await fetch(`${service.baseUrl}/invoices/${id}/nope`)).status).toBe(404);

    const malformed = await fetch(`${service.baseUrl}/health/live`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"targetVersion": ',
    });
    expect([400, 405]).toContain(malformed.status);
    const text = await malformed.text();
    expect(JSON.parse(text).statusCode).toBe(malformed.status);
    expect(text).not.toMatch(/at \w+ \(/); // no stack frames
  });

  it('logs one JSON line per request with the caller\'s request id and redacts Authorization', async () => {
    const requestId = `req-${Date.now()}`;
    const response = await fetch(`${service.baseUrl}/nope-logged`, {
      headers: { 'x-request-id': requestId, authorization: 'Bearer super-secret-token-value' },
    });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    await waitFor(() => service.output().includes(requestId), 5000, 'request log line');
    const line = service.output().split('\n').find((l) => l.includes(requestId))!;
    const entry = JSON.parse(line);
    expect(entry.req.id).toBe(requestId);
    expect(entry.res.statusCode).toBe(404);
    expect(entry.req.headers.authorization).toBe('[REDACTED]');
    expect(service.output()).not.toContain('super-secret-token-value');
  });
});

describe('configuration errors at start', () => {
  it('stops in production with one message naming every bad variable and exit code 1', async () => {
    const child = spawn(process.execPath, [SERVICE_MAIN], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: 'eighty', JWT_SECRET: 'short' },
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    for (const name of ['PORT', 'JWT_SECRET', 'DATABASE_HOST', 'DATABASE_USER', 'DATABASE_PASSWORD']) expect(lines[0]).toContain(name);
  });
});
