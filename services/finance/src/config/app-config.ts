/**
 * Typed configuration, read once from the environment at start.
 * Pure: no Nest or database imports, so it can be unit-tested and used by the CLI.
 */
import { isTimeZone } from '../domain/calendar-date';

export type EventStoreKind = 'postgres' | 'eventstoredb';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface DatabaseConfig {
  /** true when no DATABASE_HOST is given outside production: an embedded PostgreSQL is started. */
  embedded: boolean;
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
  poolMax: number;
  /** TLS to PostgreSQL (DATABASE_SSL); absent: none. */
  ssl?: DatabaseTls;
}

/** libpq's sslmode names: require encrypts only; verify-ca also checks the CA; verify-full also the host name. */
export const DATABASE_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];

export interface DatabaseTls {
  mode: Exclude<DatabaseSslMode, 'disable'>;
  /** PEM file of the CA to trust (DATABASE_SSL_CA); absent: Node's default CAs. */
  caFile?: string;
}

export interface AppConfig {
  nodeEnv: string;
  production: boolean;
  port: number;
  metricsPort: number;
  rolloutStage: string;
  logLevel: LogLevel;
  jwtSecret: string;
  database: DatabaseConfig;
  eventStore: EventStoreKind;
  eventStoreConnectionString?: string;
  /** Where the embedded PostgreSQL keeps its data (git-ignored). */
  embeddedDataDir: string;
  embeddedPort: number;
  /** Time given to in-flight requests on SIGTERM before the server is closed anyway. */
  shutdownTimeoutMs: number;
  /** Whether this process runs pending migrations itself at start (the embedded default does). */
  migrateOnStart: boolean;
  /** Whether this process takes part in projecting (all replicas do; one leads at a time). */
  projectionEnabled: boolean;
  /** IANA time zone where the books are kept: approvals, cancellations and payments are dated there. */
  accountingTimeZone: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** A development-only secret so `npm start` works out of the box; production must set JWT_SECRET. */
export const DEV_JWT_SECRET = 'dev-only-insecure-jwt-secret-change-me';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const EVENT_STORES: EventStoreKind[] = ['postgres', 'eventstoredb'];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV ?? 'development';
  const production = nodeEnv === 'production';
  const hasDbHost = present(env.DATABASE_HOST);
  const embedded = !production && !hasDbHost;

