// Image volumes end to end (KEP-4639): a CRI mount with `image` set mounts that image's root
// filesystem read-only (and executable) at its container path; image_sub_path mounts a directory
// of it and never leaves the image; bad requests are refused naming the field; the image is held
// while a container mounts it; status reports it; views survive a restart and go with the container.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import type { Mount } from '../pkg/cri/gen/runtime/v1/Mount.js';
import { buildImage, pushImage } from './fixtures/oci.js';
import { buildTar } from './fixtures/tar.js';
import { ctrConfig, execText, exists, runCtr, runPod, startCtEnv, status, type CtEnv } from './container-fixtures.js';

/** A three-layer image: data, links that try to leave it, and a layer that deletes a file. */
function volumeImage() {
  const data = buildTar([
    { type: 'dir', path: 'data' }, { type: 'file', path: 'data/hello.txt', data: 'hello-from-volume\n' },
    { type: 'dir', path: 'data/sub' }, { type: 'file', path: 'data/sub/inner.txt', data: 'inner\n' },
    { type: 'file', path: 'data/removed.txt', data: 'gone soon\n' },
    { type: 'file', path: 'tool.sh', data: '#!/bin/sh\necho tool-ran\n', mode: 0o755 },
  ]);
  const links = buildTar([
    { type: 'symlink', path: 'to-sub', target: '/data/sub' },
    { type: 'symlink', path: 'escape-rel', target: '../../../../../../etc' },
    { type: 'symlink', path: 'data/escape-up', target: '../..' },
    { type: 'symlink', path: 'escape-abs', target: '/etc' },
  ]);
  const whiteout = buildTar([{ type: 'file', path: 'data/.wh.removed.txt', data: '' }]);
  return buildImage([data, links, whiteout], { config: { Cmd: ['none'] } });
}

const viewMounts = async (env: CtEnv): Promise<string[]> =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`${env.d.state}/containers/`) && l.includes('/volumes/'));

