// A streaming tar reader: ustar, GNU (long names, base-256 numbers) and PAX (path, linkpath,
// size, uid, gid, mtime, SCHILY.xattr.*). Bodies are handed out as chunks, never buffered whole.

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';

export interface TarHeader {
  name: string;
  type: EntryType;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
}

/** Pulls exact byte counts out of an async chunk iterator; every byte read passes `onData`. */
export class ByteReader {
  private bufs: Buffer[] = [];
  private len = 0;
  private done = false;

  constructor(private readonly it: AsyncIterator<Buffer>, private readonly onData: (b: Buffer) => void) {}

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.onData(b);
    if (b.length) {
      this.bufs.push(b);
      this.len += b.length;
    }
    return true;
  }

  /** Exactly n bytes, or fewer only at end of input. */
  async read(n: number): Promise<Buffer> {
    while (this.len < n && (await this.more()));
    const all = this.bufs.length === 1 ? this.bufs[0]! : Buffer.concat(this.bufs);
    const take = Math.min(n, all.length);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.bufs = rest.length ? [rest] : [];
    this.len = rest.length;
    return out;
  }

  /** Streams the next n bytes as chunks; throws on premature end. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.len && !(await this.more())) throw new Error('unexpected end of tar stream in an entry body');
      const head = this.bufs[0]!;
      if (head.length <= left) {
        this.bufs.shift();
        this.len -= head.length;
        left -= head.length;
        yield head;
      } else {
        this.bufs[0] = head.subarray(left);
        this.len -= left;
        yield head.subarray(0, left);
        left = 0;
      }
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) {
      // discard
    }
  }

  /** Reads (and so hashes) everything left. */
  async drain(): Promise<void> {
    this.bufs = [];
    this.len = 0;
    while (await this.more()) {
      this.bufs = [];
      this.len = 0;
    }
  }
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return (z >= 0 ? b.subarray(0, z) : b).toString('utf8');
}

function num(b: Buffer): number {
  if (b[0]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    v += (b[0]! & 0x3f) * 256 ** (b.length - 1);
    return v;
  }
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

function parsePax(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(body.subarray(i, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > body.length) throw new Error('malformed PAX header record');
    const rec = body.subarray(sp + 1, i + len - 1); // without trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    i += len;
  }
  return out;
}

const pad = (n: number): number => (512 - (n % 512)) % 512;

/**
 * Iterates the entries of a tar stream. The caller must consume each entry's body (through
 * `reader.chunks(h.size)` or `reader.skip(h.size)`) and then `reader.skip(padOf(h.size))`
 * before asking for the next entry; `entries` does the padding itself when told via `next`.
 */
export async function* tarEntries(reader: ByteReader): AsyncGenerator<TarHeader> {
  let pax = new Map<string, Buffer>();
  const global = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await reader.read(512);
    if (h.length === 0) return; // no end marker: tolerated, as GNU tar does
    if (h.length < 512) throw new Error('truncated tar header');
    if (h.every((b) => b === 0)) return; // end-of-archive marker; the rest is drained by the caller
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== num(h.subarray(148, 156))) throw new Error('tar header checksum mismatch (not a tar stream, or corrupt)');
    const typeflag = String.fromCharCode(h[156]!);
    const size = num(h.subarray(124, 136));
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > 16 << 20) throw new Error('tar extended header larger than 16 MiB');
      const body = await reader.read(size);
      await reader.skip(pad(size));
      if (typeflag === 'x') pax = parsePax(body);
      else if (typeflag === 'g') for (const [k, v] of parsePax(body)) global.set(k, v);
      else if (typeflag === 'L') longName = cstr(body);
      else longLink = cstr(body);
      continue;
    }
    const get = (k: string): Buffer | undefined => pax.get(k) ?? global.get(k);
    const prefix = cstr(h.subarray(345, 500));
    const magic = h.subarray(257, 263).toString('latin1');
    let name = cstr(h.subarray(0, 100));
    if (magic.startsWith('ustar') && prefix && magic === 'ustar\0') name = `${prefix}/${name}`;
    name = get('path')?.toString('utf8') ?? longName ?? name;
    const linkname = get('linkpath')?.toString('utf8') ?? longLink ?? cstr(h.subarray(157, 257));
    const xattrs: Record<string, Buffer> = {};
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
    const paxNum = (k: string): number | undefined => {
      const v = get(k);
      return v ? Math.floor(Number(v.toString('ascii'))) : undefined;
    };
    const hdr: TarHeader = {
      name,
      type: TYPES[typeflag] ?? 'other',
      typeflag,
      mode: num(h.subarray(100, 108)) & 0o7777,
      uid: paxNum('uid') ?? num(h.subarray(108, 116)),
      gid: paxNum('gid') ?? num(h.subarray(116, 124)),
      size: paxNum('size') ?? size,
      mtime: paxNum('mtime') ?? num(h.subarray(136, 148)),
      linkname,
      devmajor: num(h.subarray(329, 337)),
      devminor: num(h.subarray(337, 345)),
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    yield hdr;
  }
}

export const padOf = pad;
