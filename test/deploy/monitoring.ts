/** Metric names used by the PrometheusRule and the Argo Rollouts AnalysisTemplates, checked against the contract. */
import { KObject } from './kustomize';
import { build, byKind, named } from './repo-files';
import { metricFamilyOf, metricNamesInPromQL } from './service-contract';

const builds = new Map<string, KObject[]>();
/** Builds a kustomization once per test file. */
export function built(dir: string): KObject[] {
  if (!builds.has(dir)) builds.set(dir, build(dir));
  return builds.get(dir)!;
}

function queries(rule: KObject | undefined, templates: KObject[]): { records: Set<string>; exprs: string[] } {
  const records = new Set<string>();
  const exprs: string[] = [];
  for (const g of rule?.spec.groups ?? []) {
    for (const r of g.rules) {
      if (r.record) records.add(r.record);
      exprs.push(String(r.expr));
    }
  }
  for (const t of templates) for (const m of t.spec.metrics) exprs.push(m.provider.prometheus.query);
  // Argo Rollouts placeholders ({{args.x}}) sit inside label values.
  return { records, exprs: exprs.map((e) => e.replace(/\{\{[^}]*\}\}/g, 'x')) };
}

/** Names in the queries that are neither recording rules defined alongside nor metrics the service exports. */
export function unknownMetrics(rule: KObject | undefined, templates: KObject[]): string[] {
  const { records, exprs } = queries(rule, templates);
  const unknown = new Set<string>();
  for (const e of exprs) for (const name of metricNamesInPromQL(e)) if (!records.has(name) && !metricFamilyOf(name)) unknown.add(name);
  return [...unknown];
}

/** The exported metric families the monitoring objects in k8s/ depend on. */
export function metricNamesUsedByMonitoring(): string[] {
  const rule = named(built('k8s/monitoring'), 'PrometheusRule', 'finance-service');
  const templates = byKind(built('k8s/overlays/argo-rollouts'), 'AnalysisTemplate');
  const names = new Set<string>();
  for (const e of queries(rule, templates).exprs) {
    for (const n of metricNamesInPromQL(e)) {
      const family = metricFamilyOf(n);
      if (family) names.add(family);
    }
  }
  return [...names].sort();
}
