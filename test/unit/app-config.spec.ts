import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DEV_JWT_SECRET, loadConfig } from '../../services/finance/src/config/app-config';

const prodBase = {
  NODE_ENV: 'production',
  DATABASE_HOST: 'db.internal',
  DATABASE_USER: 'finance',
  DATABASE_PASSWORD: 'pw',
  JWT_SECRET: 'x'.repeat(32),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('defaults to the embedded database, port 3000 and metrics on 9090 outside production', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.metricsPort).toBe(9090);
    expect(config.database.embedded).toBe(true);
    expect(config.migrateOnStart).toBe(true);
    expect(config.jwtSecret).toBe(DEV_JWT_SECRET);
    expect(config.eventStore).toBe('postgres');
  });

  it('uses the named server when DATABASE_HOST is set', () => {
    const config = loadConfig({ DATABASE_HOST: 'pg', DATABASE_PORT: '6543', DATABASE_NAME: 'fin' });
    expect(config.database).toMatchObject({ embedded: false, host: 'pg', port: 6543, name: 'fin' });
    expect(config.migrateOnStart).toBe(false);
  });

  it('uses the public development JWT secret only for the embedded database or NODE_ENV development/test', () => {
    const external = { DATABASE_HOST: 'pg', DATABASE_USER: 'u', DATABASE_PASSWORD: 'p' };
    expect(loadConfig({ NODE_ENV: 'test', ...external }).jwtSecret).toBe(DEV_JWT_SECRET);
    expect(loadConfig({ NODE_ENV: 'staging' }).jwtSecret).toBe(DEV_JWT_SECRET); // embedded: a laptop
    expect(problemsOf({ NODE_ENV: 'staging', ...external })).toEqual([expect.stringMatching(/JWT_SECRET is required with NODE_ENV=staging/)]);
    expect(loadConfig({ NODE_ENV: 'staging', ...external, JWT_SECRET: 'k3Jx9vQ2-random-looking-secret-7PzR4mW8aB' }).jwtSecret).toBe('k3Jx9vQ2-random-looking-secret-7PzR4mW8aB');
    // ...and held to the production rules there: not short, not a placeholder, not the public default.
    for (const secret of ['short', DEV_JWT_SECRET, 'ChangeMe-ChangeMe-ChangeMe-ChangeMe']) expect(problemsOf({ NODE_ENV: 'staging', ...external, JWT_SECRET: secret })).toHaveLength(1);
  });

  it('never embeds in production and names every missing variable at once', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.join('\n')).toMatch(/DATABASE_HOST/);
    expect(problems.join('\n')).toMatch(/DATABASE_USER/);
    expect(problems.join('\n')).toMatch(/DATABASE_PASSWORD/);
    expect(problems.join('\n')).toMatch(/JWT_SECRET/);
    expect(problems).toHaveLength(4);
  });

  it('accepts a complete production configuration', () => {
    const config = loadConfig({ ...prodBase, ROLLOUT_STAGE: 'week1-20percent', LOG_LEVEL: 'warn' });
    expect(config.production).toBe(true);
    expect(config.database.embedded).toBe(false);
    expect(config.rolloutStage).toBe('week1-20percent');
    expect(config.logLevel).toBe('warn');
  });

  it.each([
    ['PORT', 'abc', /PORT must be an integer/],
    ['PORT', '70000', /PORT must be between 1 and 65535/],
    ['METRICS_PORT', '-1', /METRICS_PORT must be an integer/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['EVENT_STORE', 'kafka', /EVENT_STORE must be one of/],
    ['JWT_SECRET', 'short', /JWT_SECRET must be at least 32 characters/],
    ['DATABASE_PORT', '5432x', /DATABASE_PORT must be an integer/],
    ['MIGRATE_ON_START', 'maybe', /MIGRATE_ON_START must be true or false/],
    // The migration runner holds its lock on one session while the migrations run on another.
    ['DATABASE_POOL_MAX', '1', /DATABASE_POOL_MAX must be between 2 and 1000/],
    ['ACCOUNTING_TIME_ZONE', 'Dhaka', /ACCOUNTING_TIME_ZONE must be an IANA time zone/],
    ['DATABASE_SSL', 'prefer', /DATABASE_SSL must be one of disable, require, verify-ca, verify-full/],
    ['DATABASE_SSL_CA', '/etc/ca.pem', /DATABASE_SSL_CA is only used with DATABASE_SSL=verify-ca or verify-full \(got DATABASE_SSL=disable\)/],
  ])('rejects malformed %s=%s', (name, value, message) => {
    expect(problemsOf({ ...prodBase, [name]: value }).join('\n')).toMatch(message);
  });

  it('reads DATABASE_SSL and DATABASE_SSL_CA as libpq sslmode names (the embedded database ignores them)', () => {
    expect(loadConfig({ ...prodBase, DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: ' /etc/finance/db-ca.pem ' }).database.ssl).toEqual({ mode: 'verify-full', caFile: '/etc/finance/db-ca.pem' });
    expect(loadConfig({ ...prodBase, DATABASE_SSL: 'require' }).database.ssl).toEqual({ mode: 'require' });
    expect(loadConfig({ ...prodBase }).database.ssl).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'development', DATABASE_SSL: 'require' }).database).toMatchObject({ embedded: true });
    expect(loadConfig({ NODE_ENV: 'development', DATABASE_SSL: 'require' }).database.ssl).toBeUndefined();
  });

  it('refuses the example secret file and the development default as JWT_SECRET in production', () => {
    const example = readFileSync(join(__dirname, '..', '..', 'k8s', 'secrets', 'jwt.env.example'), 'utf8');
    const placeholder = /^secret=(.+)$/m.exec(example)?.[1];
    expect(placeholder?.length).toBeGreaterThanOrEqual(32);
    for (const secret of [placeholder ?? '', DEV_JWT_SECRET, 'ChangeMe-ChangeMe-ChangeMe-ChangeMe']) {
      expect(problemsOf({ ...prodBase, JWT_SECRET: secret }).join('\n')).toMatch(/JWT_SECRET is a placeholder/);
    }
    expect(problemsOf({ ...prodBase, JWT_SECRET: 'k3Jx9vQ2-random-looking-secret-7PzR4mW8aB' })).toEqual([]);
  });

  it('requires a connection string for EventStoreDB', () => {
    expect(problemsOf({ ...prodBase, EVENT_STORE: 'eventstoredb' }).join()).toMatch(/EVENTSTORE_CONNECTION_STRING is required/);
    expect(problemsOf({ ...prodBase, EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'http://x' }).join()).toMatch(/esdb:\/\//);
    expect(loadConfig({ ...prodBase, EVENT_STORE: 'eventstoredb', EVENTSTORE_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false' }).eventStore).toBe('eventstoredb');
  });

  it('rejects the same port for HTTP and metrics', () => {
    expect(problemsOf({ ...prodBase, PORT: '9090' }).join()).toMatch(/METRICS_PORT must differ from PORT/);
  });
});
