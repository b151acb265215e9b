// Pod user namespaces (CRI userns_options) end to end: a POD-mode pod gets its own pinned user
// namespace owning its net/ipc/uts namespaces, its containers see the mapping and are root in it
// and can write their rootfs; NODE mode keeps the host's; bad requests are refused with nothing
// created; stop/remove leaves no pin, mount or file. Pod network: bridge berth-us0, 10.205.0.0/16.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { NamespaceOption } from '../pkg/cri/gen/runtime/v1/NamespaceOption.js';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import { startRegistry, pushBusybox, type TestRegistry } from './fixtures/registry.js';
import { waitExited } from './container-fixtures.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { sh, writeNet } from './sandbox-fixtures.js';
import { DEFAULT_CONFIG } from '../pkg/config/schema.js';

const BRIDGE = 'berth-us0';
const CGROUP_ROOT = '/berth-test-us';
const MAP = [{ container_id: 0, host_id: 1000, length: 100000 }];

async function myPort(): Promise<number> {
  const free = (p: number) => new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  const start = Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i++) if (await free(5300 + ((start + i) % 100))) return 5300 + ((start + i) % 100);
  throw new Error('no free port in 5300-5399');
}


/** Files under dir (recursive count), 0 when it does not exist. */
async function entries(dir: string): Promise<string[]> {
  return readdir(dir, { recursive: true }).catch(() => [] as string[]);
}

