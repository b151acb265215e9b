// The default runtime handler the daemon runs with: crun where it is installed, runc (logged)
// where the configured default's binary is missing, and what Status says in each case.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon } from './harness.js';

async function withDaemon(toml: string, fn: (d: Awaited<ReturnType<typeof startDaemon>>) => Promise<void>): Promise<void> {
  const d = await startDaemon({ toml: `cgroup_driver = "cgroupfs"\n${toml}` });
  try {
    await fn(d);
  } finally {
    await d.stop();
    await d.cleanup();
  }
}

const runtimeReady = async (d: Awaited<ReturnType<typeof startDaemon>>) =>
  (await d.client.runtime('Status', {})).status!.conditions.find((c) => c.type === 'RuntimeReady');

describe('default runtime handler', () => {
  it('a default handler whose binary is missing falls back to runc: RuntimeReady, the empty name is runc, and the log says why', async () => {
    await withDaemon('[runtime]\ndefault_handler = "crun"\n[runtime.handlers.crun]\npath = "/nonexistent/crun"\n', async (d) => {
      assert.equal((await runtimeReady(d))?.status, true);
      const s = await d.client.runtime('Status', { verbose: true });
      assert.equal((JSON.parse(s.info.config!) as { runtime: { default_handler: string } }).runtime.default_handler, 'runc');
      const byName = new Map(s.runtime_handlers.map((h) => [h.name, h.features]));
      assert.deepEqual(byName.get(''), byName.get('runc'));
      assert.match(d.logs(), /default runtime handler \\"crun\\": \/nonexistent\/crun is not there; pods that name no handler run under \\"runc\\"/);
    });
  });

  it('a default handler that is there is kept, and logged', async () => {
    await withDaemon('[runtime]\ndefault_handler = "crun"\n', async (d) => {
      assert.equal((await runtimeReady(d))?.status, true);
      assert.match(d.logs(), /"handler":"crun","path":"\/usr\/bin\/crun".*"msg":"default runtime handler"/);
    });
  });
});