describe('image volumes', () => {
  let env: CtEnv;
  let volRef: string;
  let volId: string;
  before(async () => {
    env = await startCtEnv();
    await pushImage(env.reg.host, 'ct/vol', '1', volumeImage());
    volRef = `${env.reg.host}/ct/vol:1`;
    volId = (await env.d.client.image('PullImage', { image: { image: volRef } })).image_ref;
  });
  after(async () => {
    await env.close();
  });
  const vol = (container_path: string, image: string, extra: Partial<Mount> = {}): Mount => ({ container_path, readonly: true, image: { image }, ...extra });
  const refused = async (mounts: Mount[], code: number, re: RegExp) => {
    const pod = await runPod(env, 'refused');
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'r', { command: ['sleep', '100'], mounts }), false), (err: CriError) => {
      assert.equal(err.code, code, err.details);
      assert.match(err.details, re);
      return true;
    });
    assert.deepEqual(await viewMounts(env), [], 'a refused create leaves no view mounted');
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers, []);
  };

  it('mounts the image read-only and executable, layers merged, a sub path as a directory; status reports image and ref', async () => {
    const pod = await runPod(env, 'vol');
    const busyboxId = (await env.d.client.image('ImageStatus', { image: { image: env.image } })).image!.id;
    const id = await runCtr(env, pod, ctrConfig(env, 'c', {
      command: ['sleep', '1000'],
      mounts: [vol('/mnt/vol', volRef), vol('/mnt/sub', volId, { image_sub_path: 'data/sub' }), vol('/mnt/bb', env.image), vol('/mnt/link', volRef, { image_sub_path: 'to-sub' })],
    }));
    assert.equal((await execText(env, id, ['cat', '/mnt/vol/data/hello.txt'])).stdout, 'hello-from-volume\n');
    assert.equal((await execText(env, id, ['ls', '/mnt/vol/data'])).stdout.split('\n').includes('removed.txt'), false, 'the whiteout hides the file');
    assert.equal((await execText(env, id, ['cat', '/mnt/sub/inner.txt'])).stdout, 'inner\n');
    assert.equal((await execText(env, id, ['ls', '/mnt/link'])).stdout, 'inner.txt\n', 'an absolute symlink resolves inside the image');
    assert.equal((await execText(env, id, ['/mnt/vol/tool.sh'])).stdout, 'tool-ran\n', 'not noexec');
    assert.equal((await execText(env, id, ['/mnt/bb/bin/busybox', 'echo', 'bb-ran'])).stdout, 'bb-ran\n', 'a single-layer image');
    const write = await execText(env, id, ['touch', '/mnt/vol/new-file']);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Read-only file system/);
    const mounts = (await status(env, id)).mounts;
    const byPath = (p: string) => mounts.find((m) => m.container_path === p)!;
    assert.deepEqual([byPath('/mnt/vol').image?.image, byPath('/mnt/vol').image?.image_ref], [volRef, volId]);
    assert.equal(byPath('/mnt/vol').readonly, true);
    assert.deepEqual([byPath('/mnt/sub').image?.image_ref, byPath('/mnt/sub').image_sub_path], [volId, 'data/sub']);
    assert.equal(byPath('/mnt/bb').image?.image_ref, busyboxId);
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    assert.deepEqual(await viewMounts(env), [], 'views unmounted at removal');
  });

  it('refuses readonly false, a host path beside the image, an absent image, missing and escaping sub paths', async () => {
    await refused([vol('/mnt/v', volRef, { readonly: false })], GrpcStatus.INVALID_ARGUMENT, /config\.mounts\[0\]\.readonly must be true: image volume .* is read-only/);
    await refused([vol('/mnt/v', volRef, { host_path: '/tmp' })], GrpcStatus.INVALID_ARGUMENT, /config\.mounts\[0\]\.host_path "\/tmp" must be empty/);
    await refused([vol('/mnt/v', `${env.reg.host}/ct/never-pulled:1`)], GrpcStatus.NOT_FOUND, /config\.mounts\[0\]\.image: image "[^"]*never-pulled:1" of the image volume at "\/mnt\/v" is not present/);
    // The first mount is made before the second fails: it must be undone.
    await refused([vol('/mnt/a', volRef), vol('/mnt/v', volRef, { image_sub_path: 'not-existing' })], GrpcStatus.NOT_FOUND, /config\.mounts\[1\] \(image "[^"]+"\): image_sub_path "not-existing" does not exist in the image/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: 'escape-rel' })], GrpcStatus.INVALID_ARGUMENT, /climbs out of the image \(through the symlink "escape-rel"/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: 'data/escape-up/etc' })], GrpcStatus.INVALID_ARGUMENT, /climbs out/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: '../etc' })], GrpcStatus.INVALID_ARGUMENT, /config\.mounts\[0\]\.image_sub_path "\.\.\/etc" contains a "\.\." component/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: '/etc' })], GrpcStatus.INVALID_ARGUMENT, /image_sub_path "\/etc" must be relative/);
    await refused([vol('/mnt/v', '')], GrpcStatus.INVALID_ARGUMENT, /config\.mounts\[0\]\.image\.image is required/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: 'escape-abs' })], GrpcStatus.NOT_FOUND, /"etc" is missing/);
    await refused([vol('/mnt/v', volRef, { image_sub_path: 'data/hello.txt' })], GrpcStatus.INVALID_ARGUMENT, /is not a directory/);
  });

  it('RemoveImage refuses an image a container mounts, until the container is removed', async () => {
    const pod = await runPod(env, 'hold');
    const id = await runCtr(env, pod, ctrConfig(env, 'h', { command: ['sleep', '1000'], mounts: [vol('/mnt/vol', volRef)] }), false);
    await assert.rejects(env.d.client.image('RemoveImage', { image: { image: volRef } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(err.details, /in use/);
      return true;
    });
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    await env.d.client.image('RemoveImage', { image: { image: volRef } });
    assert.equal((await env.d.client.image('ImageStatus', { image: { image: volRef } })).image, null);
    volId = (await env.d.client.image('PullImage', { image: { image: volRef } })).image_ref;
  });

  it('views survive a daemon restart, one that went missing is mounted again, removal cleans up', async () => {
    const pod = await runPod(env, 'restart');
    const id = await runCtr(env, pod, ctrConfig(env, 'r', { command: ['sleep', '1000'], mounts: [vol('/mnt/vol', volRef), vol('/mnt/sub', volRef, { image_sub_path: 'data' })] }));
    const bundle = JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info!).bundle as string;
    await env.d.kill();
    // As if the daemon's mount namespace had gone with it: the first view is not mounted any more.
    const { umount } = await import('../pkg/sys/mount.js');
    umount(path.join(bundle, 'volumes', '0'));
    await env.restart();
    assert.equal((await viewMounts(env)).length, 2, 'both views mounted after the restart');
    assert.equal((await execText(env, id, ['cat', '/mnt/sub/hello.txt'])).stdout, 'hello-from-volume\n');
    assert.equal((await status(env, id)).mounts.find((m) => m.container_path === '/mnt/vol')?.image?.image_ref, volId);
    assert.equal(await exists(path.join(bundle, 'volumes', '0', 'data', 'hello.txt')), true);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assert.deepEqual(await viewMounts(env), []);
    assert.equal(await exists(bundle), false);
  });
});
