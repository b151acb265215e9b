import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImageUserFilesCache } from './image-user-files.js';

describe('image user files kept per image', () => {
  it('reads an image once when both files were found; an image missing either is read each time; the oldest goes past the bound', async () => {
    const cache = new ImageUserFilesCache(2);
    let reads = 0;
    const read = (passwd: string, group: string) => async () => {
      reads++;
      return { passwd, group };
    };
    assert.deepEqual(await cache.get('a', read('root:x:0:0::/:/bin/sh\n', 'root:x:0:\n')), { passwd: 'root:x:0:0::/:/bin/sh\n', group: 'root:x:0:\n' });
    assert.deepEqual(await cache.get('a', read('other', 'other')), { passwd: 'root:x:0:0::/:/bin/sh\n', group: 'root:x:0:\n' });
    assert.equal(reads, 1);
    await cache.get('scratch', read('', ''));
    await cache.get('scratch', read('', ''));
    assert.equal(reads, 3, 'an image without the files (or a failed read) is not kept');
    await cache.get('b', read('p', 'g'));
    await cache.get('c', read('p', 'g')); // a goes
    await cache.get('a', read('p2', 'g2'));
    assert.equal(reads, 6);
  });
});
