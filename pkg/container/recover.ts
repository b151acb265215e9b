// Recovery at daemon start: containers outlive the daemon (conmon owns them). Reload the records,
// report exits that happened while berth was down (exit files), and ask the runtime about the rest.
import { errorMessage } from '../errors/errors.js';
import type { ContainerManager } from './service.js';

export async function recoverContainers(m: ContainerManager): Promise<void> {
  for (const r of m.table.all()) m.index(r);
  // Reports every exit file present, through the same path as live exits.
  await m.exits.start();
  await Promise.all([...m.records.values()].map(async (r) => {
    const id = r.info.id;
    if (r.info.state === 'CONTAINER_EXITED') return;
    if ((await m.exits.check(id)) !== undefined) return;
    try {
      const st = await m.driver.state(m.handler(r.info.runtimeHandler), id);
      if (!st || st.status === 'stopped') {
        // conmon may be writing the exit file right now; look once more before calling it lost.
        if ((await m.exits.check(id)) !== undefined) return;
        await m.onExit(id, 255);
        r.info.message = st ? 'the container stopped while berth was down; its exit code is unknown' : 'the runtime no longer knows the container';
        m.save(r);
        return;
      }
      if (st.status === 'running' && r.info.state === 'CONTAINER_CREATED') {
        r.info.state = 'CONTAINER_RUNNING';
        m.save(r);
      }
      if (st.pid && st.pid !== r.info.pid) {
        r.info.pid = st.pid;
        m.save(r);
      }
    } catch (err) {
      m.o.log.warn({ id, err: errorMessage(err) }, 'container recovery: runtime state failed');
    }
  }));
  m.o.log.info({ containers: m.records.size }, 'containers recovered');
}
