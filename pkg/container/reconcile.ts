// Start-up reconciliation of what berth may have started and not recorded: a CreateContainer
// cut by a crash at any point leaves some of a bundle, a rootfs mount, a writable layer, a
// conmon, a runtime container, an exit file, an attach directory and a cgroup. Whatever has a
// record is adopted (recover.ts); the rest is stopped and removed here. Only berth's own things
// are touched: conmons watching berth's exit directory, runtime containers whose bundle is under
// berth's state directory, and paths under berth's root and state.
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors/errors.js';
import { killQuietly, listProcesses, subtree } from '../process/procs.js';
import { removeCgroup } from '../cgroups/index.js';
import { umount } from '../sys/mount.js';
import { removeDirs } from './rootfs.js';
import type { ContainerManager } from './service.js';

const ID = /^[0-9a-f]{64}$/;

/** The id a conmon of ours watches (`-c ID` with `--exit-dir <our exit dir>`), if it is one of ours. */
export function conmonContainerId(argv: string[], exitDir: string): string | undefined {
  if (!argv[0]?.endsWith('conmon')) return undefined;
  const arg = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (arg('--exit-dir') !== exitDir) return undefined;
  return arg('-c');
}

export interface ReconcileReport {
  conmons: number;
  runtimeContainers: number;
  bundles: number;
  layers: number;
  exitFiles: number;
  attachDirs: number;
  mounts: number;
}

export async function reconcileContainers(m: ContainerManager): Promise<ReconcileReport> {
  const known = (id: string) => m.records.has(id);
  // A record still awaiting the runtime (recover.ts adopted what a cut start made) owns no
  // conmon, runtime container, exit file or attach directory: any there are leftovers.
  const running = (id: string) => known(id) && !m.records.get(id)!.awaitingRuntime;
  const report: ReconcileReport = { conmons: 0, runtimeContainers: 0, bundles: 0, layers: 0, exitFiles: 0, attachDirs: 0, mounts: 0 };
  const warn = (what: string, id: string, err: unknown) => m.o.log.warn({ id, err: errorMessage(err) }, `reconcile: could not remove ${what}`);
  // 0. Directories a RemoveContainer moved to the trash and had not deleted yet.
  await Promise.all([m.trash.state.reset(), m.trash.root.reset()]);

  // 1. conmons of containers no record knows, with whatever runs under them (a runtime create).
  const procs = await listProcesses();
  for (const p of procs) {
    const id = conmonContainerId(p.argv, m.driver.exitDir);
    if (!id || running(id)) continue;
    for (const pid of subtree(procs, p.pid)) killQuietly(pid);
    report.conmons++;
  }

  // 2. Runtime containers of ours (bundle under our containers dir) with no record.
  const cgroups = new Map<string, string | undefined>();
  for (const name of Object.keys(m.o.config.runtime.handlers)) {
    const h = m.handler(name);
    // An empty or missing runtime root lists nothing: no runtime process on a fresh node's start.
    if (!(await readdir(h.root).then((e) => e.length > 0, () => false))) continue;
    const list = await m.driver.list(h).catch(() => []);
    for (const c of list) {
      if (running(c.id) || path.dirname(c.bundle) !== m.bundlesDir) continue;
      if (!cgroups.has(c.id)) cgroups.set(c.id, await cgroupOf(c.bundle));
      await m.driver.delete(m.handler(name, cgroups.get(c.id)), c.id).then(() => report.runtimeContainers++, (err: unknown) => warn('a runtime container', c.id, err));
    }
  }

  // 3. Mounts under our containers dir (rootfs) of unknown containers, then the directories.
  for (const mnt of await mountsUnder(m.bundlesDir)) {
    const id = path.relative(m.bundlesDir, mnt).split('/')[0]!;
    if (known(id)) continue;
    try {
      umount(mnt);
      report.mounts++;
    } catch (err) {
      warn('a mount', id, err);
    }
  }
  for (const id of await unknownIds(m.bundlesDir, known)) {
    const bundle = path.join(m.bundlesDir, id);
    if (!cgroups.has(id)) cgroups.set(id, await cgroupOf(bundle));
    await removeDirs(bundle).then(() => report.bundles++, (err: unknown) => warn('a bundle', id, err));
  }
  // 4. Cgroups of what was removed (the runtime removes its own; a create cut early leaves one).
  for (const [id, cg] of cgroups) if (cg) await removeCgroup(cg).catch((err: unknown) => warn('a cgroup', id, err));

  // 5. Writable layers, exit files and attach directories no record knows.
  const layers = m.o.images.writableLayerRoot();
  for (const id of await unknownIds(layers, known)) await removeDirs(path.join(layers, id)).then(() => report.layers++, (err: unknown) => warn('a writable layer', id, err));
  for (const id of await unknownIds(m.driver.exitDir, running)) {
    await rm(path.join(m.driver.exitDir, id), { force: true }).then(() => report.exitFiles++, (err: unknown) => warn('an exit file', id, err));
    m.exits.forget(id);
  }
  for (const id of await unknownIds(m.driver.socketDir, running)) await removeDirs(path.join(m.driver.socketDir, id)).then(() => report.attachDirs++, (err: unknown) => warn('an attach directory', id, err));
  return report;
}

/** Entries of `dir` named like a berth id that `known` does not know. */
async function unknownIds(dir: string, known: (id: string) => boolean): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => ID.test(n) && !known(n));
}

/** linux.cgroupsPath of the bundle's spec, if it has one. */
async function cgroupOf(bundle: string): Promise<string | undefined> {
  try {
    const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { linux?: { cgroupsPath?: string } };
    return spec.linux?.cgroupsPath || undefined;
  } catch {
    return undefined;
  }
}

/** Mount points strictly below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

