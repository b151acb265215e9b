import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../errors/errors.js';
import { resolveSubPath } from './subpath.js';

describe('image volume sub paths', () => {
  let tmp: string;
  let root: string;
  let outside: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-subpath-'));
    root = path.join(tmp, 'image');
    // A directory beside the image: following a link on the host would find it.
    outside = path.join(tmp, 'host-secret');
    await mkdir(outside);
    await mkdir(path.join(root, 'data/sub/deeper'), { recursive: true });
    await mkdir(path.join(root, 'etc'));
    await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const links: [string, string][] = [
      ['abs', '/data/sub'], ['rel', 'data/sub'], ['data/sib', '../etc'], ['data/self', '.'],
      ['escape-rel', '../host-secret'], ['data/escape-deep', '../../host-secret'], ['escape-abs', outside],
      ['escape-abs-up', '/../host-secret'], ['loop-a', 'loop-b'], ['loop-b', 'loop-a'], ['file', 'etc/passwd'],
      ['dangling', 'nowhere'], ['chain', 'abs/deeper'],
    ];
    for (const [at, to] of links) await symlink(to, path.join(root, at));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  const ok = (sub: string) => resolveSubPath(root, sub, 'mount "/v"');
  const refused = async (sub: string, kind: typeof InvalidArgumentError | typeof NotFoundError, re: RegExp) => {
    await assert.rejects(ok(sub), (err: Error) => {
      assert.ok(err instanceof kind, `${sub}: ${err.name} ${err.message}`);
      assert.match(err.message, re);
      assert.match(err.message, /mount "\/v"/);
      return true;
    });
  };

  it('plain directories, . and .. that stay inside', async () => {
    assert.equal(await ok('data/sub'), path.join(root, 'data/sub'));
    assert.equal(await ok('./data//sub/'), path.join(root, 'data/sub'));
    assert.equal(await ok('data/sub/../sub/deeper'), path.join(root, 'data/sub/deeper'));
    assert.equal(await ok('etc'), path.join(root, 'etc'));
  });

  it('symlinks are followed inside the image: absolute targets mean the image root', async () => {
    assert.equal(await ok('abs'), path.join(root, 'data/sub'));
    assert.equal(await ok('rel'), path.join(root, 'data/sub'));
    assert.equal(await ok('data/sib'), path.join(root, 'etc'));
    assert.equal(await ok('data/self/sub'), path.join(root, 'data/sub'));
    assert.equal(await ok('chain'), path.join(root, 'data/sub/deeper'));
  });

  it('never escapes: .. above the root and relative symlinks that climb out are refused', async () => {
    await refused('../host-secret', InvalidArgumentError, /climbs out of the image/);
    await refused('data/../../host-secret', InvalidArgumentError, /climbs out/);
    await refused('escape-rel', InvalidArgumentError, /climbs out of the image \(through the symlink "escape-rel" -> "\.\.\/host-secret"\)/);
    await refused('data/escape-deep', InvalidArgumentError, /through the symlink "data\/escape-deep"/);
    await refused('escape-abs-up', InvalidArgumentError, /climbs out/);
  });

  it('an absolute symlink to a host path resolves inside the image, where it does not exist', async () => {
    await refused('escape-abs', NotFoundError, /does not exist in the image/);
  });

  it('missing paths are NOT_FOUND naming them; files, loops and absolute sub paths are INVALID_ARGUMENT', async () => {
    await refused('not-existing', NotFoundError, /image_sub_path "not-existing" does not exist in the image \("not-existing" is missing\)/);
    await refused('data/nope/x', NotFoundError, /"data\/nope" is missing/);
    await refused('dangling', NotFoundError, /"nowhere" is missing/);
    await refused('etc/passwd/x', NotFoundError, /does not exist/);
    await refused('etc/passwd', InvalidArgumentError, /is not a directory/);
    await refused('file', InvalidArgumentError, /is not a directory/);
    await refused('loop-a', InvalidArgumentError, /too many levels of symbolic links/);
    await refused('/etc', InvalidArgumentError, /must be a relative path/);
  });
});
