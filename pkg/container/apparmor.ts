// AppArmor on hosts that have it: the profiles the kernel has loaded (read when a container
// needs one, since operators and critest load profiles while berth runs), and berth's default
// profile (deploy/apparmor/berth-default), loaded by berth at start when it is missing.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../version/version.js';

const run = promisify(execFile);

export const APPARMOR_DEFAULT = 'berth-default';
export const DEFAULT_PROFILE_FILE = path.join(PROJECT_ROOT, 'deploy/apparmor/berth-default');

export async function apparmorEnabled(file = '/sys/module/apparmor/parameters/enabled'): Promise<boolean> {
  return (await readFile(file, 'utf8').catch(() => 'N')).trim() === 'Y';
}

/** "name (mode)" per line of the kernel's list → names. */
export function parseProfiles(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/ \([\w-]+\)$/, '')).filter(Boolean);
}

export async function loadedProfiles(file = '/sys/kernel/security/apparmor/profiles'): Promise<string[]> {
  return parseProfiles(await readFile(file, 'utf8').catch(() => ''));
}

/**
 * Loads berth-default unless the kernel has it already. Returns why it could not, or undefined
 * when it is loaded; containers asking for the default then run unconfined (and the caller says so).
 */
export async function ensureDefaultProfile(parser = 'apparmor_parser', file = DEFAULT_PROFILE_FILE): Promise<string | undefined> {
  if ((await loadedProfiles()).includes(APPARMOR_DEFAULT)) return undefined;
  try {
    // -K: no cache (the file is berth's own, parsed once per boot); -r: replace if loaded.
    await run(parser, ['-Kr', file], { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return `${parser} -Kr ${file}: ${(e.stderr || e.message).trim()}`;
  }
  return (await loadedProfiles()).includes(APPARMOR_DEFAULT) ? undefined : `${parser} loaded ${file} but the kernel does not list ${APPARMOR_DEFAULT}`;
}
