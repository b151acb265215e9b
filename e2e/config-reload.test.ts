// Hot reload of the config file against a real daemon: SIGHUP and `berth config reload` apply
// a new registry mirror and registry credentials to the next pull, with no restart, while a
// container keeps running and an ExecSync in flight completes; a bad file is refused (log line,
// metric, CLI error) and the old config stays in force.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BERTH_BIN, untilOutput } from './harness.js';
import { ctrConfig, execText, runCtr, runPod, startCtEnv, status, type CtEnv } from './container-fixtures.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';

const run = promisify(execFile);

/** `berth config reload` against the daemon; resolves with its exit code and output. */
async function cliReload(socket: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BERTH_BIN, 'config', 'reload', '--socket', socket]);
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function metric(address: string, line: RegExp): Promise<string | undefined> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  return text.split('\n').find((l) => line.test(l));
}

/** Waits for the n-th daemon log line matching re (each line the daemon writes is checked, no polling). */
function waitLog(env: CtEnv, re: RegExp, n: number): Promise<void> {
  const count = (text: string) => (text.match(new RegExp(re.source, 'g')) ?? []).length;
  return untilOutput(env.d.proc.stderr!, () => env.d.logs(), (text) => count(text) >= n);
}

describe('config reload (SIGHUP, berth config reload)', () => {
  let env: CtEnv;
  let mirror: TestRegistry;
  let locked: TestRegistry;
  let original: string;
  before(async () => {
    env = await startCtEnv({ metrics: true });
    mirror = await startRegistry();
    locked = await startRegistry({ htpasswd: { username: 'agent', password: 'pw' } });
    await pushBusybox(mirror.host, 'library/busybox', 'reload');
    await pushBusybox(locked.host, 'private/busybox', 'v1', { authorization: `Basic ${Buffer.from('agent:pw').toString('base64')}` });
    original = await readFile(env.d.configFile, 'utf8');
  });
  after(async () => {
    await env?.close();
    await mirror?.stop();
    await locked?.stop();
  });

  it('SIGHUP applies a new mirror to the next pull while a container runs and an exec is in flight', async () => {
    await assert.rejects(env.d.client.image('PullImage', { image: { image: 'docker.io/library/busybox:reload' } }), /registry-1\.docker\.io/);
    const pod = await runPod(env, 'reload');
    const ctr = await runCtr(env, pod, ctrConfig(env, 'sleeper', { command: ['sh', '-c', 'exec sleep 3600'] }));
    const pidBefore = JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: ctr, verbose: true })).info.info!).pid;
    // An exec that waits for a file the test writes only after the reload: it is in flight throughout.
    const inFlight = execText(env, ctr, ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done'], 30);

    await appendFile(env.d.configFile, `[registry.mirrors]\n"docker.io" = ["http://${mirror.host}"]\n`);
    process.kill(env.d.proc.pid!, 'SIGHUP');
    await waitLog(env, /"changed":\["registry.mirrors"\],"msg":"config reloaded"/, 1);

    const r = await env.d.client.image('PullImage', { image: { image: 'docker.io/library/busybox:reload' } });
    assert.match(r.image_ref, /^sha256:/);
    assert.match(mirror.logs(), /GET \/v2\/library\/busybox\/manifests\/reload HTTP\/1.1" 200/);
    assert.equal((await execText(env, ctr, ['touch', '/tmp/go'])).code, 0);
    assert.deepEqual(await inFlight, { stdout: 'done\n', stderr: '', code: 0 });
    const st = await status(env, ctr);
    assert.equal(st.state, 'CONTAINER_RUNNING');
    assert.equal(JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: ctr, verbose: true })).info.info!).pid, pidBefore);
    assert.match((await metric(env.d.metricsAddress!, /^berth_config_reloads_total\{result="ok"\}/)) ?? '', / 1$/);
  });

  it('refuses a bad file with a log line, a metric and a CLI error, keeping the old config', async () => {
    // Top-level keys first: in TOML a key after a table header belongs to that table.
    await writeFile(env.d.configFile, `log_level = "loud"\n${await readFile(env.d.configFile, 'utf8')}`);
    const res = await cliReload(env.d.socket);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /config not reloaded: .*berth\.toml: key "log_level": "loud" is not one of/);
    await waitLog(env, /"msg":"config reload refused: the running config stays"/, 1);
    assert.match((await metric(env.d.metricsAddress!, /^berth_config_reloads_total\{result="error"\}/)) ?? '', / 1$/);
    // The mirror from the last good file still serves pulls.
    await pushBusybox(mirror.host, 'library/busybox', 'after-refusal');
    await env.d.client.image('PullImage', { image: { image: 'docker.io/library/busybox:after-refusal' } });
    const info = JSON.parse((await env.d.client.runtime('Status', { verbose: true })).info.config!);
    assert.deepEqual(info.registry.mirrors, { 'docker.io': [`http://${mirror.host}`] });
  });

  it('berth config reload applies registry credentials (masked in Status) and names keys that need a restart', async () => {
    await assert.rejects(env.d.client.image('PullImage', { image: { image: `${locked.host}/private/busybox:v1` } }), /unauthorized/i);
    await writeFile(env.d.configFile, `cgroup_driver = "systemd"\n${original}[registry.mirrors]\n"docker.io" = ["http://${mirror.host}"]\n[registry.auths."${locked.host}"]\nusername = "agent"\npassword = "pw"\n`);
    const res = await cliReload(env.d.socket);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'reloaded: registry.auths\n');
    assert.match(res.stderr, /take effect when berth restarts: cgroup_driver/);
    await env.d.client.image('PullImage', { image: { image: `${locked.host}/private/busybox:v1` } });
    const info = JSON.parse((await env.d.client.runtime('Status', { verbose: true })).info.config!);
    assert.deepEqual(info.registry.auths[locked.host], { username: 'agent', password: '<redacted>', auth: '' });
    assert.equal(info.cgroup_driver, 'cgroupfs', 'a restart-only key keeps its running value');
  });
});
