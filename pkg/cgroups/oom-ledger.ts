// Which container an OOM kill counted in its pod's cgroup belongs to, when the container's own
// cgroup is gone before anyone read it. Under the systemd driver a container is a transient scope
// that systemd removes as soon as its last process dies; an OOM kill with memory.oom.group ends
// every process at once, and the kernel notifies memory.events changes at most every 20 ms per
// file, so the notification that shows oom_kill can be dropped with the removed cgroup. The pod's
// cgroup outlives its containers and counts their kills too (cgroup v2 memory.events is
// hierarchical), so a kill there that no container's own count explains, seen when a container
// ends by SIGKILL with its cgroup gone, is that container's.

interface Watched {
  parent: string;
  /** The parent's oom_kill when the watch began. */
  parentKills: number;
  /** The parent's explained kills then. */
  explained: number;
}

export class OomLedger {
  /** Per parent cgroup: kills its containers' own counts (or earlier claims) account for. */
  private readonly explained = new Map<string, number>();
  private readonly watched = new Map<string, Watched>();

  /** Container `id`, a child of cgroup `parent`, is watched from now; `parentKills` is the parent's oom_kill count now. */
  begin(id: string, parent: string, parentKills: number): void {
    this.watched.set(id, { parent, parentKills, explained: this.explained.get(parent) ?? 0 });
  }

  /** `n` more kills were counted in the own cgroup of a container under `parent`. */
  explain(parent: string, n: number): void {
    if (n > 0) this.explained.set(parent, (this.explained.get(parent) ?? 0) + n);
  }

  /**
   * Container `id` ended and its own count cannot be read: whether its parent (now at
   * `parentKills`) counted kills since the watch began that no container accounts for. Those
   * kills become this container's, so a sibling ending later does not claim them again.
   */
  claim(id: string, parentKills: number): boolean {
    const w = this.watched.get(id);
    if (!w) return false;
    const explainedSince = (this.explained.get(w.parent) ?? 0) - w.explained;
    const unexplained = parentKills - w.parentKills - explainedSince;
    if (unexplained <= 0) return false;
    this.explain(w.parent, unexplained);
    return true;
  }

  /** Forgets `id`, and its parent's tally once no watched container is under it. */
  end(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    this.watched.delete(id);
    for (const other of this.watched.values()) if (other.parent === w.parent) return;
    this.explained.delete(w.parent);
  }
}
