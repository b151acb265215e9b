// An image service on a private root and database, for unit tests of pkg/image.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../log/log.js';
import { Store } from '../../store/store.js';
import { ImageServiceImpl } from '../service.js';

export interface TestImageService {
  svc: ImageServiceImpl;
  close(): Promise<void>;
}

export async function openTestImageService(prefix: string): Promise<TestImageService> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const store = Store.open(path.join(dir, 'berth.db'));
  const svc = new ImageServiceImpl({ root: dir, store, log: silentLogger(), registry: { insecure: [], mirrors: {} }, maxConcurrentDownloads: 1 });
  await svc.init();
  return {
    svc,
    async close() {
      store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
