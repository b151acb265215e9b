// The sandbox and container services wired as the daemon wires them, on private paths, over a
// fake runtime driver and a fake pod network (real store, real pins and overlay mounts): for
// unit tests of the managers themselves (locking, retries, failure states, cleanup).
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { FakeNetwork } from '../cni/testing/fake-network.js';
import { Cgroups } from '../cgroups/cgroups.js';
import { DEFAULT_CONFIG, type BerthConfig } from '../config/config.js';
import { readHostFacts } from '../container/host.js';
import { mountsUnder } from '../container/reconcile.js';
import { ContainerManager } from '../container/service.js';
import { FakeRuntime } from '../container/testing/fake-runtime.js';
import type { ContainerConfigInput } from '../container/types.js';
import { NotFoundError } from '../errors/errors.js';
import type { ImageRecord, ImageService } from '../image/types.js';
import { silentLogger } from '../log/log.js';
import type { SandboxRequest } from '../sandbox/request.js';
import { SandboxManager } from '../sandbox/service.js';
import { Store } from '../store/store.js';
import { umount } from '../sys/mount.js';
import { Faults } from './faults.js';

export interface ManagersEnv {
  dir: string;
  config: BerthConfig;
  store: Store;
  network: FakeNetwork;
  runtime: FakeRuntime;
  sandboxes: SandboxManager;
  containers: ContainerManager;
  /** Failpoints of the fake image service: `view` (CreateContainer's look at its image). */
  imageFaults: Faults;
  /** Image leases taken and not released (CreateContainer holds one). */
  leases: Map<string, number>;
  /** Mounts under the private state directory (pins, shm, rootfs). */
  mounts(): Promise<string[]>;
  close(): Promise<void>;
}

const IMAGE: ImageRecord = { id: 'sha256:' + 'a'.repeat(64), repoTags: ['test/image:1'], repoDigests: [], size: 1, user: '', pinned: false };

/** An image service holding one image whose only layer is an empty directory (what the container service uses of it). */
function fakeImages(dir: string, leases: Map<string, number>, faults: Faults): ImageService {
  const layer = path.join(dir, 'layer');
  const get = (ref: string): ImageRecord => {
    if (ref !== 'test/image:1' && ref !== IMAGE.id) throw new NotFoundError(`image "${ref}" not found`);
    return IMAGE;
  };
  const used: Pick<ImageService, 'get' | 'leaseImage' | 'containerView' | 'setInUseCheck' | 'writableLayerRoot'> = {
    get,
    leaseImage: (ref) => {
      const { id } = get(ref);
      leases.set(id, (leases.get(id) ?? 0) + 1);
      let held = true;
      return { imageId: id, release: () => { if (held) leases.set(id, leases.get(id)! - 1); held = false; } };
    },
    containerView: async (ref) => {
      await faults.hit('view');
      await mkdir(layer, { recursive: true });
      return { image: get(ref), config: { Cmd: ['sleep', '1000'] }, lowerdirs: [layer] };
    },
    setInUseCheck: () => undefined,
    writableLayerRoot: () => path.join(dir, 'root', 'containers'),
  };
  return used as ImageService;
}

export async function startManagers(): Promise<ManagersEnv> {
  const dir = await mkdtemp('/tmp/berth-mgr-');
  const config: BerthConfig = { ...structuredClone(DEFAULT_CONFIG), root: path.join(dir, 'root'), state: path.join(dir, 'state') };
  config.runtime.cgroup_parent = '/berth-test-mgr';
  const store = Store.open(path.join(config.root, 'berth.db'));
  const log = silentLogger();
  const network = new FakeNetwork();
  const cgroups = await Cgroups.detect({ driver: 'cgroupfs', parent: config.runtime.cgroup_parent });
  config.cgroup_driver = cgroups.driver;
  const sandboxes = new SandboxManager({ config, cgroups, log, store, cni: network });
  await sandboxes.init();
  const runtime = new FakeRuntime(path.join(config.state, 'exits'), path.join(config.state, 'attach'));
  const leases = new Map<string, number>();
  const imageFaults = new Faults();
  const containers = new ContainerManager({ config, cgroups, log, store, sandboxes, images: fakeImages(dir, leases, imageFaults), host: await readHostFacts(cgroups.version === 2), driver: runtime });
  await containers.exits.start();
  sandboxes.setContainerHooks(containers.sandboxHooks());
  const mounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(config.state));
  return {
    dir, config, store, network, runtime, imageFaults, sandboxes, containers, leases, mounts,
    async close() {
      for (const s of sandboxes.list()) await sandboxes.remove(s.id).catch(() => undefined);
      containers.close();
      runtime.close();
      store.close();
      // What a failed test left mounted, deepest first.
      for (const mp of await mountsUnder(dir)) umount(mp);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;

/** A RunPodSandbox request: pod network (pinned, fake CNI), pod IPC, a PID namespace per container. */
export function podRequest(name: string, over: Partial<SandboxRequest> = {}): SandboxRequest {
  seq++;
  return {
    name, namespace: 'mgr-test', uid: `uid-${name}-${process.pid}-${seq}`, attempt: 0, hostname: name, logDirectory: '',
    portMappings: [], labels: {}, annotations: {}, cgroupParent: '', sysctls: {},
    namespaces: { network: 'POD', ipc: 'POD', pid: 'CONTAINER' },
    linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false },
    runtimeHandler: '',
    ...over,
  };
}

export function containerConfig(name: string, over: Partial<ContainerConfigInput> = {}): ContainerConfigInput {
  return {
    name, attempt: 0, image: 'test/image:1', command: [], args: [], workingDir: '', envs: [], mounts: [], devices: [],
    labels: {}, annotations: {}, logPath: '', stdin: false, stdinOnce: false, tty: false,
    security: {
      capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
      readonlyRootfs: false, supplementalGroups: [], supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
    },
    ...over,
  };
}

/** What a sandbox or container left on disk under the private paths: bundles, layers, pins, sandbox dirs. */
export async function leftovers(env: ManagersEnv): Promise<Record<string, string[]>> {
  const ls = async (...p: string[]) => (await readdir(path.join(...p)).catch(() => [] as string[])).sort();
  const pins: string[] = [];
  for (const k of ['net', 'ipc', 'uts', 'user']) pins.push(...(await ls(env.config.state, 'ns', k)).map((n) => `${k}/${n}`));
  return {
    bundles: await ls(env.config.state, 'containers'),
    layers: await ls(env.config.root, 'containers'),
    sandboxDirs: await ls(env.config.state, 'sandboxes'),
    pins,
    mounts: await env.mounts(),
    exitFiles: await ls(env.config.state, 'exits'),
    attachments: [...env.network.attached.keys()],
  };
}