  const port = readPort(env, 'PORT', 3000, problems);
  const metricsPort = readPort(env, 'METRICS_PORT', 9090, problems);
  if (port === metricsPort && problems.length === 0) problems.push(`METRICS_PORT must differ from PORT (both ${port})`);

  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);

  let jwtSecret = env.JWT_SECRET ?? '';
  // The development default is public (it is in git): only for the embedded database or a NODE_ENV that
  // says development or test. Anywhere else (production, or a staging deployment with NODE_ENV=staging)
  // a missing, short or placeholder secret would mean trusting tokens anyone can sign.
  const realSecretNeeded = production || !(embedded || nodeEnv === 'development' || nodeEnv === 'test');
  if (realSecretNeeded) {
    const where = production ? 'in production' : `with NODE_ENV=${nodeEnv} and an external database`;
    if (!present(jwtSecret)) problems.push(`JWT_SECRET is required ${where}`);
    else if (jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
    // The example secret files are long enough: an unedited copy must not become a key anyone can read in git.
    else if (/change_?me/i.test(jwtSecret) || jwtSecret === DEV_JWT_SECRET) {
      problems.push('JWT_SECRET is a placeholder or the development default: generate one, e.g. openssl rand -base64 48');
    }
  } else if (!present(jwtSecret)) {
    jwtSecret = DEV_JWT_SECRET;
  }

  if (production) {
    for (const name of ['DATABASE_HOST', 'DATABASE_USER', 'DATABASE_PASSWORD']) {
      if (!present(env[name])) problems.push(`${name} is required in production`);
    }
  }
  const database: DatabaseConfig = {
    embedded,
    host: embedded ? '127.0.0.1' : (env.DATABASE_HOST ?? ''),
    port: embedded ? readPort(env, 'EMBEDDED_PG_PORT', 54329, problems) : readPort(env, 'DATABASE_PORT', 5432, problems),
    user: env.DATABASE_USER ?? 'postgres',
    password: env.DATABASE_PASSWORD ?? (embedded ? 'postgres' : ''),
    name: env.DATABASE_NAME ?? 'finance',
    // At least 2: the migration runner holds its lock on one session while TypeORM migrates on another.
    poolMax: readInt(env, 'DATABASE_POOL_MAX', 10, 2, 1000, problems),
  };
  const sslMode = (present(env.DATABASE_SSL) ? env.DATABASE_SSL.trim() : 'disable') as DatabaseSslMode;
  if (!DATABASE_SSL_MODES.includes(sslMode)) problems.push(`DATABASE_SSL must be one of ${DATABASE_SSL_MODES.join(', ')} (got "${env.DATABASE_SSL}")`);
  else if (sslMode !== 'disable' && !embedded) database.ssl = { mode: sslMode, ...(present(env.DATABASE_SSL_CA) ? { caFile: env.DATABASE_SSL_CA.trim() } : {}) };
  if (present(env.DATABASE_SSL_CA) && (sslMode === 'disable' || sslMode === 'require')) {
    problems.push(`DATABASE_SSL_CA is only used with DATABASE_SSL=verify-ca or verify-full (got DATABASE_SSL=${sslMode})`);
  }
  if (embedded) database.user = 'postgres';

  const eventStore = (env.EVENT_STORE ?? 'postgres') as EventStoreKind;
  if (!EVENT_STORES.includes(eventStore)) problems.push(`EVENT_STORE must be one of ${EVENT_STORES.join(', ')} (got "${env.EVENT_STORE}")`);
  const esdb = env.EVENTSTORE_CONNECTION_STRING;
  if (eventStore === 'eventstoredb') {
    if (!present(esdb)) problems.push('EVENTSTORE_CONNECTION_STRING is required when EVENT_STORE=eventstoredb');
    else if (!/^esdb(\+discover)?:\/\//.test(esdb!)) problems.push('EVENTSTORE_CONNECTION_STRING must start with esdb:// or esdb+discover://');
  }

  const shutdownTimeoutMs = readInt(env, 'SHUTDOWN_TIMEOUT_MS', 20000, 0, 600000, problems);
  const migrateOnStart = readBool(env, 'MIGRATE_ON_START', embedded, problems);
  const projectionEnabled = readBool(env, 'PROJECTION_ENABLED', true, problems);
  const accountingTimeZone = present(env.ACCOUNTING_TIME_ZONE) ? env.ACCOUNTING_TIME_ZONE.trim() : 'UTC';
  if (!isTimeZone(accountingTimeZone)) problems.push(`ACCOUNTING_TIME_ZONE must be an IANA time zone such as Asia/Dhaka (got "${accountingTimeZone}")`);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    nodeEnv,
    production,
    port,
    metricsPort,
    rolloutStage: env.ROLLOUT_STAGE ?? 'none',
    logLevel,
    jwtSecret,
    database,
    eventStore,
    eventStoreConnectionString: esdb,
    embeddedDataDir: env.EMBEDDED_PG_DATA_DIR ?? '.data/postgres',
    embeddedPort: database.port,
    shutdownTimeoutMs,
    migrateOnStart,
    projectionEnabled,
    accountingTimeZone,
  };
}

function present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (!present(raw)) return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    problems.push(`${name} must be an integer (got "${raw}")`);
    return fallback;
  }
  const value = Number(raw);
  if (value < min || value > max) problems.push(`${name} must be between ${min} and ${max} (got ${value})`);
  return value;
}

function readPort(env: Env, name: string, fallback: number, problems: string[]): number {
  return readInt(env, name, fallback, 1, 65535, problems);
}

function readBool(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name];
  if (!present(raw)) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}
