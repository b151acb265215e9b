// Sending a container its stop signal so that it is heard. The init of a PID namespace (a
// container's process when it has its own PID namespace) receives only the signals it handles,
// blocks or ignores; the kernel drops any other at once (SIGKILL and SIGSTOP excepted). Right
// after StartContainer the process has often just exec'd and not yet installed its handler
// (`sh -c top` before top sets up): a SIGTERM sent then is lost, and a stop would wait out its
// whole timeout. /proc/<pid>/status tells which case we are in; no event says when a handler
// appears, so while the kernel would drop the signal we look again, briefly, with backoff.
// Earlier still, `runc start` returns while the pid is runc's own init, about to exec the
// container's process: its Go runtime catches SIGTERM, and an exec that wins the race with the
// handler's exit swallows the signal. That process (named `runc:[2:INIT]`) is waited out too.
import { readFile } from 'node:fs/promises';

export interface SignalDisposition {
  /** PID 1 of its innermost PID namespace. */
  pidNsInit: boolean;
  /** The runtime's init still holds the pid (runc names it `runc:[2:INIT]` until it execs). */
  runtimeInit: boolean;
  caught: boolean;
  blocked: boolean;
  ignored: boolean;
}

const mask = (status: string, field: string): bigint => {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
};

/** How a process takes signal `sig`, from the text of /proc/<pid>/status. */
export function signalDisposition(status: string, sig: number): SignalDisposition {
  const bit = 1n << BigInt(sig - 1);
  const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  return {
    pidNsInit: nspid.length > 1 && nspid[nspid.length - 1] === '1',
    runtimeInit: /^Name:\s*runc:\[/m.test(status),
    caught: (mask(status, 'SigCgt') & bit) !== 0n,
    blocked: (mask(status, 'SigBlk') & bit) !== 0n,
    ignored: (mask(status, 'SigIgn') & bit) !== 0n,
  };
}

/** Whether `sig` sent to this process now would be lost: dropped by the kernel, or by a runtime init about to exec. */
export function signalLost(d: SignalDisposition, sig: number): boolean {
  if (sig === 9 || sig === 19) return false; // SIGKILL, SIGSTOP: forced from an ancestor namespace
  if (d.runtimeInit) return true;
  return d.pidNsInit && !d.caught && !d.blocked && !d.ignored;
}

const FIRST_LOOK_MS = 2;
const MAX_LOOK_MS = 500;

/**
 * Sends `sig` to `pid` once the kernel will deliver it. `exited(ms)` waits up to ms for the
 * container's exit (true when it exited). Resolves true if the container exited while we waited,
 * false once the signal is sent, the process is gone, or the deadline (epoch ms) has passed.
 */
export async function deliverSignal(pid: number, sig: number, exited: (ms: number) => Promise<boolean>, deadline: number): Promise<boolean> {
  for (let wait = FIRST_LOOK_MS; ; wait = Math.min(wait * 2, MAX_LOOK_MS)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
    if (status === undefined) return false; // gone: its exit is on the way
    if (!signalLost(signalDisposition(status, sig), sig)) {
      try {
        process.kill(pid, sig);
      } catch {
        /* exited meanwhile */
      }
      return false;
    }
    const left = deadline - Date.now();
    if (left <= 0) return false;
    if (await exited(Math.min(wait, left))) return true;
  }
}
