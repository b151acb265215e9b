import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, parseConfig } from './config.js';
import { applyKeys, ConfigReloader, diffConfig, flattenConfig } from './reload.js';

describe('config reload', () => {
  it('flattens to leaves, keeping free-form maps whole', () => {
    const flat = flattenConfig(DEFAULT_CONFIG);
    assert.deepEqual(flat.get('registry.mirrors'), {});
    assert.ok(flat.has('runtime.handlers'));
    assert.ok(!flat.has('runtime.handlers.runc'));
    assert.equal(flat.get('image.max_concurrent_downloads'), 3);
  });

  it('sorts changes into reloadable and restart-only keys', () => {
    const next = parseConfig('log_level = "debug"\nroot = "/elsewhere"\n[registry.mirrors]\n"docker.io" = ["http://m"]\n[runtime.handlers.kata]\npath = "/k"\n', 'f');
    const d = diffConfig(DEFAULT_CONFIG, next);
    assert.deepEqual(d.changed.sort(), ['log_level', 'registry.mirrors']);
    assert.deepEqual(d.restartRequired.sort(), ['root', 'runtime.handlers']);
    assert.deepEqual(diffConfig(DEFAULT_CONFIG, structuredClone(DEFAULT_CONFIG)), { changed: [], restartRequired: [] });
  });

  it('a handler\'s allowed_annotations take effect at restart, as the rest of its table', () => {
    const next = parseConfig('[runtime.handlers.crun]\nallowed_annotations = ["run.oci.*"]\n', 'f');
    assert.deepEqual(diffConfig(DEFAULT_CONFIG, next), { changed: [], restartRequired: ['runtime.handlers'] });
  });

  it('writes changed leaves into the running config, keeping its tables', () => {
    const running = structuredClone(DEFAULT_CONFIG);
    const registry = running.registry;
    const next = parseConfig('[registry]\ninsecure = ["h:1"]\n[cni]\nconf_template = "t"\n', 'f');
    applyKeys(running, next, ['registry.insecure', 'cni.conf_template']);
    assert.equal(running.registry, registry);
    assert.deepEqual(running.registry.insecure, ['h:1']);
    assert.equal(running.cni.conf_template, 't');
    next.registry.insecure.push('later');
    assert.deepEqual(running.registry.insecure, ['h:1'], 'a copy, not the new config\'s array');
  });

  it('reloads a file: applies reloadable keys, reports the rest, refuses a bad file, keeps flags', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-reload-'));
    const file = path.join(dir, 'berth.toml');
    try {
      await writeFile(file, 'log_level = "info"\n');
      const running = parseConfig('log_level = "info"\n', file);
      const r = new ConfigReloader({ file, explicit: true, flags: { root: '/flag-root' } }, running);
      running.root = '/flag-root';
      const seen: string[][] = [];
      r.onChange((keys) => void seen.push(keys));

      await writeFile(file, 'log_level = "debug"\nstate = "/other"\nroot = "/file-root"\n[image]\nmax_concurrent_downloads = 9\n');
      const out = await r.reload();
      assert.deepEqual(out.changed.sort(), ['image.max_concurrent_downloads', 'log_level']);
      assert.deepEqual(out.restartRequired, ['state'], 'root comes from the flag, which still wins');
      assert.equal(running.log_level, 'debug');
      assert.equal(running.image.max_concurrent_downloads, 9);
      assert.equal(running.state, DEFAULT_CONFIG.state, 'a restart-only key is not applied');
      assert.deepEqual(seen, [out.changed]);

      await writeFile(file, 'log_level = "loud"\n[image]\nmax_concurrent_downloads = 1\n');
      await assert.rejects(r.reload(), (err: Error) => err instanceof ConfigError && /"loud" is not one of/.test(err.message));
      assert.equal(running.log_level, 'debug');
      assert.equal(running.image.max_concurrent_downloads, 9);

      await rm(file);
      await assert.rejects(r.reload(), /cannot read/);
      assert.equal(seen.length, 1, 'listeners hear only of applied changes');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs reloads one at a time and reports a listener that failed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-reload-'));
    const file = path.join(dir, 'berth.toml');
    try {
      await writeFile(file, '[cni]\nconf_dir = "/x"\n');
      const running = structuredClone(DEFAULT_CONFIG);
      const r = new ConfigReloader({ file, explicit: true, flags: {} }, running);
      let active = 0;
      let most = 0;
      r.onChange(async () => {
        most = Math.max(most, ++active);
        await new Promise((res) => setImmediate(res));
        active--;
        throw new Error('cannot watch /x');
      });
      const results = await Promise.allSettled([r.reload(), r.reload()]);
      assert.equal(most, 1);
      assert.equal(results[0].status, 'rejected');
      assert.match(String((results[0] as PromiseRejectedResult).reason), /config applied, but: cannot watch \/x/);
      assert.equal(running.cni.conf_dir, '/x');
      assert.deepEqual(await results[1].status, 'fulfilled', 'the second found nothing new to apply');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
