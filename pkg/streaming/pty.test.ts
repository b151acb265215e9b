import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resizeTerminalOf } from './pty.js';
import { shellOnPty } from './testing/shell-on-pty.js';

describe('pseudo-terminals', () => {
  it('resizeTerminalOf sets the size of the terminal that is a process\'s stdin, which the process then reads', async () => {
    // What a TTY exec under crun needs: the container's terminal is the exec'd process's stdin.
    const { child, pty, saw, close } = shellOnPty('stty size; read x; stty size');
    try {
      await saw(/24 80/);
      assert.equal(resizeTerminalOf(child.pid!, { width: 101, height: 33 }), true);
      pty.master.write('\n');
      await saw(/33 101/);
    } finally {
      close();
    }
    // A process whose stdin is no terminal (a pipe), or that is gone: nothing to resize.
    const piped = spawn('sleep', ['5'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      assert.equal(resizeTerminalOf(piped.pid!, { width: 1, height: 1 }), false);
    } finally {
      piped.kill();
    }
    assert.equal(resizeTerminalOf(2 ** 22 + 1, { width: 1, height: 1 }), false);
  });
});