describe('pod user namespaces', () => {
  let d: TestDaemon;
  let tmp: string;
  let reg: TestRegistry;
  let image: string;
  let seq = 0;

  before(async () => {
    tmp = await mkdtemp('/tmp/berth-us-');
    const confDir = path.join(tmp, 'net.d');
    await writeNet(confDir, '10-us.conflist', { bridge: BRIDGE, subnet: '10.205.0.0/16', dataDir: path.join(tmp, 'ipam'), portmap: false });
    reg = await startRegistry({ port: await myPort() });
    await pushBusybox(reg.host, 'us/busybox', '1');
    image = `${reg.host}/us/busybox:1`;
    const toml = `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ["/usr/lib/cni"]\n[runtime]\ncgroup_parent = "${CGROUP_ROOT}/default"\n[registry]\ninsecure = ["${reg.host}"]\n`;
    d = await startDaemon({ toml });
    // The runtime sets up a container's rootfs as the pod's mapped root (host uid 1000), which
    // must be able to reach it: the state dir's ancestors may not be private (mkdtemp's 0700).
    await chmod(d.dir, 0o711);
    await d.client.image('PullImage', { image: { image } });
  });

  after(async () => {
    for (const s of (await d.client.runtime('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) {
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
    }
    await d.kill();
    await d.cleanup();
    await reg.stop();
    await rm(tmp, { recursive: true, force: true });
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    for (const c of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await sh('find', [path.join('/sys/fs/cgroup', c, CGROUP_ROOT), '-depth', '-type', 'd', '-delete']).catch(() => undefined);
    }
  });

  function pod(name: string, nso: NamespaceOption): PodSandboxConfig {
    seq++;
    return {
      metadata: { name, namespace: 'berth-us-test', uid: `uid-${name}-${process.pid}-${seq}`, attempt: 0 },
      hostname: name,
      log_directory: path.join(tmp, 'logs', `${name}-${seq}`),
      linux: { cgroup_parent: `${CGROUP_ROOT}/pod-${process.pid}-${seq}`, security_context: { namespace_options: nso } },
    };
  }

  async function runToExit(podId: string, config: PodSandboxConfig, name: string, script: string, nso: NamespaceOption): Promise<string> {
    const cfg: ContainerConfig = {
      metadata: { name, attempt: 0 }, image: { image }, log_path: `${name}.log`,
      command: ['sh', '-c', script], linux: { security_context: { namespace_options: nso } },
    };
    const { container_id: id } = await d.client.runtime('CreateContainer', { pod_sandbox_id: podId, config: cfg, sandbox_config: config });
    await d.client.runtime('StartContainer', { container_id: id });
    assert.equal((await waitExited({ d }, id, 20_000)).state, 'CONTAINER_EXITED');
    return readFile(path.join(config.log_directory!, `${name}.log`), 'utf8');
  }

  async function leftovers(id: string): Promise<string[]> {
    const out: string[] = [];
    for (const k of ['net', 'ipc', 'uts', 'user']) out.push(...(await entries(path.join(d.state, 'ns', k))).filter((e) => e === id).map((e) => `${k}/${e}`));
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(id));
    out.push(...mounts, ...(await entries(path.join(d.state, 'sandboxes', id))));
    return out;
  }

  for (const handler of ['runc', 'crun']) {
    it(`mode POD: own user namespace 0 1000 100000, root inside, writable rootfs, owns the pod namespaces (${handler})`, async () => {
      const nso: NamespaceOption = { network: 'POD', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'POD', uids: MAP, gids: MAP } };
      const config = pod(`userns-${handler}`, nso);
      const { pod_sandbox_id: id } = await d.client.runtime('RunPodSandbox', { config, runtime_handler: handler === DEFAULT_CONFIG.runtime.default_handler ? '' : handler });
      const userPin = path.join(d.state, 'ns', 'user', id);
      const st = (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status!;
      assert.equal(st.linux?.namespaces?.options?.userns_options?.mode, 'POD');
      assert.deepEqual(st.linux?.namespaces?.options?.userns_options?.uids, MAP);
      // The pinned user namespace has the mapping, and the pod's network namespace belongs to it.
      const pinned = await sh('nsenter', [`--user=${userPin}`, '--', 'cat', '/proc/self/uid_map']);
      assert.match(pinned.stdout, /^\s+0\s+1000\s+100000\n$/);
      // Root of that user namespace administers the pod's network: it owns the network namespace.
      const netPin = path.join(d.state, 'ns', 'net', id);
      await sh('nsenter', [`--user=${userPin}`, `--net=${netPin}`, '--', 'ip', 'addr', 'add', '127.0.0.9/8', 'dev', 'lo']);
      await sh('nsenter', [`--net=${netPin}`, '--', 'ip', 'addr', 'del', '127.0.0.9/8', 'dev', 'lo']);
      const log = await runToExit(id, config, 'map', 'cat /proc/self/uid_map; id -u; echo hi > /written && cat /written; ip -4 -o addr show eth0; ls /dev/shm >/dev/null && echo shm-ok', nso);
      assert.match(log, / stdout F\s+0\s+1000\s+100000$/m, log);
      assert.match(log, / stdout F 0$/m, log);
      assert.match(log, / stdout F hi$/m, log);
      assert.match(log, /10\.205\./, log);
      assert.match(log, / stdout F shm-ok$/m, log);

      await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
      assert.deepEqual(await leftovers(id), []);
    });
  }

  for (const handler of ['runc', 'crun']) {
    it(`mode POD on the host network: the host's interfaces and a read-only host /sys in the pod's user namespace (${handler})`, async () => {
      const nso: NamespaceOption = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', userns_options: { mode: 'POD', uids: MAP, gids: MAP } };
      const config = pod(`userns-hostnet-${handler}`, nso);
      const { pod_sandbox_id: id } = await d.client.runtime('RunPodSandbox', { config, runtime_handler: handler === DEFAULT_CONFIG.runtime.default_handler ? '' : handler });
      const hostNet = (await sh('readlink', ['/proc/self/ns/net'])).stdout.trim();
      const log = await runToExit(id, config, 'hn', [
        'cat /proc/self/uid_map', 'id -u', 'readlink /proc/self/ns/net', 'ls /sys/class/net | grep -qx lo && echo sys-net-ok',
        'touch /sys/kernel/x 2>/dev/null || echo sys-ro', 'echo hi > /written && cat /written',
      ].join('; '), nso);
      assert.match(log, / stdout F\s+0\s+1000\s+100000$/m, log);
      assert.match(log, / stdout F 0$/m, log);
      assert.ok(log.includes(` stdout F ${hostNet}`), `the host network namespace ${hostNet}:\n${log}`);
      assert.match(log, / stdout F sys-net-ok$/m, log);
      assert.match(log, / stdout F sys-ro$/m, log);
      assert.match(log, / stdout F hi$/m, log);
      await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
      assert.deepEqual(await leftovers(id), []);
    });
  }

  it('mode POD with the pod sharing one PID namespace (pause joins the user namespace)', async () => {
    const nso: NamespaceOption = { network: 'POD', pid: 'POD', ipc: 'POD', userns_options: { mode: 'POD', uids: MAP, gids: MAP } };
    const config = pod('userns-pidpod', nso);
    const { pod_sandbox_id: id } = await d.client.runtime('RunPodSandbox', { config });
    const log = await runToExit(id, config, 'ps', 'cat /proc/self/uid_map; cat /proc/1/cmdline; echo', nso);
    assert.match(log, /\s+0\s+1000\s+100000$/m, log);
    assert.match(log, /\/pause/, log);
    // ExecSync in a running container of the pod runs in its user namespace, as its root.
    const cfg: ContainerConfig = {
      metadata: { name: 'sleeper', attempt: 0 }, image: { image }, log_path: 'sleeper.log',
      command: ['sleep', '1000'], linux: { security_context: { namespace_options: nso } },
    };
    const { container_id: cid } = await d.client.runtime('CreateContainer', { pod_sandbox_id: id, config: cfg, sandbox_config: config });
    await d.client.runtime('StartContainer', { container_id: cid });
    const r = await d.client.runtime('ExecSync', { container_id: cid, cmd: ['sh', '-c', 'id -u; cat /proc/self/gid_map'], timeout: 10 });
    assert.equal(r.exit_code, 0);
    assert.match(r.stdout.toString(), /^0\n\s+0\s+1000\s+100000\n$/);
    // A restarted daemon finds the pod intact (its user namespace pin included).
    await d.stop();
    d = await startDaemon({ dir: d.dir });
    assert.equal((await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status!.state, 'SANDBOX_READY');
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    assert.deepEqual(await leftovers(id), []);
  });

  it('mode NODE: the host user namespace, host network', async () => {
    const nso: NamespaceOption = { network: 'NODE', pid: 'CONTAINER', ipc: 'NODE', userns_options: { mode: 'NODE' } };
    const config = pod('userns-node', nso);
    const { pod_sandbox_id: id } = await d.client.runtime('RunPodSandbox', { config });
    const log = await runToExit(id, config, 'map', 'cat /proc/self/uid_map', nso);
    const host = (await readFile('/proc/self/uid_map', 'utf8')).trim().split(/\s+/);
    assert.match(log, new RegExp(`stdout F\\s+${host[0]}\\s+${host[1]}\\s+${host[2]}$`, 'm'), log);
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    assert.deepEqual(await leftovers(id), []);
  });

  const bad: [string, NamespaceOption, RegExp][] = [
    ['two mappings', { userns_options: { mode: 'POD', uids: [...MAP, { container_id: 0, host_id: 2000, length: 100000 }], gids: MAP } }, /exactly one uid mapping/],
    ['container id 0 not mapped', { userns_options: { mode: 'POD', uids: [{ container_id: 1, host_id: 1000, length: 100000 }], gids: MAP } }, /container id 0/],
    ['uids without gids', { userns_options: { mode: 'POD', uids: MAP, gids: [] } }, /exactly one gid mapping/],
    ['mode CONTAINER', { userns_options: { mode: 'CONTAINER' } }, /CONTAINER is not supported/],
    ['mode TARGET', { userns_options: { mode: 'TARGET' } }, /TARGET is not supported/],
    ['with the host IPC', { ipc: 'NODE', userns_options: { mode: 'POD', uids: MAP, gids: MAP } }, /host ipc namespace/],
  ];
  for (const [what, nso, re] of bad) {
    it(`refuses ${what} with InvalidArgument, creating nothing`, async () => {
      const before = await entries(path.join(d.state, 'ns'));
      const sandboxes = await entries(path.join(d.state, 'sandboxes'));
      const err = await d.client.runtime('RunPodSandbox', { config: pod('userns-bad', nso) }).then(() => undefined, (e: CriError) => e);
      assert.ok(err, 'RunPodSandbox should fail');
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(err.message, re);
      assert.deepEqual(await entries(path.join(d.state, 'ns')), before);
      assert.deepEqual(await entries(path.join(d.state, 'sandboxes')), sandboxes);
      assert.equal((await d.client.runtime('ListPodSandbox', { filter: { label_selector: {} } })).items.filter((s) => s.metadata?.name === 'userns-bad').length, 0);
    });
  }

  it('Status advertises user namespaces for runc and crun (also on the host network) and gives the state dir', async () => {
    const s = await d.client.runtime('Status', { verbose: true });
    assert.equal(s.features?.user_namespaces_host_network, true);
    for (const name of ['', 'runc', 'crun']) {
      assert.equal(s.runtime_handlers.find((h) => h.name === name)?.features?.user_namespaces, true, name);
    }
    const cfg = JSON.parse(s.info.config!) as { stateDir: string; root: string };
    assert.equal(cfg.stateDir, d.state);
    assert.equal(cfg.root, d.root);
  });
});
