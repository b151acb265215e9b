// A streaming tar writer for image archives: ustar headers for directories and regular files
// whose names fit 100 bytes (an OCI layout's names do), bodies streamed, two zero blocks at the end.
import type { Readable } from 'node:stream';

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(name: string, size: number, type: 'file' | 'dir', mtime = 0): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new Error(`tar: name "${name}" is longer than 100 bytes`);
  const h = Buffer.alloc(BLOCK);
  nameBytes.copy(h, 0);
  h.write(octal(type === 'dir' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type === 'dir' ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

export const TAR_END = Buffer.alloc(2 * BLOCK);

export type TarSource = { name: string; type: 'dir' } | { name: string; type: 'file'; size: number; body: Buffer | (() => Readable) };

/** The tar's bytes, entry by entry; a streamed body must yield exactly `size` bytes. */
export async function* tarStream(entries: AsyncIterable<TarSource> | Iterable<TarSource>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    if (e.type === 'dir') {
      yield tarHeader(e.name.endsWith('/') ? e.name : `${e.name}/`, 0, 'dir');
      continue;
    }
    yield tarHeader(e.name, e.size, 'file');
    if (Buffer.isBuffer(e.body)) {
      if (e.body.length !== e.size) throw new Error(`tar: ${e.name}: ${e.body.length} bytes, not ${e.size}`);
      yield e.body;
    } else {
      let n = 0;
      for await (const chunk of e.body() as AsyncIterable<Buffer>) {
        n += chunk.length;
        if (n > e.size) throw new Error(`tar: ${e.name} grew past ${e.size} bytes while it was written`);
        yield chunk;
      }
      if (n !== e.size) throw new Error(`tar: ${e.name}: ${n} bytes, not ${e.size}`);
    }
    yield tarPadding(e.size);
  }
  yield TAR_END;
}
