// Parsing and validating one CDI spec file (JSON or YAML) as the CDI library does: unknown
// fields are refused, every field has its type, names their syntax, and the declared cdiVersion
// must be at least the version that introduced each feature the file uses. Errors name the
// field by its path in the file ("devices[1].containerEdits.mounts[0].hostPath").
import { createRequire } from 'node:module';
import { checkDeviceName, parseKind } from './names.js';
import { HOOK_NAMES, type ContainerEdits, type Device, type DeviceNode, type Hook, type IntelRdt, type Mount, type NetDevice, type Spec } from './types.js';
import { checkVersion } from './version.js';

type Obj = Record<string, unknown>;

class Fields {
  constructor(private readonly o: Obj, readonly at: string) {}

  static of(v: unknown, at: string, keys: readonly string[]): Fields {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${at || 'spec'}: not an object`);
    for (const k of Object.keys(v)) if (!keys.includes(k)) throw new Error(`${at ? `${at}.` : ''}${k}: unknown field`);
    return new Fields(v as Obj, at);
  }

  path(k: string): string {
    return this.at ? `${this.at}.${k}` : k;
  }

  has(k: string): boolean {
    return this.o[k] !== undefined && this.o[k] !== null;
  }

  raw(k: string): unknown {
    return this.o[k];
  }

  str(k: string, required = false): string | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) {
      if (required) throw new Error(`${this.path(k)}: required`);
      return undefined;
    }
    if (typeof v !== 'string') throw new Error(`${this.path(k)}: not a string`);
    if (required && !v) throw new Error(`${this.path(k)}: empty`);
    return v;
  }

  int(k: string, min: number, max: number): number | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`${this.path(k)}: not an integer in [${min}, ${max}]`);
    return v;
  }

  bool(k: string): boolean | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new Error(`${this.path(k)}: not a boolean`);
    return v;
  }

  list<T>(k: string, item: (v: unknown, at: string) => T): T[] | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw new Error(`${this.path(k)}: not a list`);
    return v.map((x, i) => item(x, `${this.path(k)}[${i}]`));
  }

  strings(k: string): string[] | undefined {
    return this.list(k, (x, at) => {
      if (typeof x !== 'string') throw new Error(`${at}: not a string`);
      return x;
    });
  }

  map(k: string): Record<string, string> | undefined {
    const v = this.o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${this.path(k)}: not a map`);
    for (const [kk, vv] of Object.entries(v)) if (typeof vv !== 'string') throw new Error(`${this.path(k)}.${kk}: not a string`);
    return v as Record<string, string>;
  }
}

const U32 = 0xffffffff;
const I64 = Number.MAX_SAFE_INTEGER;

/** Drops undefined members, so a parsed spec compares and prints as its file. */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function checkEnv(env: string[] | undefined, at: string): void {
  (env ?? []).forEach((e, i) => {
    if (e.indexOf('=') <= 0) throw new Error(`${at}[${i}]: "${e}" is not NAME=value`);
  });
}

function deviceNode(v: unknown, at: string): DeviceNode {
  const f = Fields.of(v, at, ['path', 'hostPath', 'type', 'major', 'minor', 'fileMode', 'permissions', 'uid', 'gid']);
  const type = f.str('type');
  if (type && !['b', 'c', 'u', 'p'].includes(type)) throw new Error(`${f.path('type')}: "${type}" is not b, c, u or p`);
  const perms = f.str('permissions');
  if (perms && perms !== 'none' && !/^[rwm]+$/.test(perms)) throw new Error(`${f.path('permissions')}: "${perms}" is not made of r, w, m (or "none")`);
  return defined({
    path: f.str('path', true)!, hostPath: f.str('hostPath') || undefined, type: (type || undefined) as DeviceNode['type'],
    major: f.int('major', 0, I64), minor: f.int('minor', 0, I64), fileMode: f.int('fileMode', 0, U32),
    permissions: perms || undefined, uid: f.int('uid', 0, U32), gid: f.int('gid', 0, U32),
  });
}

function mount(v: unknown, at: string): Mount {
  const f = Fields.of(v, at, ['hostPath', 'containerPath', 'options', 'type']);
  return defined({ hostPath: f.str('hostPath', true)!, containerPath: f.str('containerPath', true)!, options: f.strings('options'), type: f.str('type') || undefined });
}

function hook(v: unknown, at: string): Hook {
  const f = Fields.of(v, at, ['hookName', 'path', 'args', 'env', 'timeout']);
  const name = f.str('hookName', true)!;
  if (!(HOOK_NAMES as readonly string[]).includes(name)) throw new Error(`${f.path('hookName')}: "${name}" is not one of ${HOOK_NAMES.join(', ')}`);
  const env = f.strings('env');
  checkEnv(env, f.path('env'));
  return defined({ hookName: name as Hook['hookName'], path: f.str('path', true)!, args: f.strings('args'), env, timeout: f.int('timeout', 1, 2 ** 31 - 1) });
}

