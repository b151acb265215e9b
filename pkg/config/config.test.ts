import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyFlags, ConfigError, DEFAULT_CONFIG, dropInDir, loadConfig, parseConfig, parseDuration, redactConfig, socketPath, splitHostPort, toToml } from './config.js';

describe('config', () => {
  it('keeps defaults for keys the file leaves out', () => {
    const c = parseConfig('log_level = "debug"\n', 'f.toml');
    assert.equal(c.log_level, 'debug');
    assert.equal(c.root, DEFAULT_CONFIG.root);
    assert.equal(c.runtime.handlers.runc!.path, '/usr/sbin/runc');
  });

  it('reads registry mirrors and insecure hosts', () => {
    const c = parseConfig('[registry]\ninsecure = ["127.0.0.1:5000"]\n[registry.mirrors]\n"gcr.io" = ["http://127.0.0.1:5000"]\n', 'f');
    assert.deepEqual(c.registry.insecure, ['127.0.0.1:5000']);
    assert.deepEqual(c.registry.mirrors['gcr.io'], ['http://127.0.0.1:5000']);
  });

  it('adds runtime handlers and keeps the built-in ones', () => {
    const c = parseConfig('[runtime.handlers.kata]\npath = "/usr/bin/kata-runtime"\n', 'f');
    assert.equal(c.runtime.handlers.kata!.path, '/usr/bin/kata-runtime');
    assert.equal(c.runtime.handlers.kata!.root, '');
    assert.deepEqual(c.runtime.handlers.kata!.allowed_annotations, []);
    assert.ok(c.runtime.handlers.crun);
  });

  it('reads a handler\'s allowed_annotations; a drop-in naming only them keeps the handler\'s path', () => {
    const c = parseConfig('[runtime.handlers.crun]\nallowed_annotations = ["run.oci.keep_original_groups"]\n', 'f');
    assert.deepEqual(c.runtime.handlers.crun!.allowed_annotations, ['run.oci.keep_original_groups']);
    assert.equal(c.runtime.handlers.crun!.path, '/usr/bin/crun');
    assert.deepEqual(c.runtime.handlers.runc!.allowed_annotations, []);
  });

  it('reads durations; refuses malformed ones naming the key', () => {
    assert.equal(parseConfig('[image]\npull_progress_timeout = "1m30s"\n', 'f').image.pull_progress_timeout, '1m30s');
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('1x'), undefined);
    assert.equal(parseDuration(''), undefined);
    assert.throws(() => parseConfig('[image]\npull_progress_timeout = "soon"\n', 'f'), /key "image.pull_progress_timeout": "soon" is not a duration/);
  });

  const refused: [string, RegExp][] = [
    ['bogus = 1', /f: unknown key "bogus"/],
    ['[runtime]\nconmonn = "x"', /unknown key "runtime.conmonn"/],
    ['log_level = 3', /key "log_level": expected a string, got number/],
    ['log_level = "loud"', /"loud" is not one of/],
    ['cgroup_driver = "cgroupv3"', /key "cgroup_driver"/],
    ['[registry]\ninsecure = "x"', /key "registry.insecure": expected an array of strings/],
    ['[registry.mirrors]\n"docker.io" = [1]', /key "registry.mirrors.docker.io"/],
    ['[runtime.handlers.x]\nroot = "/r"', /key "runtime.handlers.x.path"/],
    ['[runtime.handlers.x]\npath = "/p"\nextra = 1', /unknown key "runtime.handlers.x.extra"/],
    ['[runtime.handlers.crun]\nallowed_annotations = "run.oci.*"', /key "runtime.handlers.crun.allowed_annotations": expected an array of strings/],
    ['image = 3', /key "image": expected a table/],
    ['shutdown_grace_seconds = -1', /non-negative number/],
    ['= broken', /f: not valid TOML/],
    ['[registry.auths."r.example"]\npassword = "p"', /key "registry.auths.r.example": credentials need a username/],
    ['[registry.auths."r.example"]\nauth = "bm9jb2xvbg=="', /registry.auths.r.example.auth": expected base64 of "username:password"/],
    ['[registry.auths."r.example"]\nauth = "dTpw"\nusername = "u"', /either auth or username and password/],
    ['[registry.auths."r.example"]\nusername = "u"\ntoken = "t"', /unknown key "registry.auths.r.example.token"/],
  ];
  for (const [text, want] of refused) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseConfig(text, 'f'), (err: Error) => err instanceof ConfigError && want.test(err.message));
    });
  }

  it('lets flags override the file', () => {
    const c = applyFlags(parseConfig('root = "/a"\nlisten = "unix:///x.sock"', 'f'), { root: '/b', metrics_listen: '' });
    assert.equal(c.root, '/b');
    assert.equal(c.listen, 'unix:///x.sock');
    assert.equal(c.metrics_listen, '');
    assert.throws(() => applyFlags(c, { log_level: 'chatty' }), ConfigError);
  });

  it('round-trips through TOML', () => {
    assert.deepEqual(parseConfig(toToml(DEFAULT_CONFIG), 'f'), DEFAULT_CONFIG);
  });

  it('takes only unix socket addresses', () => {
    assert.equal(socketPath('unix:///run/berth/berth.sock'), '/run/berth/berth.sock');
    assert.throws(() => socketPath('tcp://1.2.3.4:5'), ConfigError);
  });

  it('reads the dashboard table: on loopback by default, "" disables, the token never printed', () => {
    assert.deepEqual(DEFAULT_CONFIG.dashboard, { listen: '127.0.0.1:9468', token: '', token_file: '' });
    const c = parseConfig('[dashboard]\nlisten = "0.0.0.0:9468"\ntoken = "s3cret"\n', 'f');
    assert.equal(c.dashboard.listen, '0.0.0.0:9468');
    assert.equal(parseConfig('[dashboard]\nlisten = ""\n', 'f').dashboard.listen, '');
    assert.throws(() => parseConfig('[dashboard]\nport = 1\n', 'f'), /unknown key "dashboard.port"/);
    const shown = redactConfig(c);
    assert.equal(shown.dashboard.token, '<redacted>');
    assert.equal(c.dashboard.token, 's3cret', 'the running config keeps it');
    assert.ok(!toToml(shown).includes('s3cret'));
    assert.equal(redactConfig(DEFAULT_CONFIG), DEFAULT_CONFIG, 'nothing to hide, nothing changed');
  });

  it('splits host:port listen addresses', () => {
    assert.deepEqual(splitHostPort('127.0.0.1:9468', 'k'), { host: '127.0.0.1', port: 9468 });
    assert.deepEqual(splitHostPort('[::1]:0', 'k'), { host: '::1', port: 0 });
    assert.deepEqual(splitHostPort(':9466', 'k'), { host: '', port: 9466 });
    assert.deepEqual(splitHostPort('localhost:80', 'k'), { host: 'localhost', port: 80 });
    for (const bad of ['9466', '127.0.0.1', '::1:80', '1.2.3.4:65536', 'a:b', '[::1]x:1']) {
      assert.throws(() => splitHostPort(bad, 'metrics_listen'), (e: Error) => e instanceof ConfigError && e.message.startsWith('metrics_listen: '), bad);
    }
  });

  it('reads registry credentials per host and masks them when printed', () => {
    const c = parseConfig('[registry.auths."ghcr.io"]\nusername = "u"\npassword = "p"\n[registry.auths."r.example:5000"]\nauth = "dTpw"\n', 'f');
    assert.deepEqual(c.registry.auths['ghcr.io'], { username: 'u', password: 'p', auth: '' });
    assert.equal(c.registry.auths['r.example:5000']!.auth, 'dTpw');
    const shown = redactConfig(c);
    assert.equal(shown.registry.auths['ghcr.io']!.password, '<redacted>');
    assert.equal(shown.registry.auths['r.example:5000']!.auth, '<redacted>');
    assert.equal(c.registry.auths['ghcr.io']!.password, 'p', 'the config itself is untouched');
    assert.doesNotMatch(toToml(shown), /"p"|dTpw/);
  });

  describe('drop-ins', () => {
    let dir: string;
    let file: string;
    const setup = async (main: string | undefined, dropIns: Record<string, string>) => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cfg-'));
      file = path.join(dir, 'berth.toml');
      if (main !== undefined) await writeFile(file, main);
      if (Object.keys(dropIns).length) await mkdir(dropInDir(file));
      for (const [name, text] of Object.entries(dropIns)) await writeFile(path.join(dropInDir(file), name), text);
    };
    const cleanup = () => rm(dir, { recursive: true, force: true });

    it('merge over the file in name order, setting only the keys they name', async () => {
      await setup('log_level = "warn"\nroot = "/r"\n[registry.mirrors]\n"docker.io" = ["http://a"]\n', {
        '50-agent.toml': '[registry.mirrors]\n"gcr.io" = ["http://g"]\n[image]\nmax_concurrent_downloads = 7\n',
        '90-late.toml': 'log_level = "debug"\n',
        'notes.txt': 'not a config',
      });
      try {
        assert.equal(dropInDir(file), path.join(dir, 'berth.d'));
        const c = await loadConfig(file, true);
        assert.equal(c.log_level, 'debug');
        assert.equal(c.root, '/r');
        assert.deepEqual(c.registry.mirrors, { 'docker.io': ['http://a'], 'gcr.io': ['http://g'] });
        assert.equal(c.image.max_concurrent_downloads, 7);
      } finally {
        await cleanup();
      }
    });

    it('apply over the defaults when the default file is missing, and name themselves in errors', async () => {
      await setup(undefined, { 'a.toml': 'log_level = "error"\n' });
      try {
        assert.equal((await loadConfig(file, false)).log_level, 'error');
        await writeFile(path.join(dropInDir(file), 'b.toml'), 'log_level = "loud"\n');
        await assert.rejects(loadConfig(file, false), (err: Error) => err instanceof ConfigError && err.message.startsWith(path.join(dropInDir(file), 'b.toml')));
      } finally {
        await cleanup();
      }
    });
  });
});
