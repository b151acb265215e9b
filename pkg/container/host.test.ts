import { test } from 'node:test';
import assert from 'node:assert/strict';
import { factsForCreate, readHostFacts } from './host.js';

test('start-up reads no devices; a privileged create gets the host devices as they are now, an unprivileged one none', async () => {
  const base = await readHostFacts(false);
  assert.deepEqual(base.hostDevices, []);
  const privileged = await factsForCreate(base, true);
  const nul = privileged.hostDevices.find((d) => d.path === '/dev/null');
  assert.deepEqual(nul && { type: nul.type, major: nul.major, minor: nul.minor }, { type: 'c', major: 1, minor: 3 });
  assert.deepEqual((await factsForCreate(base, false)).hostDevices, []);
  assert.equal(privileged.caps, base.caps);
});
