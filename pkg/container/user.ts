// User resolution inside the image: run_as_user / run_as_group / run_as_username or the image's
// USER ("name", "uid", "name:group", "uid:gid") through the rootfs's /etc/passwd and /etc/group.
import { InvalidArgumentError } from '../errors/errors.js';
import type { ContainerUser } from './types.js';

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) out.push({ name: f[0]!, uid, gid, home: f[5] ?? '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid)) out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

export interface UserRequest {
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  /** The image config's User. */
  imageUser: string;
  supplementalGroups: number[];
  /** Strict: the image's /etc/group memberships are not added. Default Merge. */
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

/**
 * Resolves the process user like containerd: a numeric uid needs no passwd entry (gid defaults to
 * the passwd entry's or 0); a name must exist; supplemental groups are the /etc/group memberships of
 * the user's name plus the CRI's list.
 */
export function resolveUser(req: UserRequest, passwdText: string, groupText: string): ContainerUser & { home: string } {
  // A group alone would pair with the image's user, which the pod author did not choose.
  if (req.runAsGroup !== undefined && req.runAsUser === undefined && !req.runAsUsername) {
    throw new InvalidArgumentError('run_as_group is set without run_as_user or run_as_username');
  }
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  let userPart: string;
  let groupPart: string | undefined;
  if (req.runAsUser !== undefined) userPart = String(req.runAsUser);
  else if (req.runAsUsername) userPart = req.runAsUsername;
  else {
    const [u, g] = (req.imageUser || '0').split(':', 2);
    userPart = u || '0';
    groupPart = g || undefined;
  }
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  let home = '/';
  if (isNum(userPart)) {
    uid = Number(userPart);
    const e = passwd.find((p) => p.uid === uid);
    if (e) ({ gid, name, home } = e);
  } else {
    const e = passwd.find((p) => p.name === userPart);
    if (!e) throw new InvalidArgumentError(`user "${userPart}" not found in the image's /etc/passwd`);
    ({ uid, gid, name, home } = e);
  }
  if (req.runAsGroup !== undefined) gid = req.runAsGroup;
  else if (groupPart !== undefined) {
    if (isNum(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw new InvalidArgumentError(`group "${groupPart}" not found in the image's /etc/group`);
      gid = g.gid;
    }
  }
  const extra: number[] = [];
  if (name && req.supplementalGroupsPolicy !== 'Strict') {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) extra.push(g.gid);
  }
  for (const g of req.supplementalGroups) extra.push(g);
  const additionalGids = [...new Set([gid, ...extra])];
  return { uid, gid, additionalGids, home };
}
