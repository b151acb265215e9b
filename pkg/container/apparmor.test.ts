import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { apparmorEnabled, DEFAULT_PROFILE_FILE, ensureDefaultProfile, parseProfiles } from './apparmor.js';

describe('container: AppArmor', () => {
  it('parses the kernel\'s list of loaded profiles', () => {
    assert.deepEqual(parseProfiles('berth-default (enforce)\nnvidia_modprobe (complain)\n/usr/sbin/cupsd (enforce)\ncri-validate-apparmor-test-deny-write (enforce)\n'),
      ['berth-default', 'nvidia_modprobe', '/usr/sbin/cupsd', 'cri-validate-apparmor-test-deny-write']);
    assert.deepEqual(parseProfiles(''), []);
  });

  it('ships berth-default: the profile berth loads, named as the spec asks for it', async () => {
    const text = await readFile(DEFAULT_PROFILE_FILE, 'utf8');
    assert.match(text, /^profile berth-default flags=\(attach_disconnected,mediate_deleted\) \{$/m);
    assert.match(text, /^\s*deny mount,$/m);
    assert.match(text, /#include <tunables\/global>/);
  });

  it('on a host without AppArmor: disabled, and loading the default fails saying why', async (t) => {
    if (await apparmorEnabled()) return t.skip('AppArmor is enabled here');
    const why = await ensureDefaultProfile('/nonexistent/apparmor_parser');
    assert.match(why ?? '', /apparmor_parser -Kr .*berth-default/);
  });
});
