import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../config/config.js';
import { buildDropIn, DropIn, secretAuths, secretNames, type SecretLike } from './configsync.js';

const dockerSecret = (auths: object): SecretLike => ({
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') },
});
const none = () => undefined;

describe('ConfigMap to drop-in', () => {
  it('keeps the reloadable keys the ConfigMap sets, as TOML berth reads', () => {
    const text = buildDropIn({ 'berth.toml': 'log_level = "debug"\n[registry.mirrors]\n"docker.io" = ["http://m:5000"]\n[image]\nmax_concurrent_downloads = 5\n' }, none);
    const c = parseConfig(text, 'drop-in');
    assert.equal(c.log_level, 'debug');
    assert.deepEqual(c.registry.mirrors, { 'docker.io': ['http://m:5000'] });
    assert.equal(c.image.max_concurrent_downloads, 5);
    assert.equal(buildDropIn(undefined, none), '', 'no ConfigMap: no drop-in');
  });

  const refused: [Record<string, string>, RegExp][] = [
    [{ 'berth.toml': 'root = "/x"' }, /key "root" cannot be set from the cluster/],
    [{ 'berth.toml': '[runtime]\ndefault_handler = "crun"' }, /key "runtime.default_handler" cannot be set/],
    [{ 'berth.toml': '[registry.auths."r"]\nusername = "u"' }, /credentials come from Secrets listed under registry-secrets/],
    [{ 'berth.toml': 'log_level = "loud"' }, /key "log_level": "loud" is not one of/],
    [{ 'berth.toml': '[image]\nmax_concurrent_downloads = "3"' }, /expected a non-negative number/],
    [{ 'berth.toml': 'log_level = ' }, /ConfigMap berth-config key berth.toml: not valid TOML/],
    [{ 'registry-secrets': 'absent' }, /key registry-secrets: Secret "absent" not found/],
  ];
  for (const [data, want] of refused) {
    it(`refuses ${JSON.stringify(data)}`, () => {
      assert.throws(() => buildDropIn(data, none), (err: Error) => err instanceof ConfigError && want.test(err.message));
    });
  }

  it('turns docker-registry Secrets into registry.auths', () => {
    const secrets: Record<string, SecretLike> = {
      a: dockerSecret({ 'ghcr.io': { username: 'u', password: 'p' } }),
      b: dockerSecret({ 'https://index.docker.io/v1/': { auth: Buffer.from('hub:h').toString('base64') } }),
    };
    assert.deepEqual(secretNames('a, b\n# c\n'), ['a', 'b']);
    const c = parseConfig(buildDropIn({ 'berth.toml': '[registry]\ninsecure = ["r:1"]', 'registry-secrets': 'a\nb' }, (n) => secrets[n]), 'f');
    assert.deepEqual(c.registry.insecure, ['r:1']);
    assert.deepEqual(c.registry.auths, {
      'ghcr.io': { username: 'u', password: 'p', auth: '' },
      'https://index.docker.io/v1/': { username: '', password: '', auth: Buffer.from('hub:h').toString('base64') },
    });
    assert.throws(() => secretAuths('opaque', { type: 'Opaque', data: { x: 'eA==' } }), /not a docker-registry Secret/);
    assert.throws(() => buildDropIn({ 'registry-secrets': 'bad' }, () => dockerSecret({ h: { password: 'only' } })), /registry.auths.h": credentials need a username/);
  });
});

describe('drop-in file', () => {
  let dir: string;
  let main: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-dropin-'));
    main = path.join(dir, 'berth.toml');
    await writeFile(main, 'log_level = "info"\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is written (root-only), left alone when unchanged, and put back when the reload fails', async () => {
    const d = new DropIn(main);
    assert.equal(d.file, path.join(dir, 'berth.d', '50-berth-agent.toml'));
    let reloads = 0;
    const ok = async () => void reloads++;
    assert.deepEqual(await d.apply('log_level = "debug"\n', ok), { unchanged: false });
    assert.equal((await stat(d.file)).mode & 0o777, 0o600);
    assert.match((await d.current())!, /log_level = "debug"/);
    assert.deepEqual(await d.apply('log_level = "debug"\n', ok), { unchanged: true });
    assert.equal(reloads, 1);

    await assert.rejects(d.apply('log_level = "warn"\n', async () => {
      throw new Error('berth refused');
    }), /berth refused/);
    assert.match((await d.current())!, /log_level = "debug"/, 'the previous drop-in is back');

    await d.apply('', ok);
    assert.equal(await d.current(), undefined, 'an empty config removes the drop-in');
  });

  it('checks the whole config as berth reads it before asking berth', async () => {
    const d = new DropIn(main);
    await writeFile(main, 'log_level = 7\n');
    let asked = false;
    await assert.rejects(d.apply('log_level = "debug"\n', async () => void (asked = true)), /berth.toml: key "log_level"/);
    assert.equal(asked, false);
    assert.equal(await d.current(), undefined);
  });
});
