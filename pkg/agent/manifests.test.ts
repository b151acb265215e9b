// deploy/*.yaml checked offline against Kubernetes' own schemas, with no API server: every
// object with kubernetes-models' validate() (types, required fields, enums, from Kubernetes'
// OpenAPI spec) and, since those schemas allow unknown fields, once more field by field against
// the OpenAPI models of @kubernetes/client-node, so that a misspelt field is an error (as
// kubectl's strict field validation makes it). Also: the objects a rollout needs are all there,
// and the example ConfigMap is one the agent accepts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { PROJECT_ROOT } from '../version/version.js';
import { buildDropIn } from './configsync.js';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/DaemonSet': DaemonSet,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'node.k8s.io/v1/RuntimeClass': RuntimeClass,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

type AttributeMap = { baseName: string; type: string }[];
const models = k8s as unknown as Record<string, { attributeTypeMap?: AttributeMap } | undefined>;

/** Paths of fields the OpenAPI model of `type` does not have, walking nested models. */
function unknownFields(value: unknown, type: string, at: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${at}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value as object).flatMap(([k, v]) => unknownFields(v, map[1]!, `${at}.${k}`));
  const attrs = models[type]?.attributeTypeMap;
  if (!attrs || typeof value !== 'object') return [];
  return Object.entries(value as object).flatMap(([k, v]) => {
    const a = attrs.find((x) => x.baseName === k);
    return a ? unknownFields(v, a.type, `${at}.${k}`) : [`${at}.${k}`];
  });
}

async function manifests(): Promise<{ file: string; obj: Obj }[]> {
  const out: { file: string; obj: Obj }[] = [];
  for (const file of ['rbac.yaml', 'daemonset.yaml', 'configmap.yaml', 'runtimeclass.yaml']) {
    const docs = k8s.loadAllYaml(await readFile(path.join(PROJECT_ROOT, 'deploy', file), 'utf8')) as Obj[];
    for (const obj of docs.filter(Boolean)) out.push({ file, obj });
  }
  return out;
}

describe('deploy/ manifests', () => {
  it('validate against the Kubernetes schemas, with no unknown fields', async () => {
    const all = await manifests();
    assert.ok(all.length >= 10);
    for (const { file, obj } of all) {
      const id = `${file}: ${obj.kind} ${obj.metadata?.name}`;
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(Model, `${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
      assert.doesNotThrow(() => new Model(obj as never).validate(), id);
      assert.deepEqual(unknownFields(obj, `V1${obj.kind}`, obj.kind), [], id);
    }
  });

  it('the strict check catches a misspelt field', () => {
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x' }, spec: { template: { spec: { hostPid: true, containers: [{ name: 'c', imagePullPolicy: 'Always', securityContex: {} }] } } } };
    assert.deepEqual(unknownFields(ds, 'V1DaemonSet', 'DaemonSet'), ['DaemonSet.spec.template.spec.hostPid', 'DaemonSet.spec.template.spec.containers[0].securityContex']);
  });

  it('hold the DaemonSet, RBAC, ConfigMap and RuntimeClasses a rollout needs, wired together', async () => {
    const all = (await manifests()).map((m) => m.obj);
    const find = (kind: string, name: string) => all.find((o) => o.kind === kind && o.metadata.name === name) as Obj & Record<string, never>;
    const ds = find('DaemonSet', 'berth-agent') as unknown as k8s.V1DaemonSet;
    assert.ok(ds);
    const pod = ds.spec!.template.spec!;
    assert.equal(pod.hostPID, true);
    assert.equal(pod.containers[0]!.securityContext!.privileged, true);
    assert.equal(pod.volumes!.find((v) => v.name === 'host')!.hostPath!.path, '/');
    assert.equal(pod.containers[0]!.readinessProbe!.httpGet!.path, '/readyz');
    assert.ok(find('ServiceAccount', pod.serviceAccountName!));
    for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Namespace']) assert.ok(all.some((o) => o.kind === kind), kind);
    const role = find('Role', 'berth-agent') as unknown as k8s.V1Role;
    assert.equal(role.metadata!.namespace, ds.metadata!.namespace, 'ConfigMaps and Secrets: the agent\'s namespace only');
    assert.deepEqual(role.rules!.flatMap((r) => r.resources).sort(), ['configmaps', 'secrets']);
    const cluster = find('ClusterRole', 'berth-agent') as unknown as k8s.V1ClusterRole;
    assert.ok(!cluster.rules!.some((r) => r.resources!.includes('secrets') || r.resources!.includes('configmaps') || r.verbs.includes('*')));
    const rcs = all.filter((o) => o.kind === 'RuntimeClass') as unknown as k8s.V1RuntimeClass[];
    assert.deepEqual(rcs.map((r) => [r.metadata!.name, r.handler, r.scheduling!.nodeSelector]), [
      ['berth-runc', 'runc', { 'berth.io/runtime': 'ready' }],
      ['berth-crun', 'crun', { 'berth.io/runtime': 'ready' }],
    ]);
    const cm = find('ConfigMap', 'berth-config') as unknown as k8s.V1ConfigMap;
    assert.equal(cm.metadata!.namespace, ds.metadata!.namespace);
    assert.doesNotThrow(() => buildDropIn(cm.data, () => undefined), 'the documented ConfigMap is one the agent takes');
  });
});
