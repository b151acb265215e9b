// Unpacks one layer (tar, tar+gzip, tar+zstd) into its own snapshot directory, converting
// whiteouts to overlayfs form. Nothing is ever written outside `root`: entries whose path
// leaves the root (`..`, absolute), that go through a symlink leaving the root, or hardlinks
// to outside are refused, naming the entry. The caller removes the directory on failure.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readlink, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { failureText, start, type Running } from '../process/run.js';
import { ByteReader, padOf, tarEntries, type TarHeader } from './tar-reader.js';
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from './sys.js';

export class UnsafeEntryError extends Error {}

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
const MAX_LINKS = 40;

// Read once at start-up: lets unpack skip chmod when creation modes already came out right.
const UMASK = (() => {
  try {
    return parseInt(/^Umask:\s+([0-7]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '777', 8);
  } catch {
    return 0o777;
  }
})();
const IS_ROOT = process.geteuid?.() === 0;

/** Splits an entry name into clean components; throws when it is absolute or climbs above the root. */
export function entryComponents(name: string): string[] {
  if (name.startsWith('/')) throw new UnsafeEntryError(`tar entry "${name}": absolute path`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!out.length) throw new UnsafeEntryError(`tar entry "${name}": path leaves the root`);
      out.pop();
    } else out.push(c);
  }
  return out;
}

export interface UnpackStats {
  /** sha256 of the uncompressed tar stream (the layer's diff ID). */
  diffId: string;
  bytes: number;
  inodes: number;
}

/**
 * Resolves parent directories inside `root`, following symlinks only when they stay inside.
 * Missing parents are created. Returns the host path of the directory.
 */
class Resolver {
  /** Verified real directories (relative path → true). */
  private dirs = new Set<string>(['']);

  constructor(private readonly root: string, private readonly onCreate: (rel: string) => void) {}

  /** True when `rel` is a directory this resolver verified (no symlink on the way). */
  known(rel: string): boolean {
    return this.dirs.has(rel);
  }

  forget(rel: string): void {
    for (const d of this.dirs) if (d === rel || d.startsWith(rel + '/')) this.dirs.delete(d);
  }

  async dir(parts: string[], entry: string): Promise<string> {
    let cur: string[] = [];
    let links = 0;
    const queue = [...parts];
    while (queue.length) {
      const c = queue.shift()!;
      const next = [...cur, c];
      const rel = next.join('/');
      if (this.dirs.has(rel)) {
        cur = next;
        continue;
      }
      const host = path.join(this.root, rel);
      let st;
      try {
        st = await lstat(host);
      } catch {
        await mkdir(host, { mode: 0o755 });
        this.onCreate(rel);
        this.dirs.add(rel);
        cur = next;
        continue;
      }
      if (st.isDirectory()) {
        this.dirs.add(rel);
        cur = next;
      } else if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw new UnsafeEntryError(`tar entry "${entry}": too many levels of symlinks`);
        const target = await readlink(host);
        if (target.startsWith('/')) {
          throw new UnsafeEntryError(`tar entry "${entry}": goes through symlink "${rel}" to the absolute path "${target}", outside the layer root`);
        }
        let resolved: string[];
        try {
          resolved = entryComponents([...cur, target].join('/'));
        } catch {
          throw new UnsafeEntryError(`tar entry "${entry}": goes through symlink "${rel}" -> "${target}", which leaves the layer root`);
        }
        // Re-walk the symlink's target, then the rest.
        queue.unshift(...resolved);
        cur = [];
      } else {
        throw new UnsafeEntryError(`tar entry "${entry}": parent "${rel}" is not a directory`);
      }
    }
    return path.join(this.root, ...cur);
  }
}

/** The layer path of a hard link's source when it is a settled file of this extraction's `files`. */
function knownFile(linkname: string, files: Set<string>, pending: Set<string>): string | undefined {
  let rel: string;
  try {
    rel = entryComponents(linkname).join('/');
  } catch {
    return undefined; // the unbatched path reports the unsafe name
  }
  return rel && files.has(rel) && !pending.has(rel) ? rel : undefined;
}

