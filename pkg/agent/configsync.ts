// The cluster's part of berth's config: the ConfigMap `berth-config` (reloadable keys as TOML
// under `berth.toml`, and `registry-secrets`: names of docker-registry Secrets whose
// credentials become [registry.auths]) turned into one drop-in file beside the node's
// berth.toml, which keeps every key the operator set there. A change is checked the way berth
// reads its config, written, and berth is made to reload; a refusal puts the previous drop-in
// back, so the config in force and the one on disk stay the same.
import { readFile, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify, TomlError } from 'smol-toml';
import { ConfigError, dropInDir, isPlain, loadConfig, parseConfig, type RegistryAuthConfig } from '../config/config.js';
import { flattenConfig, RELOADABLE_KEYS } from '../config/reload.js';

export const CONFIGMAP_NAME = 'berth-config';
export const TOML_KEY = 'berth.toml';
export const SECRETS_KEY = 'registry-secrets';
export const DROP_IN_NAME = '50-berth-agent.toml';

/** What the ConfigMap may set: reloadable keys, except credentials, which come from Secrets only. */
export const CLUSTER_KEYS = RELOADABLE_KEYS.filter((k) => k !== 'registry.auths');

export interface SecretLike {
  type?: string;
  data?: Record<string, string>;
}

type Plain = Record<string, unknown>;

/** Secret names listed under registry-secrets: one per line or comma-separated, `#` comments. */
export function secretNames(text: string | undefined): string[] {
  return (text ?? '').split('\n').map((l) => l.replace(/#.*/, '')).join(',').split(/[,\s]+/).filter(Boolean);
}

/** Registry credentials from a kubernetes.io/dockerconfigjson (or legacy dockercfg) Secret. */
export function secretAuths(name: string, s: SecretLike): Record<string, RegistryAuthConfig> {
  const raw = s.data?.['.dockerconfigjson'] ?? s.data?.['.dockercfg'];
  if (!raw) throw new ConfigError(`Secret "${name}": not a docker-registry Secret (no .dockerconfigjson)`);
  let doc: Record<string, Plain>;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as Plain;
    doc = (s.data?.['.dockerconfigjson'] ? parsed.auths : parsed) as Record<string, Plain>;
  } catch (err) {
    throw new ConfigError(`Secret "${name}": .dockerconfigjson is not JSON: ${(err as Error).message}`);
  }
  const out: Record<string, RegistryAuthConfig> = {};
  for (const [host, a] of Object.entries(doc ?? {})) {
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    out[host] = a.auth && !a.username ? { username: '', password: '', auth: str(a.auth) } : { username: str(a.username), password: str(a.password), auth: '' };
  }
  return out;
}

/**
 * The drop-in's TOML for a ConfigMap's data and the Secrets it names; throws a ConfigError
 * naming the ConfigMap key, the config key or the Secret when something is refused.
 */
export function buildDropIn(data: Record<string, string> | undefined, secrets: (name: string) => SecretLike | undefined, source = `ConfigMap ${CONFIGMAP_NAME}`): string {
  const where = `${source} key ${TOML_KEY}`;
  let doc: Plain;
  try {
    doc = parse(data?.[TOML_KEY] ?? '') as Plain;
  } catch (err) {
    throw new ConfigError(`${where}: not valid TOML: ${err instanceof TomlError ? err.message.split('\n')[0] : String(err)}`);
  }
  for (const key of flattenConfig(doc).keys()) {
    if (key === 'registry.auths') throw new ConfigError(`${where}: registry credentials come from Secrets listed under ${SECRETS_KEY}, not from the ConfigMap`);
    if (!CLUSTER_KEYS.includes(key)) throw new ConfigError(`${where}: key "${key}" cannot be set from the cluster (reloadable keys: ${CLUSTER_KEYS.join(', ')}); set it in /etc/berth/berth.toml on the node`);
  }
  const auths: Record<string, RegistryAuthConfig> = {};
  for (const name of secretNames(data?.[SECRETS_KEY])) {
    const s = secrets(name);
    if (!s) throw new ConfigError(`${source} key ${SECRETS_KEY}: Secret "${name}" not found`);
    Object.assign(auths, secretAuths(name, s));
  }
  if (Object.keys(auths).length) doc.registry = { ...(isPlain(doc.registry) ? doc.registry : {}), auths };
  const text = Object.keys(doc).length ? stringify(doc) : '';
  parseConfig(text, where);
  return text;
}

export interface ApplyResult {
  /** Nothing to do: the drop-in already says this. */
  unchanged: boolean;
}

/** The drop-in on the host: written only when it changes, put back when berth refuses it. */
export class DropIn {
  readonly file: string;

  constructor(
    /** berth's config file as the agent sees it (under the host root). */
    private readonly configFile: string,
  ) {
    this.file = path.join(dropInDir(configFile), DROP_IN_NAME);
  }

  async current(): Promise<string | undefined> {
    return readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  /**
   * Writes `text` (an empty text removes the drop-in), checks the whole config as berth will
   * read it, then runs `reload`; on any failure the previous drop-in is restored and the error
   * rethrown.
   */
  async apply(text: string, reload: () => Promise<void>): Promise<ApplyResult> {
    const body = text ? `# Written by berth agent from the ConfigMap ${CONFIGMAP_NAME}; edits here are replaced.\n${text}` : undefined;
    const previous = await this.current();
    if (previous === body) return { unchanged: true };
    await this.write(body);
    try {
      await loadConfig(this.configFile, false);
      await reload();
    } catch (err) {
      await this.write(previous);
      throw err;
    }
    return { unchanged: false };
  }

  private async write(body: string | undefined): Promise<void> {
    if (body === undefined) {
      await rm(this.file, { force: true });
      return;
    }
    await mkdir(path.dirname(this.file), { recursive: true });
    // Registry credentials live here: readable by root only. A rename, so berth never reads half a file.
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, body, { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
