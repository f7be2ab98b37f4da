/** Finding and building the repository's deployment files (shared by the deploy specs). */
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { findKustomizations, KObject, kustomizeBuild, parseYamlDocuments } from './kustomize';
import { REPO_ROOT } from './service-contract';

export const K8S_DIR = join(REPO_ROOT, 'k8s');
export const NAMESPACE = 'vextrus-prod';

export function rel(path: string): string {
  return relative(REPO_ROOT, path);
}

export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(e.name)) out.push(full);
    }
  };
  walk(dir);
  return out.sort();
}

export function parseYamlFile(path: string): KObject[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), rel(path));
}

/** Every directory under k8s/ with a kustomization (repo-relative). */
export function allKustomizations(): string[] {
  return findKustomizations(K8S_DIR).map(rel);
}

/**
 * Builds a kustomization. k8s/secrets reads git-ignored *.env files: it is built from a copy where the
 * *.env.example templates stand in for them.
 */
export function build(dir: string): KObject[] {
  if (rel(join(REPO_ROOT, dir)) === 'k8s/secrets') return buildSecretsFromExamples();
  return kustomizeBuild(join(REPO_ROOT, dir));
}

export function buildSecretsFromExamples(): KObject[] {
  const tmp = mkdtempSync(join(tmpdir(), 'finance-k8s-secrets-'));
  try {
    cpSync(join(K8S_DIR, 'secrets'), tmp, { recursive: true });
    for (const f of readdirSync(tmp)) if (f.endsWith('.env.example')) renameSync(join(tmp, f), join(tmp, f.replace(/\.example$/, '')));
    return kustomizeBuild(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The kustomizations meant to be applied as a whole (the others are building blocks). */
export const DEPLOYABLE = [
  'k8s/base',
  'k8s/overlays/production',
  'k8s/overlays/rollout/week1-20percent',
  'k8s/overlays/rollout/week2-50percent',
  'k8s/overlays/rollout/week3-80percent',
  'k8s/overlays/rollout/week4-100percent',
  'k8s/overlays/blue-green',
  'k8s/overlays/canary/10-percent',
  'k8s/overlays/canary/30-percent',
  'k8s/overlays/canary/50-percent',
  'k8s/overlays/canary/100-percent',
  'k8s/overlays/argo-rollouts',
];

export const byKind = (objs: KObject[], kind: string) => objs.filter((o) => o.kind === kind);
export const named = (objs: KObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);

export function podTemplateOf(workload: KObject, all: KObject[]): KObject | undefined {
  if (workload.spec?.template) return workload.spec.template;
  const ref = workload.spec?.workloadRef;
  if (ref) return named(all, ref.kind, ref.name)?.spec?.template;
  return undefined;
}

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Deployments and Rollouts (the objects that own pods). */
export function workloads(objs: KObject[]): KObject[] {
  return objs.filter((o) => o.kind === 'Deployment' || o.kind === 'Rollout');
}
