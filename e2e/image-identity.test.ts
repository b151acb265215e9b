// Image identity and removal as kubelet 1.36 relies on them: one ID for one image
// (PullImageResponse.image_ref = Image.id = Container.image_id = ContainerStatus.image_id), also
// pulled by digest and from two registries; RemoveImage by one name removes every name; the
// image is gone the moment the call returns; concurrent removals all succeed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';
import { ctrConfig, runCtr, runPod, startCtEnv, status, type CtEnv } from './container-fixtures.js';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';

describe('images: one identity per image, removal of every name', () => {
  let env: CtEnv;
  let other: TestRegistry;
  const img = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'identity', data: 'x' }])] });
  let manifestDigest: string;
  before(async () => {
    env = await startCtEnv();
    other = await startRegistry();
    manifestDigest = await pushImage(env.reg.host, 'id/app', 'v1', img);
    await pushImage(other.host, 'mirror/app', 'v2', img);
  });
  after(async () => {
    await env.close();
    await other.stop();
  });
  const list = async () => (await env.d.client.image('ListImages', {})).images.filter((i) => i.id === img.config.digest);

  it('by tag, by digest, from two registries: one ID everywhere kubelet looks', async () => {
    const byTag = await env.d.client.image('PullImage', { image: { image: `${env.reg.host}/id/app:v1` } });
    const byDigest = await env.d.client.image('PullImage', { image: { image: `${other.host}/mirror/app@${manifestDigest}` } });
    const otherTag = await env.d.client.image('PullImage', { image: { image: `${other.host}/mirror/app:v2` } });
    assert.equal(byTag.image_ref, img.config.digest);
    assert.equal(byDigest.image_ref, byTag.image_ref);
    assert.equal(otherTag.image_ref, byTag.image_ref);
    const [one, ...more] = await list();
    assert.equal(more.length, 0, 'one image');
    assert.equal(one!.id, byTag.image_ref);
    assert.deepEqual(one!.repo_tags, [`${env.reg.host}/id/app:v1`, `${other.host}/mirror/app:v2`].sort());
    assert.deepEqual(one!.repo_digests, [`${env.reg.host}/id/app@${manifestDigest}`, `${other.host}/mirror/app@${manifestDigest}`].sort());
    assert.equal(one!.spec?.image_ref, byTag.image_ref);
    for (const name of [`${other.host}/mirror/app@${manifestDigest}`, byTag.image_ref, byTag.image_ref.slice(7, 19)]) {
      assert.equal((await env.d.client.image('ImageStatus', { image: { image: name } })).image?.id, byTag.image_ref, name);
    }

    const pod = await runPod(env, 'ident');
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { image: { image: `${other.host}/mirror/app@${manifestDigest}` }, command: ['sleep', '1000'] }), false);
    const listed = (await env.d.client.runtime('ListContainers', { filter: { id } })).containers[0]!;
    const st = await status(env, id);
    assert.equal(listed.image_id, byTag.image_ref);
    assert.equal(st.image_id, byTag.image_ref);
    assert.equal(st.image?.image_ref, byTag.image_ref);
    assert.equal(listed.image?.image_ref, byTag.image_ref);
    assert.match(st.image_ref, /@sha256:/);

    await assert.rejects(env.d.client.image('RemoveImage', { image: { image: `${env.reg.host}/id/app:v1` } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.FAILED_PRECONDITION);
      return true;
    });
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    // One tag of one registry removes the image with every tag and digest of both.
    await env.d.client.image('RemoveImage', { image: { image: `${env.reg.host}/id/app:v1` } });
    assert.deepEqual(await list(), [], 'gone from ListImages as the call returns');
    for (const name of [`${other.host}/mirror/app:v2`, `${other.host}/mirror/app@${manifestDigest}`, byTag.image_ref]) {
      assert.equal((await env.d.client.image('ImageStatus', { image: { image: name } })).image, null, name);
    }
  });

  it('concurrent RemoveImage calls of one image (by different names) all succeed', async () => {
    await env.d.client.image('PullImage', { image: { image: `${env.reg.host}/id/app:v1` } });
    await env.d.client.image('PullImage', { image: { image: `${other.host}/mirror/app:v2` } });
    const names = [`${env.reg.host}/id/app:v1`, `${other.host}/mirror/app:v2`, img.config.digest, `${env.reg.host}/id/app@${manifestDigest}`, `${env.reg.host}/id/app:v1`];
    const results = await Promise.allSettled(names.map((image) => env.d.client.image('RemoveImage', { image: { image } })));
    assert.deepEqual(results.map((r) => r.status), names.map(() => 'fulfilled'));
    assert.deepEqual(await list(), []);
  });

  it('a removal while another image sharing layers is pulled leaves that image whole', async () => {
    for (let round = 0; round < 5; round++) {
      const a = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: `a-${round}`, data: Buffer.alloc(200_000, round) }])] });
      const b = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: `b-${round}`, data: Buffer.alloc(300_000, round + 1) }])] });
      await pushImage(env.reg.host, 'id/a', String(round), a);
      await pushImage(env.reg.host, 'id/b', String(round), b);
      await env.d.client.image('PullImage', { image: { image: `${env.reg.host}/id/a:${round}` } });
      const [, pulled] = await Promise.all([
        env.d.client.image('RemoveImage', { image: { image: `${env.reg.host}/id/a:${round}` } }),
        env.d.client.image('PullImage', { image: { image: `${env.reg.host}/id/b:${round}` } }),
      ]);
      const pod = await runPod(env, `share-${round}`);
      const id = await runCtr(env, pod, ctrConfig(env, 'b', { image: { image: pulled.image_ref }, command: ['sh', '-c', `test -s /b-${round} && test -x /bin/busybox`] }));
      const { waitExited } = await import('./container-fixtures.js');
      assert.equal((await waitExited(env, id)).exit_code, 0, `round ${round}: every layer of the pulled image is there`);
      await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
      await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
      await env.d.client.image('RemoveImage', { image: { image: pulled.image_ref } });
    }
  });
});
