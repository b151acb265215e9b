// The host's processes as /proc shows them, for reconciliation at start: which helpers a
// daemon that died (kill -9) left running, which conmons watch containers no record knows.
// The reads are synchronous on purpose: /proc files are made by the kernel in memory and never
// wait on a disk, these run before berth serves, and each asynchronous readFile was four trips
// through libuv's thread pool: reading 90 processes took 30-45 ms that way, 6-8 ms this way.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

/** The pids /proc lists. */
function processIds(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** A /proc file's text, '' when the process is gone or hides it. */
function procText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Every process (except zombies and the ones that vanish while we read). */
export async function listProcesses(): Promise<ProcInfo[]> {
  const out = processIds().map((pid): ProcInfo | undefined => {
    const stat = procText(`/proc/${pid}/stat`);
    const cmdline = procText(`/proc/${pid}/cmdline`);
    // "pid (comm) S ppid …": comm may hold spaces and parentheses; the state follows the last ')'.
    const m = /\) (\S) (\d+) /.exec(stat.slice(stat.lastIndexOf(') ')));
    if (!m || m[1] === 'Z' || m[1] === 'X') return undefined;
    const argv = cmdline.split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return { pid, ppid: Number(m[2]), argv };
  });
  return out.filter((p): p is ProcInfo => p !== undefined);
}

/** `pid` and everything below it, children first (so a killer reaches the leaves before their parents notice). */
export function subtree(all: ProcInfo[], pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const p of all) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) walk(k);
    out.push(p);
  };
  walk(pid);
  return out;
}

/** The value of `name` in the process's environment, if it has it (and we may read it). */
export async function environValue(pid: number, name: string): Promise<string | undefined> {
  const env = procText(`/proc/${pid}/environ`);
  const prefix = `${name}=`;
  for (const kv of env.split('\0')) if (kv.startsWith(prefix)) return kv.slice(prefix.length);
  return undefined;
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Environment variable that tags every helper process berth starts with its state directory. */
export const OWNER_ENV = 'BERTH_STATE_DIR';

/**
 * Kills the helpers (runtime calls, CNI plugins, pinns, execwait…) that an earlier daemon on
 * the same state directory started and did not see finish. They must not go on (a CNI ADD or a
 * `runc run` completing after reconciliation would leave what nothing knows). conmon is not
 * tagged: it outlives the daemon on purpose.
 */
export async function killOrphanHelpers(stateDir: string): Promise<number[]> {
  const killed: number[] = [];
  // Only the environment tells: a pid list is enough (stat and cmdline would triple the reads).
  for (const pid of processIds()) {
    if (pid === process.pid) continue;
    if ((await environValue(pid, OWNER_ENV)) !== stateDir) continue;
    if (killQuietly(pid)) killed.push(pid);
  }
  return killed;
}
