// One hostile request must not break the connection kubelet uses for everything: each call here
// is answered with a bounded error, and the same client connection answers the next call at once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';

const HUGE = 'x'.repeat(87_600);
/** A hung call fails its case in 10 s instead of the default 60. */
const T = { timeoutMs: 10_000 };

/** Resolves once the daemon's stderr holds `text` (it arrives through a pipe after the answer). */
function logged(d: TestDaemon, text: string, timeoutMs = 10_000): Promise<void> {
  if (d.logs().includes(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(new Error(`no log line with ${text} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (): void => void (d.logs().includes(text) && done());
    function done(err?: Error): void {
      clearTimeout(t);
      d.proc.stderr!.off('data', onData);
      if (err) reject(err);
      else resolve();
    }
    d.proc.stderr!.on('data', onData);
  });
}

describe('hostile requests keep the connection working', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
  });

  const stillAnswers = async (): Promise<void> => {
    const v = await d.client.runtime('Version', {}, { timeoutMs: 5000 });
    assert.equal(v.runtime_name, 'berth');
  };

  const cases: [string, () => Promise<unknown>][] = [
    ['PodSandboxStatus with an 87,600-character id', () => d.client.runtime('PodSandboxStatus', { pod_sandbox_id: HUGE }, T)],
    ['ContainerStatus with an 87,600-character id', () => d.client.runtime('ContainerStatus', { container_id: HUGE }, T)],
    ['StopPodSandbox with an 87,600-character id', () => d.client.runtime('StopPodSandbox', { pod_sandbox_id: HUGE }, T)],
    ['RemoveContainer with an 87,600-character id', () => d.client.runtime('RemoveContainer', { container_id: HUGE }, T)],
    ['ExecSync with an 87,600-character id', () => d.client.runtime('ExecSync', { container_id: HUGE, cmd: ['true'] }, T)],
    ['ListContainers filtered by a 3 MiB id', () => d.client.runtime('ListContainers', { filter: { id: 'b'.repeat(3 << 20) } }, T)],
    ['ImageStatus of a 3 MiB reference', () => d.client.image('ImageStatus', { image: { image: 'c'.repeat(3 << 20) } }, T)],
    ['RunPodSandbox with a 3 MiB name', () => d.client.runtime('RunPodSandbox', { config: { metadata: { name: 'n'.repeat(3 << 20), namespace: 'x', uid: 'y' } } }, T)],
    ['PullImage of a 256 KiB reference', () => d.client.image('PullImage', { image: { image: `localhost:1/${'r'.repeat(256 << 10)}` } }, T)],
  ];
  for (const [name, call] of cases) {
    it(`${name}: INVALID_ARGUMENT with a short message, then the next call works`, async () => {
      await assert.rejects(call(), (err: CriError) => {
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT, `${err.code}: ${err.details.slice(0, 200)}`);
        assert.ok(err.details.length <= 1024, `details of ${err.details.length} characters`);
        return true;
      });
      await stillAnswers();
    });
  }

  it('an error that would echo a long value is cut to 1 KiB (a 4000-character image reference)', async () => {
    const ref = `localhost:1/${'X'.repeat(3980)}`; // upper case: not a valid reference, and echoed
    await assert.rejects(d.client.image('PullImage', { image: { image: ref } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.ok(err.details.length <= 1024, `details of ${err.details.length} characters`);
      assert.match(err.details, /more characters cut\)$/);
      return true;
    });
    await stillAnswers();
  });

  it('ten hostile calls at once on one connection, then the connection still works', async () => {
    const all = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
      d.client.runtime('PodSandboxStatus', { pod_sandbox_id: `${i}`.repeat(200_000) })));
    for (const r of all) assert.equal(r.status === 'rejected' && (r.reason as CriError).code, GrpcStatus.INVALID_ARGUMENT);
    await stillAnswers();
  });

  it('every log line of a call carries its request id (the client\'s x-request-id), method and pod id', async () => {
    const md = new grpc.Metadata();
    md.set('x-request-id', 'e2e-req-42');
    const id = 'f'.repeat(64);
    await new Promise<void>((resolve) => {
      d.client.runtimeClient.PodSandboxStatus({ pod_sandbox_id: id }, md, { deadline: Date.now() + 5000 }, () => resolve());
    });
    await logged(d, '"req":"e2e-req-42"');
    const lines = d.logs().split('\n').filter((l) => l.includes('"req":"e2e-req-42"'));
    for (const l of lines) {
      const j = JSON.parse(l) as Record<string, unknown>;
      assert.equal(j.method, 'PodSandboxStatus');
      assert.equal(j.sandbox, id);
    }
  });
});
