// Facts about the host the spec builder needs: the steady ones read once at start-up, the others
// (AppArmor profiles, devices) at each CreateContainer that needs them.
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadedProfiles } from './apparmor.js';
import { parseProcStatusCaps } from './caps.js';
import type { OciDevice } from './oci.js';
import type { HostFacts } from './spec.js';

/** Linux dev_t → major/minor (glibc's encoding). */
export function devNumbers(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

/** A host device node as an OCI device at `containerPath`; undefined if it is not a device. */
export async function deviceFromHost(hostPath: string, containerPath: string): Promise<OciDevice | undefined> {
  const st = await stat(hostPath);
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : undefined;
  if (!type) return undefined;
  const { major, minor } = devNumbers(st.rdev);
  return { path: containerPath, type, major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

const SKIP_DEV = new Set(['pts', 'shm', 'mqueue', 'fd', 'console', 'core', 'stdin', 'stdout', 'stderr']);

/** Every device under /dev (one level of subdirectories), for privileged containers. */
export async function hostDevices(root = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (depth === 0 && SKIP_DEV.has(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < 2) await walk(p, depth + 1);
      } else if (e.isCharacterDevice() || e.isBlockDevice()) {
        const d = await deviceFromHost(p, p).catch(() => undefined);
        if (d) out.push(d);
      }
    }
  };
  await walk(root, 0);
  return out;
}

/**
 * `cgroupV2` comes from pkg/cgroups' detection of this host. The facts that change while berth
 * runs (loaded AppArmor profiles, device nodes) are left empty here: `factsForCreate` reads them
 * for each CreateContainer that needs them.
 */
export async function readHostFacts(cgroupV2: boolean): Promise<HostFacts> {
  const [status, oom, aa] = await Promise.all([
    readFile('/proc/self/status', 'utf8'),
    readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0'),
    readFile('/sys/module/apparmor/parameters/enabled', 'utf8').catch(() => 'N'),
  ]);
  return {
    caps: parseProcStatusCaps(status, Number.parseInt(oom.trim(), 10) || 0),
    apparmorEnabled: aa.trim() === 'Y',
    apparmorProfiles: [],
    cgroupV2,
    hostDevices: [],
  };
}

/**
 * The host facts one CreateContainer builds its spec with: the AppArmor profiles loaded now (they
 * come and go) when AppArmor is on, and for a privileged container the host's devices as they are
 * now (hot-plugged ones included, as containerd and CRI-O read them; walking /dev costs some
 * 25 ms, paid by privileged creates rather than by every start of berth).
 */
export async function factsForCreate(base: HostFacts, privileged: boolean): Promise<HostFacts> {
  const [apparmorProfiles, devices] = await Promise.all([
    base.apparmorEnabled ? loadedProfiles() : base.apparmorProfiles,
    privileged ? hostDevices() : base.hostDevices,
  ]);
  return { ...base, apparmorProfiles, hostDevices: devices };
}
