// Disk usage of a directory tree (du-like: allocated blocks, hardlinks counted once), walked
// asynchronously so the event loop stays free.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function diskUsage(root: string): Promise<{ usedBytes: number; inodesUsed: number }> {
  let usedBytes = 0;
  let inodesUsed = 0;
  const seen = new Set<string>();
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p, { bigint: false });
    } catch {
      return; // removed while walking
    }
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1 && seen.has(key)) return;
    if (st.nlink > 1) seen.add(key);
    usedBytes += st.blocks * 512;
    inodesUsed++;
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = await readdir(p);
      } catch {
        return;
      }
      for (const n of names) await walk(path.join(p, n));
    }
  };
  await walk(root);
  return { usedBytes, inodesUsed };
}
