// Installs berth on the host from a package built by scripts/package.mjs, under a host root
// (the DaemonSet mounts the node's / at /host): the package tree at /opt/berth, the systemd
// unit, and /etc/berth/berth.toml and a CNI network only when the node has none. A manifest
// records what was written, with hashes, so that a second run changes nothing, an upgrade
// replaces only berth's own files, and uninstall removes exactly what was installed (a file
// changed by someone since is kept, and said so).
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const BERTH_DIR = '/opt/berth';
export const UNIT_FILE = '/etc/systemd/system/berth.service';
export const CONFIG_FILE = '/etc/berth/berth.toml';
export const CNI_CONF_DIR = '/etc/cni/net.d';
export const CNI_FILE = `${CNI_CONF_DIR}/10-berth-bridge.conflist`;
export const MANIFEST_FILE = '/var/lib/berth-agent/manifest.json';
export const UNIT_NAME = 'berth.service';

/** What scripts/package.mjs writes at the package's top as berth-package.json. */
export interface PackageInfo {
  name: string;
  version: string;
  treeHash: string;
  files: Record<string, string>;
}

export interface Manifest {
  version: string;
  treeHash: string;
  /** Host paths (outside the package tree) the agent wrote, with the sha256 it wrote. */
  files: Record<string, string>;
}

export interface InstallResult {
  version: string;
  /** The package tree was copied (first install or another version). */
  treeChanged: boolean;
  unitChanged: boolean;
  /** Host paths written this time. */
  wrote: string[];
}

export interface UninstallResult {
  removed: string[];
  /** Files the agent wrote that someone changed since: left in place. */
  kept: string[];
}

export class InstallError extends Error {}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function readPackageInfo(dir: string): Promise<PackageInfo> {
  const text = await readText(path.join(dir, 'berth-package.json'));
  if (!text) throw new InstallError(`${dir} is not a berth package (no berth-package.json; build one with scripts/package.mjs)`);
  return JSON.parse(text) as PackageInfo;
}

/** The unit file as installed: deploy/berth.service with the package's host path filled in. */
export function renderUnit(template: string): string {
  return template.replaceAll('@BERTH_DIR@', BERTH_DIR);
}

export class Installer {
  constructor(
    private readonly source: string,
    private readonly hostRoot: string,
  ) {}

  private host(p: string): string {
    return path.join(this.hostRoot, p);
  }

  async manifest(): Promise<Manifest | undefined> {
    const text = await readText(this.host(MANIFEST_FILE));
    return text ? (JSON.parse(text) as Manifest) : undefined;
  }

  async install(): Promise<InstallResult> {
    const pkg = await readPackageInfo(this.source);
    const old = await this.manifest();
    const files: Record<string, string> = { ...(old?.files ?? {}) };
    const wrote: string[] = [];
    const treeChanged = await this.installTree(pkg, old);
    if (treeChanged) wrote.push(BERTH_DIR);

    const unit = renderUnit(await readFile(path.join(this.source, 'deploy/berth.service'), 'utf8'));
    const unitChanged = await this.writeOwned(UNIT_FILE, unit, files, 'replace');
    if (unitChanged) wrote.push(UNIT_FILE);
    if (await this.writeOwned(CONFIG_FILE, await readFile(path.join(this.source, 'deploy/berth.toml'), 'utf8'), files, 'if-absent')) wrote.push(CONFIG_FILE);
    if (!(await this.hasCniConfig()) || files[CNI_FILE]) {
      if (await this.writeOwned(CNI_FILE, await readFile(path.join(this.source, 'deploy/10-berth-bridge.conflist'), 'utf8'), files, 'if-absent')) wrote.push(CNI_FILE);
    }
    await mkdir(path.dirname(this.host(MANIFEST_FILE)), { recursive: true });
    const manifest: Manifest = { version: pkg.version, treeHash: pkg.treeHash, files };
    await writeFile(this.host(MANIFEST_FILE), JSON.stringify(manifest, null, 1));
    return { version: pkg.version, treeChanged, unitChanged, wrote };
  }

  /** Copies the package to /opt/berth unless the same tree is there; swaps directories so a half copy is never live. */
  private async installTree(pkg: PackageInfo, old: Manifest | undefined): Promise<boolean> {
    const dest = this.host(BERTH_DIR);
    const there = await readText(path.join(dest, 'berth-package.json'));
    if (there !== undefined && !old) throw new InstallError(`${dest} exists and was not installed by berth agent; remove it first`);
    if (there !== undefined && old?.treeHash === pkg.treeHash && (JSON.parse(there) as PackageInfo).treeHash === pkg.treeHash) return false;
    const next = `${dest}.new`;
    const prev = `${dest}.old`;
    await rm(next, { recursive: true, force: true });
    await mkdir(path.dirname(dest), { recursive: true });
    await cp(this.source, next, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await rm(prev, { recursive: true, force: true });
    if (there !== undefined) await rename(dest, prev);
    await rename(next, dest);
    await rm(prev, { recursive: true, force: true });
    return true;
  }

  /**
   * Writes a host file the agent owns. `if-absent`: only when no file is there (or it is still
   * the one the agent wrote). `replace`: also over an older version the agent wrote; a file
   * someone else wrote is refused. Returns whether the file changed.
   */
  private async writeOwned(file: string, content: string, files: Record<string, string>, mode: 'if-absent' | 'replace'): Promise<boolean> {
    const current = await readText(this.host(file));
    const want = sha256(content);
    if (current !== undefined) {
      const ours = files[file] === sha256(current);
      if (sha256(current) === want) {
        if (mode === 'replace') files[file] = want;
        return false;
      }
      if (!ours) {
        if (mode === 'if-absent') return false;
        throw new InstallError(`${this.host(file)} exists and was not written by berth agent; remove it first`);
      }
      if (mode === 'if-absent') return false;
    }
    await mkdir(path.dirname(this.host(file)), { recursive: true });
    await writeFile(this.host(file), content);
    files[file] = want;
    return true;
  }

  private async hasCniConfig(): Promise<boolean> {
    const names = await readdir(this.host(CNI_CONF_DIR)).catch(() => [] as string[]);
    return names.some((n) => /\.(conf|conflist|json)$/.test(n));
  }

  /** Removes what the manifest lists (unchanged files only) and the package tree. */
  async uninstall(extraFiles: string[] = []): Promise<UninstallResult> {
    const m = await this.manifest();
    const result: UninstallResult = { removed: [], kept: [] };
    if (!m) return result;
    for (const [file, hash] of Object.entries(m.files)) {
      const current = await readText(this.host(file));
      if (current === undefined) continue;
      if (sha256(current) !== hash) {
        result.kept.push(file);
        continue;
      }
      await rm(this.host(file));
      result.removed.push(file);
    }
    for (const file of extraFiles) {
      if ((await readText(this.host(file))) === undefined) continue;
      await rm(this.host(file));
      result.removed.push(file);
    }
    await rm(this.host(BERTH_DIR), { recursive: true, force: true });
    result.removed.push(BERTH_DIR);
    await rm(path.dirname(this.host(MANIFEST_FILE)), { recursive: true, force: true });
    return result;
  }
}
