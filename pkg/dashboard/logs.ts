// A container's log as conmon writes it in the CRI format (`<RFC3339Nano> <stream> <P|F> <text>`):
// the last lines of the file (optionally only those containing a search string), then new lines
// as they are appended. The file's directory is watched with inotify (fs.watch), so a rotation
// (kubelet renames the file and ReopenContainerLog makes conmon write a new one) is followed too.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LogLine } from './web/views.js';

export type { LogLine } from './web/views.js';

/** Longest text shown per line; longer lines are cut with a marker. */
export const MAX_LINE = 16 * 1024;
/** The tail reads at most this much of the end of the file. */
export const TAIL_BYTES = 4 * 1024 * 1024;

const LINE = /^(\S+) (stdout|stderr) ([PF])(?: (.*))?$/;

/** One record of the file; partial (P) records are joined to the next by the caller. */
export function parseCriLine(line: string): { t: number; stream: 'stdout' | 'stderr'; partial: boolean; text: string } | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const t = Date.parse(m[1]!);
  return { t: Number.isNaN(t) ? 0 : t, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4] ?? '' };
}

const cut = (s: string) => (s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)} [… ${s.length - MAX_LINE} more characters]` : s);

/** Turns raw text (whole records, '\n'-separated) into lines, joining partial records. */
export class LineAssembler {
  private pending: LogLine | undefined;
  private rest = '';

  /** Feeds file bytes; returns the complete lines they finish. */
  push(chunk: string): LogLine[] {
    const text = this.rest + chunk;
    const records = text.split('\n');
    this.rest = records.pop() ?? '';
    const out: LogLine[] = [];
    for (const r of records) {
      const rec = parseCriLine(r);
      if (!rec) continue;
      if (this.pending && this.pending.stream === rec.stream) {
        if (this.pending.text.length <= MAX_LINE) this.pending.text += rec.text;
      } else {
        if (this.pending) out.push({ ...this.pending, text: cut(this.pending.text) });
        this.pending = { time: rec.t, stream: rec.stream, text: rec.text };
      }
      if (!rec.partial) {
        out.push({ ...this.pending, text: cut(this.pending.text) });
        this.pending = undefined;
      }
    }
    return out;
  }
}

export const matches = (l: LogLine, q: string): boolean => !q || l.text.toLowerCase().includes(q.toLowerCase());

/** Bytes of `buf[0, len)` up to and including its last newline (whole records only). */
function wholeRecords(buf: Buffer, len: number): number {
  return len ? buf.lastIndexOf(10, len - 1) + 1 : 0;
}

/** The last `n` lines of `file` (containing `q`, when given) and where reading stopped. */
export async function tailLog(file: string, n: number, q = ''): Promise<{ lines: LogLine[]; offset: number; ino: number }> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    const start = Math.max(0, st.size - TAIL_BYTES);
    const buf = Buffer.alloc(st.size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    // A record still being written is left to the follower.
    const end = wholeRecords(buf, bytesRead);
    // Started mid-file: the first record is probably cut.
    const head = start > 0 ? Math.min(buf.indexOf(10) + 1, end) : 0;
    const lines = new LineAssembler().push(buf.subarray(head, end).toString('utf8')).filter((l) => matches(l, q));
    return { lines: lines.slice(-n), offset: start + end, ino: st.ino };
  } finally {
    await fh.close();
  }
}

export interface Follower {
  close(): void;
}

/**
 * Calls `onLines` with each batch of whole lines appended to `file` after `offset`, across
 * rotations, until close(). `onGone` runs if the directory itself disappears.
 */
export function followLog(
  file: string, from: { offset: number; ino: number }, onLines: (l: LogLine[]) => void, onGone: () => void,
): Follower {
  let offset = from.offset;
  let ino = from.ino;
  let reading = false;
  let again = false;
  let closed = false;
  const asm = new LineAssembler();
  const name = path.basename(file);

  const readMore = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const st = await stat(file).catch(() => undefined);
        if (!st || closed) return;
        if (st.ino !== ino || st.size < offset) {
          // Rotated or truncated: the new file is read from its start.
          ino = st.ino;
          offset = 0;
        }
        if (st.size <= offset) continue;
        const fh = await open(file, 'r');
        try {
          const buf = Buffer.alloc(Math.min(st.size - offset, 1024 * 1024));
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          // Whole records only (and so whole UTF-8 characters), unless one fills the buffer.
          const used = wholeRecords(buf, bytesRead) || (bytesRead === buf.length ? bytesRead : 0);
          if (!used) continue; // a record still being written: its newline brings another event
          offset += used;
          if (offset < st.size && used === buf.length) again = true;
          const lines = asm.push(buf.subarray(0, used).toString('utf8'));
          if (lines.length && !closed) onLines(lines);
        } finally {
          await fh.close();
        }
      } while (again && !closed);
    } finally {
      reading = false;
    }
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), (_ev, f) => {
      if (!f || f === name) void readMore().catch(() => undefined);
    });
    watcher.on('error', () => {
      if (!closed) onGone();
    });
  } catch {
    queueMicrotask(onGone);
  }
  // Whatever was written between the tail and the watch.
  void readMore().catch(() => undefined);
  return {
    close() {
      closed = true;
      watcher?.close();
    },
  };
}
