// StatsService over a recorded cgroup v2 tree with stand-in container and sandbox services:
// which cgroup belongs to whom, exact filters, pod totals, writable layers found from mountinfo.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ContainerInfo, ContainerService } from '../container/types.js';
import { NotFoundError } from '../errors/errors.js';
import type { SandboxInfo, SandboxService } from '../sandbox/types.js';
import { PROJECT_ROOT } from '../version/version.js';
import { CgroupV2Reader } from './cgroup-v2.js';
import { StatsCollector } from './collector.js';
import { StatsService, sumCgroups } from './service.js';
import { containerCgroupsPath, podCgroupPath } from '../cgroups/paths.js';

// Pods here have cgroupfs parents; containers without a published cgroupsPath are <parent>/<id>.
const CGROUPFS = {
  defaultParent: '/berth',
  containerPath: (parent: string, id: string) => containerCgroupsPath('cgroupfs', parent || '/berth', id),
  podPath: (parent: string) => podCgroupPath('cgroupfs', parent || '/berth'),
};

const POD = 'kubepods-burstable-pod6f1c2a9e_3b4d_4e5f_8a7b_9c0d1e2f3a4b.slice';
const FIX_CTR = 'cri-berth-4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b.scope';
const PODDIR = `kubepods.slice/kubepods-burstable.slice/${POD}`;

const sb = (id: string, cgroupParent: string, state: SandboxInfo['state'] = 'SANDBOX_READY', labels: Record<string, string> = {}) =>
  ({ id, name: `pod-${id}`, namespace: 'ns', uid: `uid-${id}`, attempt: 0, state, cgroupParent, labels, annotations: {}, additionalIps: [],
    pidMode: 'CONTAINER' }) as unknown as SandboxInfo;
const ctr = (id: string, sandboxId: string, state: ContainerInfo['state'], labels: Record<string, string>, bundle = '') =>
  ({ id, sandboxId, name: `c-${id}`, attempt: 1, state, labels, annotations: {}, pid: 0, bundle, startedAt: 0n, image: 'busybox', imageRef: '' }) as unknown as ContainerInfo;

