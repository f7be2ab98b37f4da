/**
 * LIVE (slow, ~1 min): the compiled service run the way the Kubernetes manifests run it.
 *
 * 1. `npm run build` (as `npm test`'s pretest does), unless DEPLOY_LIVE_BUILD=0.
 * 2. The environment of the init and service containers is taken from the built k8s/overlays/production
 *    (ConfigMap values + secretKeyRefs), with the secrets mapped to a fresh test database (createTestDatabase).
 *    Overrides: PORT/METRICS_PORT (free ports), EVENT_STORE=postgres (no EventStoreDB here), MIGRATE_ON_START=true.
 * 3. The init container's command (`npm run migration:run`) must exit 0; then `node dist/services/finance/src/main.js`
 *    must answer the probe paths of the manifests, serve /metrics on METRICS_PORT and PORT, export every metric of
 *    the contract and every metric the PrometheusRule / AnalysisTemplates use, and exit 0 on SIGTERM.
 * FINANCE_METRICS_URL=http://host:9090/metrics additionally checks the metric names on any running service.
 * DEPLOY_SKIP_LIVE=1 skips this file.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/database';
import { freePorts } from '../support/service-process';
import { waitFor as pollUntil } from '../support/wait-for';
import { KObject } from './kustomize';
import { built, metricNamesUsedByMonitoring } from './monitoring';
import { named, podTemplateOf } from './repo-files';
import { allMetricNames, MAIN_JS, METRICS, METRICS_PATH, PROBE_PATHS, REPO_ROOT, SEED_LIVENESS_PROBE, SEED_READINESS_PROBE } from './service-contract';

jest.setTimeout(240_000);

const SKIP = process.env.DEPLOY_SKIP_LIVE === '1';


async function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string; ms: number; type: string | null }> {
  const started = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), ms: Date.now() - started, type: res.headers.get('content-type') };
}

async function waitFor(url: string, want: number, deadlineMs: number, child?: ChildProcess): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} before ${url} answered ${want}`);
    try {
      const r = await get(url, 2000);
      if (r.status === want) return;
      last = `${r.status} ${r.body.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer ${want} within ${deadlineMs} ms (last: ${last})`);
}

/** Metric family names in a Prometheus text exposition (# TYPE lines, and sample names as a fallback). */
export function exposedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)/gm)) names.add(m[1]);
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)/gm)) names.add(m[1].replace(/_(bucket|sum|count)$/, ''));
  return names;
}

/** The containers' environment from the manifests, with secrets taken from the test database. */
function manifestEnv(container: KObject, objs: KObject[], db: TestDatabase, jwt: string): Record<string, string> {
  const secrets: Record<string, Record<string, string>> = {
    'finance-db-credentials': { host: db.host, port: String(db.port), username: db.user, password: db.password, database: db.name },
    'finance-jwt-secret': { secret: jwt },
  };
  const env: Record<string, string> = {};
  for (const ef of container.envFrom ?? []) Object.assign(env, named(objs, 'ConfigMap', ef.configMapRef.name)!.data);
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) env[e.name] = e.value;
    else if (secrets[ref.name]?.[ref.key] !== undefined) env[e.name] = secrets[ref.name][ref.key];
    else if (!ref.optional) throw new Error(`no test value for secret ${ref.name}/${ref.key}`);
  }
  return env;
}

