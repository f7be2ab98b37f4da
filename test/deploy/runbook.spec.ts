/**
 * docs/runbook.md: its commands only name files, kustomizations, npm scripts and Kubernetes objects that exist,
 * use commands that exist, keep the seed's projection-rollback call as written, and the document has the
 * required sections.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findKustomizationFile } from './kustomize';
import { built } from './monitoring';
import { DEPLOYABLE, workloads } from './repo-files';
import { npmScripts, REPO_ROOT } from './service-contract';

const runbook = readFileSync(join(REPO_ROOT, 'docs/runbook.md'), 'utf8');
const blocks = [...runbook.matchAll(/```(?:bash|sh|console)\n([\s\S]*?)```/g)].map((m) => m[1]);
/** Shell commands with continuation lines joined. */
const commands = blocks.join('\n').replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
/** Repository paths mentioned anywhere in the runbook (code spans and blocks). */
// The corrections section names the seed's wrong paths on purpose: not checked.
const checkedText = runbook.slice(0, runbook.indexOf('## Corrections to the seed')) + runbook.slice(runbook.indexOf('## Try it on your machine'));
const mentionedPaths = [...new Set([...checkedText.matchAll(/(?<![\w/.-])((?:k8s|docs|services|test|migrations)\/[\w./{}*,-]*[\w}*]|Dockerfile|docker-compose\.yml|\.dockerignore)(?![\w/-])/g)].map((m) => m[1]))];

