import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BERTH_DIR, CNI_FILE, CONFIG_FILE, Installer, MANIFEST_FILE, UNIT_FILE } from './install.js';

/** A small package as scripts/package.mjs lays it out (berth-package.json + deploy files). */
async function fakePackage(dir: string, version: string, unitExtra = ''): Promise<void> {
  const files: Record<string, string> = {
    'bin/berth': `#!/bin/sh\necho ${version}\n`,
    'deploy/berth.service': `[Service]\nExecStart=@BERTH_DIR@/bin/berth daemon\n${unitExtra}`,
    'deploy/berth.toml': '# default config\n',
    'deploy/10-berth-bridge.conflist': '{"cniVersion":"1.0.0","name":"berth","plugins":[]}\n',
  };
  const hashes: Record<string, string> = {};
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
    hashes[rel] = createHash('sha256').update(text).digest('hex');
  }
  const treeHash = createHash('sha256').update(JSON.stringify(hashes)).digest('hex');
  await writeFile(path.join(dir, 'berth-package.json'), JSON.stringify({ name: 'berth', version, treeHash, files: hashes }));
}

describe('installer', () => {
  let tmp: string;
  let host: string;
  const at = (p: string) => path.join(host, p);
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-install-'));
    host = path.join(tmp, 'host');
    await mkdir(host);
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  it('installs the tree, unit, config and CNI network; a second run changes nothing', async () => {
    await fakePackage(path.join(tmp, 'p1'), '1.0.0');
    const inst = new Installer(path.join(tmp, 'p1'), host);
    const r = await inst.install();
    assert.deepEqual(r, { version: '1.0.0', treeChanged: true, unitChanged: true, wrote: [BERTH_DIR, UNIT_FILE, CONFIG_FILE, CNI_FILE] });
    assert.equal(await readFile(at(UNIT_FILE), 'utf8'), '[Service]\nExecStart=/opt/berth/bin/berth daemon\n');
    assert.match(await readFile(at(`${BERTH_DIR}/bin/berth`), 'utf8'), /1\.0\.0/);
    assert.deepEqual(Object.keys((await inst.manifest())!.files).sort(), [CNI_FILE, CONFIG_FILE, UNIT_FILE].sort());
    assert.deepEqual(await inst.install(), { version: '1.0.0', treeChanged: false, unitChanged: false, wrote: [] });
  });

  it('upgrades: a new tree restarts, an unchanged unit is not rewritten; a changed unit is', async () => {
    await fakePackage(path.join(tmp, 'p1'), '1.0.0');
    await fakePackage(path.join(tmp, 'p2'), '1.1.0');
    await fakePackage(path.join(tmp, 'p3'), '1.2.0', 'Restart=always\n');
    await new Installer(path.join(tmp, 'p1'), host).install();
    const r2 = await new Installer(path.join(tmp, 'p2'), host).install();
    assert.deepEqual([r2.treeChanged, r2.unitChanged], [true, false]);
    assert.match(await readFile(at(`${BERTH_DIR}/bin/berth`), 'utf8'), /1\.1\.0/);
    const r3 = await new Installer(path.join(tmp, 'p3'), host).install();
    assert.deepEqual([r3.treeChanged, r3.unitChanged], [true, true]);
    assert.deepEqual((await readdir(at('/opt'))).sort(), ['berth'], 'no .new/.old directories left');
  });

  it('leaves an existing config and CNI network alone, and refuses foreign berth files', async () => {
    await fakePackage(path.join(tmp, 'p1'), '1.0.0');
    await mkdir(at('/etc/berth'), { recursive: true });
    await writeFile(at(CONFIG_FILE), 'log_level = "warn"\n');
    await mkdir(at('/etc/cni/net.d'), { recursive: true });
    await writeFile(at('/etc/cni/net.d/10-calico.conflist'), '{}');
    const r = await new Installer(path.join(tmp, 'p1'), host).install();
    assert.deepEqual(r.wrote, [BERTH_DIR, UNIT_FILE]);
    assert.equal(await readFile(at(CONFIG_FILE), 'utf8'), 'log_level = "warn"\n');
    assert.deepEqual(await readdir(at('/etc/cni/net.d')), ['10-calico.conflist']);

    const other = path.join(tmp, 'other');
    await mkdir(path.join(other, 'opt/berth'), { recursive: true });
    await writeFile(path.join(other, 'opt/berth/berth-package.json'), '{}');
    await assert.rejects(new Installer(path.join(tmp, 'p1'), other).install(), /opt\/berth exists and was not installed by berth agent/);
    const unitOwner = path.join(tmp, 'unit');
    await mkdir(path.join(unitOwner, 'etc/systemd/system'), { recursive: true });
    await writeFile(path.join(unitOwner, UNIT_FILE), '[Service]\nExecStart=/usr/local/bin/berth daemon\n');
    await assert.rejects(new Installer(path.join(tmp, 'p1'), unitOwner).install(), /berth.service exists and was not written by berth agent/);
  });

  it('uninstalls what it installed and nothing else; a file changed since is kept', async () => {
    await fakePackage(path.join(tmp, 'p1'), '1.0.0');
    const inst = new Installer(path.join(tmp, 'p1'), host);
    await inst.install();
    await writeFile(at(CONFIG_FILE), 'log_level = "debug" # edited by the operator\n');
    await mkdir(at('/var/lib/berth'), { recursive: true });
    await writeFile(at('/var/lib/berth/berth.db'), 'state');
    await mkdir(at('/etc/berth/berth.d'), { recursive: true });
    await writeFile(at('/etc/berth/berth.d/50-berth-agent.toml'), 'log_level = "info"\n');
    const r = await inst.uninstall(['/etc/berth/berth.d/50-berth-agent.toml', '/etc/absent.toml']);
    assert.deepEqual(r.removed.sort(), [BERTH_DIR, CNI_FILE, UNIT_FILE, '/etc/berth/berth.d/50-berth-agent.toml'].sort());
    assert.deepEqual(r.kept, [CONFIG_FILE]);
    assert.equal(await readFile(at('/var/lib/berth/berth.db'), 'utf8'), 'state', 'berth\'s state is not the agent\'s to remove');
    await assert.rejects(readFile(at(MANIFEST_FILE)), { code: 'ENOENT' });
    assert.deepEqual(await inst.uninstall(), { removed: [], kept: [] }, 'nothing left to remove');
  });
});
