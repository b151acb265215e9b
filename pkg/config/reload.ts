// Hot reload of the config file (SIGHUP, `berth config reload`): which keys may change while
// berth runs, what a new file changes, and the update of the running config in place, so that
// code reading `config.registry.mirrors` at use time sees the new value. Everything else stays
// as berth started with it until a restart.
import { applyFlags, ConfigError, isPlain, loadConfig, type FlagOverrides } from './config.js';
import { MAP_KEYS, type BerthConfig } from './schema.js';

/** Keys a running daemon takes from a reloaded file (tables whose keys are free count as one key). */
export const RELOADABLE_KEYS: readonly string[] = [
  'log_level',
  'shutdown_grace_seconds',
  'image.max_concurrent_downloads',
  'registry.insecure',
  'registry.mirrors',
  'registry.auths',
  'cni.conf_dir',
  'cni.bin_dirs',
  'cni.conf_template',
];

type Plain = Record<string, unknown>;

/** Dotted key → value for every leaf of a config or a parsed TOML document (map tables such as registry.mirrors are leaves). */
export function flattenConfig(cfg: BerthConfig | Plain): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (prefix: string, obj: Plain) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (isPlain(v) && !MAP_KEYS[key]) walk(key, v);
      else out.set(key, v);
    }
  };
  walk('', cfg as Plain);
  return out;
}

export interface ConfigDiff {
  /** Reloadable keys whose value changed. */
  changed: string[];
  /** Keys that changed but take effect only when berth restarts. */
  restartRequired: string[];
}

export function diffConfig(running: BerthConfig, next: BerthConfig): ConfigDiff {
  const a = flattenConfig(running);
  const b = flattenConfig(next);
  const diff: ConfigDiff = { changed: [], restartRequired: [] };
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (JSON.stringify(a.get(key)) === JSON.stringify(b.get(key))) continue;
    (RELOADABLE_KEYS.includes(key) ? diff.changed : diff.restartRequired).push(key);
  }
  return diff;
}

/** Writes the values of `keys` from `next` into `running`, leaf by leaf (the tables stay the same objects). */
export function applyKeys(running: BerthConfig, next: BerthConfig, keys: string[]): void {
  for (const key of keys) {
    const parts = key.split('.');
    const last = parts.pop()!;
    let dst = running as unknown as Plain;
    let src = next as unknown as Plain;
    for (const p of parts) {
      dst = dst[p] as Plain;
      src = src[p] as Plain;
    }
    dst[last] = structuredClone(src[last]);
  }
}

export interface ReloadSource {
  /** The config file berth started from, and whether the operator named it. */
  file: string;
  explicit: boolean;
  /** Command-line flags, which keep winning over the file. */
  flags: FlagOverrides;
}

export type ReloadOutcome = ConfigDiff;

/**
 * Re-reads the file and its drop-ins, applies the reloadable changes to `running` and tells the
 * listeners which keys changed. A file that does not parse or validate changes nothing and
 * rejects with its ConfigError. Reloads run one at a time.
 */
export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((changed: string[]) => void | Promise<void>)[] = [];

  constructor(
    private readonly source: ReloadSource,
    readonly running: BerthConfig,
    /** Puts a freshly read file in the running config's form (values berth resolved at start). */
    private readonly effective: (next: BerthConfig) => BerthConfig = (next) => next,
  ) {}

  /** `fn` runs after each reload that changed something, with the keys that changed. */
  onChange(fn: (changed: string[]) => void | Promise<void>): void {
    this.listeners.push(fn);
  }

  reload(): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    const { file, explicit, flags } = this.source;
    const next = this.effective(applyFlags(await loadConfig(file, explicit), flags));
    const diff = diffConfig(this.running, next);
    applyKeys(this.running, next, diff.changed);
    if (diff.changed.length) {
      // A listener that fails (a conf dir it cannot watch) must not hide the others' work.
      const failures: string[] = [];
      for (const fn of this.listeners) await Promise.resolve(fn(diff.changed)).catch((err: Error) => failures.push(err.message));
      if (failures.length) throw new ConfigError(`config applied, but: ${failures.join('; ')}`);
    }
    return diff;
  }
}
