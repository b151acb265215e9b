// Environment values end to end: `KeyValue.value` is `bytes` on the wire since cri-api v0.36
// (v0.37 kubelets send it so). berth's client sends text as UTF-8 bytes; the daemon decodes UTF-8,
// shows bytes that are not UTF-8 as U+FFFD; a NUL, which no environment can hold, is refused by the
// request guard (pkg/cri/guard.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { ctrConfig, execText, runCtr, runPod, startCtEnv, type CtEnv } from './container-fixtures.js';

describe('containers: environment values as bytes', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  it('text, raw UTF-8 bytes and non-UTF-8 bytes reach the process; a NUL is INVALID_ARGUMENT naming the variable', async () => {
    const pod = await runPod(env, 'envs');
    const text = 'é=1 \u{1F600} "quoted"\nsecond line';
    const id = await runCtr(env, pod, ctrConfig(env, 'envs', {
      command: ['sleep', '1000'],
      envs: [
        { key: 'TEXT', value: text },
        { key: 'RAW', value: Buffer.from('grüße', 'utf8') },
        { key: 'LATIN1', value: Buffer.from([0x63, 0x61, 0x66, 0xe9]) },
        { key: 'EMPTY', value: '' },
      ],
    }));
    const got = await execText(env, id, ['sh', '-c', 'printf "%s|%s|%s|%s" "$TEXT" "$RAW" "$LATIN1" "${EMPTY-unset}"']);
    assert.equal(got.stdout, `${text}|grüße|caf\uFFFD|`);

    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'nul', { command: ['sleep', '1000'], envs: [{ key: 'OK', value: 'x' }, { key: 'BAD', value: 'a\0b' }] }), false),
      (err: CriError) => {
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT, err.details);
        assert.match(err.details, /config\.envs\[1\]\.value contains a NUL byte/);
        return true;
      });
    const names = (await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers.map((c) => c.metadata?.name);
    assert.deepEqual(names, ['envs'], 'the refused container was not made');
  });
});
