import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { koffiAddonPaths } from './libc.js';

const libc = fileURLToPath(new URL('./libc.js', import.meta.url));

describe('libc through koffi', () => {
  it("calls libc through koffi's addon without loading koffi's build tools (node:crypto, https, zlib)", () => {
    // A process of its own: other tests in this one may have loaded those builtins.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      const { libcFunc } = await import(${JSON.stringify(libc)});
      const pid = libcFunc('int getpid(void)')() === process.pid;
      const loaded = ['crypto', 'https', 'zlib'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
      console.log(JSON.stringify({ pid, loaded }));
    `], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { pid: true, loaded: [] });
  });

  it('looks for the addon of this platform under koffi/build/koffi', () => {
    assert.equal(koffiAddonPaths('/k')[0], `/k/build/koffi/${process.platform}_${process.arch}/koffi.node`);
  });
});
