// The CDI devices this host offers: every spec file (*.json, *.yaml) in the configured spec
// directories, read into a cache of qualified device names. The directories are watched
// (inotify through fs.watch); any change marks the cache stale and the next request re-reads
// them, so a spec a driver writes is usable at once, and nothing is re-read per request (only a
// request naming an unknown device re-reads them, in case its spec's event is still on its way).
// A device defined in two directories is the later directory's; defined twice in one directory
// it is a conflict and unusable until one goes away (the CDI library's priority rules).
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { deviceFromHost } from '../container/host.js';
import { errorMessage, InvalidArgumentError } from '../errors/errors.js';
import type { Logger } from '../log/log.js';
import { gatherEdits, type ResolvedDeviceNode, type ResolvedEdits } from './edits.js';
import { parseQualifiedName, qualifiedName } from './names.js';
import { parseSpec } from './parse.js';
import type { ContainerEdits, DeviceNode, Spec } from './types.js';

interface LoadedSpec {
  spec: Spec;
  file: string;
  priority: number;
}

interface Entry {
  loaded: LoadedSpec;
  edits: ContainerEdits;
}

export interface CdiSnapshot {
  specDirs: string[];
  devices: string[];
  /** Spec file → why it is not used; conflicting device → the files defining it. */
  errors: Record<string, string>;
}

export interface CdiRegistryOptions {
  /** Lowest priority first. */
  specDirs: string[];
  log?: Logger;
}

/** Emits 'change' when a spec directory changed (the next request re-reads them). */
export class CdiRegistry extends EventEmitter {
  private devices = new Map<string, Entry>();
  private errors = new Map<string, string>();
  private stale = true;
  private loading: Promise<void> | undefined;
  private watchers: FSWatcher[] = [];
  private closed = false;

  constructor(private readonly o: CdiRegistryOptions) {
    super();
  }

  /** Re-reads the spec directories now (the watch makes this unnecessary in normal use). */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async current(): Promise<void> {
    while (this.stale || this.loading) await this.refresh();
  }

  private async load(): Promise<void> {
    // Cleared first: a change seen while reading marks the cache stale again.
    this.stale = false;
    this.rewatch();
    const devices = new Map<string, Entry>();
    const errors = new Map<string, string>();
    const defined = new Map<string, { priority: number; files: string[] }>();
    for (const [priority, dir] of this.o.specDirs.entries()) {
      const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const files = names.filter((e) => !e.isDirectory() && /\.(json|yaml)$/.test(e.name)).map((e) => path.join(dir, e.name)).sort();
      const loaded = await Promise.all(files.map(async (file) => {
        try {
          return { spec: parseSpec(await readFile(file, 'utf8'), file.endsWith('.json') ? 'json' : 'yaml'), file, priority };
        } catch (err) {
          errors.set(file, errorMessage(err));
          return undefined;
        }
      }));
      for (const l of loaded) {
        if (!l) continue;
        for (const d of l.spec.devices) {
          const q = qualifiedName(l.spec.kind, d.name);
          const prev = defined.get(q);
          if (!prev || priority > prev.priority) {
            defined.set(q, { priority, files: [l.file] });
            devices.set(q, { loaded: l, edits: d.containerEdits });
          } else {
            prev.files.push(l.file);
          }
        }
      }
    }
    for (const [q, d] of defined) {
      if (d.files.length < 2) continue;
      devices.delete(q);
      errors.set(q, `defined by more than one spec of the same priority: ${d.files.join(', ')}`);
    }
    this.devices = devices;
    this.errors = errors;
    if (errors.size) this.o.log?.warn({ errors: Object.fromEntries(errors) }, 'CDI: some specs or devices are not usable');
    this.o.log?.debug({ devices: devices.size }, 'CDI specs loaded');
  }

