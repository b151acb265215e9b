// A shell script run on a fresh pseudo-terminal, for tests that resize a process's terminal and
// read what `stty size` then prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { openPty, type Pty } from '../pty.js';

export interface ShellOnPty {
  pty: Pty;
  child: ChildProcess;
  /** Resolves once everything the script printed so far matches `re`. */
  saw(re: RegExp): Promise<void>;
  /** Ends the script and closes the terminal. */
  close(): void;
}

export function shellOnPty(script: string): ShellOnPty {
  const pty = openPty({ width: 80, height: 24 });
  const child = spawn('sh', ['-c', script], { stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd] });
  pty.closeSlave();
  let out = '';
  pty.master.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const saw = (re: RegExp) => new Promise<void>((resolve) => {
    const check = () => {
      if (!re.test(out)) return;
      pty.master.off('data', check);
      resolve();
    };
    pty.master.on('data', check);
    check();
  });
  return {
    pty,
    child,
    saw,
    close() {
      child.kill();
      pty.master.destroy();
    },
  };
}
