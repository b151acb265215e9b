// Command-line parsing in docker's manner: long flags (`--name x`, `--name=x`), short flags that
// combine (`-it`, `-p 80:80`, `-p80:80`), repeatable list flags, `--` to end flags, and for
// run/exec/debug, flags end at the first positional (the rest, after an optional `--`, is the
// container's command).
import type { FlagSpec } from './commands.js';

export type Flags = Record<string, boolean | string | string[] | undefined>;

/** Bad usage: exit code 125, as docker's client. */
export class UsageError extends Error {}

export interface Parsed {
  flags: Flags;
  args: string[];
}

export function parseArgs(specs: FlagSpec[], argv: string[], stopAtPositional = false): Parsed {
  const flags: Flags = {};
  const args: string[] = [];
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const set = (spec: FlagSpec, value: string | undefined, shown: string): void => {
    if (spec.type === 'bool') {
      flags[spec.name] = true;
      return;
    }
    if (value === undefined) throw new UsageError(`flag ${shown} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    if (spec.type === 'list') flags[spec.name] = [...((flags[spec.name] as string[] | undefined) ?? []), value];
    else flags[spec.name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (spec.type === 'bool') {
        if (eq >= 0 && !['true', 'false'].includes(a.slice(eq + 1))) throw new UsageError(`flag --${name} takes no value`);
        flags[name] = eq < 0 || a.slice(eq + 1) === 'true';
        continue;
      }
      set(spec, eq >= 0 ? a.slice(eq + 1) : argv[++i], `--${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // -abc: switches, the last (or one followed by text) may take a value.
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]!);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${a[j]}' in ${a}`);
        if (spec.type === 'bool') {
          set(spec, undefined, `-${a[j]}`);
          continue;
        }
        set(spec, j + 1 < a.length ? a.slice(j + 1) : argv[++i], `-${a[j]}`);
        break;
      }
      continue;
    }
    args.push(a);
    if (stopAtPositional) {
      // `debug POD -- CMD`, `exec CTR -- CMD` as kubectl writes them: the `--` only separates.
      args.push(...argv.slice(argv[i + 1] === '--' ? i + 2 : i + 1));
      break;
    }
  }
  return { flags, args };
}

/** A flag's value as a non-negative integer, or `dflt` when absent. */
export function intFlag(flags: Flags, name: string, dflt: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name}: "${String(v)}" is not a whole number`);
  return Number(v);
}

export function strFlag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function listFlag(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : [];
}

/** `--format json|table`: which one, checked. */
export function formatFlag(flags: Flags): 'json' | 'table' {
  const f = strFlag(flags, 'format') ?? 'table';
  if (f !== 'json' && f !== 'table') throw new UsageError(`--format: "${f}" is not json or table`);
  return f;
}

/** Durations as docker takes them: 1h30m, 10s, 250ms; returns milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (!s || consumed !== s.length) throw new UsageError(`"${s}" is not a duration (like 30s, 5m, 1h30m)`);
  return total;
}
