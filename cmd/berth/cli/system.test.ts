import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Image } from './resolve.js';
import { unusedImages } from './system.js';

const image = (id: string, digest: string, pinned = false) => ({ id, repo_digests: [digest], repo_tags: [], pinned }) as unknown as Image;
const container = (imageId: string, imageRef: string) => ({ image_id: imageId, image_ref: imageRef }) as unknown as Container;

test('prune --images keeps an image a container names by repo digest or by ID, and pinned images', () => {
  const images = [image('sha256:a', 'r/a@sha256:1'), image('sha256:b', 'r/b@sha256:2'), image('sha256:c', 'r/c@sha256:3'), image('sha256:p', 'r/p@sha256:4', true)];
  // CRI v1.36: image_ref is the repo digest, image_id the ID.
  const unused = unusedImages([container('sha256:a', 'r/a@sha256:1'), container('', 'sha256:b')], images);
  assert.deepEqual(unused.map((i) => i.id), ['sha256:c']);
});
