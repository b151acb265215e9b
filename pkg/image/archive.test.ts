import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log/log.js';
import { Store } from '../store/store.js';
import { loadArchive } from './archive-load.js';
import { saveArchive } from './archive-save.js';
import { ImageServiceImpl } from './service.js';
import { tarStream, type TarSource } from './tar-writer.js';
import { ByteReader, padOf, tarEntries } from './tar-reader.js';

const digest = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

const file = (name: string, body: Buffer | string): TarSource => ({ name, type: 'file', size: Buffer.byteLength(body), body: Buffer.from(body) });

/** A one-layer image as an OCI layout tar named example.com/test/img:1. */
async function ociLayout(): Promise<{ tar: Buffer; configDigest: string; layer: Buffer }> {
  const layer = await collect(tarStream([file('hello.txt', 'hello from a layer\n')]));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [digest(layer)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length }],
  }));
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'example.com/test/img:1' } }] };
  const blob = (b: Buffer) => file(`blobs/sha256/${digest(b).slice(7)}`, b);
  const tar = await collect(tarStream([file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), file('index.json', JSON.stringify(index)), blob(manifest), blob(config), blob(layer)]));
  return { tar, configDigest: digest(config), layer };
}

async function* chunks(b: Buffer, size = 7000): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('image archives', () => {
  let dir: string;
  let store: Store;
  let svc: ImageServiceImpl;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-archive-'));
    store = Store.open(path.join(dir, 'berth.db'));
    svc = new ImageServiceImpl({ root: dir, store, log: silentLogger(), registry: { insecure: [], mirrors: {} }, maxConcurrentDownloads: 2 });
    await svc.init();
  });
  after(async () => {
    await svc.idle();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads an OCI layout, saves it back with docker\'s manifest.json, and a reload gives the same ID', async () => {
    const { tar, configDigest } = await ociLayout();
    const [img] = await loadArchive(svc, chunks(tar));
    assert.equal(img!.id, configDigest);
    assert.deepEqual(img!.tags, ['example.com/test/img:1']);
    const view = await svc.containerView('example.com/test/img:1');
    assert.equal(await readFile(path.join(view.lowerdirs[0]!, 'hello.txt'), 'utf8'), 'hello from a layer\n');
    const saved = await collect(await saveArchive(svc, ['example.com/test/img:1']));
    const names: string[] = [];
    const files = new Map<string, Buffer>();
    const reader = new ByteReader(chunks(saved), () => {});
    for await (const h of tarEntries(reader)) {
      names.push(h.name);
      const body: Buffer[] = [];
      for await (const c of reader.chunks(h.size)) body.push(Buffer.from(c));
      files.set(h.name, Buffer.concat(body));
      await reader.skip(padOf(h.size));
    }
    assert.deepEqual(names.slice(0, 6), ['oci-layout', 'index.json', 'manifest.json', 'repositories', 'blobs/', 'blobs/sha256/']);
    for (const [n, b] of files) if (n.startsWith('blobs/sha256/') && b.length) assert.equal(digest(b), `sha256:${n.slice(13)}`);
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()), [{ Config: `blobs/sha256/${configDigest.slice(7)}`, RepoTags: ['example.com/test/img:1'], Layers: [`blobs/sha256/${JSON.parse(files.get(`blobs/sha256/${JSON.parse(files.get('index.json')!.toString()).manifests[0].digest.slice(7)}`)!.toString()).layers[0].digest.slice(7)}`] }]);
    assert.deepEqual(JSON.parse(files.get('repositories')!.toString()), { 'example.com/test/img': { '1': configDigest.slice(7) } });
    await svc.remove(configDigest);
    assert.equal(svc.lookup('example.com/test/img:1'), undefined);
    const [again] = await loadArchive(svc, chunks(saved));
    assert.equal(again!.id, configDigest);
    assert.deepEqual(await readdir(svc.content.ingestDir), [], 'no staging left');
  });

  it('refuses a blob whose bytes do not match its name and leaves nothing behind', async () => {
    const { tar, configDigest, layer } = await ociLayout();
    await svc.remove(configDigest);
    const bad = Buffer.from(tar);
    const at = bad.indexOf('hello from a layer', bad.indexOf(layer.subarray(0, 100)));
    bad[at] = 'j'.charCodeAt(0);
    await assert.rejects(loadArchive(svc, chunks(bad)), /hashes to sha256:[0-9a-f]{64}; it is corrupt/);
    assert.equal(svc.lookup(configDigest), undefined);
    assert.deepEqual(await readdir(svc.content.ingestDir), []);
    assert.ok(!(await readdir(svc.content.blobsDir)).includes(configDigest.slice(7)), 'no blob of the failed load is kept');
    await assert.rejects(loadArchive(svc, chunks(Buffer.from('x'.repeat(2000)))), /not an image archive/);
  });
});
