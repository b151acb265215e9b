import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { ImageServiceImpl } from './service.js';
import { openTestImageService, type TestImageService } from './testing/service.js';

describe('image garbage collection', () => {
  let env: TestImageService;
  let svc: ImageServiceImpl;
  before(async () => {
    env = await openTestImageService('berth-gc-');
    svc = env.svc;
  });
  after(() => env.close());

  // A RemoveImage's collection used to list the snapshot directory while a pull had just renamed
  // its new snapshot into place but not yet recorded it, and threw the new layer away.
  it('keeps a snapshot directory an unpack in progress has not recorded yet, and removes strays once none runs', async () => {
    const fresh = svc.snapshotPath(svc.db.allocNum());
    await mkdir(fresh);
    const unpacking = (svc as unknown as { unpacking: Map<string, Promise<void>> }).unpacking;
    let finish!: () => void;
    unpacking.set('sha256:layer-in-progress', new Promise<void>((r) => (finish = r)));
    await svc.collectGarbage();
    await svc.idle();
    assert.ok(existsSync(fresh), 'the unrecorded snapshot of a running unpack is kept');
    finish();
    unpacking.clear();
    await svc.collectGarbage();
    await svc.idle();
    assert.ok(!existsSync(fresh), 'a stray directory goes once no unpack runs');
  });
});
