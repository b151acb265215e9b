import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContainerTerminal } from './container-terminal.js';
import { shellOnPty } from './testing/shell-on-pty.js';

describe('the terminal of a TTY exec\'s process', () => {
  it('a size that comes before the pid file is set once the runtime writes it; later ones at once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-ct-'));
    // The process's own terminal (the container's, under a runtime), apart from ours.
    const { child, pty, saw, close } = shellOnPty('read x; stty size; read x; stty size');
    const terminal = new ContainerTerminal(path.join(dir, 'pid'));
    try {
      await terminal.resize({ width: 101, height: 33 }); // no pid yet: kept
      await writeFile(path.join(dir, 'pid'), String(child.pid));
      assert.equal(await terminal.pidKnown, child.pid); // seen through the directory's watch
      pty.master.write('\n');
      await saw(/33 101/);
      await terminal.resize({ width: 77, height: 22 });
      pty.master.write('\n');
      await saw(/22 77/);
    } finally {
      terminal.close();
      close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
