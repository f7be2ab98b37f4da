/**
 * The finance-service contract the deployment files rely on, in ONE place. Tests compare manifests, compose file,
 * Dockerfile and runbook against it, and the live test compares it with what the compiled service serves
 * (set FINANCE_METRICS_URL to point the metric check at any running service's /metrics instead).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');
export const APP_CONFIG_PATH = join(REPO_ROOT, 'services/finance/src/config/app-config.ts');

/** Compiled entry point and CLIs (package.json scripts point at them). */
export const MAIN_JS = 'dist/services/finance/src/main.js';

/** HTTP endpoints: liveness never touches the database; readiness and /health check DB, schema, event store. */
export const PROBE_PATHS = { live: '/health/live', ready: '/health/ready', health: '/health' } as const;
export const METRICS_PATH = '/metrics';

/** Probes exactly as the rollout procedure (seed) gives them. */
export const SEED_LIVENESS_PROBE = {
  httpGet: { path: '/health/live', port: 3000 },
  initialDelaySeconds: 30,
  periodSeconds: 10,
  timeoutSeconds: 5,
  failureThreshold: 3,
};
export const SEED_READINESS_PROBE = {
  httpGet: { path: '/health/ready', port: 3000 },
  initialDelaySeconds: 20,
  periodSeconds: 5,
  timeoutSeconds: 3,
  successThreshold: 3,
  failureThreshold: 2,
};

/** Default drain time after SIGTERM (SHUTDOWN_TIMEOUT_MS). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20000;

/** Metric names exported by the service (final). Histograms also appear as _bucket/_sum/_count series. */
export const METRICS = {
  histograms: [
    'http_request_duration_seconds',
    'finance_event_store_operation_duration_seconds',
    'finance_projection_rollback_duration_seconds',
  ],
  counters: [
    'http_requests_total',
    'finance_projection_events_total',
    'finance_projection_unknown_events_total',
    'finance_projection_rollback_total',
    'finance_projection_rollback_events_replayed_total',
  ],
  gauges: [
    'finance_db_pool_in_use',
    'finance_db_pool_idle',
    'finance_db_pool_waiting',
    'finance_db_pool_max',
    'finance_app_info',
    'finance_event_store_up',
    'finance_projection_checkpoint_position',
    'finance_event_store_head_position',
    'finance_projection_lag_events',
    'finance_projection_gauges_refreshed_timestamp_seconds',
  ],
  /** prom-client collectDefaultMetrics(): a few that must be there. */
  nodeDefaults: ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes'],
};

export function allMetricNames(): string[] {
  return [...METRICS.histograms, ...METRICS.counters, ...METRICS.gauges];
}

/** Maps a series name (e.g. http_request_duration_seconds_bucket) to the exported metric, or undefined. */
export function metricFamilyOf(series: string): string | undefined {
  const names = allMetricNames();
  if (names.includes(series)) return series;
  for (const h of METRICS.histograms) {
    if ([`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(series)) return h;
  }
  return undefined;
}

/** Environment variable names the service reads, parsed from app-config.ts (`env.NAME`, `env['NAME']`, 'NAME'). */
export function envNamesFromAppConfig(source = readFileSync(APP_CONFIG_PATH, 'utf8')): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const m of code.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]);
  for (const m of code.matchAll(/\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g)) names.add(m[1]);
  for (const m of code.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})'/g)) names.add(m[1]);
  return [...names].sort();
}

/** Default of a port setting in app-config.ts: readPort(env, 'NAME', 3000, ...). */
export function portDefaultFromAppConfig(name: string, source = readFileSync(APP_CONFIG_PATH, 'utf8')): number {
  const m = new RegExp(`readPort\\(\\s*env\\s*,\\s*'${name}'\\s*,\\s*(\\d+)`).exec(source);
  if (!m) throw new Error(`no readPort(env, '${name}', <default>) in app-config.ts`);
  return Number(m[1]);
}

/** Default of an integer setting in app-config.ts: readInt(env, 'NAME', 20000, ...). */
export function intDefaultFromAppConfig(name: string, source = readFileSync(APP_CONFIG_PATH, 'utf8')): number {
  const m = new RegExp(`readInt\\(\\s*env\\s*,\\s*'${name}'\\s*,\\s*(\\d+)`).exec(source);
  if (!m) throw new Error(`no readInt(env, '${name}', <default>) in app-config.ts`);
  return Number(m[1]);
}

/** package.json scripts. */
export function npmScripts(): Record<string, string> {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts ?? {};
}

/**
 * Metric names used in a PromQL expression: identifiers that are not functions, keywords, label names,
 * strings, durations or numbers. Recording-rule names (with ':') are returned too; callers resolve them.
 */
export function metricNamesInPromQL(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^{}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges / subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\boffset\s+-?\d+[smhdwy]/g, ' ');
  e = e.replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'inf', 'nan']);
  const out = new Set<string>();
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (m[2]) continue; // function call or aggregation
    if (keywords.has(m[1].toLowerCase())) continue;
    out.add(m[1]);
  }
  return [...out];
}
