// Reading CRI container log files (kubelet's format, written by conmon): one record a line,
// `<RFC 3339 nano time> <stdout|stderr> <P|F> <text>`; P marks a partial line that the next
// records continue. Following uses fs.watch and reads what was appended.
import { watch } from 'node:fs';
import { open } from 'node:fs/promises';

export interface LogLine {
  /** Time of the line's first record, as written. */
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface LogFilter {
  /** Only the last n lines. */
  tail?: number;
  /** Only lines at or after this time (ms since the epoch). */
  sinceMs?: number;
}

/** Parses records into whole lines; `partial` carries unfinished lines between calls. */
export class LogParser {
  private readonly partial = new Map<string, LogLine>();
  private rest = '';

  feed(chunk: string): LogLine[] {
    const text = this.rest + chunk;
    const records = text.split('\n');
    this.rest = records.pop()!;
    const out: LogLine[] = [];
    for (const r of records) {
      const m = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/.exec(r);
      if (!m) continue;
      const [, time, stream, tag, body] = m as unknown as [string, string, 'stdout' | 'stderr', string, string];
      const open = this.partial.get(stream);
      const line = open ? { ...open, text: open.text + body } : { time, stream, text: body };
      if (tag === 'P') this.partial.set(stream, line);
      else {
        this.partial.delete(stream);
        out.push(line);
      }
    }
    return out;
  }
}

/** ms since the epoch of an RFC 3339 time with nanoseconds (Date keeps milliseconds). */
export function timeMs(t: string): number {
  return Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
}

/**
 * The time of a record in UTC with a `Z`, keeping its fraction of a second, as `docker logs -t`
 * prints it; conmon writes the local offset (`+00:00`). Text that is not such a time is kept.
 */
export function utcTime(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return t;
  const seconds = new Date(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds.getTime())) return t;
  return `${seconds.toISOString().slice(0, 19)}${m[2] ?? ''}Z`;
}

export function filterLines(lines: LogLine[], f: LogFilter): LogLine[] {
  let out = f.sinceMs !== undefined ? lines.filter((l) => timeMs(l.time) >= f.sinceMs!) : lines;
  if (f.tail !== undefined) out = f.tail === 0 ? [] : out.slice(-f.tail);
  return out;
}

/** Reads the log file from `offset`; returns the text and the new offset. */
export async function readFrom(file: string, offset: number): Promise<{ text: string; offset: number }> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size < offset) offset = 0; // rotated or truncated: start over
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), offset: offset + bytesRead };
  } finally {
    await fh.close();
  }
}

/**
 * Calls `onText` with what is appended to `file` from `offset` until `until` resolves, then
 * once more with whatever came last.
 */
export async function follow(file: string, offset: number, onText: (t: string) => void, until: Promise<unknown>): Promise<void> {
  let pos = offset;
  let reading = Promise.resolve();
  const drain = () => {
    reading = reading.then(async () => {
      const r = await readFrom(file, pos).catch(() => ({ text: '', offset: pos }));
      pos = r.offset;
      if (r.text) onText(r.text);
    });
    return reading;
  };
  const w = watch(file, () => void drain());
  try {
    await drain();
    await until;
  } finally {
    w.close();
  }
  await drain();
}
