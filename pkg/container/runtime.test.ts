// The conmon driver and the exit watcher against real conmon, runc and crun, with a bundle of
// our own (busybox-static and applet links) in a network namespace the test creates.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_CAPS } from './caps.js';
import { ExitWatcher } from './exits.js';
import { RUNTIME_LOG, RuntimeDriver, type RuntimeHandler } from './runtime.js';

const sh = promisify(execFile);
const NETNS = `berth-ct-unit-${process.pid}`;
// Its own root: e2e files check /berth-test-ct for leaks while unit tests may run beside them.
const CGROUP = `/berth-test-unit-runtime/unit-${process.pid}`;

function spec(rootfs: string, id: string, args: string[]): object {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS] },
    },
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    ],
    linux: {
      namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network', path: `/run/netns/${NETNS}` }],
      cgroupsPath: `${CGROUP}/${id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}

describe('container runtime driver: conmon with runc and crun', () => {
  let tmp: string;
  let rootfs: string;
  let driver: RuntimeDriver;
  let watcher: ExitWatcher;
  const exits = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const handlers: Record<string, RuntimeHandler> = {};

  before(async () => {
    tmp = await mkdtemp('/tmp/berth-ct-unit-');
    rootfs = path.join(tmp, 'rootfs');
    for (const d of ['bin', 'proc', 'dev', 'tmp']) await mkdir(path.join(rootfs, d), { recursive: true });
    await copyFile('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    await sh('chmod', ['755', path.join(rootfs, 'bin/busybox')]);
    for (const a of ['sh', 'echo', 'sleep', 'cat', 'ip', 'true']) await symlink('busybox', path.join(rootfs, 'bin', a));
    await sh('ip', ['netns', 'add', NETNS]);
    driver = new RuntimeDriver({ conmon: '/usr/bin/conmon', exitDir: path.join(tmp, 'exits'), socketDir: path.join(tmp, 'attach'), logLevel: 'error', createTimeoutMs: 30_000 });
    watcher = new ExitWatcher(path.join(tmp, 'exits'), (id, code) => {
      exits.set(id, code);
      waiters.get(id)?.();
    });
    await watcher.start();
    for (const [name, bin] of [['runc', '/usr/sbin/runc'], ['crun', '/usr/bin/crun']] as const) {
      handlers[name] = { name, path: bin, root: path.join(tmp, 'rt', name) };
    }
  });

  after(async () => {
    watcher.close();
    await sh('ip', ['netns', 'del', NETNS]).catch(() => undefined);
    for (const c of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(path.join('/sys/fs/cgroup', c, CGROUP)).catch(() => undefined);
      await rmdir(path.join('/sys/fs/cgroup', c, path.dirname(CGROUP))).catch(() => undefined); // only if empty
    }
    await rm(tmp, { recursive: true, force: true });
  });

  const exited = (id: string, ms = 10_000) =>
    exits.has(id)
      ? Promise.resolve(exits.get(id)!)
      : new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no exit file for ${id} within ${ms} ms`)), ms);
          waiters.set(id, () => {
            clearTimeout(t);
            resolve(exits.get(id)!);
          });
        });

  for (const name of ['runc', 'crun']) {
    it(`create → start → log → exec → exit file (${name})`, async () => {
      const h = handlers[name]!;
      const id = `unit-${name}-${process.pid}`;
      const bundle = path.join(tmp, id);
      await mkdir(bundle);
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec(rootfs, id, ['sh', '-c', 'echo out; echo err >&2; read x < /dev/null; sleep 1000'])));
      const log = path.join(tmp, `${id}.log`);
      const { pid } = await driver.create(h, { id, name: id, bundle, logPath: log, tty: false, stdin: false, stdinOnce: false });
      assert.ok(pid > 0);
      assert.equal((await driver.state(h, id))?.status, 'created');
      await driver.start(h, id);
      assert.equal((await driver.state(h, id))?.status, 'running');
      const proc = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')).process;
      const r = await driver.execSync(h, id, bundle, { ...proc, args: ['sh', '-c', 'ip -o link | grep -c lo; echo hi >&2; exit 3'] }, 10_000);
      assert.equal(r.code, 3);
      assert.equal(r.stdout.toString(), '1\n', 'the exec sees the netns (lo only)');
      assert.equal(r.stderr.toString(), 'hi\n');
      await assert.rejects(driver.execSync(h, id, bundle, { ...proc, args: ['sleep', '100'] }, 300), /timed out/);
      // The command exits but leaves a process holding stdout: the exec returns at the exit.
      const bg = await driver.execSync(h, id, bundle, { ...proc, args: ['sh', '-c', 'echo fg; sleep 1000 & exit 2'] }, 0);
      assert.equal(bg.code, 2);
      assert.equal(bg.stdout.toString(), 'fg\n');
      assert.equal(bg.truncated, true, 'the result says output may be cut');
      assert.deepEqual((await driver.list(h)).map((c) => [c.id, c.status, c.bundle]), [[id, 'running', bundle]]);
      process.kill(pid, 'SIGKILL');
      assert.equal(await exited(id), 137);
      const text = await readFile(log, 'utf8');
      assert.match(text, /^\S+ stdout F out$/m);
      assert.match(text, /^\S+ stderr F err$/m);
      assert.deepEqual((await readdir(bundle)).filter((f) => f.startsWith('exec-')), [], 'exec files removed');
      await driver.delete(h, id);
      assert.equal(await driver.state(h, id), undefined);
      await driver.delete(h, id); // again: fine
    });
  }

  it("the runtime's warnings stay out of the container's log", async () => {
    // runc warns on stderr about kernel memory settings (as about devices systemd cannot see).
    const id = `unit-warn-${process.pid}`;
    const bundle = path.join(tmp, id);
    await mkdir(bundle);
    const s = spec(rootfs, id, ['echo', 'out']) as { linux: { resources: Record<string, unknown> } };
    s.linux.resources.memory = { kernel: 64 << 20 };
    await writeFile(path.join(bundle, 'config.json'), JSON.stringify(s));
    const log = path.join(tmp, `${id}.log`);
    await driver.create(handlers.runc!, { id, name: id, bundle, logPath: log, tty: false, stdin: false, stdinOnce: false });
    await driver.start(handlers.runc!, id);
    assert.equal(await exited(id), 0);
    assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n').map((l) => l.split(' ').slice(1).join(' ')), ['stdout F out']);
    assert.match(await readFile(path.join(bundle, RUNTIME_LOG), 'utf8'), /Kernel memory/, 'the warning went to the runtime log');
    await driver.delete(handlers.runc!, id);
  });

  it('a runtime failure comes back with the runtime message', async () => {
    const id = `unit-fail-${process.pid}`;
    const bundle = path.join(tmp, id);
    await mkdir(bundle);
    await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec(rootfs, id, ['/bin/missing'])));
    await assert.rejects(
      driver.create(handlers.runc!, { id, name: id, bundle, logPath: path.join(tmp, 'f.log'), tty: false, stdin: false, stdinOnce: false }),
      /missing/,
    );
    await driver.delete(handlers.runc!, id);
  });
});
