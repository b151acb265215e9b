// Container and pod sandbox records written straight into a stopped daemon's state database:
// kubelet-shaped labels and annotations, containers EXITED and pods NOTREADY (so recovery asks
// no runtime and finds no namespace to check), containers spread over pods of ten. The daemon
// started on that database loads them into its indexes as after a restart: a cheap way to list
// thousands of objects (bench/list-stream.ts, e2e/list-stream-restored.test.ts).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ContainerTable, type ContainerRecord } from '../pkg/container/store.js';
import type { ContainerInfo } from '../pkg/container/types.js';
import { SandboxTable, type SandboxRecord } from '../pkg/sandbox/store.js';
import type { SandboxInfo } from '../pkg/sandbox/types.js';
import { Store } from '../pkg/store/store.js';

const hex = (n: number) => randomBytes(n).toString('hex');

/** A container record as kubelet's CreateContainer leaves one, exited; `padBytes` more of annotations. */
function record(i: number, sandboxId: string, pod: string, padBytes: number): ContainerRecord {
  const name = `app-${i}`;
  const labels = {
    'io.kubernetes.container.name': name, 'io.kubernetes.pod.name': pod,
    'io.kubernetes.pod.namespace': 'bench', 'io.kubernetes.pod.uid': `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
  };
  const annotations = {
    'io.kubernetes.container.hash': hex(4), 'io.kubernetes.container.restartCount': String(i % 3),
    'io.kubernetes.container.terminationMessagePath': '/dev/termination-log', 'io.kubernetes.container.terminationMessagePolicy': 'File',
    'io.kubernetes.pod.terminationGracePeriod': '30',
    'io.kubernetes.container.ports': '[{"name":"http","containerPort":8080,"protocol":"TCP"}]',
    ...(padBytes ? { 'bench.berth.dev/padding': 'x'.repeat(padBytes) } : {}),
  };
  const now = BigInt(Date.now()) * 1_000_000n;
  const info = {
    id: hex(32), sandboxId, name, attempt: i % 3, state: 'CONTAINER_EXITED', createdAt: now, startedAt: now, finishedAt: now,
    exitCode: 0, reason: 'Completed', message: '', image: 'registry.example/bench/app:1.0', imageId: `sha256:${hex(32)}`,
    imageRef: `registry.example/bench/app@sha256:${hex(32)}`, runtimeHandler: 'runc', logPath: `/var/log/pods/bench_${pod}/${name}/0.log`,
    pid: 0, stopSignal: 15, labels, annotations, user: { uid: 0, gid: 0, additionalGids: [] }, bundle: `/run/berth/bundles/${i}`,
    config: {
      name, attempt: i % 3, image: 'registry.example/bench/app:1.0', command: ['/app'], args: [], workingDir: '', envs: [], mounts: [],
      devices: [], labels, annotations, logPath: `${name}/0.log`, stdin: false, stdinOnce: false, tty: false,
      security: {
        capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
        namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false, supplementalGroups: [],
        supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
      },
    },
  } as ContainerInfo;
  return { info, ownPidNs: true, layerDir: '', rootfs: '' };
}

/** Writes `n` container records into `<root>/berth.db`, each with `padBytes` more of annotations; returns their ids. */
export async function populateContainers(root: string, n: number, padBytes = 0): Promise<string[]> {
  return withStore(root, (store) => {
    const table = new ContainerTable(store);
    const sandboxes = Array.from({ length: Math.ceil(n / 10) }, () => hex(32));
    const records = Array.from({ length: n }, (_, i) => record(i, sandboxes[i % sandboxes.length]!, `pod-${i % sandboxes.length}`, padBytes));
    store.db.transaction(() => {
      for (const r of records) table.put(r);
    })();
    return records.map((r) => r.info.id);
  });
}

/** A pod sandbox record as kubelet's RunPodSandbox leaves one, stopped. */
function sandboxRecord(i: number): SandboxRecord {
  const name = `pod-${i}`;
  const uid = `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`;
  const info: SandboxInfo = {
    id: hex(32), name, namespace: 'bench', uid, attempt: 0, state: 'SANDBOX_NOTREADY', createdAt: BigInt(Date.now()) * 1_000_000n,
    runtimeHandler: '', pidMode: 'CONTAINER', cgroupParent: `/kubepods/besteffort/pod${uid}`, logDirectory: `/var/log/pods/bench_${name}_${uid}`,
    hostsPath: '', resolvConfPath: '', hostnamePath: '', hostname: name, additionalIps: [],
    labels: {
      'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'bench', 'io.kubernetes.pod.uid': uid, app: `app-${i % 50}`,
    },
    annotations: {
      'kubernetes.io/config.seen': new Date().toISOString(), 'kubernetes.io/config.source': 'api',
      'kubectl.kubernetes.io/default-container': 'app',
    },
    sysctls: {}, portMappings: [], linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false },
  };
  return { info, fingerprint: hex(32), readyAt: Date.now(), networkAttached: false, pauseDeleted: true };
}

/** Writes `n` stopped pod sandbox records into `<root>/berth.db`; returns their ids. */
export async function populateSandboxes(root: string, n: number): Promise<string[]> {
  return withStore(root, (store) => {
    const table = new SandboxTable(store);
    const records = Array.from({ length: n }, (_, i) => sandboxRecord(i));
    store.db.transaction(() => {
      for (const r of records) table.put(r);
    })();
    return records.map((r) => r.info.id);
  });
}

function withStore<T>(root: string, fn: (store: Store) => T): T {
  const store = Store.open(path.join(root, 'berth.db'));
  try {
    return fn(store);
  } finally {
    store.db.close();
  }
}
