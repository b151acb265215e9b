// crictl (the Go client: spdystream and client-go's WebSocket executor and SPDY-over-WebSocket
// dialer) against berth: exec, exec -it with a resize, attach -i, port-forward, both transports.
// Runs where a crictl binary is available: $CRICTL, or crictl on PATH; skipped otherwise.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { openPty } from '../pkg/streaming/pty.js';
import { eventually, untilOutput } from './harness.js';
import { freePortIn, startEcho, startStEnv, type StEnv } from './streaming-env.js';

const run = promisify(execFile);
const CRICTL = process.env.CRICTL ?? (spawnSync('sh', ['-c', 'command -v crictl'], { encoding: 'utf8' }).stdout.trim() || '');
const TRANSPORTS = ['spdy', 'websocket'];

describe('streaming e2e: crictl', { skip: CRICTL ? false : 'no crictl binary (set CRICTL=/path/to/crictl)' }, () => {
  let env: StEnv;
  let pod = '';
  let ctr = '';
  let ep: string[] = [];

  before(async () => {
    env = await startStEnv({ images: true });
    pod = await env.runPod('crictl');
    ctr = await env.runContainer(pod, 'c', { command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] });
    ep = ['--runtime-endpoint', `unix://${env.d.socket}`, '--image-endpoint', `unix://${env.d.socket}`, '--timeout', '20s'];
  });
  after(async () => {
    await env?.close();
  });

  for (const t of TRANSPORTS) {
    it(`crictl exec --transport ${t}: stdout, stderr, exit code`, async () => {
      const r = await run(CRICTL, [...ep, 'exec', '--transport', t, ctr, 'sh', '-c', 'echo hello; echo oops >&2']);
      assert.equal(r.stdout, 'hello\n');
      assert.match(r.stderr, /oops\n/);
      const bad = await run(CRICTL, [...ep, 'exec', '--transport', t, ctr, 'sh', '-c', 'exit 7']).catch((e: { code: number; stderr: string }) => e);
      assert.match((bad as { stderr: string }).stderr, /command terminated with exit code 7/);
    });

    it(`crictl exec -it --transport ${t}: interactive sh under a terminal, resize`, async () => {
      const pty = openPty({ width: 100, height: 30 });
      const child = spawn('setsid', ['-c', CRICTL, ...ep, 'exec', '-it', '--transport', t, ctr, 'sh'], { stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd] });
      pty.closeSlave();
      let seen = '';
      pty.master.on('data', (d: Buffer) => (seen += d.toString()));
      const until = (re: RegExp, from = 0) => untilOutput(pty.master, () => seen.slice(from), re);
      try {
        // A size travels crictl → berth → the runtime on its own, unordered with the input: ask
        // until the shell sees it.
        const size = async () => {
          const from = seen.length;
          pty.master.write("echo sz-$(stty size | tr ' ' x)-end\r");
          await until(/sz-\d+x\d+-end/, from);
          return /sz-(\d+x\d+)-end/.exec(seen.slice(from))![1];
        };
        await until(/[#$] /); // the shell's prompt (busybox follows it with terminal queries): it reads the terminal now
        await eventually('the shell sees 30x100', size, (s) => s === '30x100');
        pty.resize({ width: 120, height: 40 });
        await eventually('the shell sees 40x120', size, (s) => s === '40x120');
        pty.master.write('exit 0\r');
        const code = await new Promise<number | null>((r) => child.once('exit', r));
        assert.equal(code, 0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        pty.master.destroy();
      }
    });

    it(`crictl attach -i --transport ${t} to a container that echoes stdin`, async () => {
      const echo = await env.runContainer(pod, `echo-${t}`, {
        command: ['sh', '-c', 'while read l; do echo "got:$l"; done'],
        stdin: true,
      });
      const child = spawn(CRICTL, [...ep, 'attach', '-i', '--transport', t, echo], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        // Written before crictl is attached, a line waits in the pipe until it is.
        for (const line of ['alpha', 'beta']) {
          child.stdin!.write(`${line}\n`);
          await untilOutput(child.stdout!, () => out, new RegExp(`got:${line}`), 5000);
        }
        assert.match(out, /got:alpha\ngot:beta\n/);
      } finally {
        // crictl attach has no way out but a signal; killing the client only detaches.
        const gone = child.exitCode === null ? new Promise((r) => child.once('exit', r)) : null;
        child.kill('SIGKILL');
        await gone;
      }
      const st = await env.d.client.runtime('ContainerStatus', { container_id: echo });
      assert.equal(st.status!.state, 'CONTAINER_RUNNING', 'a vanished attach client leaves the container running');
    });

    it(`crictl port-forward --transport ${t}: 10 MB both ways on 5 connections`, async () => {
      const remote = await freePortIn(29400, 29500);
      const local = await freePortIn(29300, 29400);
      await startEcho(env, remote, path.join(env.d.state, 'ns', 'net', pod));
      const child = spawn(CRICTL, [...ep, 'port-forward', '--transport', t, pod, `${local}:${remote}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (d: Buffer) => /Forwarding from/.test(d.toString()) && resolve());
          child.once('exit', (c) => reject(new Error(`crictl port-forward exited ${c}`)));
        });
        await Promise.all(
          [1, 2, 3, 4, 5].map(async () => {
            const payload = randomBytes(10 * 1024 * 1024);
            const s = net.connect(local, '127.0.0.1');
            const parts: Buffer[] = [];
            s.on('data', (d: Buffer) => parts.push(d));
            let got = 0;
            await new Promise<void>((resolve, reject) => {
              s.on('data', (d: Buffer) => (got += d.length) >= payload.length && resolve());
              s.once('error', reject);
              s.write(payload);
            });
            s.destroy();
            const back = Buffer.concat(parts);
            assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(payload).digest('hex'));
          }),
        );
      } finally {
        child.kill('SIGINT');
        if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      }
    });
  }
});
