import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { VERSION } from '../pkg/version/version.js';
import { BERTH_BIN, scaled, startDaemon, untilOutput, waitExit, type TestDaemon } from './harness.js';
import { DEFAULT_CONFIG } from '../pkg/config/schema.js';

describe('foundation: the daemon serves CRI v1', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ metrics: true, toml: 'cgroup_driver = "cgroupfs"' });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
  });

  it('answers Version', async () => {
    const v = await d.client.runtime('Version', { version: 'v1' });
    assert.equal(v.runtime_name, 'berth');
    assert.equal(v.runtime_version, VERSION);
    assert.equal(v.runtime_api_version, 'v1');
  });

  it('answers Status with RuntimeReady and NetworkReady, and the config when verbose', async () => {
    const s = await d.client.runtime('Status', { verbose: true });
    const types = s.status!.conditions.map((c) => c.type);
    assert.ok(types.includes('RuntimeReady'), `conditions: ${types}`);
    assert.ok(types.includes('NetworkReady'), `conditions: ${types}`);
    for (const c of s.status!.conditions) if (!c.status) assert.ok(c.reason.length > 0, `${c.type} false without a reason`);
    const cfg = JSON.parse(s.info.config!) as { root: string };
    assert.equal(cfg.root, d.root);
    const quiet = await d.client.runtime('Status', {});
    assert.deepEqual(quiet.info, {});
  });

  it('lists runtime handlers with their features, the default one also under the empty name', async () => {
    const s = await d.client.runtime('Status', {});
    const names = s.runtime_handlers.map((h) => h.name);
    assert.deepEqual(names.sort(), ['', 'crun', 'runc']);
    const byName = new Map(s.runtime_handlers.map((h) => [h.name, h.features]));
    // Debian's runc 1.1.5 lists `rro` in `runc features`; crun 1.8 has no features command, and
    // berth knows it runs rro mounts (e2e/container-security.test.ts runs one under the default).
    assert.equal(byName.get('runc')?.recursive_read_only_mounts, true);
    assert.equal(byName.get('crun')?.recursive_read_only_mounts, true);
    assert.deepEqual(byName.get(''), byName.get(DEFAULT_CONFIG.runtime.default_handler));
    assert.equal(s.features?.supplemental_groups_policy, true);
  });

  it('answers RuntimeConfig with the cgroup driver', async () => {
    const rc = await d.client.runtime('RuntimeConfig', {});
    assert.equal(rc.linux?.cgroup_driver, 'CGROUPFS');
  });

  it('answers an rpc with no handler with UNIMPLEMENTED naming the method', async () => {
    await assert.rejects(d.client.runtime('CheckpointContainer', { container_id: 'x' }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.UNIMPLEMENTED);
      assert.match(err.details, /CheckpointContainer/);
      return true;
    });
  });

  it('counts calls by method and code on /metrics', async () => {
    assert.ok(d.metricsAddress, 'metrics address logged');
    const body = await (await fetch(`http://${d.metricsAddress}/metrics`)).text();
    assert.match(body, /berth_cri_requests_total\{service="RuntimeService",method="Version",code="OK"\} [1-9]/);
    assert.match(body, /berth_cri_requests_total\{service="RuntimeService",method="CheckpointContainer",code="UNIMPLEMENTED"\} 1/);
    assert.match(body, /berth_cri_request_duration_seconds_bucket\{le="[^"]+",service="RuntimeService",method="Version"\}/);
    assert.match(body, /process_resident_memory_bytes/);
  });

  it('refuses a second daemon on the same socket', () => {
    const r = spawnSync(process.execPath, [BERTH_BIN, 'daemon', '--config', d.configFile, '--listen', `unix://${d.socket}`,
      '--root', path.join(d.dir, 'root2'), '--state', path.join(d.dir, 'state2'), '--metrics-listen', ''], { encoding: 'utf8', timeout: scaled(20_000) });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /already listening/);
    assert.ok(existsSync(d.socket), 'the first daemon keeps its socket');
  });
});

