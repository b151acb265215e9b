// The agent's Informer against the test API server with the real @kubernetes/client-node.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { silentLogger } from '../log/log.js';
import { Informer } from './informer.js';
import { TestApiServer } from './testing/apiserver.js';

describe('Informer', () => {
  let api: TestApiServer;
  let kc: KubeConfig;
  let core: CoreV1Api;
  before(async () => {
    api = new TestApiServer();
    await api.start();
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
  });
  after(() => api.stop());

  it('stays synced, with its cache, while it lists again after a 410', async () => {
    const ns = 'informer-410';
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'regcred' }, stringData: { a: '1' } } });
    let lists = 0;
    const inf = new Informer<V1Secret>(kc, `/api/v1/namespaces/${ns}/secrets`, () => {
      lists++;
      return core.listNamespacedSecret({ namespace: ns });
    }, () => undefined, silentLogger());
    assert.equal(inf.synced, false, 'not before the first list');
    try {
      await inf.start();
      assert.equal(inf.synced, true);
      // Another object moves the resourceVersion on; compaction makes the watch's too old, so it
      // gets 410 and lists again: that list's answer is held while the informer is looked at.
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'other' } } });
      const held = api.holdNextList('secrets');
      api.compactAndCloseWatches();
      await held.reached;
      try {
        assert.equal(lists, 2, 'the 410 made it list again');
        assert.equal(inf.synced, true, 'synced while it lists again');
        assert.equal(inf.get('regcred', ns)?.data?.a, Buffer.from('1').toString('base64'), 'the cache keeps the last state');
      } finally {
        held.release();
      }
    } finally {
      await inf.stop();
    }
  });
});
