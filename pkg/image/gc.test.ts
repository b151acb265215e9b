import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log/log.js';
import { Store } from '../store/store.js';
import { ImageServiceImpl } from './service.js';

describe('image garbage collection', () => {
  let dir: string;
  let store: Store;
  let svc: ImageServiceImpl;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-gc-'));
    store = Store.open(path.join(dir, 'berth.db'));
    svc = new ImageServiceImpl({ root: dir, store, log: silentLogger(), registry: { insecure: [], mirrors: {} }, maxConcurrentDownloads: 1 });
    await svc.init();
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

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
