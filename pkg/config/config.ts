import { readFile } from 'node:fs/promises';
import { parse, stringify, TomlError } from 'smol-toml';
import { DEFAULT_CONFIG, ENUMS, MAP_KEYS, type BerthConfig, type RuntimeHandlerConfig } from './schema.js';

export { DEFAULT_CONFIG, type BerthConfig, type RuntimeHandlerConfig } from './schema.js';

export class ConfigError extends Error {}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  return typeof v === 'object' ? (v === null ? 'null' : 'table') : typeof v;
}

function checkValue(file: string, key: string, want: unknown, got: unknown): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(`${file}: key "${key}": expected ${what}, got ${typeName(got)}`);
  };
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) fail('an array of strings');
    for (const item of got as unknown[]) if (typeof item !== 'string') fail('an array of strings');
    return got;
  }
  if (typeof want === 'number') {
    if (typeof got !== 'number' || !Number.isFinite(got) || got < 0) fail('a non-negative number');
    return got;
  }
  if (typeof want === 'string') {
    if (typeof got !== 'string') fail('a string');
    const allowed = ENUMS[key];
    if (allowed && !allowed.includes(got as string)) {
      throw new ConfigError(`${file}: key "${key}": "${String(got)}" is not one of ${allowed.join(', ')}`);
    }
    return got;
  }
  if (typeof want === 'boolean') {
    if (typeof got !== 'boolean') fail('a boolean');
    return got;
  }
  return got;
}

function mergeMap(file: string, key: string, kind: 'string[]' | 'handler', base: Plain, got: unknown): Plain {
  if (!isPlain(got)) throw new ConfigError(`${file}: key "${key}": expected a table, got ${typeName(got)}`);
  const out: Plain = { ...base };
  for (const [name, value] of Object.entries(got)) {
    const sub = `${key}.${name}`;
    if (kind === 'string[]') {
      out[name] = checkValue(file, sub, [] as string[], value);
    } else {
      const def: RuntimeHandlerConfig = { path: '', root: '', ...(base[name] as RuntimeHandlerConfig | undefined) };
      out[name] = mergeTable(file, sub, def as unknown as Plain, value);
      if (!(out[name] as RuntimeHandlerConfig).path) {
        throw new ConfigError(`${file}: key "${sub}.path": a runtime handler needs the path of its OCI runtime`);
      }
    }
  }
  return out;
}

function mergeTable(file: string, prefix: string, base: Plain, got: unknown): Plain {
  if (!isPlain(got)) throw new ConfigError(`${file}: key "${prefix}": expected a table, got ${typeName(got)}`);
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(got)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!(k in base)) throw new ConfigError(`${file}: unknown key "${key}"`);
    const mapKind = MAP_KEYS[key];
    if (mapKind) out[k] = mergeMap(file, key, mapKind, base[k] as Plain, v);
    else if (isPlain(base[k])) out[k] = mergeTable(file, key, base[k] as Plain, v);
    else out[k] = checkValue(file, key, base[k], v);
  }
  return out;
}

/** Parses TOML text into a config over the defaults; `file` names the source in errors. */
export function parseConfig(text: string, file: string, base: BerthConfig = DEFAULT_CONFIG): BerthConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const detail = err instanceof TomlError ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file}: not valid TOML: ${detail}`);
  }
  return mergeTable(file, '', structuredClone(base) as unknown as Plain, doc) as unknown as BerthConfig;
}

/**
 * Reads the config file. A missing file at the default path means defaults; a missing file
 * that the operator named explicitly is an error.
 */
export async function loadConfig(file: string, explicit: boolean): Promise<BerthConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return structuredClone(DEFAULT_CONFIG);
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

export interface FlagOverrides {
  listen?: string;
  root?: string;
  state?: string;
  log_level?: string;
  metrics_listen?: string;
}

/** Flags win over the file; the file wins over defaults. */
export function applyFlags(cfg: BerthConfig, flags: FlagOverrides): BerthConfig {
  const out = structuredClone(cfg);
  for (const [k, v] of Object.entries(flags) as [keyof FlagOverrides, string | undefined][]) {
    if (v === undefined) continue;
    const allowed = ENUMS[k];
    if (allowed && !allowed.includes(v)) throw new ConfigError(`--${k.replace('_', '-')}: "${v}" is not one of ${allowed.join(', ')}`);
    (out as unknown as Plain)[k] = v;
  }
  return out;
}

export function toToml(cfg: BerthConfig): string {
  return stringify(cfg as unknown as Plain);
}

/** The config with its secrets (the dashboard token) replaced, for printing and verbose Status. */
export function redactConfig(cfg: BerthConfig): BerthConfig {
  if (!cfg.dashboard.token) return cfg;
  return { ...cfg, dashboard: { ...cfg.dashboard, token: '<redacted>' } };
}

/** host:port (IPv6 in brackets; an empty host means every address) of a TCP listen key. */
export function splitHostPort(listen: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`${key}: "${listen}" is not host:port`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** The unix socket path of a `unix://` listen address. */
export function socketPath(listen: string): string {
  if (listen.startsWith('unix://')) return listen.slice('unix://'.length);
  if (listen.startsWith('/')) return listen;
  throw new ConfigError(`listen address "${listen}": berth serves CRI on a unix socket (unix:///path)`);
}
