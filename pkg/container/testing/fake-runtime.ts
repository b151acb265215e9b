// A fake OCI runtime for unit tests of the container service. Each container is a real `sleep`
// process (so signals and exits are real); when it ends the fake writes the exit file as conmon
// does, so exits go through the service's own exit watcher. Failpoints at create, start, kill
// and delete.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OciProcess, OciResources } from '../oci.js';
import type { ContainerRuntime, CreateArgs, ExecResult, RuntimeContainer, RuntimeHandler } from '../runtime.js';
import { Faults } from '../../testing/faults.js';

interface FakeContainer {
  status: 'created' | 'running' | 'stopped';
  bundle: string;
  proc: ChildProcess;
}

export class FakeRuntime implements ContainerRuntime {
  readonly faults = new Faults();
  readonly containers = new Map<string, FakeContainer>();

  constructor(readonly exitDir: string, readonly socketDir: string) {}

  async create(_h: RuntimeHandler, a: CreateArgs): Promise<{ pid: number }> {
    await this.faults.hit('create');
    await mkdir(this.exitDir, { recursive: true });
    const proc = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const c: FakeContainer = { status: 'created', bundle: a.bundle, proc };
    this.containers.set(a.id, c);
    proc.once('exit', (code, sig) => {
      c.status = 'stopped';
      void writeFile(path.join(this.exitDir, a.id), String(code ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
    });
    return { pid: proc.pid! };
  }

  async start(_h: RuntimeHandler, id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.status !== 'created') throw new Error(`fake start: container ${id} is ${c?.status ?? 'unknown'}`);
    // A hang here is the runtime between starting the process and returning: the process may
    // run, exit and be deleted meanwhile, as a real one can.
    await this.faults.hit('start');
    if (c.status === 'created') c.status = 'running';
  }

  async kill(_h: RuntimeHandler, id: string, _signal: string): Promise<void> {
    await this.faults.hit('kill');
    this.containers.get(id)?.proc.kill('SIGKILL');
  }

  async delete(_h: RuntimeHandler, id: string): Promise<void> {
    await this.faults.hit('delete');
    const c = this.containers.get(id);
    if (!c) return;
    c.proc.kill('SIGKILL');
    this.containers.delete(id);
  }

  async state(_h: RuntimeHandler, id: string): Promise<{ status: string; pid: number } | undefined> {
    const c = this.containers.get(id);
    return c ? { status: c.status, pid: c.status === 'stopped' ? 0 : c.proc.pid! } : undefined;
  }

  async list(): Promise<RuntimeContainer[]> {
    return [...this.containers].map(([id, c]) => ({ id, status: c.status, pid: c.proc.pid ?? 0, bundle: c.bundle }));
  }

  async update(_h: RuntimeHandler, _id: string, _res: OciResources): Promise<void> {}

  async execSync(_h: RuntimeHandler, _id: string, _bundle: string, proc: OciProcess): Promise<ExecResult> {
    return { code: 0, stdout: Buffer.from(proc.args.join(' ')), stderr: Buffer.alloc(0), truncated: false };
  }

  async execSpawn(): Promise<never> {
    throw new Error('fake runtime: streaming exec is not faked');
  }

  execArgv(h: RuntimeHandler, id: string, files: { procFile: string }): string[] {
    return [h.path, 'exec', '--process', files.procFile, id];
  }

  async control(): Promise<void> {}

  /** Kills every container process (test cleanup). */
  close(): void {
    for (const c of this.containers.values()) c.proc.kill('SIGKILL');
  }
}
