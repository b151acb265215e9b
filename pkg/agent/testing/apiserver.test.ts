// The test API server, driven by the real @kubernetes/client-node: the semantics the agent's
// tests rely on must be the real API server's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { ApiException, CoreV1Api, KubeConfig, ListWatch, NodeV1Api, PatchStrategy, setHeaderOptions, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { TestApiServer } from './apiserver.js';
import { mergePatch, strategicMergePatch } from './patch.js';

const code = (err: unknown) => (err instanceof ApiException ? err.code : -1);

describe('test API server', () => {
  let api: TestApiServer;
  let core: CoreV1Api;
  let nodes: NodeV1Api;
  let kc: KubeConfig;
  before(async () => {
    api = new TestApiServer();
    await api.start();
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
    nodes = kc.makeApiClient(NodeV1Api);
  });
  after(() => api.stop());

  it('patches node labels by strategic merge and merge patch, touching only the named keys', async () => {
    await core.createNode({ body: { metadata: { name: 'n1', labels: { 'kubernetes.io/os': 'linux', old: 'x' } } } });
    const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    let n = await core.patchNode({ name: 'n1', body: { metadata: { labels: { 'berth.io/runtime': 'ready', old: null } } } }, smp);
    assert.deepEqual(n.metadata!.labels, { 'kubernetes.io/os': 'linux', 'berth.io/runtime': 'ready' });
    const rv = n.metadata!.resourceVersion;
    n = await core.patchNode({ name: 'n1', body: { metadata: { labels: { 'berth.io/runtime': 'ready' } } } }, smp);
    assert.equal(n.metadata!.resourceVersion, rv, 'a no-op patch keeps the resourceVersion');
    n = await core.patchNode({ name: 'n1', body: { metadata: { annotations: { 'berth.io/handlers': 'runc,crun' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    assert.equal(n.metadata!.annotations!['berth.io/handlers'], 'runc,crun');
    await assert.rejects(core.patchNode({ name: 'n1', body: { metadata: { labels: { 'berth.io/version': '1.0+x' } } } }, smp), (e) => code(e) === 422);
    await assert.rejects(core.patchNode({ name: 'n1', body: { spec: { taints: [] } } }, smp), (e) => code(e) === 415, 'list merges are not guessed at');
    await assert.rejects(core.patchNode({ name: 'n1', body: [] }), (e) => code(e) === 415, 'JSON patch is not implemented');
    await assert.rejects(core.readNode({ name: 'absent' }), (e) => code(e) === 404);
  });

  it('serves RuntimeClasses: create, conflict, immutable handler, replace with resourceVersion, delete', async () => {
    const body = { metadata: { name: 'berth-runc' }, handler: 'runc', scheduling: { nodeSelector: { 'berth.io/runtime': 'ready' } } };
    const rc = await nodes.createRuntimeClass({ body });
    await assert.rejects(nodes.createRuntimeClass({ body }), (e) => code(e) === 409);
    await assert.rejects(nodes.replaceRuntimeClass({ name: 'berth-runc', body: { ...rc, handler: 'crun' } }), (e) => code(e) === 422);
    const updated = await nodes.replaceRuntimeClass({ name: 'berth-runc', body: { ...rc, scheduling: {} } });
    await assert.rejects(nodes.replaceRuntimeClass({ name: 'berth-runc', body: { ...rc, scheduling: {} } }), (e) => code(e) === 409, 'stale resourceVersion');
    assert.notEqual(updated.metadata!.resourceVersion, rc.metadata!.resourceVersion);
    await assert.rejects(nodes.createRuntimeClass({ body: { metadata: { name: 'x' }, handler: '' } }), (e) => code(e) === 422);
    await nodes.deleteRuntimeClass({ name: 'berth-runc' });
    await assert.rejects(nodes.readRuntimeClass({ name: 'berth-runc' }), (e) => code(e) === 404);
  });

  it('refuses calls without the bearer token', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https.get(`${api.url}/api/v1/nodes/n1`, { ca: api.caPem }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: r.statusCode!, body }));
      }).on('error', reject);
    });
    assert.equal(res.status, 401);
    assert.equal((JSON.parse(res.body) as { kind: string }).kind, 'Status');
  });

  it('watches from a resourceVersion, and answers 410 after compaction so that ListWatch lists again', async () => {
    const ns = 'watch-test';
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'berth-config' }, data: { a: '1' } } });
    const seen: string[] = [];
    let lists = 0;
    const lw = new ListWatch<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, new Watch(kc), () => {
      lists++;
      return core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=berth-config' });
    }, false, undefined, 'metadata.name=berth-config');
    const next = () => new Promise<string>((resolve) => {
      const cb = (o: V1ConfigMap) => {
        lw.off('update', cb);
        lw.off('add', cb);
        resolve(o.data!.a!);
      };
      lw.on('update', cb);
      lw.on('add', cb);
    });
    const first = next();
    await lw.start();
    seen.push(await first);
    const second = next();
    await core.replaceNamespacedConfigMap({ namespace: ns, name: 'berth-config', body: { metadata: { name: 'berth-config' }, data: { a: '2' } } });
    seen.push(await second);
    assert.deepEqual(seen, ['1', '2']);
    assert.equal(lists, 1);

    // Changes the watch does not select move the resourceVersion on; compaction then makes the
    // watch's own resourceVersion too old.
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'other' } } });
    const third = next();
    api.compactAndCloseWatches();
    await core.replaceNamespacedConfigMap({ namespace: ns, name: 'berth-config', body: { metadata: { name: 'berth-config' }, data: { a: '3' } } });
    assert.equal(await third, '3');
    assert.equal(lists, 2, 'the 410 made the client list again: the change came with the new list');
    await lw.stop();
  });

  it('folds Secret stringData into data and takes Events', async () => {
    const s = await core.createNamespacedSecret({ namespace: 'ns', body: { metadata: { name: 'reg' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{}' } } });
    assert.equal(s.data!['.dockerconfigjson'], Buffer.from('{}').toString('base64'));
    assert.equal(s.stringData, undefined);
    await core.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'n1.1' }, involvedObject: { kind: 'Node', name: 'n1' }, reason: 'R', message: 'm', type: 'Normal' } });
    const evs = await core.listNamespacedEvent({ namespace: 'default' });
    assert.deepEqual(evs.items.map((e) => e.reason), ['R']);
  });
});

describe('patch semantics', () => {
  it('merge patch: null deletes, objects merge, lists replace', () => {
    assert.deepEqual(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] }), { a: { c: 2, d: 3 }, l: [3] });
  });
  it('strategic merge patch on maps equals the merge patch, and refuses what it cannot do', () => {
    assert.deepEqual(strategicMergePatch({ m: { x: '1' } }, { m: { y: '2', x: null } }), { m: { y: '2' } });
    assert.throws(() => strategicMergePatch({}, { m: { $patch: 'replace' } }), /directive \$patch/);
    assert.throws(() => strategicMergePatch({}, { spec: { taints: [] } }), /list \(spec.taints\)/);
  });
});
