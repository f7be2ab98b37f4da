/**
 * A small kustomize: enough of `kustomize build` for every kustomization in k8s/, offline, in-process.
 *
 * Supported (anything else in a kustomization is an error, so a build never silently differs from kustomize):
 *   resources (files and directories), namespace, nameSuffix / namePrefix, images, patches (strategic merge or
 *   JSON 6902, inline or `path`, with or without `target`), patchesStrategicMerge, patchesJson6902,
 *   configMapGenerator / secretGenerator (envs, files, literals, behavior create|merge|replace, options),
 *   generatorOptions.
 * Semantics followed from kustomize (api/krusty): sub-kustomizations are accumulated fully transformed; per
 * kustomization the transformer order is patches, namespace, prefix/suffix, images; generated names get their
 * content hash and name references are fixed once, at the top of the build. Files must lie inside the
 * kustomization's directory (kustomize's load restrictor). Strategic merge uses merge keys for the built-in
 * kinds; custom resources are merged like JSON merge patches (lists replaced), as kustomize does without schema.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type KObject = Record<string, any>;

interface Res {
  obj: KObject;
  /** Names the resource had before prefixes/suffixes/hashes (oldest first); used for name references. */
  prevNames: string[];
  /** (name, namespace) the resource had before each rename or namespace change, the original first. */
  prevIds: { name: string; ns: string }[];
  prefixes: string[];
  suffixes: string[];
  /** Set for ConfigMaps/Secrets from a generator whose name gets the content hash. */
  hashName?: boolean;
  generated?: boolean;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion', 'kind', 'metadata', 'resources', 'namespace', 'namePrefix', 'nameSuffix', 'images', 'patches',
  'patchesStrategicMerge', 'patchesJson6902', 'configMapGenerator', 'secretGenerator', 'generatorOptions',
]);
const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass',
  'PriorityClass', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'APIService', 'Node',
]);
const POD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod']);

export class KustomizeError extends Error {}

