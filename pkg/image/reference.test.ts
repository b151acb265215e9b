import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, parseReference } from './reference.js';
import { InvalidArgumentError } from '../errors/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references', () => {
  it('normalises Docker Hub names', () => {
    assert.equal(formatReference(parseReference('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(formatReference(parseReference('library/busybox:1.36')), 'docker.io/library/busybox:1.36');
    assert.equal(formatReference(parseReference('user/app')), 'docker.io/user/app:latest');
    assert.equal(formatReference(parseReference('index.docker.io/library/busybox')), 'docker.io/library/busybox:latest');
    assert.equal(formatReference(parseReference('docker.io/busybox')), 'docker.io/library/busybox:latest');
  });
  it('keeps registries with ports, localhost, tags and digests', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/a/b:t'), { domain: '127.0.0.1:5000', path: 'a/b', tag: 't' });
    assert.deepEqual(parseReference('localhost/x'), { domain: 'localhost', path: 'x', tag: 'latest' });
    assert.deepEqual(parseReference(`gcr.io/p/img@${D}`), { domain: 'gcr.io', path: 'p/img', digest: D });
    assert.deepEqual(parseReference(`quay.io/a/b:v1.2@${D}`), { domain: 'quay.io', path: 'a/b', tag: 'v1.2', digest: D });
    assert.deepEqual(parseReference('registry.k8s.io:443/pause:3.9'), { domain: 'registry.k8s.io:443', path: 'pause', tag: '3.9' });
  });
  it('refuses malformed references as InvalidArgument', () => {
    for (const bad of ['', 'Busybox', 'a//b', 'a:b:c/d', 'busybox:', 'busybox@sha256:abc', ':tag', 'a/b:' + 'x'.repeat(200), '-a', 'a/b@', 'a b']) {
      assert.throws(() => parseReference(bad), InvalidArgumentError, JSON.stringify(bad));
    }
  });
});
