// Small async file helpers shared by the cgroup readers: a missing file is an absent value,
// not an error, because cgroups appear and vanish while we read them.
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
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

const GONE = new Set(['ENOENT', 'ENODEV', 'ENOTDIR', 'ESRCH', 'EINVAL']);
const gone = (err: unknown) => GONE.has((err as NodeJS.ErrnoException).code ?? '');

export async function readOpt(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    return await readSmall(file);
  } catch (err) {
    if (gone(err)) return undefined;
    throw err;
  }
}

/**
 * Keeps cgroup files open and re-reads them with pread at offset 0 (the kernel regenerates a
 * seq_file read from offset 0), so a stats read is one thread-pool trip instead of three. At
 * most `max` files stay open (least recently read closed first); a file whose cgroup was
 * removed reads ENODEV and is closed. Open files do not keep a cgroup from being removed.
 */
export class OpenFiles {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(private readonly max = 2048) {}

  get size(): number {
    return this.handles.size;
  }

  async read(file: string | undefined): Promise<string | undefined> {
    if (!file) return undefined;
    let h = this.handles.get(file);
    if (h) {
      this.handles.delete(file); // re-insert: the Map's order is the LRU order
    } else {
      h = open(file, 'r');
      h.catch(() => undefined);
      this.evict();
    }
    this.handles.set(file, h);
    try {
      const fh = await h;
      const buf = Buffer.allocUnsafe(SMALL);
      const { bytesRead } = await fh.read(buf, 0, SMALL, 0);
      if (bytesRead < SMALL) return buf.toString('utf8', 0, bytesRead);
      return await readOpt(file);
    } catch (err) {
      this.drop(file, h);
      if (gone(err)) return undefined;
      // EBADF: evicted while this read was in flight; read it the plain way.
      if ((err as NodeJS.ErrnoException).code === 'EBADF') return readOpt(file);
      throw err;
    }
  }

  private evict(): void {
    while (this.handles.size >= this.max) {
      const [file, h] = this.handles.entries().next().value as [string, Promise<FileHandle>];
      this.drop(file, h);
    }
  }

  private drop(file: string, h: Promise<FileHandle>): void {
    if (this.handles.get(file) === h) this.handles.delete(file);
    h.then((fh) => fh.close()).catch(() => undefined);
  }

  /** Closes the files whose path contains `part` (a container's id, for example). */
  forget(part: string): void {
    for (const [file, h] of [...this.handles]) if (file.includes(part)) this.drop(file, h);
  }

  /**
   * Closes the files directly in cgroup `cg` (a path below the hierarchies' mount points, such
   * as a pod's cgroup parent), in every hierarchy, and none of its children's.
   */
  forgetCgroup(cg: string): void {
    const dir = path.posix.join('/', cg).replace(/\/+$/, '');
    if (dir === '') return;
    for (const [file, h] of [...this.handles]) if (path.dirname(file).endsWith(dir)) this.drop(file, h);
  }

  close(): void {
    for (const [file, h] of [...this.handles]) this.drop(file, h);
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
