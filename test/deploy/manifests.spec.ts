/**
 * k8s/: every YAML document parses, every object validates against the kubernetes-models schemas, every
 * kustomization builds (test/deploy/kustomize.ts) and its output validates, and the built manifests agree with
 * the service contract (test/deploy/service-contract.ts) and with the rollout plan.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KObject } from './kustomize';
import { unknownFields, validateObject } from './k8s-models';
import {
  allKustomizations, byKind, DEPLOYABLE, K8S_DIR, NAMESPACE, named, parseYamlFile, podTemplateOf, rel, selects,
  workloads, yamlFilesUnder,
} from './repo-files';
import {
  DEFAULT_SHUTDOWN_TIMEOUT_MS, envNamesFromAppConfig, intDefaultFromAppConfig, npmScripts, portDefaultFromAppConfig,
  PROBE_PATHS, REPO_ROOT, SEED_LIVENESS_PROBE, SEED_READINESS_PROBE,
} from './service-contract';
import { built, metricNamesUsedByMonitoring, unknownMetrics } from './monitoring';

const isKustomization = (o: KObject) => o.kind === 'Kustomization' || String(o.apiVersion ?? '').startsWith('kustomize.config.k8s.io');

describe('k8s YAML files', () => {
  const files = yamlFilesUnder(K8S_DIR);

  it('exist', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map(rel))('%s parses and its objects validate', (file) => {
    const docs = parseYamlFile(join(REPO_ROOT, file));
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(typeof doc).toBe('object');
      if (isKustomization(doc)) continue;
      // Patch files hold partial objects: they are validated after the build.
      if (!doc.spec && !doc.data && doc.kind !== 'ServiceAccount') continue;
      if (/patch|track-v2/.test(file)) continue;
      expect(() => validateObject(doc)).not.toThrow();
      expect(unknownFields(doc)).toEqual([]);
    }
  });
});

describe('kustomizations', () => {
  const dirs = allKustomizations();

  it('include every deployable overlay', () => {
    for (const d of DEPLOYABLE) expect(dirs).toContain(d);
  });

  it.each(dirs)('%s builds and every object validates', (dir) => {
    const objs = built(dir);
    expect(objs.length).toBeGreaterThan(0);
    for (const o of objs) {
      try {
        validateObject(o);
      } catch (error) {
        throw new Error(`${dir}: ${o.kind}/${o.metadata.name}: ${(error as Error).message}`);
      }
      expect({ object: `${o.kind}/${o.metadata.name}`, unknown: unknownFields(o) }).toEqual({ object: `${o.kind}/${o.metadata.name}`, unknown: [] });
      if (dir !== 'k8s/argocd') expect(o.metadata.namespace).toBe(NAMESPACE);
    }
  });
});

// ------------------------------------------------------------------------------------------------ contract

const appEnv = envNamesFromAppConfig();
const PORT = portDefaultFromAppConfig('PORT');
const METRICS_PORT = portDefaultFromAppConfig('METRICS_PORT');
const PROD_REQUIRED = ['DATABASE_HOST', 'DATABASE_USER', 'DATABASE_PASSWORD', 'JWT_SECRET'];
const DB_ENV = ['DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_USER', 'DATABASE_PASSWORD', 'DATABASE_NAME'];

function envOf(container: KObject, objs: KObject[]): Map<string, string | { secret: string; key: string; optional?: boolean }> {
  const env = new Map<string, any>();
  for (const ef of container.envFrom ?? []) {
    if (ef.configMapRef) {
      const cm = named(objs, 'ConfigMap', ef.configMapRef.name);
      if (!cm) throw new Error(`configMapRef ${ef.configMapRef.name} not in the build`);
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, v);
    } else {
      throw new Error('only configMapRef envFrom is expected');
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) env.set(e.name, { secret: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key, optional: e.valueFrom.secretKeyRef.optional });
    else env.set(e.name, e.value);
  }
  return env;
}

describe('app-config.ts parsing', () => {
  it('finds the environment variables the service reads', () => {
    for (const n of ['NODE_ENV', 'PORT', 'METRICS_PORT', 'ROLLOUT_STAGE', 'LOG_LEVEL', ...DB_ENV, 'DATABASE_POOL_MAX', 'JWT_SECRET',
      'EVENT_STORE', 'EVENTSTORE_CONNECTION_STRING', 'SHUTDOWN_TIMEOUT_MS', 'MIGRATE_ON_START', 'PROJECTION_ENABLED']) {
      expect(appEnv).toContain(n);
    }
    expect(PORT).toBe(3000);
    expect(METRICS_PORT).toBe(9090);
    expect(intDefaultFromAppConfig('SHUTDOWN_TIMEOUT_MS')).toBe(DEFAULT_SHUTDOWN_TIMEOUT_MS);
  });
});

describe.each(DEPLOYABLE)('%s', (dir) => {
  const objs = () => built(dir);
  const secrets = () => built('k8s/secrets');

  it('runs each workload with the seed probes, ports, init migration, security and shutdown budget', () => {
    const ws = workloads(objs());
    expect(ws.length).toBeGreaterThan(0);
    for (const w of ws) {
      const tpl = podTemplateOf(w, objs());
      expect(tpl).toBeDefined();
      const spec = tpl!.spec;
      const [main] = spec.containers;
      expect(spec.containers).toHaveLength(1);
      expect(main.livenessProbe).toEqual(SEED_LIVENESS_PROBE);
      expect(main.readinessProbe).toEqual(SEED_READINESS_PROBE);
      for (const probe of [main.livenessProbe, main.readinessProbe]) {
        expect(Object.values(PROBE_PATHS)).toContain(probe.httpGet.path);
        expect(probe.httpGet.port).toBe(PORT);
      }
      expect(main.ports).toEqual(expect.arrayContaining([
        expect.objectContaining({ name: 'http', containerPort: PORT }),
        expect.objectContaining({ name: 'metrics', containerPort: METRICS_PORT }),
      ]));
      expect(tpl!.metadata.annotations?.['prometheus.io/port']).toBe(String(METRICS_PORT));

      // Migrations in an init container: an npm script, same image, the full DB environment.
      const [init] = spec.initContainers;
      expect(spec.initContainers).toHaveLength(1);
      expect(init.command.slice(0, 2)).toEqual(['npm', 'run']);
      expect(Object.keys(npmScripts())).toContain(init.command[2]);
      expect(init.image).toBe(main.image);
      expect(main.image).toMatch(/^vextrus\/finance-service:v\d+\.\d+\.\d+$/);

      for (const c of [init, main]) {
        const env = envOf(c, objs());
        for (const name of env.keys()) expect({ container: c.name, env: name, readByService: appEnv.includes(name) }).toEqual({ container: c.name, env: name, readByService: true });
        for (const name of [...PROD_REQUIRED, ...DB_ENV]) expect({ container: c.name, missing: name, present: env.has(name) }).toEqual({ container: c.name, missing: name, present: true });
        expect(env.get('NODE_ENV')).toBe('production');
        if (env.get('EVENT_STORE') === 'eventstoredb') expect(env.has('EVENTSTORE_CONNECTION_STRING')).toBe(true);
        // Secret references resolve to a key of k8s/secrets (built from its *.env.example templates).
        for (const v of env.values()) {
          if (typeof v !== 'object') continue;
          const secret = named(secrets(), 'Secret', v.secret);
          expect({ secret: v.secret, key: v.key, exists: Boolean(secret?.data && v.key in secret.data) }).toEqual({ secret: v.secret, key: v.key, exists: true });
        }
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        // The CAs for TLS (optional Secrets), where the config comments point DATABASE_SSL_CA and tlsCAFile.
        expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'tls-ca', mountPath: '/etc/finance/tls', readOnly: true }]));
      }
      const tlsCa = spec.volumes.find((v: KObject) => v.name === 'tls-ca');
      expect(tlsCa.projected.sources.map((x: KObject) => [x.secret.name, x.secret.optional, x.secret.items[0].path])).toEqual([
        ['finance-db-ca', true, 'db-ca.crt'],
        ['finance-eventstore-ca', true, 'eventstore-ca.crt'],
      ]);
      const mainEnv = envOf(main, objs());
      expect(mainEnv.get('PORT') ?? String(PORT)).toBe(String(PORT));
      expect(mainEnv.get('METRICS_PORT') ?? String(METRICS_PORT)).toBe(String(METRICS_PORT));
      expect(mainEnv.get('MIGRATE_ON_START')).toBe('false');

      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(spec.serviceAccountName).toBe('finance-service');
      expect(named(objs(), 'ServiceAccount', 'finance-service')).toBeDefined();
      expect(spec.affinity.podAntiAffinity).toBeDefined();

      // terminationGracePeriodSeconds covers preStop sleep + drain.
      const preStop = main.lifecycle.preStop.exec.command.join(' ');
      const sleep = Number(/sleep (\d+)/.exec(preStop)![1]);
      const drainMs = Number(mainEnv.get('SHUTDOWN_TIMEOUT_MS') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
      expect(sleep).toBe(10);
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(sleep + drainMs / 1000 + 5);
      // Under an Istio sidecar (the canary overlays): the migration container's PostgreSQL traffic bypasses
      // Envoy (not running yet during init containers), and Envoy keeps draining as long as the pod does.
      const dbPort = /^port=(\d+)$/m.exec(readFileSync(join(REPO_ROOT, 'k8s/secrets/db.env.example'), 'utf8'))![1];
      const annotations = tpl!.metadata.annotations ?? {};
      expect(String(annotations['traffic.sidecar.istio.io/excludeOutboundPorts']).split(',')).toContain(dbPort);
      const proxyConfig = JSON.parse(annotations['proxy.istio.io/config'] ?? '{}');
      expect(parseFloat(proxyConfig.terminationDrainDuration)).toBeGreaterThanOrEqual(sleep + drainMs / 1000);

      // Selector matches the pod template; HPA-owned workloads set no replicas.
      expect(selects(w.spec.selector.matchLabels, tpl!.metadata.labels)).toBe(true);
      const hpa = byKind(objs(), 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.kind === w.kind && h.spec.scaleTargetRef.name === w.metadata.name);
      if (w.spec.workloadRef) {
        expect(hpa).toBeDefined();
      } else if (w.spec.replicas === 0) {
        expect(hpa).toBeUndefined(); // retired (week 4) or template holder for a Rollout
      } else {
        expect(w.spec.replicas).toBeUndefined();
        expect(hpa).toBeDefined();
        expect(w.spec.progressDeadlineSeconds).toBeGreaterThan(0);
        expect(w.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
      }
    }
  });

  it('keeps workload selectors disjoint', () => {
    const ws = byKind(objs(), 'Deployment');
    for (const a of ws) {
      for (const b of ws) {
        if (a === b) continue;
        expect({ selector: a.metadata.name, selectsPodsOf: b.metadata.name, overlap: selects(a.spec.selector.matchLabels, b.spec.template.metadata.labels) })
          .toEqual({ selector: a.metadata.name, selectsPodsOf: b.metadata.name, overlap: false });
      }
    }
  });

  it('has a Service on 80 -> PORT and 9090 -> METRICS_PORT that selects running pods, a PDB and HPAs on real targets', () => {
    const svc = named(objs(), 'Service', 'finance-service')!;
    expect(svc).toBeDefined();
    expect(svc.spec.ports).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'http', port: 80, targetPort: PORT }),
      expect.objectContaining({ name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT }),
    ]));
    const live = workloads(objs()).filter((w) => w.kind === 'Rollout' || w.spec.replicas !== 0);
    expect(live.some((w) => selects(svc.spec.selector, podTemplateOf(w, objs())!.metadata.labels))).toBe(true);
    const pdb = named(objs(), 'PodDisruptionBudget', 'finance-service')!;
    expect(pdb.spec.maxUnavailable).toBe(1);
    for (const hpa of byKind(objs(), 'HorizontalPodAutoscaler')) {
      const t = hpa.spec.scaleTargetRef;
      expect(named(objs(), t.kind, t.name)).toBeDefined();
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
      expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    }
  });

  it('generates the ConfigMap (hash-suffixed name) with settings the service reads', () => {
    const cms = byKind(objs(), 'ConfigMap');
    expect(cms).toHaveLength(1);
    expect(cms[0].metadata.name).toMatch(/^finance-service-config-[a-z0-9]{10}$/);
    for (const key of Object.keys(cms[0].data)) expect(appEnv).toContain(key);
    expect(byKind(objs(), 'Secret')).toEqual([]); // secrets live in k8s/secrets, never in a synced overlay
  });

  // k8s/base is the bare service (nothing to check here); every overlay adds k8s/monitoring.
  if (dir !== 'k8s/base') it('monitors every pod: PodMonitor on the metrics container port of each workload, PrometheusRule on contract metrics only', () => {
    const pm = named(objs(), 'PodMonitor', 'finance-service');
    expect(pm).toBeDefined();
    expect(pm!.spec.podMetricsEndpoints[0].path).toBe('/metrics');
    // Every workload's pods (all tracks and colours, whichever one the Service selects) are scraped on a port they name.
    const templates = [...byKind(objs(), 'Deployment'), ...byKind(objs(), 'Rollout')].map((w) => w.spec.template).filter((t) => t?.spec?.containers);
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) {
      expect(selects(pm!.spec.selector.matchLabels, t.metadata.labels)).toBe(true);
      const ports = t.spec.containers.flatMap((c: KObject) => (c.ports ?? []).map((p: KObject) => p.name));
      expect(ports).toContain(pm!.spec.podMetricsEndpoints[0].port);
    }
    expect(byKind(objs(), 'ServiceMonitor')).toEqual([]); // one scrape per pod, not two
    // The job label the queries select on is the value of the pod label named by jobLabel.
    const jobs = new Set(templates.map((t) => t.metadata.labels[pm!.spec.jobLabel]));
    expect([...jobs]).toEqual(['finance-service']);
    const queried = [...JSON.stringify(byKind(objs(), 'PrometheusRule')).matchAll(/job=\\"([^"\\]+)\\"/g)].map((m) => m[1]);
    expect(queried.length).toBeGreaterThan(0);
    for (const job of queried) expect(jobs.has(job)).toBe(true);
    const rule = named(objs(), 'PrometheusRule', 'finance-service');
    expect(rule).toBeDefined();
    expect(unknownMetrics(rule!, [])).toEqual([]);
  });
});

describe('alert rules', () => {
  const rule = () => named(built('k8s/monitoring'), 'PrometheusRule', 'finance-service')!;
  const alerts = () => rule().spec.groups.flatMap((g: KObject) => g.rules.filter((r: KObject) => r.alert));

  it('cover the seed degradation triggers with the service metrics', () => {
    const byExpr = (re: RegExp) => alerts().filter((a: KObject) => re.test(String(a.expr)));
    const rec = Object.fromEntries(rule().spec.groups.flatMap((g: KObject) => g.rules.filter((r: KObject) => r.record).map((r: KObject) => [r.record, String(r.expr)])));
    expect(rec['finance:http_requests_errors:rate5m']).toMatch(/http_requests_total\{[^}]*status_code=~"5\.\."/);
    expect(rec['finance:http_request_duration_seconds:p95_5m']).toMatch(/histogram_quantile\(0\.95,.*http_request_duration_seconds_bucket/);
    expect(byExpr(/errors:rate5m \/ finance:http_requests:rate5m > 0\.05/)).toHaveLength(1);
    expect(byExpr(/> 2 \* \(finance:http_request_duration_seconds:p95_5m offset 1d\)/)).toHaveLength(1);
    expect(byExpr(/finance_db_pool_in_use \/ finance_db_pool_max\) > 0\.9/)).toHaveLength(1);
    expect(byExpr(/finance_event_store_up\) == 0/)).toHaveLength(1);
    expect(byExpr(/finance_projection_lag_events/)).toHaveLength(1);
    expect(JSON.stringify(rule())).not.toMatch(/redis/i);
    for (const a of alerts()) expect(['critical', 'warning']).toContain(a.labels.severity);
  });

  it('use only exported metric names and labels', () => {
    expect(unknownMetrics(rule(), [])).toEqual([]);
    expect(metricNamesUsedByMonitoring()).toEqual(expect.arrayContaining(['finance_db_pool_in_use', 'finance_db_pool_max',
      'finance_event_store_up', 'finance_projection_lag_events', 'http_requests_total', 'http_request_duration_seconds']));
  });
});

describe('phased rollout overlays', () => {
  const cases: [string, number, string][] = [
    ['k8s/overlays/rollout/week1-20percent', 20, 'week1-20percent'],
    ['k8s/overlays/rollout/week2-50percent', 50, 'week2-50percent'],
    ['k8s/overlays/rollout/week3-80percent', 80, 'week3-80percent'],
    ['k8s/overlays/rollout/week4-100percent', 100, 'week4-100percent'],
  ];
  it.each(cases)('%s sends %i %% of pods (so of connections) to v2 at minimum capacity', (dir, percent, stage) => {
    const objs = built(dir);
    const stable = named(objs, 'Deployment', 'finance-service')!;
    const v2 = named(objs, 'Deployment', 'finance-service-v2')!;
    const min = (d: KObject) => {
      const hpa = byKind(objs, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
      return hpa ? hpa.spec.minReplicas : d.spec.replicas;
    };
    const svc = named(objs, 'Service', 'finance-service')!;
    expect(selects(svc.spec.selector, stable.spec.template.metadata.labels)).toBe(true);
    expect(selects(svc.spec.selector, v2.spec.template.metadata.labels)).toBe(true);
    expect((100 * min(v2)) / (min(v2) + min(stable))).toBe(percent);
    expect(min(v2) + min(stable)).toBeGreaterThanOrEqual(5);
    expect(v2.spec.template.spec.containers[0].image).toBe('vextrus/finance-service:v2.0.0');
    expect(stable.spec.template.spec.containers[0].image).toBe('vextrus/finance-service:v1.2.3');
    const stageEnv = v2.spec.template.spec.containers[0].env.filter((e: KObject) => e.name === 'ROLLOUT_STAGE');
    expect(stageEnv).toEqual([{ name: 'ROLLOUT_STAGE', value: stage }]);
    // Both HPAs scale on the same targets, so the ratio holds as they scale; the maxima keep it too.
    // At 100 % the stable Deployment has 0 pods and no HPA (an HPA cannot go below 1).
    const hpas = byKind(objs, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(percent === 100 ? ['finance-service-v2'] : ['finance-service', 'finance-service-v2']);
    if (percent < 100) expect(hpas[0].spec.metrics).toEqual(hpas[1].spec.metrics);
  });
});

describe('blue-green overlay', () => {
  const objs = () => built('k8s/overlays/blue-green');
  it('has two Deployments whose selectors match their own pods, and a Service on blue that a selector patch moves to green', () => {
    const blue = named(objs(), 'Deployment', 'finance-service-blue')!;
    const green = named(objs(), 'Deployment', 'finance-service-green')!;
    expect(blue.spec.template.metadata.labels.color).toBe('blue');
    expect(green.spec.template.metadata.labels.color).toBe('green');
    const svc = named(objs(), 'Service', 'finance-service')!;
    expect(svc.spec.selector).toEqual({ app: 'finance-service', color: 'blue' });
    expect(selects(svc.spec.selector, blue.spec.template.metadata.labels)).toBe(true);
    expect(selects(svc.spec.selector, green.spec.template.metadata.labels)).toBe(false);
    // kubectl patch service finance-service -p '{"spec":{"selector":{"color":"green"}}}' (strategic merge on a map)
    const patched = { ...svc.spec.selector, color: 'green' };
    expect(selects(patched, green.spec.template.metadata.labels)).toBe(true);
    expect(selects(patched, blue.spec.template.metadata.labels)).toBe(false);
    expect(byKind(objs(), 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['finance-service-blue', 'finance-service-green']);
    expect(named(objs(), 'Deployment', 'finance-service')).toBeUndefined();
  });
});

describe('Istio canary overlays', () => {
  it.each([10, 30, 50, 100])('%i-percent routes that share to v2 and x-canary: true always to v2', (percent) => {
    const objs = built(`k8s/overlays/canary/${percent}-percent`);
    const vs = named(objs, 'VirtualService', 'finance-service')!;
    const dr = named(objs, 'DestinationRule', 'finance-service')!;
    expect(vs.spec.hosts).toEqual([dr.spec.host]);
    const [header, primary] = vs.spec.http;
    expect(header.match[0].headers['x-canary']).toEqual({ exact: 'true' });
    expect(header.route.map((r: KObject) => r.destination.subset)).toEqual(['v2']);
    const weights = Object.fromEntries(primary.route.map((r: KObject) => [r.destination.subset, r.weight]));
    expect(weights).toEqual({ v1: 100 - percent, v2: percent });
    // Every subset the VirtualService uses is defined, and selects the pods of exactly one Deployment.
    const subsets = Object.fromEntries(dr.spec.subsets.map((s: KObject) => [s.name, s.labels]));
    for (const route of vs.spec.http.flatMap((h: KObject) => h.route)) {
      expect(route.destination.host).toBe(dr.spec.host);
      const labels = subsets[route.destination.subset];
      expect(labels).toBeDefined();
      expect(byKind(objs, 'Deployment').filter((d) => selects(labels, d.spec.template.metadata.labels))).toHaveLength(1);
    }
    expect(dr.spec.host).toBe(`finance-service.${NAMESPACE}.svc.cluster.local`);
  });
});

describe('Argo Rollouts overlay', () => {
  const objs = () => built('k8s/overlays/argo-rollouts');
  it('canaries 20/50/80/100 % through Istio with abort and promotion analyses', () => {
    const ro = named(objs(), 'Rollout', 'finance-service')!;
    const canary = ro.spec.strategy.canary;
    expect(canary.steps.filter((s: KObject) => 'setWeight' in s).map((s: KObject) => s.setWeight)).toEqual([20, 50, 80, 100]);
    expect(ro.spec.replicas).toBeUndefined();
    const dep = named(objs(), ro.spec.workloadRef.kind, ro.spec.workloadRef.name)!;
    expect(dep.spec.replicas).toBe(0);
    expect(selects(ro.spec.selector.matchLabels, dep.spec.template.metadata.labels)).toBe(true);
    const hpa = named(objs(), 'HorizontalPodAutoscaler', 'finance-service')!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'finance-service' });
    const vs = named(objs(), 'VirtualService', canary.trafficRouting.istio.virtualService.name)!;
    const dr = named(objs(), 'DestinationRule', canary.trafficRouting.istio.destinationRule.name)!;
    expect(vs.spec.http.map((h: KObject) => h.name)).toEqual(expect.arrayContaining(canary.trafficRouting.istio.virtualService.routes));
    expect(dr.spec.subsets.map((s: KObject) => s.name).sort()).toEqual(['canary', 'stable']);
    // Every analysis reference names a template in the build, and passes every argument without a default.
    const refs = [canary.analysis, ...canary.steps.filter((s: KObject) => s.analysis).map((s: KObject) => s.analysis)];
    for (const ref of refs) {
      for (const t of ref.templates) {
        const tpl = named(objs(), 'AnalysisTemplate', t.templateName)!;
        expect(tpl).toBeDefined();
        const required = tpl.spec.args.filter((a: KObject) => a.value === undefined).map((a: KObject) => a.name).sort();
        expect(ref.args.map((a: KObject) => a.name).sort()).toEqual(required);
      }
    }
  });

  it('aborts on error rate > 5 % or P95 > 2x baseline and promotes only on < 1 % and P95 < 300 ms', () => {
    const abort = named(objs(), 'AnalysisTemplate', 'finance-service-abort')!;
    const gate = named(objs(), 'AnalysisTemplate', 'finance-service-promotion-gate')!;
    const m = (t: KObject, name: string) => t.spec.metrics.find((x: KObject) => x.name === name);
    expect(m(abort, 'canary-error-rate').failureCondition).toBe('len(result) > 0 && result[0] > 0.05');
    expect(m(abort, 'canary-p95-vs-stable').failureCondition).toBe('len(result) > 0 && result[0] > 2');
    expect(m(abort, 'canary-p95-vs-stable').provider.prometheus.query).toMatch(/canary-hash[\s\S]*\/[\s\S]*stable-hash/);
    expect(m(gate, 'canary-error-rate-gate').successCondition).toBe('len(result) > 0 && result[0] < 0.01');
    expect(m(gate, 'canary-p95-gate').successCondition).toBe('len(result) > 0 && result[0] < 0.3');
    expect(unknownMetrics(undefined, [abort, gate])).toEqual([]);
    // The queries filter on the pod-template hash, which the PodMonitor must copy onto the series.
    const pm = named(objs(), 'PodMonitor', 'finance-service')!;
    expect(pm.spec.podTargetLabels).toContain('rollouts-pod-template-hash');
  });
});

describe('Argo CD', () => {
  const objs = () => built('k8s/argocd');
  it('points the Application at a kustomization in this repository, in a project that exists', () => {
    const app = named(objs(), 'Application', 'finance-service')!;
    const project = named(objs(), 'AppProject', app.spec.project)!;
    expect(project).toBeDefined();
    expect(project.spec.sourceRepos).toContain(app.spec.source.repoURL);
    expect(project.spec.destinations).toContainEqual({ server: app.spec.destination.server, namespace: app.spec.destination.namespace });
    expect(app.spec.destination.namespace).toBe(NAMESPACE);
    expect(existsSync(join(REPO_ROOT, app.spec.source.path, 'kustomization.yaml'))).toBe(true);
    expect(DEPLOYABLE).toContain(app.spec.source.path);
    // Fields ignored for Argo Rollouts exist (by name) only in the Rollouts overlay.
    for (const ig of app.spec.ignoreDifferences ?? []) {
      expect(named(built('k8s/overlays/argo-rollouts'), ig.kind, ig.name)).toBeDefined();
    }
    expect(app.spec.syncPolicy.syncOptions).toContain('CreateNamespace=true');
  });
});

describe('k8s/secrets', () => {
  it('builds from the example templates only, with placeholder values, and git-ignores the real env files', () => {
    const objs = built('k8s/secrets');
    expect(objs.map((o) => o.metadata.name).sort()).toEqual(['finance-db-credentials', 'finance-eventstore', 'finance-jwt-secret']);
    for (const s of objs) {
      const values = Object.values(s.data as Record<string, string>).map((v) => Buffer.from(v, 'base64').toString());
      expect(values.join(' ')).toMatch(/CHANGE_ME/);
    }
    const jwt = Buffer.from(named(objs, 'Secret', 'finance-jwt-secret')!.data.secret, 'base64').toString();
    expect(jwt.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(join(K8S_DIR, 'secrets/.gitignore'), 'utf8')).toMatch(/^\*\.env$/m);
  });
});
