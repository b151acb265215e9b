// The host's processes as /proc shows them, for reconciliation at start: which helpers a
// daemon that died (kill -9) left running, which conmons watch containers no record knows.
import { readFile, readdir } from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  argv: string[];
}

/** The pids /proc lists. */
async function processIds(): Promise<number[]> {
  return (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Every process (except zombies and the ones that vanish while we read). */
export async function listProcesses(): Promise<ProcInfo[]> {
  const pids = await processIds();
  const out = await Promise.all(pids.map(async (pid): Promise<ProcInfo | undefined> => {
    const [stat, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
    ]);
    // "pid (comm) S ppid …": comm may hold spaces and parentheses; the state follows the last ')'.
    const m = /\) (\S) (\d+) /.exec(stat.slice(stat.lastIndexOf(') ')));
    if (!m || m[1] === 'Z' || m[1] === 'X') return undefined;
    const argv = cmdline.split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return { pid, ppid: Number(m[2]), argv };
  }));
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
  const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
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
  await Promise.all((await processIds()).map(async (pid) => {
    if (pid === process.pid) return;
    if ((await environValue(pid, OWNER_ENV)) !== stateDir) return;
    if (killQuietly(pid)) killed.push(pid);
  }));
  return killed;
}
