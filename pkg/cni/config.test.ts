import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { configFiles, discover, parseNetworkConf } from './config.js';

const list = (name: string) => JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] });

test('discovery: first by file name among .conflist/.conf/.json; other files and dot files ignored', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-conf-'));
  try {
    await writeFile(path.join(dir, '99-last.conflist'), list('last'));
    await writeFile(path.join(dir, '20-single.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'x' }));
    await writeFile(path.join(dir, '10-first.json'), list('first'));
    await writeFile(path.join(dir, '00-readme.txt'), 'not a config');
    await writeFile(path.join(dir, '.00-hidden.conflist'), list('hidden'));
    assert.deepEqual((await configFiles(dir)).map((f) => path.basename(f)), ['10-first.json', '20-single.conf', '99-last.conflist']);
    assert.equal((await discover(dir)).network!.conf.name, 'first');
    await rm(path.join(dir, '10-first.json'));
    const single = (await discover(dir)).network!;
    assert.equal(single.conf.name, 'single');
    assert.equal(single.conf.cniVersion, '0.4.0');
    assert.deepEqual(single.conf.plugins, [{ type: 'bridge', bridge: 'x' }]);
    // An invalid first file is skipped, and reported.
    await writeFile(path.join(dir, '05-bad.conflist'), '{');
    const d = await discover(dir);
    assert.equal(d.network!.conf.name, 'single');
    assert.match(d.problems[0]!, /05-bad\.conflist: invalid JSON/);
    assert.deepEqual(await discover(path.join(dir, 'missing')), { problems: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseNetworkConf refuses configs without name, plugins or plugin type', () => {
  assert.throws(() => parseNetworkConf('a.conflist', { plugins: [{ type: 'x' }] }), /missing "name"/);
  assert.throws(() => parseNetworkConf('a.conflist', { name: 'n', plugins: [] }), /non-empty/);
  assert.throws(() => parseNetworkConf('a.conflist', { name: 'n', plugins: [{}] }), /plugin 0 has no "type"/);
  assert.throws(() => parseNetworkConf('a.conf', [1]), /not a JSON object/);
  assert.equal(parseNetworkConf('a.conf', { name: 'n', type: 'bridge' }).cniVersion, '0.1.0');
});