describe('foundation: lifecycle and config errors', () => {
  it('SIGTERM removes the socket and exits 0', async () => {
    const d = await startDaemon();
    try {
      assert.ok(existsSync(d.socket));
      assert.equal(await d.stop(), 0);
      assert.ok(!existsSync(d.socket), 'socket removed');
    } finally {
      await d.kill();
      await d.cleanup();
    }
  });

  it('replaces a stale socket file left by a crashed daemon', async () => {
    const d = await startDaemon();
    await d.kill();
    assert.ok(existsSync(d.socket), 'a killed daemon leaves its socket');
    const again = await startDaemon({ dir: d.dir });
    try {
      const v = await again.client.runtime('Version', {});
      assert.equal(v.runtime_name, 'berth');
    } finally {
      await again.kill();
      await again.cleanup();
    }
  });

  const bad: [string, string, RegExp][] = [
    ['unknown key', 'no_such_key = 1\n', /unknown key "no_such_key"/],
    ['unknown nested key', '[registry]\nmirrorz = {}\n', /unknown key "registry.mirrorz"/],
    ['wrong type', '[image]\nmax_concurrent_downloads = "three"\n', /key "image.max_concurrent_downloads": expected a non-negative number/],
    ['bad TOML', 'listen = \n', /not valid TOML/],
  ];
  for (const [name, text, want] of bad) {
    it(`exits non-zero on a config with ${name}, naming the file and key`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-e2e-'));
      try {
        const file = path.join(dir, 'bad.toml');
        await writeFile(file, text);
        const r = spawnSync(process.execPath, [BERTH_BIN, 'daemon', '--config', file, '--listen', `unix://${dir}/s.sock`,
          '--root', `${dir}/root`, '--state', `${dir}/state`], { encoding: 'utf8', timeout: 20_000 });
        assert.notEqual(r.status, 0);
        assert.ok(r.stderr.includes(file), `stderr names the file: ${r.stderr}`);
        assert.match(r.stderr, want);
        assert.ok(!existsSync(`${dir}/s.sock`), 'no socket made');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('foundation: signals around start-up', () => {
  it('a SIGTERM sent the moment the daemon is ready still shuts it down cleanly', async () => {
    // Sent as soon as "berth ready" is logged; before the fix the default action killed the
    // daemon (exit by signal, socket left behind) when the signal beat the handler installation.
    for (let i = 0; i < 10; i++) {
      const d = await startDaemon({ logLevel: 'info' });
      try {
        d.proc.kill('SIGTERM');
        assert.equal(await waitExit(d.proc), 0, `round ${i}: exit code`);
        assert.ok(!existsSync(d.socket), `round ${i}: socket removed`);
      } finally {
        await d.kill();
        await d.cleanup();
      }
    }
  });
});

describe('foundation: the start-up code cache', () => {
  /** What the ready line says the loader did with bin/berth's code cache. */
  const codeCacheUse = (d: TestDaemon): unknown =>
    JSON.parse(d.logs().split('\n').find((l) => l.includes('"msg":"berth ready"'))!).code_cache;

  it('a ready daemon writes the code cache and the next start loads the bundle from it', async () => {
    const first = await startDaemon({ logLevel: 'debug' });
    try {
      // Another test's daemon may have written it already (the same bundle): then this one hits.
      if (codeCacheUse(first) !== 'hit') {
        await untilOutput(first.proc.stderr!, first.logs, /code cache written|could not write the code cache/, scaled(10_000));
        assert.match(first.logs(), /code cache written for the next start/);
      }
    } finally {
      await first.stop();
      await first.cleanup();
    }
    const second = await startDaemon({ logLevel: 'debug' });
    try {
      assert.equal(codeCacheUse(second), 'hit');
      const v = await second.client.runtime('Version', { version: 'v1' });
      assert.equal(v.runtime_name, 'berth');
    } finally {
      await second.stop();
      await second.cleanup();
    }
  });
});
