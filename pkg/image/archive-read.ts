// Reading an image archive (OCI layout tar or `docker save` tar) as it streams in: every regular
// file is written to a staging directory while its sha256 is computed, so each can later be
// checked against the digest that names it, then moved into the content store without a copy.
// Symlinks and hard links (docker's legacy format links repeated layers) become aliases.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import { DigestMismatchError } from './content.js';
import { ByteReader, padOf, tarEntries } from './tar-reader.js';

export interface StagedFile {
  /** Where the bytes are, under the staging directory. */
  path: string;
  digest: string;
  size: number;
}

const BLOB_NAME = /^blobs\/sha256\/([a-f0-9]{64})$/;
/** Metadata files (index.json, manifest.json, configs) are read into memory up to this size. */
const MAX_JSON_BYTES = 16 << 20;

/** A path inside the archive, normalized; `..` and absolute paths are refused. */
export function archivePath(name: string): string {
  const parts = name.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw new InvalidArgumentError(`archive entry "${name}" leaves the archive`);
  return parts.join('/');
}

export class StagedArchive {
  private readonly files = new Map<string, StagedFile>();
  private readonly links = new Map<string, string>();
  private seq = 0;

  private constructor(readonly dir: string) {}

  /** Reads the whole tar into `parentDir/load-*`; blobs under blobs/sha256 are verified as they land. */
  static async read(source: AsyncIterable<Buffer>, parentDir: string, signal?: AbortSignal): Promise<StagedArchive> {
    const dir = path.join(parentDir, `load-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    const staged = new StagedArchive(dir);
    try {
      const reader = new ByteReader(source[Symbol.asyncIterator](), () => {});
      for await (const h of tarEntries(reader)) {
        signal?.throwIfAborted();
        const name = archivePath(h.name);
        if (h.type === 'file') await staged.stage(name, reader.chunks(h.size));
        else {
          if (h.type === 'symlink') staged.links.set(name, archivePath(path.posix.join(path.posix.dirname(name), h.linkname)));
          else if (h.type === 'hardlink') staged.links.set(name, archivePath(h.linkname));
          await reader.skip(h.size);
        }
        await reader.skip(padOf(h.size));
      }
      await reader.drain();
    } catch (err) {
      await staged.remove();
      if (err instanceof Error && /tar|checksum/.test(err.message) && !(err instanceof DigestMismatchError)) {
        throw new InvalidArgumentError(`not an image archive: ${err.message}`, { cause: err });
      }
      throw err;
    }
    return staged;
  }

  private async stage(name: string, body: AsyncIterable<Buffer>): Promise<void> {
    const file = path.join(this.dir, String(this.seq++));
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(file, 'wx', 0o644);
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const digest = 'sha256:' + hash.digest('hex');
    const named = BLOB_NAME.exec(name)?.[1];
    if (named && digest !== `sha256:${named}`) throw new DigestMismatchError(`archive entry ${name} hashes to ${digest}; it is corrupt`);
    this.files.set(name, { path: file, digest, size });
  }

  /** The file at `name` (following links), or undefined. */
  get(name: string): StagedFile | undefined {
    let n = archivePath(name);
    for (let hops = 0; hops < 16 && !this.files.has(n) && this.links.has(n); hops++) n = this.links.get(n)!;
    return this.files.get(n);
  }

  /** The file at `name`, which the archive must have. */
  need(name: string, what: string): StagedFile {
    const f = this.get(name);
    if (!f) throw new InvalidArgumentError(`image archive: ${what} "${name}" is not in the archive`);
    return f;
  }

  /** The blob of `digest` in blobs/sha256/, checked against `size` when given. */
  blob(digest: string, size?: number): StagedFile {
    const f = this.need(`blobs/sha256/${digest.replace(/^sha256:/, '')}`, 'blob');
    if (size !== undefined && f.size !== size) throw new DigestMismatchError(`image archive: blob ${digest} has ${f.size} bytes, its descriptor says ${size}`);
    return f;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  async bytes(f: StagedFile): Promise<Buffer> {
    if (f.size > MAX_JSON_BYTES) throw new InvalidArgumentError(`image archive: a metadata file of ${f.size} bytes is over the 16 MiB limit`);
    return readFile(f.path);
  }

  async json<T>(name: string): Promise<T> {
    const text = (await this.bytes(this.need(name, 'file'))).toString('utf8');
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new InvalidArgumentError(`image archive: ${name} is not valid JSON`);
    }
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
