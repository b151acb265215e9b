// The local side of an interactive session: stdin in raw mode while a remote terminal runs,
// the window size sent at once and on every SIGWINCH, and the terminal restored afterwards.
import type { RemoteCommandIo, TerminalSize } from '../../../pkg/client/remotecommand.js';

export interface LocalTerminal {
  io: RemoteCommandIo;
  restore(): void;
}

function size(): TerminalSize {
  return { width: process.stdout.columns || 80, height: process.stdout.rows || 24 };
}

/** Stdio for a session: with `tty`, one output and raw input; without, stdout and stderr apart. */
export function localTerminal(opts: { tty: boolean; stdin: boolean }): LocalTerminal {
  const raw = opts.tty && opts.stdin && process.stdin.isTTY;
  if (raw) process.stdin.setRawMode(true);
  let onWinch: (() => void) | undefined;
  const io: RemoteCommandIo = {
    stdin: opts.stdin ? process.stdin : undefined,
    stdout: process.stdout,
    stderr: opts.tty ? undefined : process.stderr,
    onResize: opts.tty
      ? (send) => {
          send(size());
          onWinch = () => send(size());
          process.on('SIGWINCH', onWinch);
        }
      : undefined,
  };
  return {
    io,
    restore() {
      if (onWinch) process.off('SIGWINCH', onWinch);
      if (raw) process.stdin.setRawMode(false);
      process.stdin.pause();
    },
  };
}
