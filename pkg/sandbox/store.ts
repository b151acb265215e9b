// The sandboxes table: one row per sandbox, the record as JSON beside the columns that identify it.
import type { Store } from '../store/store.js';
import type { PodCgroupOwner } from './pod-cgroup.js';
import type { SandboxInfo } from './types.js';

/** What berth keeps about a sandbox beyond what it publishes. */
export interface SandboxRecord {
  info: SandboxInfo;
  /** sha256 of the request, to recognise a kubelet retry of the same RunPodSandbox. */
  fingerprint: string;
  /** Unix ms when RunPodSandbox finished. */
  readyAt: number;
  /** Runtime root the pause container was started under. */
  runtimeRoot?: string;
  /** linux.cgroupsPath of the pause container (its form says which cgroup driver made it). */
  pauseCgroupsPath?: string;
  networkAttached: boolean;
  /** The pause container (pid POD) has been deleted from the runtime. */
  pauseDeleted?: boolean;
  /** Who made the pod's cgroup: berth writes limits to (and removes) only its own. */
  podCgroupOwner?: PodCgroupOwner;
}

type Row = { record: string };

const MIGRATIONS = [
  `CREATE TABLE sandboxes (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL, namespace TEXT NOT NULL, uid TEXT NOT NULL, attempt INTEGER NOT NULL,
     state TEXT NOT NULL,
     record TEXT NOT NULL,
     UNIQUE (name, namespace, uid, attempt)
   )`,
];

const toJson = (r: SandboxRecord): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/**
 * Records from before pod-level resources were applied kept the CRI message as received
 * (snake_case, never used): those are dropped; kubelet sends the figures again on a resize.
 */
function upgradeLinux(l: SandboxInfo['linux']): SandboxInfo['linux'] {
  const raw = (v: unknown): boolean => !!v && typeof v === 'object' && 'memory_limit_in_bytes' in v;
  if (!raw(l.overhead) && !raw(l.resources)) return l;
  return { ...l, overhead: raw(l.overhead) ? undefined : l.overhead, resources: raw(l.resources) ? undefined : l.resources };
}

export class SandboxTable {
  constructor(private readonly store: Store) {
    store.migrate('sandbox', MIGRATIONS);
  }

  all(): SandboxRecord[] {
    return (this.store.db.prepare('SELECT record FROM sandboxes').all() as Row[]).map((r) => {
      const rec = JSON.parse(r.record) as SandboxRecord & { info: { createdAt: string } };
      return { ...rec, info: { ...rec.info, createdAt: BigInt(rec.info.createdAt), linux: upgradeLinux(rec.info.linux) } } as SandboxRecord;
    });
  }

  put(r: SandboxRecord): void {
    const i = r.info;
    this.store.db
      .prepare(
        `INSERT INTO sandboxes (id, name, namespace, uid, attempt, state, record) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET state = excluded.state, record = excluded.record`,
      )
      .run(i.id, i.name, i.namespace, i.uid, i.attempt, i.state, toJson(r));
  }

  delete(id: string): void {
    this.store.db.prepare('DELETE FROM sandboxes WHERE id = ?').run(id);
  }
}
