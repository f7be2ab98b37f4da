/**
 * Schema validation of Kubernetes objects with the kubernetes-models packages: the model class for the object's
 * apiVersion/kind is instantiated and .validate() run (JSON schema: types, required fields, enums, formats).
 * Those schemas allow unknown fields, so a misspelt key (`successTreshold`) would pass: unknownFields() checks
 * every key against the property names the same packages declare.
 *
 * Packages (CommonJS builds; the newest majors are ESM-only and need Node >= 22):
 *   kubernetes-models 4.x (core), @kubernetes-models/istio 2.x, @kubernetes-models/argo-cd 2.x,
 *   @kubernetes-models/argo-rollouts 0.3.x, @kubernetes-models/prometheus-operator 4.x.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KObject } from './kustomize';

const GROUP_PACKAGES: Record<string, string> = {
  '': 'kubernetes-models',
  'networking.istio.io': '@kubernetes-models/istio',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};
/** argoproj.io is shared by two packages: by kind. */
const ARGO_KINDS: Record<string, string> = {
  Application: '@kubernetes-models/argo-cd',
  AppProject: '@kubernetes-models/argo-cd',
  ApplicationSet: '@kubernetes-models/argo-cd',
  Rollout: '@kubernetes-models/argo-rollouts',
  AnalysisTemplate: '@kubernetes-models/argo-rollouts',
  ClusterAnalysisTemplate: '@kubernetes-models/argo-rollouts',
  AnalysisRun: '@kubernetes-models/argo-rollouts',
  Experiment: '@kubernetes-models/argo-rollouts',
};

export function modelPackage(obj: KObject): string {
  const [group] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [''];
  if (group === 'argoproj.io') {
    const pkg = ARGO_KINDS[obj.kind];
    if (!pkg) throw new Error(`no model package for ${obj.apiVersion} ${obj.kind}`);
    return pkg;
  }
  if (group in GROUP_PACKAGES) return GROUP_PACKAGES[group];
  if (!group.includes('.') || group.endsWith('.k8s.io')) return 'kubernetes-models';
  throw new Error(`no model package for ${obj.apiVersion} ${obj.kind}`);
}

/** The model class for apiVersion/kind, e.g. require('kubernetes-models/apps/v1/Deployment').Deployment. */
export function modelClass(obj: KObject): new (data: KObject) => { validate(): void } {
  const pkg = modelPackage(obj);
  const path = `${pkg}/${obj.apiVersion}/${obj.kind}`;
  let mod: Record<string, any>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path);
  } catch (error) {
    throw new Error(`no model for ${obj.apiVersion} ${obj.kind} (${path}): ${(error as Error).message}`);
  }
  const cls = mod[obj.kind];
  if (typeof cls !== 'function') throw new Error(`${path} exports no ${obj.kind}`);
  return cls;
}

/** Throws with the schema errors if the object does not validate. */
export function validateObject(obj: KObject): void {
  const Model = modelClass(obj);
  new Model(obj).validate();
}

// ---------------------------------------------------------------- unknown-field check

let vocabulary: Set<string> | undefined;

/** Every property name declared in the model packages' type declarations. */
export function knownPropertyNames(): Set<string> {
  if (vocabulary) return vocabulary;
  const names = new Set<string>();
  const roots = new Set<string>();
  for (const pkg of ['kubernetes-models', '@kubernetes-models/apimachinery', '@kubernetes-models/istio', '@kubernetes-models/argo-cd',
    '@kubernetes-models/argo-rollouts', '@kubernetes-models/prometheus-operator']) {
    roots.add(dirname(require.resolve(`${pkg}/package.json`)));
  }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.d.ts')) {
        for (const m of readFileSync(full, 'utf8').matchAll(/^\s*"?([A-Za-z_$][\w$.\-/]*)"?\??\s*:/gm)) names.add(m[1]);
      }
    }
  };
  roots.forEach(walk);
  vocabulary = names;
  return names;
}

/** Maps whose keys are data, not schema fields. */
const FREE_FORM_KEYS = new Set(['labels', 'annotations', 'matchLabels', 'data', 'stringData', 'binaryData', 'nodeSelector',
  'headers', 'limits', 'requests', 'capacity', 'hard', 'parameters']);

/** Paths (a.b[0].c) of keys that no model declares: typos, or fields from another API version. */
export function unknownFields(obj: KObject): string[] {
  const known = knownPropertyNames();
  const out: string[] = [];
  const visit = (v: any, path: string, parentKey: string) => {
    if (Array.isArray(v)) return v.forEach((item, i) => visit(item, `${path}[${i}]`, parentKey));
    if (!v || typeof v !== 'object') return;
    if (FREE_FORM_KEYS.has(parentKey)) return;
    // A Service's spec.selector is a plain label map (a workload's has matchLabels/matchExpressions).
    if (parentKey === 'selector' && !('matchLabels' in v) && !('matchExpressions' in v)) return;
    for (const [key, child] of Object.entries(v)) {
      if (!known.has(key)) out.push(path ? `${path}.${key}` : key);
      visit(child, path ? `${path}.${key}` : key, key);
    }
  };
  visit(obj, '', '');
  return out;
}