async function removeExisting(p: string, keepDir: boolean): Promise<boolean> {
  try {
    const st = await lstat(p);
    if (st.isDirectory()) {
      if (keepDir) return true;
      await rm(p, { recursive: true, force: true });
    } else await unlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return false;
}

/**
 * Bytes per inflate step: each is one trip through the libuv pool and the stream machinery, which
 * at 256 KiB cost several times the inflate itself (the compressed side comes in ~1 MiB writes).
 */
const INFLATE_CHUNK = 1 << 20;

/** The decompressed tar stream of a blob, detected by magic bytes (media types lie at times). */
export async function decompressedStream(blobPath: string): Promise<{ stream: Readable; done: Promise<void> }> {
  const fh = await open(blobPath, 'r');
  const magic = Buffer.alloc(4);
  try {
    await fh.read(magic, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    // pipeline, not pipe: a caller that destroys the tar stream (a refused layer) closes the
    // blob's fd too; with pipe() it stayed open, and the blob, deleted by then, with it.
    const src = createReadStream(blobPath, { highWaterMark: 1 << 20 });
    const gz = createGunzip({ chunkSize: INFLATE_CHUNK });
    // done once the blob's fd is closed, not merely once the pipeline ended (the close lags).
    const fdClosed = new Promise<void>((resolve) => src.once('close', resolve));
    const closed = pipeline(src, gz).catch(() => {}).then(() => fdClosed);
    return { stream: gz, done: closed };
  }
  if (magic.readUInt32LE(0) === 0xfd2fb528) {
    // Node 20's zlib has no zstd: Debian's zstd decompresses, streaming.
    const z = start('zstd', { args: ['-dcq', '--no-progress', blobPath], stdout: 'stream', maxOutput: 64 * 1024 });
    return { stream: z.stdout, done: zstdDone(z) };
  }
  return { stream: createReadStream(blobPath, { highWaterMark: 1 << 20 }), done: Promise.resolve() };
}

/** A decompressed tar stream, and the decompressor's end (rejects when it failed). */
export interface Decompressed {
  stream: Readable;
  done: Promise<void>;
}

/**
 * The decompressed tar stream of a layer arriving as `src`, chosen by media type (the
 * file-based path above sniffs magic bytes instead, for layers whose media type lies).
 */
export function decompressStreaming(src: Readable, mediaType: string): Decompressed {
  if (/gzip$/.test(mediaType)) {
    const gz = createGunzip({ chunkSize: INFLATE_CHUNK });
    const done = pipeline(src, gz).catch(() => {});
    return { stream: gz, done };
  }
  if (/zstd$/.test(mediaType)) {
    const z = pipeThrough(src, 'zstd', ['-dcq', '--no-progress']);
    return { stream: z.stdout, done: zstdDone(z) };
  }
  return { stream: src, done: Promise.resolve() };
}

/** Runs `cmd` with `src` piped to its stdin; ending either side stops the other. */
function pipeThrough(src: Readable, cmd: string, args: string[]): Running {
  const z = start(cmd, { args, stdin: 'pipe', stdout: 'stream', maxOutput: 64 * 1024 });
  pipeline(src, z.child.stdin!).catch(() => z.child.kill());
  z.stdout.once('close', () => src.destroyed || src.destroy());
  return z;
}

async function zstdDone(z: Running): Promise<void> {
  const r = await z.result;
  if (r.code !== 0) throw new Error(`zstd -d failed (${r.code}): ${failureText(r)}`);
}

/** Unpacks a layer arriving as `src` (compressed as `mediaType` says) into `root`. */
export function unpackStream(src: Readable, mediaType: string, root: string): Promise<UnpackStats> {
  return untar(decompressStreaming(src, mediaType), root, src);
}

/** Unpacks a stored blob (compression sniffed from its bytes) into `root`. */
export async function unpackBlobFile(blobPath: string, root: string): Promise<UnpackStats> {
  return untar(await decompressedStream(blobPath), root);
}

/**
 * Extracts a decompressed stream into `root`; on failure the stream (and `src`, what feeds the
 * decompressor) is destroyed and the decompressor has stopped before this rejects.
 */
async function untar({ stream, done }: Decompressed, root: string, src?: Readable): Promise<UnpackStats> {
  // A decompressor that fails while the tar is still being read rejects `done` before it is awaited.
  done.catch(() => {});
  try {
    const st = await unpackTar(stream, root);
    await done;
    return st;
  } catch (err) {
    stream.destroy();
    src?.destroy();
    await done.catch(() => {});
    throw err;
  }
}

/** Extracts the tar stream into `root` (an existing empty directory). */
export async function unpackTar(source: Readable, root: string): Promise<UnpackStats> {
  const sha = createHash('sha256');
  const reader = new ByteReader(source[Symbol.asyncIterator](), (b) => sha.update(b));
  let bytes = 0;
  let inodes = 0;
  // What this extraction created (the root starts empty): anything else needs no lstat.
  const seen = new Set<string>();
  // Regular files this extraction created at exactly that path (no symlink on the way) and has not
  // replaced since: a hard link to one of them needs no lstat and can join a concurrent run.
  // Anything that replaces or whites out a path clears it, so a stale entry never skips a check.
  const files = new Set<string>();
  const sgidDirs = new Set<string>();
  const resolver = new Resolver(root, (rel) => {
    inodes++;
    seen.add(rel);
  });
  const dirTimes: { p: string; mtime: number }[] = [];
  const rel = (p: string) => path.relative(root, p);
  // Runs of new symlinks (busybox-style images have hundreds) are created concurrently: each
  // goes into a verified directory under a name nothing else in the run uses.
  let pending: Promise<void>[] = [];
  const pendingPaths = new Set<string>();
  const flush = async () => {
    const p = pending;
    pending = [];
    pendingPaths.clear();
    await Promise.all(p);
  };
  /** Creation gave root:root; chown only when the entry wants otherwise or a setgid dir changed the group. */
  const needChown = (h: TarHeader, parent: string) => !IS_ROOT || h.uid !== 0 || h.gid !== 0 || sgidDirs.has(rel(parent));
  /** Creation mode was `h.mode & 0o777 & ~umask`; chmod when that differs (or chown cleared bits). */
  const needChmod = (h: TarHeader, parent: string) => (h.mode & 0o7000) !== 0 || (h.mode & UMASK & 0o777) !== 0 || sgidDirs.has(rel(parent));
  try {
    for await (const h of tarEntries(reader)) {
      const parts = entryComponents(h.name);
      const bodyLeft = h.type === 'file' ? 0 : h.size;
      if (!parts.length) {
        // The root itself ("./"): take its metadata.
        if (h.type === 'dir') {
          await lchown(root, h.uid, h.gid);
          await chmod(root, h.mode);
          await setXattrs(root, h);
          dirTimes.push({ p: root, mtime: h.mtime });
          if (h.mode & 0o2000) sgidDirs.add('');
        }
        await reader.skip(bodyLeft + padOf(h.size));
        continue;
      }
      const base = parts[parts.length - 1]!;
      const parentRaw = parts.slice(0, -1).join('/');
      const fresh = !base.startsWith(WH_PREFIX) && resolver.known(parentRaw) &&
        !seen.has(parts.join('/')) && !pendingPaths.has(parts.join('/'));
      const linkSource = fresh && h.type === 'hardlink' ? knownFile(h.linkname, files, pendingPaths) : undefined;
      const batchable = fresh && (h.type === 'symlink' || linkSource !== undefined);
      if (pending.length && !batchable) await flush();
      if (linkSource !== undefined) {
        const target = path.join(root, ...parts);
        const targetRel = parts.join('/');
        seen.add(targetRel);
        files.add(targetRel);
        pendingPaths.add(targetRel);
        pending.push(link(path.join(root, linkSource), target).catch((err: Error) => {
          throw new UnsafeEntryError(`tar entry "${h.name}": hardlink to "${h.linkname}" failed: ${err.message}`);
        }));
        if (pending.length >= 64) await flush();
        await reader.skip(bodyLeft + padOf(h.size));
        continue;
      }
      if (batchable) {
        const target = path.join(root, ...parts);
        const targetRel = parts.join('/');
        seen.add(targetRel);
        pendingPaths.add(targetRel);
        inodes++;
        const chown = needChown(h, path.join(root, parentRaw));
        pending.push((async () => {
          await symlink(h.linkname, target);
          if (chown) await lchown(target, h.uid, h.gid);
          await setXattrs(target, h);
          await lutimes(target, h.mtime, h.mtime);
        })());
        if (pending.length >= 64) await flush();
        await reader.skip(bodyLeft + padOf(h.size));
        continue;
      }
      const parent = await resolver.dir(parts.slice(0, -1), h.name);
      const target = path.join(parent, base);
      const targetRel = rel(target);
      if (base === WH_OPAQUE) {
        lsetxattr(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (base.startsWith(WH_PREFIX)) {
        const hidden = base.slice(WH_PREFIX.length);
        if (!hidden.startsWith('.wh.') && hidden !== '' && hidden !== '.' && hidden !== '..') {
          const p = path.join(parent, hidden);
          if (seen.has(rel(p))) await removeExisting(p, false);
          files.clear();
          resolver.forget(rel(p));
          mknod(p, S_IFCHR, 0, 0);
          seen.add(rel(p));
          inodes++;
        }
      } else {
        if (seen.has(targetRel)) files.clear();
        const isDir = seen.has(targetRel) ? await removeExisting(target, h.type === 'dir') : false;
        if (h.type !== 'dir') resolver.forget(targetRel);
        seen.add(targetRel);
        switch (h.type) {
          case 'dir':
            if (!isDir) {
              await mkdir(target, { mode: h.mode & 0o777 });
              inodes++;
            }
            if (isDir || needChown(h, parent)) await lchown(target, h.uid, h.gid);
            if (isDir || needChmod(h, parent)) await chmod(target, h.mode);
            if (h.mode & 0o2000) sgidDirs.add(targetRel);
            else sgidDirs.delete(targetRel);
            await setXattrs(target, h);
            dirTimes.push({ p: target, mtime: h.mtime });
            break;
          case 'file': {
            const fh = await open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, h.mode & 0o777);
            try {
              await writeBody(fh, reader.chunks(h.size));
              if (needChown(h, parent)) await fh.chown(h.uid, h.gid);
              if (needChmod(h, parent) || needChown(h, parent)) await fh.chmod(h.mode);
              await fh.utimes(h.mtime, h.mtime);
            } finally {
              await fh.close();
            }
            bytes += h.size;
            inodes++;
            await setXattrs(target, h);
            if (targetRel === parts.join('/')) files.add(targetRel);
            break;
          }
          case 'symlink':
            await symlink(h.linkname, target);
            inodes++;
            if (needChown(h, parent)) await lchown(target, h.uid, h.gid);
            await setXattrs(target, h);
            await lutimes(target, h.mtime, h.mtime);
            break;
          case 'hardlink': {
            const lparts = (() => {
              try {
                return entryComponents(h.linkname);
              } catch {
                throw new UnsafeEntryError(`tar entry "${h.name}": hardlink to "${h.linkname}", outside the layer root`);
              }
            })();
            if (!lparts.length) throw new UnsafeEntryError(`tar entry "${h.name}": hardlink to the root`);
            const ldir = await resolver.dir(lparts.slice(0, -1), h.name);
            const src = path.join(ldir, lparts[lparts.length - 1]!);
            let st;
            try {
              st = await lstat(src);
            } catch {
              throw new UnsafeEntryError(`tar entry "${h.name}": hardlink target "${h.linkname}" is not in this layer`);
            }
            if (st.isDirectory()) throw new UnsafeEntryError(`tar entry "${h.name}": hardlink to a directory`);
            await link(src, target);
            break;
          }
          case 'char':
          case 'block':
          case 'fifo': {
            const kind = h.type === 'char' ? S_IFCHR : h.type === 'block' ? S_IFBLK : S_IFIFO;
            mknod(target, kind | (h.mode & 0o777), h.devmajor, h.devminor);
            inodes++;
            await lchown(target, h.uid, h.gid);
            await chmod(target, h.mode);
            await setXattrs(target, h);
            await lutimes(target, h.mtime, h.mtime);
            break;
          }
          default:
            // Unknown entry kinds (GNU sparse, volume labels…) carry nothing a rootfs needs.
            seen.delete(targetRel);
            break;
        }
      }
      await reader.skip(bodyLeft + padOf(h.size));
    }
    await flush();
    await reader.drain();
  } catch (err) {
    source.destroy();
    await Promise.allSettled(pending);
    throw err;
  }
  // Directory mtimes last: creating children changed them.
  for (let i = dirTimes.length - 1; i >= 0; i--) await lutimes(dirTimes[i]!.p, dirTimes[i]!.mtime, dirTimes[i]!.mtime);
  return { diffId: 'sha256:' + sha.digest('hex'), bytes, inodes };
}

/** Bytes gathered into one writev of a file body: each write costs a trip through the libuv pool. */
const WRITE_BATCH = 1 << 20;

/** Writes a file body from its chunks, ~1 MiB per writev. */
async function writeBody(fh: FileHandle, chunks: AsyncIterable<Buffer>): Promise<void> {
  let pos = 0;
  let batch: Buffer[] = [];
  let len = 0;
  const flush = async () => {
    let { bytesWritten } = await fh.writev(batch, pos);
    // A short write (rare on a regular file): the rest one buffer at a time.
    for (const b of batch) {
      const skip = Math.min(bytesWritten, b.length);
      bytesWritten -= skip;
      if (skip < b.length) await fh.write(b, skip, b.length - skip, pos + skip);
      pos += b.length;
    }
    batch = [];
    len = 0;
  };
  for await (const chunk of chunks) {
    batch.push(chunk);
    len += chunk.length;
    if (len >= WRITE_BATCH) await flush();
  }
  if (len) await flush();
}

async function setXattrs(p: string, h: TarHeader): Promise<void> {
  for (const [k, v] of Object.entries(h.xattrs)) {
    try {
      lsetxattr(p, k, v);
    } catch (err) {
      // A filesystem without xattr support for this namespace: skip, as containerd does.
      if ((err as { code?: string }).code !== 'ENOTSUP' && (err as { code?: string }).code !== 'EOPNOTSUPP') throw err;
    }
  }
}
