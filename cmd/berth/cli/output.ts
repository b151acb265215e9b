// Tables, JSON and human units for the client commands.
import type { Cli } from './context.js';

/** Left-aligned columns, separated by three spaces, as docker prints them. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Prints rows as a table, as JSON (the raw objects), or their IDs alone with -q. */
export function printList<T>(cli: Cli, opts: { format: 'json' | 'table'; quiet: boolean }, items: T[], id: (t: T) => string, headers: string[], row: (t: T) => string[]): void {
  if (opts.quiet) {
    for (const t of items) cli.print(id(t));
  } else if (opts.format === 'json') {
    cli.print(JSON.stringify(items, null, 2));
  } else {
    cli.out.write(table(headers, items.map(row)));
  }
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 13);
}

export function humanBytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)}${units[i]}`;
}

/** "3 minutes ago" from CRI's nanosecond timestamps (decimal strings). */
export function ago(nanos: string | number, now = Date.now()): string {
  const ms = Number(BigInt(nanos) / 1_000_000n);
  if (!ms) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  const say = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return s < 2 ? 'Just now' : say(s, 'second');
  if (s < 3600) return say(Math.floor(s / 60), 'minute');
  if (s < 86400) return say(Math.floor(s / 3600), 'hour');
  return say(Math.floor(s / 86400), 'day');
}

/** CONTAINER_RUNNING → running, SANDBOX_NOTREADY → notready. */
export function stateName(s: string): string {
  return s.replace(/^(CONTAINER|SANDBOX)_/, '').toLowerCase();
}
