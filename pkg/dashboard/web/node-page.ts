// The node summary page: runtime, conditions, handlers, cgroups, disk, counts, pulls, daemon.
import { badge, clear, facts, fmtBytes, fmtDuration, fmtTime, getJson, h, table, type Column } from './dom.js';
import type { Page } from './pages.js';
import type { NodeView, PullView } from './views.js';

export class NodePage implements Page {
  title = 'Node';
  private readonly section = h('div', { class: 'cards' });
  private again: ReturnType<typeof setTimeout> | undefined;

  async render(root: HTMLElement): Promise<void> {
    root.append(h('h1', { tabindex: -1 }, this.title), this.section);
    await this.refresh();
  }

  dispose(): void {
    clearTimeout(this.again);
  }

  async refresh(): Promise<void> {
    const n = await getJson<NodeView>('/api/node');
    // While a pull runs its bars move: look again in a second.
    clearTimeout(this.again);
    if (n.pulls.running.length) this.again = setTimeout(() => void this.refresh().catch(() => undefined), 1000);
    clear(this.section);
    const card = (title: string, ...body: (Node | string)[]) => h('section', { class: body.some((b) => b instanceof HTMLElement && b.querySelector('table')) ? 'card wide' : 'card', 'aria-labelledby': `card-${title.replace(/\W/g, '')}` },
      h('h2', { id: `card-${title.replace(/\W/g, '')}` }, title), ...body);
    this.section.append(
      card('Runtime', facts([
        ['Runtime', `${n.runtime.name} ${n.runtime.version}`],
        ['CRI', n.runtime.apiVersion],
        ['cgroups', n.cgroup.version ? `v${n.cgroup.version} (${n.cgroup.driver})` : `not found (${n.cgroup.driver})`],
        ['Host', `${n.host.hostname}, kernel ${n.host.kernel}`],
        ['CPUs / memory', `${n.host.cpus} / ${fmtBytes(n.host.memoryBytes)}`],
      ])),
      card('Conditions', h('ul', { class: 'plain' }, ...n.conditions.map((c) => h('li', null,
        badge(c.status ? 'true' : 'false', c.status ? 'ready' : 'notready'), ' ', h('strong', null, c.type),
        c.status ? '' : ` — ${c.reason}${c.message ? `: ${c.message}` : ''}`)))),
      card('Workloads', facts([
        ['Pods', `${n.counts.pods} (${n.counts.readyPods} ready)`],
        ['Containers', `${n.counts.containers} (${n.counts.running} running)`],
        ['Images', String(n.counts.images)],
      ])),
      card('Daemon', facts([
        ['PID', String(n.daemon.pid)],
        ['Up', fmtDuration(n.daemon.uptimeSeconds)],
        ['Memory (RSS)', fmtBytes(n.daemon.rssBytes)],
      ])),
      card('Runtime handlers', table('OCI runtimes by RuntimeClass handler', [
        { label: 'Handler', cell: (x) => h('span', null, x.name, x.isDefault ? ' ' : '', x.isDefault ? badge('default', 'created') : '') },
        { label: 'Binary', cell: (x) => h('code', null, x.path) },
      ], n.handlers, 'No handlers configured.')),
      card('Disk', table('Storage used by berth', [
        { label: 'What', cell: (d) => d.what },
        { label: 'Path', cell: (d) => h('code', null, d.mountpoint) },
        { label: 'Used', cell: (d) => fmtBytes(d.usedBytes), className: 'num' },
        { label: 'Inodes', cell: (d) => d.inodesUsed.toLocaleString(), className: 'num' },
      ], n.disk, 'No image service.')),
      card('Image pulls', pulls(n.pulls)),
    );
  }
}

/** A pull under way: bytes of all layers (a bar), layers done, time so far. */
function runningPull(r: PullView): HTMLElement {
  const total = r.layers.reduce((n, l) => n + l.size, 0);
  const got = r.layers.reduce((n, l) => n + l.current, 0);
  const done = r.layers.filter((l) => l.state === 'done' || l.state === 'exists').length;
  const bar = total
    ? h('progress', { max: total, value: got, 'aria-label': `pulling ${r.ref}: ${fmtBytes(got)} of ${fmtBytes(total)}` })
    : h('progress', { 'aria-label': `pulling ${r.ref}: resolving` });
  const detail = total ? ` ${fmtBytes(got)} / ${fmtBytes(total)}, ${done}/${r.layers.length} layers,` : ' resolving,';
  return h('li', { class: 'pull' }, h('strong', null, r.ref), ' ', bar, `${detail} ${fmtDuration((Date.now() - r.startedAt) / 1000)} so far`);
}

function pulls(p: NodeView['pulls']): HTMLElement {
  const running = p.running.map(runningPull);
  const cols: Column<PullView>[] = [
    { label: 'Image', cell: (x) => x.ref },
    { label: 'Outcome', cell: (x) => (x.outcome === 'ok' ? badge('pulled', 'ready') : badge('failed', 'notready')) },
    { label: 'Took', cell: (x) => `${(((x.finishedAt ?? x.startedAt) - x.startedAt) / 1000).toFixed(1)} s`, className: 'num' },
    { label: 'Ended', cell: (x) => fmtTime(x.finishedAt ?? 0) },
    { label: 'Detail', cell: (x) => (x.outcome === 'ok' ? h('code', null, (x.imageId ?? '').slice(7, 19)) : (x.error ?? '')) },
  ];
  return h('div', null,
    running.length ? h('ul', { class: 'plain' }, ...running) : h('p', { class: 'muted' }, 'No pull under way.'),
    table('Recent pulls', cols, p.ended, 'No pulls since the daemon started.'));
}
