// The berth CLI's container commands, driven through the real bin/berth against a daemon with a
// private CNI network (bridge berth-cli0, 10.208.0.0/16, portmap) and the busybox fixture in a
// local registry: run (detached, foreground, -it, --rm), ps, pods, logs, exec (-i, -it with a
// resize), attach, port-forward and -p, debug, stats, events, info, inspect, stop, rm, rmp, prune.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { BERTH_BIN, type TestDaemon } from './harness.js';
import type { TestRegistry } from './fixtures/registry.js';
import { sh } from './sandbox-fixtures.js';
import { berth, berthPty, startCliEnv, withSocket, type CliEnv } from './cli-fixtures.js';

const BRIDGE = 'berth-cli0';

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Starts a long-running berth command and resolves once its output matches `re`. */
function startCommand(socket: string, args: string[], re: RegExp) {
  const p = spawn(process.execPath, [BERTH_BIN, ...withSocket(args, socket)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const seen = new Promise<string>((resolve, reject) => {
    p.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (re.test(out)) resolve(out);
    });
    p.once('close', (code) => reject(new Error(`berth ${args.join(' ')} exited ${code}: ${out}${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => p.once('close', resolve));
  return { proc: p, seen, exited, output: () => out };
}

describe('berth CLI: containers and pods', () => {
  let ce: CliEnv;
  let reg: TestRegistry;
  let d: TestDaemon;
  let image: string;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string) => berth(d.socket, args, { input, env });

  before(async () => {
    ce = await startCliEnv(BRIDGE, '10.208.0.0/16', 'cli/busybox');
    ({ reg, d, image, env } = ce);
  });
  after(async () => {
    await ce.close();
  });

  it('run in the foreground pulls the image, prints stdout and stderr apart, exits with the code; --rm leaves nothing', async () => {
    const r = await cli(['run', '--rm', '--name', 'once', '-e', 'GREETING=hi there', image, 'sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'hi there\n');
    assert.match(r.stderr, /Unable to find image/);
    assert.match(r.stderr, /oops\n$/);
    assert.equal((await cli(['ps', '-a', '-q'])).stdout, '');
    assert.equal((await cli(['pods', '-q'])).stdout, '');
    assert.deepEqual(await readdir(env.BERTH_POD_LOG_DIR!).catch(() => []), [], 'the pod log directory is gone');
  });

  it('run -d with -p publishes a port; ps, pods, inspect, port-forward, exec and stats see it', async () => {
    const port = 18000 + Math.floor(Math.random() * 1000);
    const run = await cli(['run', '-d', '--name', 'web', '-p', `${port}:80`, '-w', '/tmp', image, 'sh', '-c',
      'mkdir -p www && echo hello from web > www/index.html && exec httpd -f -p 80 -h www']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await cli(['ps']);
    assert.match(ps.stdout, /^CONTAINER ID +IMAGE +CREATED +STATE +NAME +ATTEMPT +POD ID +POD\n/);
    assert.match(ps.stdout, new RegExp(`${id.slice(0, 13)} +${reg.host}/cli/busybox:1 +.+ +running +web +0 +[0-9a-f]{13} +web\\n`));
    assert.match((await cli(['pods'])).stdout, /ready +web +default/);
    const shown = JSON.parse((await cli(['inspect', 'web'])).stdout) as { Type: string; id: string; log_path: string }[];
    assert.equal(shown[0]!.Type, 'container');
    assert.equal(shown[0]!.id, id);
    // The CRI port mapping (CNI portmap) and the streaming server's port-forward.
    assert.equal(await get(`http://127.0.0.1:${port}/`), 'hello from web\n');
    const pf = startCommand(d.socket, ['port-forward', 'web', '0:80'], /Forwarding from 127\.0\.0\.1:(\d+) -> 80\n/);
    const local = /127\.0\.0\.1:(\d+)/.exec(await pf.seen)![1];
    assert.equal(await get(`http://127.0.0.1:${local}/`), 'hello from web\n');
    pf.proc.kill('SIGINT');
    assert.equal(await pf.exited, 0);
    // exec: by name, by ID prefix, stdin, exit codes.
    assert.equal((await cli(['exec', 'web', 'cat', 'www/index.html'])).stdout, 'hello from web\n', 'runs in -w');
    assert.equal((await cli(['exec', id.slice(0, 8), 'sh', '-c', 'exit 7'])).code, 7);
    assert.equal((await cli(['exec', '-i', 'web', 'tr', 'a-z', 'A-Z'], 'piped in\n')).stdout, 'PIPED IN\n');
    const missing = await cli(['exec', 'web', '/no/such/binary']);
    assert.notEqual(missing.code, 0);
    // stats: one table without a terminal.
    const stats = await cli(['stats', '--no-stream']);
    assert.match(stats.stdout, /^CONTAINER ID +NAME +CPU % +MEM USAGE +NET I\/O \(POD\)\n/);
    assert.match(stats.stdout, new RegExp(`${id.slice(0, 13)} +web +[0-9.]+% +[0-9.]+[kMG]?B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B`));
    const json = JSON.parse((await cli(['stats', '--no-stream', '--format', 'json', 'web'])).stdout) as { id: string; memory: number }[];
    assert.equal(json.length, 1);
    assert.ok(json[0]!.memory > 0);
    const info = await cli(['info']);
    assert.match(info.stdout, /Runtime: +berth /);
    assert.match(info.stdout, /RuntimeReady: +true/);
    assert.match(info.stdout, /Containers: +\d+ \(\d+ running\)/);
  });

  it('exec -it runs under a terminal that follows a resize, and exits with the shell\'s code', async () => {
    const t = berthPty(d.socket, ['exec', '-it', 'web', 'sh'], { rows: 24, cols: 80 });
    await t.waitFor(/# $/);
    t.write('stty size\r');
    await t.waitFor(/\n24 80\n/);
    t.resize(33, 101);
    t.write('stty size\r');
    await t.waitFor(/\n33 101\n/);
    t.write('exit 5\r');
    assert.equal(await t.exited, 5);
  });

  it('logs: stdout and stderr, --tail, --timestamps, --since, and -f until the container exits', async () => {
    const r = await cli(['run', '--name', 'talker', image, 'sh', '-c', 'echo one; echo two >&2; echo three']);
    assert.equal(r.code, 0);
    const all = await cli(['logs', 'talker']);
    assert.equal(all.stdout, 'one\nthree\n');
    assert.equal(all.stderr, 'two\n');
    // stdout and stderr reach the log through two pipes: which of "two" and "three" is last varies.
    const last = await cli(['logs', '--tail', '1', 'talker']);
    assert.match(last.stdout + last.stderr, /^(two|three)\n$/);
    const two = await cli(['logs', '--tail', '2', 'talker']);
    assert.equal((two.stdout + two.stderr).split('\n').length, 3);
    assert.match((await cli(['logs', '-t', 'talker'])).stdout, /^\d{4}-\d\d-\d\dT[0-9:.]+Z one\n/);
    assert.equal((await cli(['logs', '--since', '1h', 'talker'])).stdout, 'one\nthree\n');
    assert.equal((await cli(['logs', '--since', '2100-01-01T00:00:00Z', 'talker'])).stdout, '');
    const run = await cli(['run', '-d', '--name', 'slow', image, 'sh', '-c', 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second']);
    assert.equal(run.code, 0);
    const f = startCommand(d.socket, ['logs', '-f', 'slow'], /first\n/);
    await f.seen;
    assert.equal((await cli(['exec', 'slow', 'touch', '/tmp/go'])).code, 0);
    assert.equal(await f.exited, 0, 'logs -f ends when the container exits');
    assert.equal(f.output(), 'first\nsecond\n');
  });

  it('run -it attaches a terminal; attach reaches a detached -it container; events follow', async () => {
    const events = startCommand(d.socket, ['events'], /started +container [0-9a-f]{13} +pod tty/);
    await cli(['info']); // a round trip while the events stream opens
    const run = await cli(['run', '-d', '-it', '--name', 'tty', image, 'sh']);
    assert.equal(run.code, 0, run.stderr);
    await events.seen;
    events.proc.kill('SIGINT');
    await events.exited;
    assert.match(events.output(), /created +container [0-9a-f]{13} +pod tty/);
    const a = berthPty(d.socket, ['attach', 'tty']);
    a.write('echo attached-$((40+2))\r');
    await a.waitFor(/attached-42/);
    a.write('exit 4\r');
    assert.equal(await a.exited, 0, 'attach ends when the container does');
    const fg = berthPty(d.socket, ['run', '-it', '--rm', '--name', 'inter', image, 'sh']);
    fg.write('echo inside-$((2+3))\r');
    await fg.waitFor(/inside-5/);
    fg.write('exit 6\r');
    assert.equal(await fg.exited, 6, 'run -it exits with the container\'s code');
    assert.ok(!(await cli(['pods'])).stdout.includes('inter'), '--rm removed the pod');
  });

  it('debug starts an interactive container in the pod\'s namespaces (PID of the target too) and removes it after', async () => {
    const t = berthPty(d.socket, ['debug', '--image', image, '--target', 'web', 'web']);
    t.write('hostname; ps -o comm | grep -c httpd\r');
    await t.waitFor(/\nweb\n1\n/);
    t.write('wget -q -O - http://127.0.0.1/\r');
    await t.waitFor(/hello from web/);
    t.write('exit\r');
    assert.equal(await t.exited, 0);
    const left = (await cli(['ps', '-a'])).stdout;
    assert.ok(!left.includes('debugger-'), `no debug container left:\n${left}`);
  });

  it('stop, rm, rmp by name and prefix; prune removes what is left; completion scripts', async () => {
    assert.equal((await cli(['rm', 'web'])).code, 1, 'a running container needs -f');
    const stop = await cli(['stop', '-t', '2', 'web']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!(await cli(['ps'])).stdout.includes(' web '));
    assert.match((await cli(['ps', '-a'])).stdout, / exited +web /);
    assert.equal((await cli(['rm', 'web'])).code, 0);
    assert.equal((await cli(['rmp', 'web'])).code, 1, 'a ready pod needs -f');
    assert.equal((await cli(['rmp', '-f', 'web'])).code, 0);
    assert.equal((await cli(['rm', 'no-such-thing'])).stderr, 'berth: no such container: no-such-thing\n');
    const prune = await cli(['prune']);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /Deleted container/);
    assert.equal((await cli(['ps', '-a', '-q'])).stdout, '');
    assert.equal((await cli(['pods', '-q'])).stdout, '');
    const script = (await cli(['completion', 'bash'])).stdout;
    const complete = async (words: string) => (await sh('bash', ['-c', `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _berth; echo "\${COMPREPLY[*]}"`], { env: { ...process.env, BERTH_SOCKET: d.socket, PATH: `${path.dirname(BERTH_BIN)}:${process.env.PATH}` } })).stdout.trim();
    assert.equal(await complete('berth lo'), 'logs load');
    assert.match(await complete('berth ps --a'), /--all/);
    assert.match(await complete(`berth rmi ${reg.host.slice(0, 3)}`), new RegExp(`${reg.host}/cli/busybox:1`));
    assert.match((await cli(['completion', 'zsh'])).stdout, /^#compdef berth/);
  });
});