export function findKustomizationFile(dir: string): string | undefined {
  for (const f of KUSTOMIZATION_FILES) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

export function parseYamlDocuments(text: string, source: string): KObject[] {
  const docs = parseAllDocuments(text, { merge: true });
  const out: KObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new KustomizeError(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

/** `kustomize build DIR`: the resources, in kustomize's accumulation order. */
export function kustomizeBuild(dir: string): KObject[] {
  const resources = accumulate(resolve(dir), []);
  // Done once at the top, as kustomize does: hashes on generated names, then name references.
  for (const r of resources) {
    if (r.hashName) {
      remember(r);
      r.obj.metadata.name = `${r.obj.metadata.name}-${contentHash(r.obj)}`;
    }
  }
  fixNameReferences(resources);
  return resources.map((r) => r.obj);
}

function accumulate(dir: string, stack: string[]): Res[] {
  const file = findKustomizationFile(dir);
  if (!file) throw new KustomizeError(`no kustomization file in ${dir}`);
  if (stack.includes(dir)) throw new KustomizeError(`cycle: ${[...stack, dir].join(' -> ')}`);
  const k = parseYamlDocuments(readFileSync(file, 'utf8'), file)[0] ?? {};
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_FIELDS.has(key)) throw new KustomizeError(`${file}: field "${key}" is not supported by this builder`);
  }
  if (k.kind && k.kind !== 'Kustomization') throw new KustomizeError(`${file}: kind ${k.kind} not supported`);

  const resources: Res[] = [];
  const add = (r: Res, what: string) => {
    const clash = resources.find((o) => sameId(o.obj, r.obj));
    if (clash) throw new KustomizeError(`${file}: ${what} ${idOf(r.obj)} is already registered`);
    resources.push(r);
  };
  for (const entry of (k.resources ?? []) as string[]) {
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('github.com/')) throw new KustomizeError(`${file}: remote resource ${entry}`);
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new KustomizeError(`${file}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      for (const r of accumulate(path, [...stack, dir])) add(r, 'resource');
    } else {
      checkInside(dir, path, file);
      for (const obj of parseYamlDocuments(readFileSync(path, 'utf8'), path)) {
        if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new KustomizeError(`${path}: document without apiVersion/kind/metadata.name`);
        add(newRes(obj), 'resource');
      }
    }
  }

  // Generators.
  const genOptions = k.generatorOptions ?? {};
  for (const [field, kind] of [['configMapGenerator', 'ConfigMap'], ['secretGenerator', 'Secret']] as const) {
    for (const g of (k[field] ?? []) as KObject[]) {
      const generated = generate(kind, g, genOptions, dir, file);
      const behavior = g.behavior ?? 'create';
      const existing = resources.find(
        (r) => r.obj.kind === kind && (r.obj.metadata.name === g.name || r.prevNames.includes(g.name)) &&
          (g.namespace === undefined || r.obj.metadata.namespace === g.namespace),
      );
      if (behavior === 'create') {
        add(generated, field);
      } else if (behavior === 'merge' || behavior === 'replace') {
        if (!existing) throw new KustomizeError(`${file}: ${field} ${g.name} with behavior ${behavior} has nothing to ${behavior}`);
        if (behavior === 'merge') {
          existing.obj.data = { ...(existing.obj.data ?? {}), ...(generated.obj.data ?? {}) };
          existing.obj.metadata.labels = { ...(existing.obj.metadata.labels ?? {}), ...(generated.obj.metadata.labels ?? {}) };
          existing.obj.metadata.annotations = { ...(existing.obj.metadata.annotations ?? {}), ...(generated.obj.metadata.annotations ?? {}) };
        } else {
          existing.obj.data = generated.obj.data;
        }
        existing.hashName = generated.hashName;
      } else {
        throw new KustomizeError(`${file}: unknown generator behavior ${behavior}`);
      }
    }
  }

  // Transformers, in kustomize's order.
  for (const p of (k.patchesStrategicMerge ?? []) as (string | KObject)[]) {
    const docs = typeof p === 'string' && !p.includes('\n') ? loadFile(dir, p, file) : typeof p === 'string' ? parseYamlDocuments(p, file) : [p];
    for (const doc of docs) applyStrategicPatch(resources, doc, undefined, file);
  }
  for (const p of (k.patches ?? []) as KObject[]) {
    const text: string = p.path !== undefined ? readInside(dir, p.path, file) : p.patch;
    if (typeof text !== 'string') throw new KustomizeError(`${file}: patch without path or patch`);
    const docs = parseYamlDocuments(text, file);
    if (docs.length === 1 && Array.isArray(docs[0])) {
      if (!p.target) throw new KustomizeError(`${file}: JSON 6902 patch needs a target`);
      const targets = select(resources, p.target);
      if (targets.length === 0) throw new KustomizeError(`${file}: patch target ${JSON.stringify(p.target)} matches nothing`);
      for (const r of targets) r.obj = applyJson6902(r.obj, docs[0], file);
    } else {
      // kustomize: one patch per `patches` entry (a multi-document file is refused).
      if (docs.length !== 1) throw new KustomizeError(`${file}: a patches entry must hold exactly one patch (found ${docs.length})`);
      applyStrategicPatch(resources, docs[0], p.target, file);
    }
  }
  if (k.namespace) {
    for (const r of resources) {
      if (CLUSTER_SCOPED.has(r.obj.kind) || r.obj.metadata.namespace === k.namespace) continue;
      remember(r);
      r.obj.metadata.namespace = k.namespace;
    }
  }
  if (k.namePrefix || k.nameSuffix) {
    for (const r of resources) {
      if (r.obj.kind === 'Namespace' || r.obj.kind === 'CustomResourceDefinition') continue;
      remember(r);
      r.obj.metadata.name = `${k.namePrefix ?? ''}${r.obj.metadata.name}${k.nameSuffix ?? ''}`;
      if (k.namePrefix) r.prefixes.push(k.namePrefix);
      if (k.nameSuffix) r.suffixes.push(k.nameSuffix);
    }
  }
  for (const p of (k.patchesJson6902 ?? []) as KObject[]) {
    const text: string = p.path !== undefined ? readInside(dir, p.path, file) : p.patch;
    const ops = parseYamlDocuments(text, file)[0];
    const targets = select(resources, p.target ?? {});
    if (targets.length === 0) throw new KustomizeError(`${file}: patchesJson6902 target matches nothing`);
    for (const r of targets) r.obj = applyJson6902(r.obj, ops as any[], file);
  }
  for (const image of (k.images ?? []) as KObject[]) {
    let matched = false;
    for (const r of resources) if (rewriteImages(r.obj, image)) matched = true;
    void matched; // kustomize does not complain about an unused image entry either
  }
  return resources;
}

function newRes(obj: KObject): Res {
  return { obj, prevNames: [], prevIds: [], prefixes: [], suffixes: [] };
}

/** Records the current id before a transformer changes the name or namespace. */
function remember(r: Res): void {
  r.prevIds.push({ name: r.obj.metadata.name, ns: r.obj.metadata.namespace ?? '' });
  if (!r.prevNames.includes(r.obj.metadata.name)) r.prevNames.push(r.obj.metadata.name);
}

function originalId(r: Res): { name: string; ns: string } {
  return r.prevIds[0] ?? { name: r.obj.metadata.name, ns: r.obj.metadata.namespace ?? '' };
}

const nsEquals = (a: string, b: string) => (a || 'default') === (b || 'default');

// ---------------------------------------------------------------- generators

function generate(kind: 'ConfigMap' | 'Secret', g: KObject, genOptions: KObject, dir: string, file: string): Res {
  if (!g.name) throw new KustomizeError(`${file}: generator without name`);
  const data: Record<string, string> = {};
  const put = (key: string, value: string) => {
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new KustomizeError(`${file}: invalid key "${key}" in ${g.name}`);
    if (key in data) throw new KustomizeError(`${file}: duplicate key "${key}" in ${g.name}`);
    data[key] = value;
  };
  const envFiles = [...(g.envs ?? []), ...(g.env ? [g.env] : [])] as string[];
  for (const env of envFiles) {
    for (const [key, value] of parseEnvFile(readInside(dir, env, file), env)) put(key, value);
  }
  for (const f of (g.files ?? []) as string[]) {
    const [key, path] = f.includes('=') ? f.split(/=(.*)/s, 2) : [basename(f), f];
    put(key, readInside(dir, path, file));
  }
  for (const lit of (g.literals ?? []) as string[]) {
    const i = lit.indexOf('=');
    if (i <= 0) throw new KustomizeError(`${file}: literal "${lit}" is not KEY=VALUE`);
    put(lit.slice(0, i), unquote(lit.slice(i + 1)));
  }
  const options = { ...genOptions, ...(g.options ?? {}) };
  const metadata: KObject = { name: g.name };
  if (g.namespace) metadata.namespace = g.namespace;
  if (options.labels) metadata.labels = { ...options.labels };
  if (options.annotations) metadata.annotations = { ...options.annotations };
  const obj: KObject = { apiVersion: 'v1', kind, metadata };
  const sorted = Object.fromEntries(Object.keys(data).sort().map((key) => [key, data[key]]));
  if (kind === 'Secret') {
    obj.type = g.type ?? 'Opaque';
    obj.data = Object.fromEntries(Object.entries(sorted).map(([key, v]) => [key, Buffer.from(v, 'utf8').toString('base64')]));
  } else {
    obj.data = sorted;
  }
  return { ...newRes(obj), generated: true, hashName: !options.disableNameSuffixHash };
}

/** kustomize's env-file rules: KEY=VALUE per line, `#` comments and blank lines skipped, a bare KEY is an error. */
export function parseEnvFile(text: string, source: string): [string, string][] {
  const out: [string, string][] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new KustomizeError(`${source}:${i + 1}: "${line}" is not KEY=VALUE`);
    const key = line.slice(0, eq).trimStart();
    if (/\s/.test(key)) throw new KustomizeError(`${source}:${i + 1}: key "${key}" has white space`);
    out.push([key, line.slice(eq + 1)]);
  });
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

/**
 * kustomize's hash suffix (api/hasher): sha256 of a JSON encoding, first 10 hex digits with 0,1,3,a,e swapped.
 * The encoding's "name" is always "": kustomize looks the name up as a single field called "metadata/name".
 */
export function contentHash(obj: KObject): string {
  const isMap = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  let m: KObject;
  if (obj.kind === 'Secret') {
    m = { kind: 'Secret', type: obj.type ?? '', name: '', data: obj.data ?? '' };
    if (isMap(obj.stringData)) m.stringData = obj.stringData;
  } else {
    m = { kind: 'ConfigMap', name: '', data: obj.data ?? '' };
    if (isMap(obj.binaryData)) m.binaryData = obj.binaryData;
  }
  const hex = createHash('sha256').update(goJson(m)).digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

/** Go's encoding/json: map keys sorted, <, >, & and U+2028/2029 escaped. */
function goJson(value: unknown): string {
  const sortKeys = (v: any): any =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
  return JSON.stringify(sortKeys(value))
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

// ---------------------------------------------------------------- patches

/** kustomize's Select: name and namespace match the original or the current id; kind/group/version; labels. */
function select(resources: Res[], target: KObject): Res[] {
  const re = (x: string | undefined) => (x === undefined ? undefined : new RegExp(`^(?:${x})$`));
  const name = re(target.name);
  const kind = re(target.kind);
  const group = re(target.group);
  const version = re(target.version);
  const ns = re(target.namespace);
  for (const key of Object.keys(target)) {
    if (!['name', 'kind', 'group', 'version', 'namespace', 'labelSelector'].includes(key)) throw new KustomizeError(`target selector "${key}" is not supported`);
  }
  const labels = target.labelSelector === undefined ? [] : parseLabelSelector(target.labelSelector);
  return resources.filter((r) => {
    const [g, v] = splitApiVersion(r.obj.apiVersion);
    const org = originalId(r);
    if (kind && !kind.test(r.obj.kind)) return false;
    if (group && !group.test(g)) return false;
    if (version && !version.test(v)) return false;
    if (ns && !ns.test(org.ns || 'default') && !ns.test(r.obj.metadata.namespace || 'default')) return false;
    if (name && !name.test(org.name) && !name.test(r.obj.metadata.name)) return false;
    const have = r.obj.metadata.labels ?? {};
    return labels.every(({ key, op, value }) =>
      op === 'exists' ? key in have : op === '=' ? have[key] === value : have[key] !== value);
  });
}

/** Equality-based label selectors: `a=b,c!=d,e`. */
function parseLabelSelector(sel: string): { key: string; op: '=' | '!=' | 'exists'; value?: string }[] {
  return sel.split(',').map((part) => {
    const t = part.trim();
    let m = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(t);
    if (m) return { key: m[1], op: '!=' as const, value: m[2] };
    m = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(t);
    if (m) return { key: m[1], op: '=' as const, value: m[2] };
    if (/^[^!=\s()]+$/.test(t)) return { key: t, op: 'exists' as const };
    throw new KustomizeError(`label selector "${sel}" is not supported`);
  });
}

function splitApiVersion(apiVersion: string): [string, string] {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

function applyStrategicPatch(resources: Res[], patch: KObject, target: KObject | undefined, file: string): void {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new KustomizeError(`${file}: strategic merge patch is not an object`);
  let targets: Res[];
  if (target) {
    targets = select(resources, target);
  } else {
    if (!patch.kind || !patch.metadata?.name) throw new KustomizeError(`${file}: strategic merge patch needs kind and metadata.name`);
    // kustomize: the patch's (name, namespace) must equal one of the resource's ids (current, original or an
    // earlier one), and exactly one resource may match.
    const want = { name: patch.metadata.name, ns: patch.metadata.namespace ?? '' };
    targets = resources.filter(
      (r) => r.obj.kind === patch.kind &&
        (patch.apiVersion === undefined || splitApiVersion(r.obj.apiVersion)[0] === splitApiVersion(patch.apiVersion)[0]) &&
        [...r.prevIds, { name: r.obj.metadata.name, ns: r.obj.metadata.namespace ?? '' }].some(
          (id) => id.name === want.name && nsEquals(id.ns, want.ns),
        ),
    );
    if (targets.length > 1) throw new KustomizeError(`${file}: patch for ${patch.kind}/${patch.metadata.name} matches ${targets.length} resources (kustomize needs a unique target)`);
  }
  if (targets.length === 0) throw new KustomizeError(`${file}: patch for ${patch.kind}/${patch.metadata?.name} matches nothing`);
  for (const r of targets) {
    if (patch.$patch === 'delete') {
      resources.splice(resources.indexOf(r), 1);
      continue;
    }
    const body = { ...patch };
    if (target) {
      // With a target the patch's own name/kind do not matter (kustomize rewrites them to the target's).
      body.metadata = { ...(patch.metadata ?? {}) };
      delete body.metadata.name;
      delete body.metadata.namespace;
      delete body.kind;
      delete body.apiVersion;
    }
    r.obj = strategicMerge(r.obj, body, builtinKind(r.obj) ? [r.obj.kind] : null);
  }
}

function builtinKind(obj: KObject): boolean {
  const [group] = splitApiVersion(obj.apiVersion);
  return group === '' || group === 'apps' || group === 'batch' || group === 'autoscaling' || group === 'policy' ||
    group.endsWith('.k8s.io');
}

/** Merge keys of the built-in types' lists, by field name (and for `ports`, by where they are). */
function mergeKey(field: string, path: string[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ports':
      // Container ports merge on containerPort, Service ports on port.
      return path.includes('containers') || path.includes('initContainers') ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

/**
 * Strategic merge patch. `schema` non-null: built-in kind, lists with merge keys are merged by key;
 * null: custom resource, lists are replaced (JSON merge patch), as kustomize does without an OpenAPI schema.
 */
export function strategicMerge(base: any, patch: any, schema: string[] | null, path: string[] = []): any {
  if (patch === null) return undefined;
  if (typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch, ...rest } = patch;
    void $patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: any = base && typeof base === 'object' && !Array.isArray(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch') continue;
    if (key.startsWith('$setElementOrder/') || key === '$retainKeys') continue;
    if (key.startsWith('$')) throw new KustomizeError(`strategic merge directive ${key} is not supported`);
    if (value === null) {
      delete out[key];
      continue;
    }
    const cur = out[key];
    if (Array.isArray(value)) {
      const mk = schema ? mergeKey(key, path) : undefined;
      out[key] = mk && Array.isArray(cur) ? mergeList(cur, value, mk, schema, [...path, key]) : value.filter((v) => !(v && v.$patch)).map(clone);
    } else if (typeof value === 'object') {
      const merged = strategicMerge(cur, value, schema, [...path, key]);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function mergeList(base: any[], patch: any[], key: string, schema: string[] | null, path: string[]): any[] {
  // Order as kustomize produces it: the patch's items in patch order, then the items only in the base.
  const out: any[] = [];
  const inPatch = new Set<unknown>();
  for (const item of patch) {
    if (!item || typeof item !== 'object' || !(key in item)) throw new KustomizeError(`list item without merge key ${key} at ${path.join('.')}`);
    inPatch.add(item[key]);
    if (item.$patch === 'delete') continue;
    const existing = base.find((o) => o && o[key] === item[key]);
    out.push(strategicMerge(existing === undefined ? undefined : clone(existing), item, schema, path));
  }
  for (const o of base) if (!(o && inPatch.has(o[key]))) out.push(clone(o));
  return out;
}

function clone<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** RFC 6902 on a copy. */
export function applyJson6902(doc: KObject, ops: any[], file: string): KObject {
  let root: any = clone(doc);
  const parse = (p: string): string[] => {
    if (p === '') return [];
    if (!p.startsWith('/')) throw new KustomizeError(`${file}: JSON pointer "${p}" must start with /`);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (tokens: string[], op: string): [any, string] => {
    let cur = root;
    for (const t of tokens.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(t)] : cur?.[t];
      if (cur === undefined || cur === null || typeof cur !== 'object') throw new KustomizeError(`${file}: ${op}: path /${tokens.join('/')} does not exist`);
    }
    return [cur, tokens[tokens.length - 1]];
  };
  const get = (tokens: string[], op: string): any => {
    let cur = root;
    for (const t of tokens) {
      if (cur === null || typeof cur !== 'object' || !(Array.isArray(cur) ? Number(t) < cur.length : t in cur)) {
        throw new KustomizeError(`${file}: ${op}: path /${tokens.join('/')} does not exist`);
      }
      cur = Array.isArray(cur) ? cur[Number(t)] : cur[t];
    }
    return cur;
  };
  const remove = (tokens: string[], op: string): any => {
    get(tokens, op);
    const [parent, last] = parentOf(tokens, op);
    if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
    const v = parent[last];
    delete parent[last];
    return v;
  };
  const add = (tokens: string[], value: any, op: string) => {
    if (tokens.length === 0) {
      root = value;
      return;
    }
    const [parent, last] = parentOf(tokens, op);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw new KustomizeError(`${file}: ${op}: index ${last} out of range`);
      parent.splice(i, 0, value);
    } else {
      parent[last] = value;
    }
  };
  for (const o of ops) {
    const tokens = parse(o.path);
    switch (o.op) {
      case 'add':
        add(tokens, clone(o.value), 'add');
        break;
      case 'remove':
        remove(tokens, 'remove');
        break;
      case 'replace':
        get(tokens, 'replace');
        if (tokens.length === 0) root = clone(o.value);
        else {
          const [parent, last] = parentOf(tokens, 'replace');
          parent[Array.isArray(parent) ? Number(last) : last] = clone(o.value);
        }
        break;
      case 'move':
        add(tokens, remove(parse(o.from), 'move'), 'move');
        break;
      case 'copy':
        add(tokens, clone(get(parse(o.from), 'copy')), 'copy');
        break;
      case 'test':
        if (JSON.stringify(get(tokens, 'test')) !== JSON.stringify(o.value)) {
          throw new KustomizeError(`${file}: test failed at ${o.path}: expected ${JSON.stringify(o.value)}`);
        }
        break;
      default:
        throw new KustomizeError(`${file}: unknown JSON patch op ${o.op}`);
    }
  }
  return root;
}

// ---------------------------------------------------------------- images

/** Splits an image reference into name, tag and digest (a port in the registry host is not a tag). */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

function rewriteImages(node: any, image: KObject): boolean {
  let changed = false;
  const visit = (v: any) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    for (const [key, child] of Object.entries(v)) {
      if ((key === 'containers' || key === 'initContainers') && Array.isArray(child)) {
        for (const c of child) {
          if (!c || typeof c.image !== 'string') continue;
          const ref = parseImage(c.image);
          if (ref.name !== image.name) continue;
          const name = image.newName ?? ref.name;
          if (image.digest) c.image = `${name}@${image.digest}`;
          else if (image.newTag !== undefined) c.image = `${name}:${image.newTag}`;
          else c.image = `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
          changed = true;
        }
      }
      visit(child);
    }
  };
  visit(node);
  return changed;
}

// ---------------------------------------------------------------- name references

interface Ref {
  kind: string;
  get: () => string;
  set: (name: string) => void;
}

/** The references kustomize's nameReference config covers for the kinds used here. */
function referencesOf(obj: KObject): Ref[] {
  const refs: Ref[] = [];
  const field = (holder: any, key: string, kind: string) => {
    if (holder && typeof holder[key] === 'string') refs.push({ kind, get: () => holder[key], set: (n) => (holder[key] = n) });
  };
  const podSpec = (spec: any) => {
    if (!spec) return;
    field(spec, 'serviceAccountName', 'ServiceAccount');
    for (const s of spec.imagePullSecrets ?? []) field(s, 'name', 'Secret');
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const e of c.envFrom ?? []) {
        field(e.configMapRef, 'name', 'ConfigMap');
        field(e.secretRef, 'name', 'Secret');
      }
      for (const e of c.env ?? []) {
        field(e.valueFrom?.configMapKeyRef, 'name', 'ConfigMap');
        field(e.valueFrom?.secretKeyRef, 'name', 'Secret');
      }
    }
    for (const v of spec.volumes ?? []) {
      field(v.configMap, 'name', 'ConfigMap');
      field(v.secret, 'secretName', 'Secret');
      for (const s of v.projected?.sources ?? []) {
        field(s.configMap, 'name', 'ConfigMap');
        field(s.secret, 'name', 'Secret');
      }
    }
  };
  if (POD_KINDS.has(obj.kind) && builtinKind(obj)) {
    if (obj.kind === 'Pod') podSpec(obj.spec);
    else if (obj.kind === 'CronJob') podSpec(obj.spec?.jobTemplate?.spec?.template?.spec);
    else podSpec(obj.spec?.template?.spec);
  }
  if (obj.kind === 'HorizontalPodAutoscaler' && obj.spec?.scaleTargetRef) {
    const t = obj.spec.scaleTargetRef;
    if (['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'].includes(t.kind)) field(t, 'name', t.kind);
  }
  return refs;
}

function fixNameReferences(resources: Res[]): void {
  for (const referrer of resources) {
    for (const ref of referencesOf(referrer.obj)) {
      const name = ref.get();
      const candidates = resources.filter(
        (r) => r.obj.kind === ref.kind && (r.obj.metadata.namespace ?? '') === (referrer.obj.metadata.namespace ?? '') &&
          r.prevNames.concat(r.obj.metadata.name).includes(name),
      );
      if (candidates.length === 0) continue; // refers to something outside this build (e.g. a Secret)
      let chosen = candidates;
      if (chosen.length > 1) {
        // Like kustomize: prefer referrals renamed with the same prefixes/suffixes as the referrer.
        chosen = chosen.filter((c) => same(c.prefixes, referrer.prefixes) && same(c.suffixes, referrer.suffixes));
      }
      if (chosen.length !== 1) throw new KustomizeError(`ambiguous reference to ${ref.kind} ${name} from ${idOf(referrer.obj)}`);
      ref.set(chosen[0].obj.metadata.name);
    }
  }
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------- files

function checkInside(dir: string, path: string, file: string): void {
  const rel = relative(dir, path);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new KustomizeError(`${file}: ${path} is not in or below ${dir} (kustomize's load restrictor refuses it)`);
  }
}

function readInside(dir: string, path: string, file: string): string {
  const full = resolve(dir, path);
  checkInside(dir, full, file);
  if (!existsSync(full)) throw new KustomizeError(`${file}: ${path} does not exist`);
  return readFileSync(full, 'utf8');
}

function loadFile(dir: string, path: string, file: string): KObject[] {
  return parseYamlDocuments(readInside(dir, path, file), join(dir, path));
}

function sameId(a: KObject, b: KObject): boolean {
  return splitApiVersion(a.apiVersion)[0] === splitApiVersion(b.apiVersion)[0] && a.kind === b.kind &&
    a.metadata.name === b.metadata.name && (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');
}

export function idOf(o: KObject): string {
  return `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
}

/** Every directory under root that holds a kustomization file. */
export function findKustomizations(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (findKustomizationFile(dir)) out.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) walk(join(dir, entry.name));
    }
  };
  walk(root);
  return out.sort();
}