describe('stats: StatsService', () => {
  let dir: string;
  let svc: StatsService;
  let collector: StatsCollector;
  const sandboxes = [sb('aaa1', `/${PODDIR}`, 'SANDBOX_READY', { app: 'x' }), sb('bbb1', '/berth', 'SANDBOX_READY', { app: 'y' }), sb('ccc1', '/berth', 'SANDBOX_NOTREADY', { app: 'x' })];
  let containers: ContainerInfo[];
  const svcDeps = {} as { cs: ContainerService; ss: SandboxService };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-svc-'));
    const tree = path.join(dir, 'cg');
    await cp(path.join(PROJECT_ROOT, 'pkg/stats/testdata/cgroup-v2'), tree, { recursive: true });
    // Container "c1" of the kubelet pod is <pod cgroup>/c1, as berth's spec builder names it.
    await rename(path.join(tree, PODDIR, FIX_CTR), path.join(tree, PODDIR, 'c1'));
    // Pods with no cgroup of their own (the shared default /berth): containers /berth/<id>.
    for (const id of ['c2', 'c3']) await cp(path.join(tree, PODDIR, 'c1'), path.join(tree, 'berth', id), { recursive: true });
    const upper = path.join(dir, 'upper-c2');
    await mkdir(upper);
    await writeFile(path.join(upper, 'ten-kib'), Buffer.alloc(10240, 1));
    await writeFile(path.join(dir, 'mountinfo'), [
      `1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw`,
      `90 1 0:50 / ${dir} rw,relatime - tmpfs tmpfs rw`,
      `91 1 0:51 / ${dir}/bundle-c2/rootfs rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=${upper},workdir=${dir}/work`,
      '',
    ].join('\n'));
    containers = [
      ctr('c1', 'aaa1', 'CONTAINER_RUNNING', { role: 'web' }),
      ctr('c2', 'bbb1', 'CONTAINER_RUNNING', { role: 'db' }, `${dir}/bundle-c2`),
      ctr('c3', 'bbb1', 'CONTAINER_EXITED', { role: 'web' }),
      ctr('c4', 'bbb1', 'CONTAINER_CREATED', { role: 'web' }),
    ];
    const cs = {
      get: (id: string) => {
        const c = containers.find((x) => x.id.startsWith(id));
        if (!c) throw new NotFoundError(`container "${id}" not found`);
        return c;
      },
      list: () => containers,
      iterate: () => containers,
    } as unknown as ContainerService;
    const ss = {
      get: (id: string) => {
        const s = sandboxes.find((x) => x.id.startsWith(id));
        if (!s) throw new NotFoundError(`pod sandbox "${id}" not found`);
        return s;
      },
      list: () => sandboxes,
      iterate: () => sandboxes,
    } as unknown as SandboxService;
    Object.assign(svcDeps, { cs, ss });
    collector = new StatsCollector(new CgroupV2Reader({ mountpoint: tree, root: '/' }), { diskRefreshMs: 60_000 });
    svc = new StatsService({
      collector, containers: () => cs, sandboxes: () => ss, cgroups: CGROUPFS, mountinfo: path.join(dir, 'mountinfo'),
    });
  });
  after(async () => {
    collector?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('filters containers exactly by id prefix, sandbox and labels', async () => {
    const ids = async (f: Parameters<StatsService['listContainers']>[0]) => (await svc.listContainers(f)).map((r) => r.container.id);
    assert.deepEqual(await ids({}), ['c1', 'c2', 'c3', 'c4']);
    assert.deepEqual(await ids({ id: 'c2' }), ['c2']);
    assert.deepEqual(await ids({ sandboxId: 'bbb1' }), ['c2', 'c3', 'c4']);
    assert.deepEqual(await ids({ labelSelector: { role: 'web' } }), ['c1', 'c3', 'c4']);
    assert.deepEqual(await ids({ sandboxId: 'bbb1', labelSelector: { role: 'web' } }), ['c3', 'c4']);
    assert.deepEqual(await ids({ id: 'c1', sandboxId: 'bbb1' }), []);
    assert.deepEqual(await ids({ labelSelector: { role: 'nope' } }), []);
  });

  it('reads each container from its own cgroup; a created one has no cgroup yet', async () => {
    const c1 = await svc.container('c1');
    assert.equal(c1.cgroup?.memory?.workingSetBytes, 63963136n - 8388608n);
    const c4 = await svc.container('c4');
    assert.equal(c4.cgroup, undefined);
    await assert.rejects(svc.container('zzz'), NotFoundError);
  });

  it('finds a writable layer from its overlay mount and serves its usage from the cache', async () => {
    const first = await svc.container('c2');
    assert.equal(first.writableLayer?.mountpoint, dir, 'the filesystem the upper dir lives on');
    await collector.disk.refresh(path.join(dir, 'upper-c2'));
    const second = await svc.container('c2');
    assert.equal(second.writableLayer?.inodes, 2n);
    assert.ok(second.writableLayer!.bytes >= 10240n);
    assert.equal((await svc.container('c1')).writableLayer, undefined, 'no overlay mount known for c1');
  });

  it('takes the writable layer from the image module layer root when it has one', async () => {
    const root = path.join(dir, 'layers');
    await mkdir(path.join(root, 'c1', 'upper'), { recursive: true });
    await writeFile(path.join(root, 'c1', 'upper', 'f'), Buffer.alloc(8192, 1));
    const s2 = new StatsService({
      collector, containers: () => ({ list: () => containers, iterate: () => containers, get: (id: string) => containers.find((c) => c.id === id)! }) as unknown as ContainerService,
      sandboxes: () => undefined, cgroups: CGROUPFS, writableLayerRoot: () => root,
    });
    await s2.warm('c1');
    await collector.disk.refresh(path.join(root, 'c1', 'upper'));
    const r = await s2.container('c1');
    assert.equal(r.writableLayer?.mountpoint, root, 'the directory ImageFsInfo reports for containers');
    assert.equal(r.writableLayer?.inodes, 2n);
  });

  it('warm reads the started container\'s pod once, so the first stats call finds its files open', async () => {
    const reader = new CgroupV2Reader({ mountpoint: path.join(dir, 'cg'), root: '/' });
    const c2 = new StatsCollector(reader, { diskRefreshMs: 60_000 });
    const s2 = new StatsService({ collector: c2, containers: () => svcDeps.cs, sandboxes: () => svcDeps.ss, cgroups: CGROUPFS, mountinfo: path.join(dir, 'mountinfo') });
    try {
      const p = await s2.warm('c1');
      assert.equal(p?.sandbox.id, 'aaa1');
      assert.deepEqual(p?.containers.map((c) => c.container.id), ['c1']);
      assert.ok(p?.cgroup?.cpu, 'the pod cgroup was read');
      const open = reader.files.size;
      assert.ok(open > 0, 'its files stay open');
      await s2.pod('aaa1');
      assert.equal(reader.files.size, open, 'the next read opens nothing new');
      assert.equal(await s2.warm('c4-unknown'), undefined);
    } finally {
      c2.close();
    }
  });

  it('reads a pod with its own cgroup directly, and sums the containers of a pod in a shared parent', async () => {
    const a = await svc.pod('aaa1');
    assert.equal(a.cgroup?.cpu?.usageCoreNanoSeconds, 2_600_000_000n, 'the pod slice itself');
    assert.deepEqual(a.containers.map((c) => c.container.id), ['c1']);
    const b = await svc.pod('bbb1');
    assert.equal(b.cgroup?.cpu?.usageCoreNanoSeconds, 5_000_000_000n, 'c2 + c3 (c4 has no cgroup yet)');
  });

  it('lists only ready pods, filtered by id and labels', async () => {
    assert.deepEqual((await svc.listPods()).map((p) => p.sandbox.id), ['aaa1', 'bbb1']);
    assert.deepEqual((await svc.listPods({ labelSelector: { app: 'x' } })).map((p) => p.sandbox.id), ['aaa1']);
    assert.deepEqual((await svc.listPods({ id: 'bbb' })).map((p) => p.sandbox.id), ['bbb1']);
    await assert.rejects(svc.pod('nope'), NotFoundError);
  });

  it('sums cgroup stats, rates only when every part has one', () => {
    const s = sumCgroups([
      { timestamp: 5n, cpu: { usageCoreNanoSeconds: 10n, usageNanoCores: 3n }, processes: 2n },
      { timestamp: 7n, cpu: { usageCoreNanoSeconds: 20n }, processes: 1n },
      undefined,
    ]);
    assert.deepEqual(s, { timestamp: 7n, cpu: { usageCoreNanoSeconds: 30n }, processes: 3n });
    assert.equal(sumCgroups([undefined]), undefined);
  });
});