(SKIP ? describe.skip : describe)('LIVE: the compiled service as the manifests run it', () => {
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let port: number;
  let metricsPort: number;
  let baseEnv: Record<string, string>;
  let output = '';
  const objs = () => built('k8s/overlays/production');
  const deployment = () => named(objs(), 'Deployment', 'finance-service')!;

  beforeAll(async () => {
    if (process.env.DEPLOY_LIVE_BUILD !== '0') {
      const b = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`npm run build exited ${b.status}:\n${(b.stdout + b.stderr).slice(-3000)}`);
    }
    if (!existsSync(join(REPO_ROOT, MAIN_JS))) throw new Error(`${MAIN_JS} missing: the service does not build yet`);
    db = await createTestDatabase('finance_deploy');
    [port, metricsPort] = await freePorts(2);
    baseEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    };
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    await db?.drop();
  });

  const serviceEnv = (container: KObject) => ({
    ...baseEnv,
    ...manifestEnv(container, objs(), db, 'live-test-jwt-secret-0123456789abcdefghij'),
    EVENT_STORE: 'postgres',
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'warn',
  });

  it('init container: its command (npm run migration:run) migrates the database with the manifest environment', () => {
    const init = podTemplateOf(deployment(), objs())!.spec.initContainers[0];
    const [cmd, ...args] = init.command as string[];
    const r = spawnSync(cmd, args, { cwd: REPO_ROOT, env: serviceEnv(init), encoding: 'utf8', timeout: 120_000 });
    expect({ status: r.status, output: r.status === 0 ? '' : (r.stdout + r.stderr).slice(-2000) }).toEqual({ status: 0, output: '' });
  });

  it('service container: answers the manifest probe paths on PORT', async () => {
    const main = podTemplateOf(deployment(), objs())!.spec.containers[0];
    expect(main.livenessProbe.httpGet.path).toBe(SEED_LIVENESS_PROBE.httpGet.path);
    child = spawn(process.execPath, [MAIN_JS], {
      cwd: REPO_ROOT,
      env: { ...serviceEnv(main), MIGRATE_ON_START: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output = (output + d).slice(-20000)));
    child.stderr!.on('data', (d) => (output = (output + d).slice(-20000)));
    try {
      await waitFor(`http://127.0.0.1:${port}${main.livenessProbe.httpGet.path}`, 200, 60_000, child);
      await waitFor(`http://127.0.0.1:${port}${main.readinessProbe.httpGet.path}`, 200, 60_000, child);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- service output ---\n${output.slice(-4000)}`);
    }
    // Within the probes' timeouts.
    const live = await get(`http://127.0.0.1:${port}${PROBE_PATHS.live}`);
    const ready = await get(`http://127.0.0.1:${port}${PROBE_PATHS.ready}`);
    expect(live.ms).toBeLessThan(SEED_LIVENESS_PROBE.timeoutSeconds * 1000);
    expect(ready.ms).toBeLessThan(SEED_READINESS_PROBE.timeoutSeconds * 1000);
    expect((await get(`http://127.0.0.1:${port}${PROBE_PATHS.health}`)).status).toBe(200);
  });

  it('serves /metrics on METRICS_PORT and on PORT, with every contract metric and every metric the rules use', async () => {
    expect(child?.exitCode).toBeNull();
    const m = await get(`http://127.0.0.1:${metricsPort}${METRICS_PATH}`);
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    expect((await get(`http://127.0.0.1:${port}${METRICS_PATH}`)).status).toBe(200);
    const names = exposedMetricNames(m.body);
    const missing = [...allMetricNames(), ...METRICS.nodeDefaults].filter((n) => !names.has(n));
    expect(missing).toEqual([]);
    expect(metricNamesUsedByMonitoring().filter((n) => !names.has(n))).toEqual([]);
    expect(m.body).toMatch(/^finance_app_info\{[^}]*version="[^"]+"[^}]*rollout_stage="stable"/m);
  });

  it('exits 0 on SIGTERM, and readiness stops answering 200 during the drain', async () => {
    expect(child?.exitCode).toBeNull();
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    const readiness = async (): Promise<number | string> => {
      try {
        return (await get(`http://127.0.0.1:${port}${PROBE_PATHS.ready}`, 2000)).status;
      } catch {
        return 'closed';
      }
    };
    let readyAfter: number | string = 200;
    await pollUntil(async () => (readyAfter = await readiness()) !== 200, 10_000, 'readiness to stop answering 200');
    expect(readyAfter).not.toBe(200);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    expect({ code, output: code === 0 ? '' : output.slice(-3000) }).toEqual({ code: 0, output: '' });
  });
});

(process.env.FINANCE_METRICS_URL ? describe : describe.skip)('a running service (FINANCE_METRICS_URL)', () => {
  it('exports every contract metric and every metric the rules and analyses use', async () => {
    const m = await get(process.env.FINANCE_METRICS_URL!);
    const names = exposedMetricNames(m.body);
    expect([...allMetricNames(), ...metricNamesUsedByMonitoring()].filter((n) => !names.has(n))).toEqual([]);
  });
});