function intelRdt(v: unknown, at: string): IntelRdt {
  const f = Fields.of(v, at, ['closID', 'l3CacheSchema', 'memBwSchema', 'schemata', 'enableMonitoring', 'enableCMT', 'enableMBM']);
  const clos = f.str('closID');
  if (clos !== undefined && clos !== '/' && (clos.length >= 4096 || clos === '.' || clos === '..' || /[/\n]/.test(clos))) {
    throw new Error(`${f.path('closID')}: "${clos}" is not a valid CLOS name`);
  }
  return defined({
    closID: clos, l3CacheSchema: f.str('l3CacheSchema'), memBwSchema: f.str('memBwSchema'), schemata: f.strings('schemata'),
    enableMonitoring: f.bool('enableMonitoring'), enableCMT: f.bool('enableCMT'), enableMBM: f.bool('enableMBM'),
  });
}

function netDevices(list: NetDevice[] | undefined, at: string): void {
  const hosts = new Set<string>();
  const names = new Set<string>();
  for (const d of list ?? []) {
    if (hosts.has(d.hostInterfaceName)) throw new Error(`${at}: host interface "${d.hostInterfaceName}" is listed twice`);
    if (names.has(d.name)) throw new Error(`${at}: interface name "${d.name}" is listed twice`);
    hosts.add(d.hostInterfaceName);
    names.add(d.name);
  }
}

function edits(v: unknown, at: string): ContainerEdits {
  const f = Fields.of(v, at, ['env', 'deviceNodes', 'mounts', 'hooks', 'intelRdt', 'additionalGids', 'netDevices']);
  const env = f.strings('env');
  checkEnv(env, f.path('env'));
  const nets = f.list('netDevices', (x, a) => {
    const n = Fields.of(x, a, ['hostInterfaceName', 'name']);
    return { hostInterfaceName: n.str('hostInterfaceName', true)!, name: n.str('name', true)! };
  });
  netDevices(nets, f.path('netDevices'));
  return defined({
    env, deviceNodes: f.list('deviceNodes', deviceNode), mounts: f.list('mounts', mount), hooks: f.list('hooks', hook),
    intelRdt: f.has('intelRdt') ? intelRdt(f.raw('intelRdt'), f.path('intelRdt')) : undefined,
    additionalGids: f.list('additionalGids', (x, a) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > U32) throw new Error(`${a}: not a uint32`);
      return x;
    }),
    netDevices: nets,
  });
}

export const editsEmpty = (e: ContainerEdits): boolean =>
  !e.env?.length && !e.deviceNodes?.length && !e.mounts?.length && !e.hooks?.length && !e.intelRdt && !e.additionalGids?.length && !e.netDevices?.length;

function device(v: unknown, at: string): Device {
  const f = Fields.of(v, at, ['name', 'annotations', 'containerEdits']);
  const name = f.str('name', true)!;
  try {
    checkDeviceName(name);
  } catch (err) {
    throw new Error(`${f.path('name')}: ${(err as Error).message}`);
  }
  if (!f.has('containerEdits')) throw new Error(`${f.path('containerEdits')}: required`);
  const e = edits(f.raw('containerEdits'), f.path('containerEdits'));
  if (editsEmpty(e)) throw new Error(`${f.path('containerEdits')}: device "${name}" edits nothing`);
  return defined({ name, annotations: f.map('annotations'), containerEdits: e });
}

// The yaml package is a large module most daemons never use (no CDI specs, or JSON ones): it
// loads on the first YAML spec, synchronously, from node_modules.
const requireFromHere = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;
type YamlOptions = import('yaml').ParseOptions & import('yaml').DocumentOptions & import('yaml').SchemaOptions;
const parseYaml = (text: string, options: YamlOptions): unknown => (yaml ??= requireFromHere('yaml') as typeof import('yaml')).parse(text, options);

/** Parses and validates a spec's text; `format` from the file's extension. Throws naming the field. */
export function parseSpec(text: string, format: 'json' | 'yaml'): Spec {
  let doc: unknown;
  try {
    // YAML 1.1, as the CDI library (sigs.k8s.io/yaml) reads it: `fileMode: 0666` is octal.
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text, { version: '1.1', uniqueKeys: true });
  } catch (err) {
    throw new Error(`not valid ${format.toUpperCase()}: ${(err as Error).message.split('\n')[0]}`);
  }
  const f = Fields.of(doc, '', ['cdiVersion', 'kind', 'annotations', 'devices', 'containerEdits']);
  const kind = f.str('kind', true)!;
  try {
    parseKind(kind);
  } catch (err) {
    throw new Error(`kind: ${(err as Error).message}`);
  }
  const spec: Spec = defined({
    cdiVersion: f.str('cdiVersion', true)!, kind, annotations: f.map('annotations'),
    devices: f.list('devices', device) ?? [],
    containerEdits: f.has('containerEdits') ? edits(f.raw('containerEdits'), 'containerEdits') : undefined,
  });
  if (!spec.devices.length) throw new Error('devices: a spec needs at least one device');
  const seen = new Set<string>();
  for (const d of spec.devices) {
    if (seen.has(d.name)) throw new Error(`devices: "${d.name}" is defined twice`);
    seen.add(d.name);
  }
  checkVersion(spec);
  return spec;
}
