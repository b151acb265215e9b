// The containers table keeps stop signals as Linux numbers (KEP-4960): the CRI enum's names
// change between releases, the kernel's numbers do not. Records written before that held the
// image's StopSignal text beside the info; they are read back as numbers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../store/store.js';
import { ContainerTable, nameKey, type ContainerRecord } from './store.js';
import type { ContainerInfo } from './types.js';

const CONFIG: ContainerInfo['config'] = {
  name: 'c', attempt: 0, image: 'busybox', command: [], args: [], workingDir: '', envs: [], devices: [], mounts: [],
  labels: {}, annotations: {}, logPath: '', stdin: false, stdinOnce: false, tty: false, stopSignal: 12,
  security: {
    capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false,
    supplementalGroups: [], supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
  },
};

function record(id: string, stopSignal: number): ContainerRecord {
  const info: ContainerInfo = {
    id, sandboxId: 'sb', name: `c-${id}`, attempt: 0, state: 'CONTAINER_RUNNING', createdAt: 5n, startedAt: 6n, finishedAt: 0n,
    exitCode: 0, reason: '', message: '', image: 'busybox', imageId: 'sha256:1', imageRef: 'sha256:1', runtimeHandler: 'runc',
    logPath: '', pid: 42, labels: {}, annotations: {}, user: { uid: 0, gid: 0, additionalGids: [] }, bundle: `/b/${id}`,
    config: { ...CONFIG, name: `c-${id}` }, stopSignal,
  };
  return { info, ownPidNs: true, layerDir: `/l/${id}`, rootfs: `/r/${id}` };
}

describe('containers table: stop signals', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-ctr-store-'));
    store = Store.open(path.join(dir, 'berth.db'));
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('are written as Linux numbers, the CRI override too, and read back unchanged', () => {
    const table = new ContainerTable(store);
    table.put(record('a', 37)); // SIGRTMIN+3: CRI enum 38, no name older protos know
    const row = store.db.prepare('SELECT record FROM containers WHERE id = ?').get('a') as { record: string };
    const raw = JSON.parse(row.record) as { info: { stopSignal: unknown; config: { stopSignal: unknown } } };
    assert.equal(raw.info.stopSignal, 37);
    assert.equal(raw.info.config.stopSignal, 12);
    const back = new ContainerTable(store).all().find((r) => r.info.id === 'a')!;
    assert.equal(back.info.stopSignal, 37);
    assert.equal(back.info.config.stopSignal, 12);
    assert.equal(back.info.startedAt, 6n);
  });

  it('old records with the image StopSignal as text are read as numbers; unreadable or absent ones as SIGTERM', () => {
    const old = (id: string, text: string | undefined) => {
      const r = record(id, 0) as ContainerRecord & { stopSignal?: string };
      delete (r.info as Partial<ContainerInfo>).stopSignal;
      if (text !== undefined) r.stopSignal = text;
      const json = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      store.db.prepare('INSERT INTO containers (id, sandbox_id, name_key, record) VALUES (?, ?, ?, ?)').run(id, 'sb', nameKey(r.info), json);
    };
    old('usr1', 'SIGUSR1');
    old('bare', 'QUIT');
    old('num', '10');
    old('bogus', 'SIGBOGUS');
    old('none', undefined);
    const byId = new Map(new ContainerTable(store).all().map((r) => [r.info.id, r]));
    assert.deepEqual(['usr1', 'bare', 'num', 'bogus', 'none'].map((id) => byId.get(id)!.info.stopSignal), [10, 3, 10, 15, 15]);
    assert.equal('stopSignal' in byId.get('usr1')!, false, 'the old field is dropped');
  });
});
