// Image records and lookups kept in memory (service.ts): the same objects while the image set is
// unchanged, and every pull, tag move and removal in the next answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageServiceImpl } from './service.js';
import { openTestImageService, type TestImageService } from './testing/service.js';

const id = (c: string) => `sha256:${c.repeat(64)}`;
const row = (i: string) => ({ id: i, manifestDigest: i, manifestBlobs: [], layers: [], chain: [], size: 1, user: '', pinned: false, created: 0 });

describe('image records kept while the image set is unchanged', () => {
  let env: TestImageService;
  let svc: ImageServiceImpl;
  before(async () => {
    env = await openTestImageService('berth-imgmemo-');
    svc = env.svc;
  });
  after(() => env.close());

  it('one object per image until a commit or removal; tags that move, images added after a miss, removals are seen', () => {
    assert.equal(svc.lookup('registry.test/r/a:1'), undefined);
    svc.db.commitImage(row(id('a')), 'registry.test/r/a:1', undefined);
    const a = svc.lookup('registry.test/r/a:1');
    assert.equal(a?.id, id('a'), 'an image committed after a miss is found');
    assert.equal(svc.lookup('registry.test/r/a:1'), a, 'the same record while nothing changed');
    assert.equal(svc.list()[0], a);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a!.repoTags));

    svc.db.commitImage(row(id('b')), 'registry.test/r/a:1', undefined); // the tag moves to b
    assert.equal(svc.lookup('registry.test/r/a:1')?.id, id('b'));
    assert.deepEqual(svc.record(id('a'))?.repoTags, []);
    assert.deepEqual(svc.record(id('b'))?.repoTags, ['registry.test/r/a:1']);
    assert.notEqual(svc.record(id('a')), a);

    svc.db.removeImage(id('b'));
    assert.equal(svc.lookup('registry.test/r/a:1'), undefined);
    assert.equal(svc.record(id('b')), undefined);
    assert.deepEqual(svc.list().map((r) => r.id), [id('a')]);
  });
});
