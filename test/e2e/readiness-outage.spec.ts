import { PostgresProcess, tempDataDir } from '../support/postgres-process';
import { freePort, ServiceProcess, startService } from '../support/service-process';
import { waitFor } from '../support/wait-for';

/** Status of a probe, or 0 when nothing answers. */
async function statusOf(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return 0;
  }
}

describe('readiness follows PostgreSQL; liveness does not', () => {
  let postgres: PostgresProcess;
  let service: ServiceProcess;

  beforeAll(async () => {
    postgres = new PostgresProcess(tempDataDir('finance-outage-'), await freePort());
    await postgres.start();
    service = await startService({ ...postgres.env(), PROJECTION_ENABLED: 'false' });
  }, 120000);

  afterAll(async () => {
    await service?.stop();
    await postgres?.stop();
  });

  it('turns 503 within 10 s when PostgreSQL stops, keeps liveness 200, and recovers without a restart', async () => {
    expect(await statusOf(`${service.baseUrl}/health/ready`)).toBe(200);

    await postgres.stop();
    // The deadline is the claim: counted from PostgreSQL having stopped (its own shutdown is not the service's time).
    await waitFor(async () => (await statusOf(`${service.baseUrl}/health/ready`)) === 503, 10000, 'readiness 503 within 10 s');

    const body = (await (await fetch(`${service.baseUrl}/health/ready`)).json()) as { status: string; error: Record<string, unknown> };
    expect(body.status).toBe('error');
    expect(Object.keys(body.error)).toContain('database');
    for (let i = 0; i < 3; i++) expect(await statusOf(`${service.baseUrl}/health/live`)).toBe(200);

    await postgres.start();
    await waitFor(async () => (await statusOf(`${service.baseUrl}/health/ready`)) === 200, 20000, 'readiness 200 again');
    expect(await statusOf(`${service.baseUrl}/health/live`)).toBe(200);
    expect(service.process.exitCode).toBeNull();
  });
});
