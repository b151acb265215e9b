// The containers table: one row per container, the record as JSON beside the identifying columns.
import type { Store } from '../store/store.js';
import { parseSignal } from './signals.js';
import type { ContainerInfo } from './types.js';

const SIGTERM = 15;

/** What berth keeps about a container beyond what it publishes. */
export interface ContainerRecord {
  info: ContainerInfo;
  /** Whether the container has its own PID namespace (kill init kills all). */
  ownPidNs: boolean;
  /** Overlay upper/work parent directory. */
  layerDir: string;
  rootfs: string;
  /** Hash of the CreateContainer request, to answer a kubelet retry with this container. */
  fingerprint?: string;
  /**
   * True from CreateContainer until StartContainer has made the runtime's container (conmon +
   * `runtime create`): until then there is no process, cgroup or runtime state. Absent in records
   * written before create and start were split (their runtime container was made at create).
   */
  awaitingRuntime?: boolean;
}

const MIGRATIONS = [
  `CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     sandbox_id TEXT NOT NULL,
     name_key TEXT NOT NULL UNIQUE,
     record TEXT NOT NULL
   )`,
];

const BIG = ['createdAt', 'startedAt', 'finishedAt'] as const;

const toJson = (r: ContainerRecord): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

export function nameKey(i: { sandboxId: string; name: string; attempt: number }): string {
  return `${i.sandboxId}/${i.name}/${i.attempt}`;
}

/** Records written before signals were kept as numbers held the image's StopSignal text. */
function upgradeStopSignal(r: ContainerRecord & { stopSignal?: string }): void {
  if (typeof r.info.stopSignal !== 'number') r.info.stopSignal = parseSignal(r.stopSignal ?? '') ?? SIGTERM;
  delete r.stopSignal;
}

export class ContainerTable {
  constructor(private readonly store: Store) {
    store.migrate('container', MIGRATIONS);
  }

  all(): ContainerRecord[] {
    const rows = this.store.db.prepare('SELECT record FROM containers').all() as { record: string }[];
    return rows.map((row) => {
      const r = JSON.parse(row.record) as ContainerRecord & { cgroupsPath?: string };
      const info = r.info as unknown as Record<string, unknown>;
      for (const k of BIG) info[k] = BigInt(info[k] as string);
      upgradeStopSignal(r as ContainerRecord & { stopSignal?: string });
      // Records written before the path was published kept it beside the info.
      if (r.cgroupsPath) r.info.cgroupsPath ??= r.cgroupsPath;
      delete r.cgroupsPath;
      return r;
    });
  }

  /** One transaction per state change, written before the call returns. */
  put(r: ContainerRecord): void {
    this.store.db
      .prepare('INSERT INTO containers (id, sandbox_id, name_key, record) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record')
      .run(r.info.id, r.info.sandboxId, nameKey(r.info), toJson(r));
  }

  delete(id: string): void {
    this.store.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}
