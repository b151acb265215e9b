// berth save / load through the real CLI: an OCI layout tar that also carries docker's
// manifest.json, a save → rmi → load round trip giving the same image ID, archives made by
// skopeo (docker-archive and oci-archive), a hand-made legacy `docker save` tarball, and a
// corrupt blob refused with nothing left behind.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage, busyboxTar } from './fixtures/busybox.js';
import { pushImage, sha256 } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';
import { berth } from './cli-fixtures.js';

const run = promisify(execFile);

describe('berth CLI: save and load', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let tmp: string;
  let ref: string;
  let id: string;
  const cli = (args: string[]) => berth(d.socket, args);

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-cli-archive-'));
    reg = await startRegistry();
    d = await startDaemon({ toml: `[registry]\ninsecure = ["${reg.host}"]\n` });
    const img = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'etc/motd', data: 'saved and loaded\n' }])] });
    await pushImage(reg.host, 'cli/saved', '1', img);
    ref = `${reg.host}/cli/saved:1`;
    id = img.config.digest;
    assert.equal((await cli(['pull', '-q', ref])).stdout, `${id}\n`);
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  /** The image is present with this ID and its top layer unpacked. */
  async function assertLoaded(name: string, want: string): Promise<void> {
    const st = await d.client.image('ImageStatus', { image: { image: name }, verbose: true });
    assert.equal(st.image?.id, want, `${name} is present`);
    const info = JSON.parse(st.info.info!) as { layers: { snapshot: string }[] };
    const top = info.layers[info.layers.length - 1]!.snapshot;
    assert.ok((await stat(top)).isDirectory());
  }

  it('save writes an OCI layout with docker\'s manifest.json; rmi then load gives the same image ID', async () => {
    const file = path.join(tmp, 'saved.tar');
    const save = await cli(['save', '-o', file, ref]);
    assert.equal(save.code, 0, save.stderr);
    const names = (await run('tar', ['-tf', file])).stdout.trim().split('\n');
    for (const n of ['oci-layout', 'index.json', 'manifest.json', 'repositories', `blobs/sha256/${id.slice(7)}`]) assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    const index = JSON.parse((await run('tar', ['-xOf', file, 'index.json'])).stdout) as { manifests: { annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0]!.annotations['io.containerd.image.name'], ref);
    const docker = JSON.parse((await run('tar', ['-xOf', file, 'manifest.json'])).stdout) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    assert.deepEqual(docker[0]!.RepoTags, [ref]);
    assert.equal(docker[0]!.Config, `blobs/sha256/${id.slice(7)}`);
    assert.equal(docker[0]!.Layers.length, 2);
    assert.equal((await cli(['rmi', ref])).code, 0);
    assert.equal((await cli(['images', '-q'])).stdout, '');
    const load = await cli(['load', '-i', file]);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(load.stdout, `Loaded image: ${ref}\n`);
    await assertLoaded(ref, id);
  });

  it('loads what skopeo makes of it: a docker-archive and an oci-archive', async () => {
    const saved = path.join(tmp, 'saved.tar');
    const dockerArchive = path.join(tmp, 'docker.tar');
    await run('skopeo', ['copy', '-q', `oci-archive:${saved}`, `docker-archive:${dockerArchive}:cli/from-skopeo:2`]);
    const ociArchive = path.join(tmp, 'oci.tar');
    await run('skopeo', ['copy', '-q', `docker-archive:${dockerArchive}`, `oci-archive:${ociArchive}:cli/from-oci:3`]);
    const a = await cli(['load', '-i', dockerArchive]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, 'Loaded image: docker.io/cli/from-skopeo:2\n');
    await assertLoaded('docker.io/cli/from-skopeo:2', id);
    const b = await cli(['load', '-q', '-i', ociArchive]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^sha256:[0-9a-f]{64}\n$/);
    await assertLoaded(b.stdout.trim(), b.stdout.trim());
  });

  it('loads a legacy docker save tarball (<id>/layer.tar, <hex>.json), from stdin too', async () => {
    const layer = busyboxTar();
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }));
    const cfgHex = sha256(config).slice(7);
    const tar = buildTar([
      { type: 'file', path: `${cfgHex}.json`, data: config },
      { type: 'dir', path: 'aaaa/' },
      { type: 'file', path: 'aaaa/layer.tar', data: layer },
      { type: 'file', path: 'aaaa/VERSION', data: '1.0' },
      { type: 'file', path: 'manifest.json', data: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['cli/legacy:1'], Layers: ['aaaa/layer.tar'] }]) },
      { type: 'file', path: 'repositories', data: JSON.stringify({ 'cli/legacy': { '1': 'aaaa' } }) },
    ]);
    const file = path.join(tmp, 'legacy.tar');
    await writeFile(file, tar);
    const r = await berth(d.socket, ['load'], { input: await readFile(file) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Loaded image: docker.io/cli/legacy:1\n');
    await assertLoaded('cli/legacy:1', `sha256:${cfgHex}`);
  });

  it('refuses a blob that does not match its digest, and keeps nothing of it', async () => {
    const bad = Buffer.from(await readFile(path.join(tmp, 'saved.tar')));
    const motd = bad.indexOf('saved and loaded');
    // The extra layer is gzip: corrupt a byte in the middle of the archive's largest blob instead.
    const at = motd >= 0 ? motd : Math.floor(bad.length / 2);
    bad[at] = bad[at]! ^ 0xff;
    const before = (await cli(['images', '-q'])).stdout;
    await cli(['rmi', ref]);
    const file = path.join(tmp, 'bad.tar');
    await writeFile(file, bad);
    const r = await cli(['load', '-i', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^berth: .*(hashes to|corrupt|not an image archive|checksum).*\n$/);
    assert.ok(!(await cli(['images', '-q'])).stdout.includes(id), 'nothing of the corrupt archive is loaded');
    assert.notEqual(before, '');
    const notTar = await berth(d.socket, ['load'], { input: 'this is not a tar file at all, not even close'.repeat(20) });
    assert.equal(notTar.code, 1);
    assert.match(notTar.stderr, /^berth: not an image archive: /);
  });
});
