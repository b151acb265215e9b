// ExecSync and streaming exec: `runtime exec --process` in the container's namespaces with its
// user, env, cwd and capabilities (the process of its spec with another command).
import { FailedPreconditionError } from '../errors/errors.js';
import type { OciProcess } from './oci.js';
import { clampTimeoutSeconds } from './timeouts.js';
import { killExec, writeExecProcess, type ContainerRuntime, type RuntimeHandler } from './runtime.js';
import type { ContainerRecord } from './store.js';
import type { ExecOptions, ExecProcess, ExecSyncResult } from './types.js';

export abstract class ExecMixin {
  abstract readonly driver: ContainerRuntime;
  abstract record(id: string): ContainerRecord;
  abstract handler(name: string, cgroupsPath?: string): RuntimeHandler;
  abstract execProcess(r: ContainerRecord, cmd: string[]): Promise<OciProcess>;

  private running(id: string): ContainerRecord {
    const r = this.record(id);
    if (r.info.state !== 'CONTAINER_RUNNING') {
      throw new FailedPreconditionError(`container "${r.info.id}" is not running (${r.info.state.replace('CONTAINER_', '').toLowerCase()})`);
    }
    return r;
  }

  /** timeoutSec is clamped to what a timer can hold (≤ 0: none); `signal` aborting kills the exec. */
  async execSync(id: string, cmd: string[], timeoutSec: number, signal?: AbortSignal): Promise<ExecSyncResult> {
    const r = this.running(id);
    const proc = await this.execProcess(r, cmd);
    const ms = clampTimeoutSeconds(timeoutSec) * 1000;
    const res = await this.driver.execSync(this.handler(r.info.runtimeHandler, r.info.cgroupsPath), r.info.id, r.info.bundle, proc, ms, signal);
    return { stdout: res.stdout, stderr: res.stderr, exitCode: res.code };
  }

  /**
   * The argv of an exec of `cmd`, for a caller that runs it itself (e.g. under a pseudo-terminal:
   * the process then gets the terminal as its stdio); call cleanup() when it has exited.
   */
  async execCommand(id: string, cmd: string[], env: string[] = []): Promise<{ argv: string[]; cleanup(): Promise<void> }> {
    const r = this.running(id);
    const proc = await this.execProcess(r, cmd);
    if (env.length) proc.env = [...proc.env, ...env];
    const files = await writeExecProcess(r.info.bundle, proc);
    return { argv: this.driver.execArgv(this.handler(r.info.runtimeHandler, r.info.cgroupsPath), r.info.id, { procFile: files.procFile }), cleanup: files.cleanup };
  }

  async exec(id: string, cmd: string[], opts: ExecOptions): Promise<ExecProcess> {
    if (opts.tty) {
      throw new FailedPreconditionError('exec with a TTY: run execCommand() under a pseudo-terminal (the streaming server does)');
    }
    const r = this.running(id);
    const proc = await this.execProcess(r, cmd);
    const { child, cleanup, pidFile } = await this.driver.execSpawn(this.handler(r.info.runtimeHandler, r.info.cgroupsPath), r.info.id, r.info.bundle, proc);
    child.stdin!.on('error', () => {});
    if (opts.stdin) opts.stdin.pipe(child.stdin!);
    else child.stdin!.end();
    const drain = (src: NodeJS.ReadableStream, dst?: NodeJS.WritableStream): Promise<void> =>
      new Promise((resolve) => {
        if (dst) src.pipe(dst, { end: false });
        else src.resume();
        src.once('end', resolve).once('close', resolve).once('error', () => resolve());
      });
    const outputs = Promise.all([drain(child.stdout!, opts.stdout), drain(child.stderr!, opts.stderr)]);
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, sig) => resolve(code ?? (sig ? 137 : 255)));
    }).then(async (code) => {
      await outputs;
      await cleanup();
      return code;
    });
    return {
      exited,
      kill: () => {
        killExec(pidFile, child);
      },
    };
  }
}
