// A list-and-watch of one kind of object in a namespace (client-node's ListWatch): it re-lists
// by itself when the server says its resourceVersion is gone (410); after any other failure
// (connection refused, 5xx) it starts again after a growing delay, which ListWatch leaves to
// its user.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/log.js';
import { apiMessage } from './kube.js';

export class Informer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private delayMs = 500;
  private listed = false;

  constructor(
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    onChange: () => void,
    private readonly log: Logger,
    fieldSelector?: string,
  ) {
    const listOnce = async () => {
      const l = await list();
      // ListWatch fills its cache from `l` in the same microtask run, before any timer or I/O.
      this.listed = true;
      return l;
    };
    this.lw = new ListWatch<T>(path, new Watch(kc), listOnce, false, undefined, fieldSelector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.lw.on(verb, () => {
        this.delayMs = 500;
        onChange();
      });
    }
    this.lw.on('connect', () => log.debug({ path }, 'watch (re)connecting'));
    this.lw.on('error', (err: unknown) => {
      if (this.stopped) return; // stop() aborts the request, which ListWatch reports as an error
      log.warn({ path, err: apiMessage(err), retryMs: this.delayMs }, 'list/watch failed; starting again');
      this.retry = setTimeout(() => void this.lw.start(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 30_000);
    });
  }

  async start(): Promise<void> {
    await this.lw.start();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  /**
   * True once a list has succeeded, and from then on (client-go's HasSynced): while it lists
   * again after a 410 the cache keeps the last state, and what the new list changes comes as
   * add/update/delete. (ListWatch empties its resourceVersion meanwhile: a sync gated on that
   * was skipped, and nothing ran it again when the new list changed nothing.)
   */
  get synced(): boolean {
    return this.listed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.lw.stop();
  }
}
