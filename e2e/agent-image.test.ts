// The agent image built by scripts/agent-image.mjs (no Dockerfile, no base image): it is a valid
// OCI layout that skopeo pushes to a registry, and berth itself pulls it and runs berth and
// nsenter from it, so the libraries copied into it are all a container needs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import { PROJECT_ROOT } from '../pkg/version/version.js';
import { ctrConfig, runCtr, runPod, startCtEnv, waitExited, type CtEnv } from './container-fixtures.js';

const run = promisify(execFile);

describe('agent image (OCI layout, pushed with skopeo, run by berth)', () => {
  let env: CtEnv;
  let tmp: string;
  let image: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-agent-image-'));
    const layout = path.join(tmp, 'oci');
    const { stdout } = await run(process.execPath, [path.join(PROJECT_ROOT, 'scripts/agent-image.mjs'), '--out', layout], { cwd: PROJECT_ROOT, maxBuffer: 1 << 24 });
    assert.match(stdout, /oci 0\.1\.0 sha256:[0-9a-f]{64}\n$/);
    env = await startCtEnv();
    image = `${env.reg.host}/berth/berth-agent:0.1.0`;
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:0.1.0`, `docker://${image}`]);
  });
  after(async () => {
    await env?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('runs berth (entrypoint) and nsenter in a container', async () => {
    await env.d.client.image('PullImage', { image: { image } });
    const pod = await runPod(env, 'agent-image');
    const logs: string[] = [];
    const cases: [string, Partial<ContainerConfig>][] = [
      ['version', { image: { image }, args: ['version'] }],
      ['nsenter', { image: { image }, command: ['/usr/bin/nsenter', '--version'] }],
      ['help', { image: { image }, args: ['agent', '--help'] }],
    ];
    for (const [name, cfg] of cases) {
      const id = await runCtr(env, pod, ctrConfig(env, name, cfg));
      const st = await waitExited(env, id);
      assert.equal(st.exit_code, 0, `${name} exited ${st.exit_code}`);
      logs.push(await readFile(path.join(pod.config.log_directory!, `${name}.log`), 'utf8'));
    }
    assert.match(logs[0]!, /stdout F berth 0\.1\.0 \(CRI v1\)/);
    assert.match(logs[1]!, /stdout F nsenter from util-linux/);
    assert.match(logs[2]!, /stdout F usage: berth agent \[flags\]/);
    assert.doesNotMatch(logs.join(''), /stderr/, 'nothing on stderr (no missing library or CA bundle)');
  });
});
