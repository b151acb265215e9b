// The resources the test API server serves, with the validation the real API server applies to
// the fields berth's agent writes: object names, label and annotation syntax, RuntimeClass
// handler (required, a DNS label, immutable), Secret stringData folded into data.
import type { Json } from './patch.js';
import type { KubeObject } from './store.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface Resource {
  plural: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  verbs: Verb[];
  /** Field errors of an object about to be stored (`old` on update). */
  validate?(obj: KubeObject, old?: KubeObject): string[];
  /** Rewrites an object before it is stored (Secret stringData). */
  normalize?(obj: KubeObject): void;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A qualified name (`prefix/name`), as label and annotation keys must be. */
function keyErrors(field: string, k: string): string[] {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : '';
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  const errs: string[] = [];
  if (slash >= 0 && (!prefix || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) errs.push(`${field}: Invalid value: "${k}": prefix part must be a DNS subdomain`);
  if (!name || name.length > 63 || !NAME_PART.test(name)) errs.push(`${field}: Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', at most 63`);
  return errs;
}

export function metadataErrors(obj: KubeObject): string[] {
  const m = obj.metadata;
  const errs: string[] = [];
  if (!m.name) errs.push('metadata.name: Required value: name or generateName is required');
  else if (m.name.length > 253 || !DNS_SUBDOMAIN.test(m.name)) errs.push(`metadata.name: Invalid value: "${m.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    errs.push(...keyErrors('metadata.labels', k));
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) errs.push(`metadata.labels: Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', at most 63`);
  }
  let size = 0;
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    errs.push(...keyErrors('metadata.annotations', k));
    if (typeof v !== 'string') errs.push(`metadata.annotations: Invalid value: annotation "${k}" must be a string`);
    size += k.length + String(v).length;
  }
  if (size > 256 * 1024) errs.push('metadata.annotations: Too long: must have at most 262144 bytes');
  return errs;
}

function runtimeClassErrors(obj: KubeObject, old?: KubeObject): string[] {
  const handler = obj.handler as Json;
  if (typeof handler !== 'string' || !handler) return ['handler: Required value'];
  const errs: string[] = [];
  if (!DNS_LABEL.test(handler) || handler.length > 63) errs.push(`handler: Invalid value: "${handler}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`);
  if (old && old.handler !== handler) errs.push('handler: Invalid value: field is immutable');
  return errs;
}

function foldStringData(obj: KubeObject): void {
  const sd = obj.stringData as Record<string, string> | undefined;
  if (!sd) return;
  const data = (obj.data ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

const RW: Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

export const RESOURCES: Resource[] = [
  { plural: 'nodes', kind: 'Node', apiVersion: 'v1', namespaced: false, verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { plural: 'configmaps', kind: 'ConfigMap', apiVersion: 'v1', namespaced: true, verbs: RW },
  { plural: 'secrets', kind: 'Secret', apiVersion: 'v1', namespaced: true, verbs: RW, normalize: foldStringData },
  { plural: 'events', kind: 'Event', apiVersion: 'v1', namespaced: true, verbs: ['get', 'list', 'create'] },
  { plural: 'runtimeclasses', kind: 'RuntimeClass', apiVersion: 'node.k8s.io/v1', namespaced: false, verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'], validate: runtimeClassErrors },
];

/** `/api/v1/...` for the core group, `/apis/<group>/<version>/...` otherwise. */
export function basePath(r: Resource): string {
  return r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
}
