// The sandboxes table: one row per sandbox, the record as JSON beside the columns that identify it.
import type { Store } from '../store/store.js';
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
  networkAttached: boolean;
  /** The pause container (pid POD) has been deleted from the runtime. */
  pauseDeleted?: boolean;
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

export class SandboxTable {
  constructor(private readonly store: Store) {
    store.migrate('sandbox', MIGRATIONS);
  }

  all(): SandboxRecord[] {
    return (this.store.db.prepare('SELECT record FROM sandboxes').all() as Row[]).map((r) => {
      const rec = JSON.parse(r.record) as SandboxRecord & { info: { createdAt: string } };
      return { ...rec, info: { ...rec.info, createdAt: BigInt(rec.info.createdAt) } } as SandboxRecord;
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
