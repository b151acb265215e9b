import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isExecutable, isExecutableAsync } from './executable.js';

describe('isExecutable / isExecutableAsync', () => {
  it('see the execute bit of a real file, and a missing file as not executable', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-exe-'));
    try {
      const plain = path.join(dir, 'crun');
      writeFileSync(plain, '', { mode: 0o644 });
      for (const [file, want] of [[process.execPath, true], [path.join(dir, 'missing'), false], [plain, false]] as const) {
        assert.equal(isExecutable(file), want, file);
        assert.equal(await isExecutableAsync(file), want, file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
