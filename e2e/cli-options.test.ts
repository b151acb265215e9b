// The berth CLI's remaining options against a real daemon (private CNI network berth-cli1,
// 10.214.0.0/16) and local registries: run's -i/-v/-u/--privileged/--entrypoint, the socket from
// --config, ps --pod and --format json, prune's selectors one by one, debug with a command,
// inspect of a pod, pull --creds from a registry that asks for them, the live stats screen on a
// terminal, zsh completion in an interactive zsh, rm -f and rmp -f, and --help on every command.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BERTH_BIN, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';
import { sh } from './sandbox-fixtures.js';
import { berth, berthPty, plain, ptySession, startCliEnv, type CliEnv } from './cli-fixtures.js';
import { COMMANDS } from '../cmd/berth/cli/commands.js';

const BRIDGE = 'berth-cli1';
const CAP_SYS_ADMIN = 21n;

/** The effective capability set a container's shell prints (CapEff from /proc/self/status). */
function capEff(out: string): bigint {
  return BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(out)![1]}`);
}

describe('berth CLI: options', () => {
  let ce: CliEnv;
  let reg: TestRegistry;
  let d: TestDaemon;
  let tmp: string;
  let image: string;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string) => berth(d.socket, args, { input, env });

  before(async () => {
    ce = await startCliEnv(BRIDGE, '10.214.0.0/16', 'opt/busybox');
    ({ reg, d, tmp, image, env } = ce);
    assert.equal((await cli(['pull', '-q', image])).code, 0);
  });
  after(async () => {
    await ce.close();
  });

  it('--help works on every command, and berth help lists them all', async () => {
    const helps = await Promise.all(COMMANDS.map((c) => berth('/tmp/berth-no-such.sock', [c.name, '--help'])));
    COMMANDS.forEach((c, i) => {
      assert.equal(helps[i]!.code, 0, `${c.name} --help: ${helps[i]!.stderr}`);
      assert.ok(helps[i]!.stdout.startsWith(`usage: berth ${c.name}`), `${c.name} --help:\n${helps[i]!.stdout}`);
      assert.match(helps[i]!.stdout, /--socket PATH/);
    });
    const overview = (await berth('/tmp/berth-no-such.sock', ['help'])).stdout;
    const w = Math.max(...COMMANDS.map((c) => c.name.length));
    for (const c of COMMANDS) assert.ok(overview.includes(`\n  ${c.name.padEnd(w)}  ${c.summary}\n`), c.name);
  });

  it('run -i (stdin without a terminal), -v (read-only and read-write), -u, --privileged and --entrypoint reach the container', async () => {
    const ro = path.join(tmp, 'ro');
    const rw = path.join(tmp, 'rw');
    await mkdir(ro);
    await mkdir(rw);
    await writeFile(path.join(ro, 'note'), 'from the host\n');
    const vol = await cli(['run', '--rm', '-v', `${ro}:/in:ro`, '-v', `${rw}:/out`, image, 'sh', '-c',
      'cat /in/note; touch /in/x 2>/dev/null && echo wrote-ro; echo from the container > /out/back']);
    assert.equal(vol.code, 0, vol.stderr);
    assert.equal(vol.stdout, 'from the host\n', 'read the ro volume, could not write to it');
    assert.equal(await readFile(path.join(rw, 'back'), 'utf8'), 'from the container\n');
    const user = await cli(['run', '--rm', '-u', '1234:567', image, 'sh', '-c', 'echo $(id -u):$(id -g)']);
    assert.equal(user.stdout, '1234:567\n', user.stderr);
    const plainCaps = capEff((await cli(['run', '--rm', image, 'cat', '/proc/self/status'])).stdout);
    const privCaps = capEff((await cli(['run', '--rm', '--privileged', image, 'cat', '/proc/self/status'])).stdout);
    assert.equal((plainCaps >> CAP_SYS_ADMIN) & 1n, 0n, 'no CAP_SYS_ADMIN by default');
    assert.equal((privCaps >> CAP_SYS_ADMIN) & 1n, 1n, '--privileged has CAP_SYS_ADMIN');
    const entry = await cli(['run', '--rm', '--entrypoint', '/bin/sh', image, '-c', 'echo via-$((6*7))']);
    assert.equal(entry.stdout, 'via-42\n', entry.stderr);
    const piped = await cli(['run', '-i', '--rm', image, 'tr', 'a-z', 'A-Z'], 'piped in\n');
    assert.deepEqual([piped.code, piped.stdout], [0, 'PIPED IN\n'], `run -i without a terminal takes stdin: ${piped.stderr}`);
  });

  it('ps --pod and -q, --format json for ps and pods; inspect finds a pod by ID prefix; debug runs a command', async () => {
    const a = (await cli(['run', '-d', '--name', 'alpha', image, 'sleep', '1000'])).stdout.trim();
    const b = (await cli(['run', '-d', '--name', 'beta', image, 'sleep', '1000'])).stdout.trim();
    assert.equal((await cli(['ps', '-q', '--pod', 'alpha'])).stdout, `${a}\n`);
    assert.equal((await cli(['ps', '--quiet', '--pod', 'beta'])).stdout, `${b}\n`);
    // Without --socket (or $BERTH_SOCKET) the socket is the config file's listen.
    const conf = path.join(tmp, 'client.toml');
    await writeFile(conf, `listen = "unix://${d.socket}"\n`);
    const viaConfig = await sh(process.execPath, [BERTH_BIN, 'ps', '-q', '--config', conf], { env: { ...process.env, BERTH_SOCKET: '' } });
    assert.deepEqual(viaConfig.stdout.trim().split('\n').sort(), [a, b].sort());
    const ps = JSON.parse((await cli(['ps', '--format', 'json'])).stdout) as { id: string; metadata: { name: string } }[];
    assert.deepEqual(ps.map((c) => c.metadata.name).sort(), ['alpha', 'beta']);
    const pods = JSON.parse((await cli(['pods', '--format', 'json'])).stdout) as { id: string; metadata: { name: string }; state: string }[];
    const alphaPod = pods.find((p) => p.metadata.name === 'alpha')!;
    assert.equal(alphaPod.state, 'SANDBOX_READY');
    const shown = JSON.parse((await cli(['inspect', alphaPod.id.slice(0, 12)])).stdout) as { Type: string; id: string }[];
    assert.deepEqual([shown[0]!.Type, shown[0]!.id], ['pod', alphaPod.id]);
    // The command may end before the attach connects: its output then comes from the log.
    const dbg = await cli(['debug', '--image', image, 'alpha', '--', 'sh', '-c', 'hostname; exit 3']);
    assert.equal(dbg.code, 3, dbg.stderr);
    assert.equal(dbg.stdout, 'alpha\n', "the pod's UTS namespace");
    assert.ok(!(await cli(['ps', '-a'])).stdout.includes('debugger-'), 'the debug container is removed');
  });

  it('prune --containers, --pods and --images each remove only their kind', async () => {
    const done = await cli(['run', '--name', 'gamma', image, 'true']);
    assert.equal(done.code, 0, done.stderr);
    const gammaCtr = (await cli(['ps', '-a', '-q', '--pod', 'gamma'])).stdout.trim();
    const extra = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'x', data: randomBytes(1024) }])] });
    await pushImage(reg.host, 'opt/unused', '1', extra);
    assert.equal((await cli(['pull', '-q', `${reg.host}/opt/unused:1`])).code, 0);

    const c = await cli(['prune', '--containers']);
    assert.equal(c.stdout, `Deleted container ${gammaCtr}\n`, c.stderr);
    assert.match((await cli(['pods'])).stdout, / gamma /, 'the pod stays');
    const p = await cli(['prune', '--pods']);
    assert.match(p.stdout, /^Deleted pod [0-9a-f]{64}\n$/, p.stderr);
    assert.doesNotMatch((await cli(['pods'])).stdout, / gamma /);
    assert.match((await cli(['pods'])).stdout, / alpha /, 'a pod with a running container stays');
    const i = await cli(['prune', '--images']);
    assert.equal(i.stdout, `Deleted image ${extra.config.digest}\n`, i.stderr);
    const left = (await cli(['images'])).stdout;
    assert.match(left, /opt\/busybox/, 'the image running containers use stays');
    assert.doesNotMatch(left, /opt\/unused/);
  });

  it('stats on a terminal redraws the table until Ctrl-C', async () => {
    const t = berthPty(d.socket, ['stats'], { cols: 120 });
    await t.waitFor(/CONTAINER ID +NAME +CPU % +MEM USAGE +NET I\/O \(POD\)\n(.*\n)*[0-9a-f]{13} +alpha +[0-9.]+% +[0-9.]+[kMG]?B/);
    await t.waitFor(/(CONTAINER ID[^]*){2}beta/);
    assert.ok(t.output().split('\x1b[2J\x1b[H').length >= 3, 'each table drawn from the top of a cleared screen');
    t.write('\x03');
    assert.equal(await t.exited, 0);
  });

  it('zsh completes commands, flags, container names and image tags from berth completion zsh', async () => {
    const z = ptySession(['zsh', '-f', '-i'], { cols: 200, env: { BERTH_SOCKET: d.socket, PATH: `${path.dirname(BERTH_BIN)}:${process.env.PATH}` } });
    z.write("PS1='zsh> '; autoload -Uz compinit; compinit -u -D; source <(berth completion zsh); print ready-$((1+1))\r");
    await z.waitFor(/ready-2\n/);
    const complete = async (typed: string, re: RegExp) => {
      const before = plain(z.output()).length;
      z.write(`${typed}\t`);
      await z.waitFor(re).catch((err: Error) => assert.fail(`${typed}<TAB>: ${err.message}\nafter typing it showed: ${plain(z.output()).slice(before)}`));
      z.write('\x15'); // kill the line for the next case
    };
    await complete('berth pu', /berth pull $/);
    await complete('berth lo', /\nload +logs/);
    await complete('berth ps --a', /berth ps --all $/);
    await complete('berth logs alp', /berth logs alpha $/);
    await complete(`berth rmi ${reg.host.slice(0, 6)}`, new RegExp(`berth rmi ${image.replace(/[.]/g, '\\.')} $`));
    z.write('exit\r');
    assert.equal(await z.exited, 0);
  });

  it('pull --creds logs in to a registry that asks; without them the pull fails in one line', async () => {
    const priv = await startRegistry({ htpasswd: { username: 'alice', password: 's3cret' } });
    try {
      const img = buildBusyboxImage();
      await pushImage(priv.host, 'opt/private', '1', img, { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` });
      const ref = `${priv.host}/opt/private:1`;
      const denied = await cli(['pull', ref]);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /^berth: .*unauthorized.*\n$/i);
      const bad = await cli(['pull', '--creds', 'alice', ref]);
      assert.equal(bad.code, 125, bad.stderr);
      const ok = await cli(['pull', '--creds', 'alice:s3cret', ref]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`${img.config.digest}\\n$`));
    } finally {
      await priv.stop();
    }
  });

  it('rm -f removes a running container, rmp -f a ready pod', async () => {
    assert.equal((await cli(['rm', 'beta'])).code, 1, 'running: needs -f');
    const r = await cli(['rm', '-f', 'beta']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cli(['ps', '-a', '-q', '--pod', 'beta'])).stdout, '');
    assert.equal((await cli(['rmp', '-f', 'beta', 'alpha'])).code, 0);
    assert.equal((await cli(['pods', '-q'])).stdout, '');
  });
});
