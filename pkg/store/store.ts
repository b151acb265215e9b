import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * better-sqlite3's compiled addon, named by path: its own lookup (the `bindings` package) tries
 * several build directories relative to the caller's package, which does not work from the
 * bundle (scripts/bundle.mjs bundles better-sqlite3's JavaScript, 16-45 ms less start-up than
 * loading its dozen files from node_modules) and is slower anyway.
 */
const SQLITE_ADDON = path.join(path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build/Release/better_sqlite3.node');

export type DB = Database.Database;

/**
 * berth's state database. Each domain package owns its tables and registers its own ordered
 * migrations under a component name, so packages evolve their schema independently.
 */
export class Store {
  readonly db: DB;

  private constructor(db: DB) {
    this.db = db;
  }

  /** Opens (creating if needed) the database file; WAL, synchronous=FULL so a commit survives a crash. */
  static open(file: string): Store {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file, { nativeBinding: SQLITE_ADDON });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    return new Store(db);
  }

  /** Runs the steps of `component` that this database has not seen yet, each in a transaction. */
  migrate(component: string, steps: readonly string[]): void {
    const row = this.db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as
      | { version: number }
      | undefined;
    const have = row?.version ?? 0;
    if (have > steps.length) {
      throw new Error(`state database has ${component} schema version ${have}, newer than this berth knows (${steps.length})`);
    }
    for (let v = have; v < steps.length; v++) {
      this.db.transaction(() => {
        this.db.exec(steps[v]!);
        this.db
          .prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version')
          .run(component, v + 1);
      })();
    }
  }

  schemaVersion(component: string): number {
    const row = this.db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as
      | { version: number }
      | undefined;
    return row?.version ?? 0;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
