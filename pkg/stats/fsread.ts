// Small async file helpers shared by the cgroup readers: a missing file is an absent value,
// not an error, because cgroups appear and vanish while we read them.
import { open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const SMALL = 16 * 1024;

/**
 * cgroup and proc files are small and report a fake size, so readFile's fstat and its read to
 * EOF are wasted thread-pool trips: open, one read, close. Larger contents fall back to readFile.
 */
async function readSmall(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(SMALL);
    const { bytesRead } = await fh.read(buf, 0, SMALL, 0);
    if (bytesRead < SMALL) return buf.toString('utf8', 0, bytesRead);
  } finally {
    await fh.close();
  }
  return readFile(file, 'utf8');
}

export async function readOpt(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    return await readSmall(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR' || code === 'ESRCH' || code === 'EINVAL') return undefined;
    throw err;
  }
}

/** PIDs listed in cgroup.procs of `dir` and its descendants, breadth first, at most `limit`. */
export async function cgroupPids(dir: string, limit = 64): Promise<number[]> {
  const out: number[] = [];
  let level = [dir];
  for (let depth = 0; level.length && out.length < limit && depth < 8; depth++) {
    const results = await Promise.all(
      level.map(async (d) => {
        const [procs, entries] = await Promise.all([
          readOpt(path.join(d, 'cgroup.procs')),
          readdir(d, { withFileTypes: true }).catch(() => []),
        ]);
        return { procs, subdirs: entries.filter((e) => e.isDirectory()).map((e) => path.join(d, e.name)) };
      }),
    );
    const next: string[] = [];
    for (const r of results) {
      for (const l of (r.procs ?? '').split('\n')) {
        const n = Number(l);
        if (l && Number.isInteger(n) && n > 0 && out.length < limit) out.push(n);
      }
      next.push(...r.subdirs);
    }
    level = next;
  }
  return out;
}
