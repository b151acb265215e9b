// Pinned namespaces through native/build/pinns, and their removal (unmount the pin, unlink it).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { failureText, run } from '../process/run.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { IdMapping } from './types.js';
import { umount } from '../sys/mount.js';
import { PROJECT_ROOT } from '../version/version.js';

export const PINNS_PATH = path.join(PROJECT_ROOT, 'native/build/pinns');
export const PAUSE_PATH = path.join(PROJECT_ROOT, 'native/build/pause');

export type NsKind = 'net' | 'ipc' | 'uts' | 'user';
export const NS_KINDS: NsKind[] = ['net', 'ipc', 'uts', 'user'];

export type { IdMapping };

export function pinPath(nsDir: string, kind: NsKind, id: string): string {
  return path.join(nsDir, kind, id);
}

export interface PinRequest {
  nsDir: string;
  id: string;
  kinds: NsKind[];
  hostname?: string;
  sysctls: Record<string, string>;
  /** With 'user' in kinds: the single uid and gid mapping of the new user namespace. */
  uidMapping?: IdMapping;
  gidMapping?: IdMapping;
}

const mapArg = (m: IdMapping): string => `${m.containerId}:${m.hostId}:${m.length}`;

/** Creates and pins the namespaces; on failure pinns has already removed what it made. */
export async function pinNamespaces(req: PinRequest): Promise<Partial<Record<NsKind, string>>> {
  const args = ['-d', req.nsDir, '-f', req.id];
  if (req.kinds.includes('user')) {
    if (!req.uidMapping || !req.gidMapping) throw new Error(`pin namespaces of sandbox ${req.id}: a user namespace needs uid and gid mappings`);
    args.push('-U', '-m', mapArg(req.uidMapping), '-g', mapArg(req.gidMapping));
  }
  if (req.kinds.includes('net')) args.push('-n');
  if (req.kinds.includes('ipc')) args.push('-i');
  if (req.kinds.includes('uts')) args.push('-u');
  if (req.hostname && req.kinds.includes('uts')) args.push('-h', req.hostname);
  for (const [k, v] of Object.entries(req.sysctls)) args.push('-s', `${k}=${v}`);
  const r = await run(PINNS_PATH, args, { timeoutMs: 30_000 });
  if (r.code !== 0 || r.timedOut) {
    const stderr = failureText(r);
    // A sysctl the new namespace does not have (some net.core keys exist only in the host's).
    if (/sysctl/.test(stderr)) throw new InvalidArgumentError(`pod sandbox ${req.id}: ${stderr}`);
    throw new Error(`pin namespaces of sandbox ${req.id}: ${stderr}`);
  }
  const out: Partial<Record<NsKind, string>> = {};
  for (const k of req.kinds) out[k] = pinPath(req.nsDir, k, req.id);
  return out;
}

/** Unmounts and deletes every pin of `id`; missing pins are fine (idempotent). */
export async function unpinNamespaces(nsDir: string, id: string): Promise<void> {
  await Promise.all(
    NS_KINDS.map(async (kind) => {
      const p = pinPath(nsDir, kind, id);
      umount(p);
      await rm(p, { force: true });
    }),
  );
}
