// Seccomp: turns a profile (berth's RuntimeDefault, or a Localhost file in the Docker/containerd
// profile format, or a plain OCI LinuxSeccomp) into the OCI spec's linux.seccomp for one container.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../version/version.js';
import { InvalidArgumentError, errorMessage, quote } from '../errors/errors.js';
import { HostPathError, readRegularFile } from '../sys/files.js';
import type { OciSeccomp, OciSyscall } from './oci.js';

interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
  includes?: { caps?: string[]; arches?: string[] };
  excludes?: { caps?: string[]; arches?: string[] };
}

export interface SeccompProfileFile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Record<string, string[]> | { architecture: string; subArchitectures?: string[] }[];
  syscalls?: ProfileRule[];
  flags?: string[];
}

export const DEFAULT_PROFILE_PATH = path.join(PROJECT_ROOT, 'pkg/container/seccomp-default.json');

let defaultProfile: Promise<SeccompProfileFile> | undefined;

/** berth's RuntimeDefault profile, read once. */
export function loadDefaultProfile(): Promise<SeccompProfileFile> {
  defaultProfile ??= readFile(DEFAULT_PROFILE_PATH, 'utf8').then((t) => JSON.parse(t) as SeccompProfileFile);
  return defaultProfile;
}

/** Node's arch name as the profile's archMap keys name it. */
function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** Evaluates includes/excludes against the container's capabilities and this machine's arch. */
export function compileProfile(p: SeccompProfileFile, caps: readonly string[], arch = goArch()): OciSeccomp {
  let architectures = p.architectures ?? [];
  if (p.archMap) {
    if (Array.isArray(p.archMap)) {
      const goToScmp: Record<string, string> = { amd64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };
      const m = p.archMap.find((a) => a.architecture === goToScmp[arch]);
      if (m) architectures = [m.architecture, ...(m.subArchitectures ?? [])];
    } else architectures = p.archMap[arch] ?? architectures;
  }
  const syscalls: OciSyscall[] = [];
  for (const r of p.syscalls ?? []) {
    if (r.includes?.caps && !r.includes.caps.every((c) => caps.includes(c))) continue;
    if (r.includes?.arches && !r.includes.arches.includes(arch)) continue;
    if (r.excludes?.caps && r.excludes.caps.some((c) => caps.includes(c))) continue;
    if (r.excludes?.arches && r.excludes.arches.includes(arch)) continue;
    const names = r.names ?? (r.name ? [r.name] : []);
    if (!names.length) continue;
    const s: OciSyscall = { names, action: r.action };
    if (r.errnoRet !== undefined) s.errnoRet = r.errnoRet;
    if (r.args?.length) s.args = r.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op }));
    syscalls.push(s);
  }
  const out: OciSeccomp = { defaultAction: p.defaultAction, architectures, syscalls };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  if (p.flags?.length) out.flags = p.flags;
  return out;
}

/** Largest Localhost profile read (the runtime default is ~20 KiB). */
export const MAX_PROFILE_BYTES = 1024 * 1024;

/**
 * Reads a Localhost profile; the path must be absolute and name a regular file of at most
 * MAX_PROFILE_BYTES (a FIFO or /dev/zero is refused without reading). A file that is not a
 * profile is refused without quoting it: the caller may not read what the daemon can.
 */
export async function loadLocalhostProfile(ref: string): Promise<SeccompProfileFile> {
  const file = ref.startsWith('localhost/') ? ref.slice('localhost/'.length) : ref;
  if (!path.isAbsolute(file)) throw new InvalidArgumentError(`seccomp profile ${quote(ref)}: a Localhost profile must be an absolute path`);
  let read;
  try {
    read = await readRegularFile(file, MAX_PROFILE_BYTES);
  } catch (err) {
    const why = err instanceof HostPathError ? err.reason : errorMessage(err);
    throw new InvalidArgumentError(`seccomp profile ${quote(file)}: ${why}`);
  }
  if (read.truncated) throw new InvalidArgumentError(`seccomp profile ${quote(file)} is larger than ${MAX_PROFILE_BYTES} bytes`);
  let p: SeccompProfileFile | undefined;
  try {
    p = JSON.parse(read.data.toString('utf8')) as SeccompProfileFile;
  } catch {
    p = undefined;
  }
  if (!p || typeof p !== 'object' || typeof p.defaultAction !== 'string') {
    throw new InvalidArgumentError(`seccomp profile ${quote(file)} is not a seccomp profile (JSON with a defaultAction)`);
  }
  return p;
}
