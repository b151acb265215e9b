import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MEDIA, parseManifest, selectPlatform, type ImageIndex } from './manifest.js';

const d = (c: string) => 'sha256:' + c.repeat(64);
const entry = (c: string, architecture: string, variant?: string, os = 'linux') => ({
  mediaType: MEDIA.ociManifest, digest: d(c), size: 100, platform: { os, architecture, ...(variant ? { variant } : {}) },
});

describe('manifests and platforms', () => {
  it('parses OCI and Docker manifests and indexes, inferring a missing mediaType', () => {
    const m = { schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, digest: d('c'), size: 2 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: d('1'), size: 3 }] };
    const p = parseManifest(Buffer.from(JSON.stringify(m)), 'application/octet-stream');
    assert.equal(p.kind, 'manifest');
    const list = { schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: [entry('a', 'amd64')] };
    assert.equal(parseManifest(Buffer.from(JSON.stringify(list)), '').kind, 'index');
  });
  it('refuses schema 1, unknown media types, artifacts and oversized documents', () => {
    assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), MEDIA.dockerSchema1Signed), /schema 1/);
    assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":2,"mediaType":"application/x-foo"}'), ''), /unsupported manifest media type "application\/x-foo"/);
    const art = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d('c'), size: 2 }, layers: [] };
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify(art)), ''), /not a container image/);
    assert.throws(() => parseManifest(Buffer.alloc((4 << 20) + 1, 0x20), ''), /4 MiB/);
  });
  it('selects linux/amd64 (and a variant) from an index', () => {
    const idx: ImageIndex = { kind: 'index', mediaType: MEDIA.ociIndex, manifests: [entry('1', 'arm64', 'v8'), entry('2', 'amd64', 'v3'), entry('3', 'amd64'), entry('4', 'amd64', undefined, 'windows')] };
    assert.equal(selectPlatform(idx).digest, d('3'));
    assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest, d('1'));
    const only = { ...idx, manifests: [entry('1', 'arm64', 'v8'), entry('5', 's390x')] };
    assert.throws(() => selectPlatform(only), /no manifest for platform linux\/amd64 in index \(has: linux\/arm64\/v8, linux\/s390x\)/);
  });
});