describe('docs/runbook.md', () => {
  it('has the required sections', () => {
    for (const h of ['## Deploy', '## Watch', '## Phase up', '## Roll back a deployment', '## Roll back projections', '## Blue-green',
      '## Canary with Istio', '## Argo Rollouts', '## Corrections to the seed', '## Try it on your machine']) {
      expect(runbook).toContain(h);
    }
    expect(commands.length).toBeGreaterThan(40);
  });

  it('names only repository paths that exist', () => {
    const expand = (p: string): string[] => {
      const brace = /\{([^}]+)\}/.exec(p);
      if (!brace) return [p];
      const options = brace[1].includes('..') ? ['1', '2', '3', '4'] : brace[1].split(',');
      return options.flatMap((o) => expand(p.replace(brace[0], o)));
    };
    const missing: string[] = [];
    for (const raw of mentionedPaths) {
      for (const p of expand(raw)) {
        if (p.includes('*')) {
          // week{1..4}-* style: the directory part must exist
          if (!existsSync(join(REPO_ROOT, p.slice(0, p.lastIndexOf('/'))))) missing.push(p);
          continue;
        }
        // Files the operator creates from a template.
        if (/^k8s\/secrets\/\w+\.env$/.test(p)) {
          if (!existsSync(join(REPO_ROOT, `${p}.example`))) missing.push(`${p}.example`);
          continue;
        }
        if (!existsSync(join(REPO_ROOT, p))) missing.push(p);
      }
    }
    expect(missing).toEqual([]);
  });

  it('applies and renders only kustomizations that exist', () => {
    const dirs = commands.flatMap((c) => [...c.matchAll(/(?:apply|delete) -k (\S+)|kubectl kustomize (\S+)/g)].map((m) => m[1] ?? m[2]));
    expect(dirs.length).toBeGreaterThan(5);
    for (const d of dirs) expect({ dir: d, kustomization: Boolean(findKustomizationFile(join(REPO_ROOT, d))) }).toEqual({ dir: d, kustomization: true });
    const overlaysInText = [...checkedText.matchAll(/`(k8s\/overlays\/[\w/-]+)`/g)].map((m) => m[1]);
    for (const d of overlaysInText) expect({ dir: d, kustomization: Boolean(findKustomizationFile(join(REPO_ROOT, d))) }).toEqual({ dir: d, kustomization: true });
  });

  it('runs only npm scripts that exist', () => {
    const scripts = npmScripts();
    const used = commands.flatMap((c) => [...c.matchAll(/npm run (?:--silent )?([\w:-]+)/g)].map((m) => m[1]));
    for (const s of ['migration:run', 'events:inspect', 'token']) expect(used).toContain(s);
    for (const s of used) expect({ script: s, exists: s in scripts }).toEqual({ script: s, exists: true });
    // `npm start` and `npm test` run scripts too (`npm ci` is npm's own).
    for (const c of commands.filter((x) => /^npm (start|test)\b/.test(x))) {
      const script = c.split(/\s+/)[1];
      expect({ script, exists: script in scripts }).toEqual({ script, exists: true });
    }
  });

  it('uses kubectl commands that exist, with the namespace, on objects the overlays create', () => {
    const kubectl = commands.filter((c) => /(^|\$\(|\| )kubectl /.test(c));
    expect(kubectl.some((c) => /kubectl rename/.test(c))).toBe(false);
    const verbs = new Set(['get', 'describe', 'logs', 'exec', 'apply', 'delete', 'patch', 'rollout', 'scale', 'port-forward', 'create', 'kustomize', 'argo', 'label']);
    for (const c of kubectl) {
      for (const m of c.matchAll(/kubectl (\S+)/g)) expect({ command: c, verb: m[1], known: verbs.has(m[1]) }).toEqual({ command: c, verb: m[1], known: true });
      const namespaced = /kubectl (get|describe|logs|exec|delete|patch|rollout|scale|port-forward|argo)\b/.test(c) && !/kubectl delete -k/.test(c);
      if (namespaced) expect({ command: c, namespace: /(-n|--namespace) \S+/.test(c) }).toEqual({ command: c, namespace: true });
    }
    // Deployments named in commands exist in some deployable overlay.
    const names = new Set(DEPLOYABLE.flatMap((d) => workloads(built(d)).map((w) => `${w.kind.toLowerCase()}/${w.metadata.name}`)));
    for (const c of kubectl) {
      for (const m of c.matchAll(/\b(deployment)[/ ]([\w-]+)/g)) {
        if (m[2] === 'finance-service' || names.has(`deployment/${m[2]}`)) continue;
        if (/,hpa/.test(c)) continue;
        throw new Error(`${c}: no Deployment ${m[2]} in any overlay`);
      }
    }
  });

  it('guards a plain Deployment rollout with rollout status || rollout undo', () => {
    expect(commands.join('\n')).toMatch(/kubectl rollout status deployment\/finance-service -n vextrus-prod --timeout=\S+\s+\|\|\s+kubectl rollout undo deployment\/finance-service -n vextrus-prod/);
    expect(runbook).toMatch(/kubectl argo rollouts abort finance-service/);
    expect(runbook).toMatch(/kubectl argo rollouts undo finance-service/);
  });

  it('keeps the seed projection-rollback call exactly as written, and follows it with logs, status and verify', () => {
    expect(runbook).toContain([
      'curl -X POST https://api.vextrus.com/admin/finance/projection-rollback \\',
      '  -H "Authorization: Bearer $ADMIN_TOKEN" \\',
      "  -d '{\"targetVersion\": 12345}'",
    ].join('\n'));
    expect(commands.some((c) => /grep projection-rollback/.test(c))).toBe(true);
    expect(commands.some((c) => /\/admin\/finance\/projection-rollback\/\$OPERATION_ID/.test(c))).toBe(true);
    expect(commands.some((c) => /curl -f\S* .*\/admin\/finance\/projection-verify/.test(c))).toBe(true);
    expect(commands.some((c) => /npm run --silent token -- --tenant \S+ --role admin/.test(c))).toBe(true);
  });

  it('has a local section that runs the rollback commands against npm start on localhost:3000', () => {
    const local = runbook.slice(runbook.indexOf('## Try it on your machine'));
    expect(local).toMatch(/npm start/);
    expect(local).toMatch(/ADMIN_TOKEN=\$\(npm run --silent token -- --tenant t1 --role admin\)/);
    expect(local).toMatch(/curl -fsS -X POST http:\/\/localhost:3000\/admin\/finance\/projection-rollback/);
    expect(local).toMatch(/http:\/\/localhost:3000\/admin\/finance\/projection-verify/);
  });

  it('lists the corrections, including the ones this task called out', () => {
    const corrections = runbook.slice(runbook.indexOf('## Corrections to the seed'), runbook.indexOf('## Try it on your machine'));
    expect((corrections.match(/^\d+\. /gm) ?? []).length).toBeGreaterThanOrEqual(20);
    for (const re of [/60 %/, /kubectl rename/, /Redis/, /DATABASE_PORT, DATABASE_USER, DATABASE_NAME/, /v1\.2\.3/, /checksum\/config/, /DestinationRule/, /services\/finance\/k8s/]) {
      expect(corrections).toMatch(re);
    }
  });
});