  /** Watches each spec directory, or its parent while it does not exist, to learn of changes. */
  private rewatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.closed) return;
    const mark = () => {
      this.stale = true;
      this.emit('change');
    };
    for (const dir of this.o.specDirs) {
      for (const target of [dir, path.dirname(dir)]) {
        try {
          const w = watch(target, { persistent: false }, mark);
          w.on('error', mark);
          this.watchers.push(w);
          break;
        } catch {
          // Missing: watch the parent for the directory to appear.
        }
      }
    }
  }

  /**
   * The edits for these devices, device nodes completed from the host. Names are deduplicated;
   * an invalid name, an unknown device or an unusable host device node is INVALID_ARGUMENT
   * naming it (and any spec file that could not be read).
   */
  async resolve(requested: string[]): Promise<ResolvedEdits | undefined> {
    const names = [...new Set(requested)];
    if (!names.length) return undefined;
    for (const n of names) {
      try {
        parseQualifiedName(n);
      } catch (err) {
        throw new InvalidArgumentError(`CDI device ${errorMessage(err)}`);
      }
    }
    await this.current();
    // A spec written just before this request may not have had its watch event seen yet: an
    // unknown name is looked for once more in freshly read directories before it is refused.
    if (names.some((n) => !this.devices.has(n))) await this.refresh();
    const missing = names.filter((n) => !this.devices.has(n));
    if (missing.length) throw new InvalidArgumentError(this.unknownMessage(missing));
    const entries = names.map((n) => this.devices.get(n)!);
    // Each spec's own edits completed once, so gatherEdits applies them once.
    const specEdits = new Map<Spec, Promise<ResolvedEdits | undefined>>();
    const ofSpec = ({ spec, file }: LoadedSpec) => {
      if (!specEdits.has(spec)) specEdits.set(spec, spec.containerEdits ? fillEdits(spec.containerEdits, `CDI spec ${file}`) : Promise.resolve(undefined));
      return specEdits.get(spec)!;
    };
    const filled = await Promise.all(entries.map(async (e, i) => ({
      specEdits: await ofSpec(e.loaded), edits: await fillEdits(e.edits, `CDI device "${names[i]}"`),
    })));
    return gatherEdits(filled);
  }

  private unknownMessage(missing: string[]): string {
    const why = missing.map((n) => (this.errors.has(n) ? `"${n}" (${this.errors.get(n)})` : `"${n}"`));
    let msg = `unknown CDI device${missing.length > 1 ? 's' : ''} ${why.join(', ')}: not in any spec in ${this.o.specDirs.join(', ')}`;
    const broken = [...this.errors].filter(([k]) => k.includes('/') && !k.includes('='));
    if (broken.length) msg += `; spec files not used: ${broken.map(([f, e]) => `${f}: ${e}`).join('; ')}`;
    return msg;
  }

  /** What the spec directories offer now (Status verbose). */
  async snapshot(): Promise<CdiSnapshot> {
    await this.current();
    return { specDirs: [...this.o.specDirs], devices: [...this.devices.keys()].sort(), errors: Object.fromEntries(this.errors) };
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

/**
 * Completes device nodes from the host as the CDI library does: the host path defaults to the
 * container path; type, major and minor come from the host node unless the spec gives a type and
 * a major (or a fifo); a file mode is taken from the host when present there.
 */
async function fillEdits(e: ContainerEdits, owner: string): Promise<ResolvedEdits> {
  return { ...e, deviceNodes: await Promise.all((e.deviceNodes ?? []).map((n) => fillNode(n, owner))) };
}

async function fillNode(n: DeviceNode, owner: string): Promise<ResolvedDeviceNode> {
  const hostPath = n.hostPath || n.path;
  const minimal = !!n.type && (!!n.major || n.type === 'p');
  const host = await deviceFromHost(hostPath, n.path).then(
    (d) => d ?? new Error('not a device node'),
    (err: unknown) => new Error(errorMessage(err)),
  );
  if (host instanceof Error) {
    if (!minimal) throw new InvalidArgumentError(`${owner}: host device node "${hostPath}": ${host.message}`);
    return { ...n, hostPath, type: n.type!, major: n.major ?? 0, minor: n.minor ?? 0 };
  }
  const out: ResolvedDeviceNode = { ...n, hostPath, type: n.type ?? host.type, major: n.major ?? 0, minor: n.minor ?? 0 };
  out.fileMode ??= host.fileMode;
  if (minimal) return out;
  if (out.type !== host.type) throw new InvalidArgumentError(`${owner}: device node "${n.path}" is type ${out.type} in the spec, ${host.type} on the host (${hostPath})`);
  if (out.type !== 'p' && !out.major) {
    out.major = host.major;
    out.minor = host.minor;
  }
  return out;
}
