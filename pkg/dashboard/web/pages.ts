// The list pages: pods, containers (with CPU and memory charts), images and live events.
import { StatsFeed, sparkline } from './charts.js';
import { age, badge, clear, filterBox, fmtBytes, fmtTime, getJson, h, keepingFocus, shortId, table, type Column } from './dom.js';
import type { ContainerView, FeedEvent, ImageView, PodView } from './views.js';

export interface Page {
  title: string;
  /** Builds the page into `root` (emptied before). */
  render(root: HTMLElement): Promise<void>;
  /** Fetches again and redraws the data part (after an event, or periodically). */
  refresh?(): Promise<void>;
  /** A lifecycle event arrived from the node. */
  onEvent?(e: FeedEvent): void;
  dispose?(): void;
}

export const containerLink = (id: string, name: string): HTMLElement =>
  h('a', { href: `#/containers/${id}`, title: `container ${id}` }, name || shortId(id));

/** A page with a heading, an optional filter and a data section redrawn on refresh. */
abstract class ListPage<T> implements Page {
  abstract title: string;
  protected data: T[] = [];
  protected query = '';
  protected section = h('section', { 'aria-live': 'off' });
  protected abstract load(): Promise<T[]>;
  protected abstract draw(rows: T[]): HTMLElement;
  protected abstract text(row: T): string;
  protected filterLabel = 'Filter';

  async render(root: HTMLElement): Promise<void> {
    root.append(h('h1', { tabindex: -1 }, this.title));
    root.append(filterBox('filter', this.filterLabel, this.query, (q) => {
      this.query = q;
      this.redraw();
    }));
    root.append(this.section);
    await this.refresh();
  }

  async refresh(): Promise<void> {
    this.data = await this.load();
    this.redraw();
  }

  protected redraw(): void {
    const rows = this.query ? this.data.filter((r) => this.text(r).toLowerCase().includes(this.query)) : this.data;
    keepingFocus(this.section, () => {
      clear(this.section);
      this.section.append(this.draw(rows));
    });
  }
}

export class PodsPage extends ListPage<PodView> {
  title = 'Pods';
  protected filterLabel = 'Filter pods';
  protected async load() {
    return (await getJson<{ pods: PodView[] }>('/api/pods')).pods;
  }
  protected text(p: PodView) {
    return `${p.namespace}/${p.name} ${p.ip} ${p.state} ${p.containers.map((c) => c.name).join(' ')}`;
  }
  protected draw(rows: PodView[]) {
    const cols: Column<PodView>[] = [
      { label: 'Pod', cell: (p) => h('span', { class: 'name', title: `sandbox ${p.id}` }, h('span', { class: 'ns' }, `${p.namespace}/`), p.name) },
      { label: 'State', cell: (p) => badge(p.state === 'ready' ? 'ready' : 'not ready', p.state) },
      { label: 'Age', cell: (p) => age(p.createdAt) },
      { label: 'IP', cell: (p) => (p.hostNetwork ? h('span', { class: 'muted' }, 'host network') : [p.ip, ...p.additionalIps].join(', ') || '–') },
      {
        label: 'Containers',
        cell: (p) => (p.containers.length
          ? h('ul', { class: 'chips' }, ...p.containers.map((c) => h('li', null, containerLink(c.id, c.name), ' ', badge(c.state))))
          : h('span', { class: 'muted' }, 'none')),
      },
      { label: 'Restarts', cell: (p) => p.restarts, className: 'num' },
      { label: 'Handler', cell: (p) => p.handler || 'default' },
    ];
    return table(`${rows.length} pod${rows.length === 1 ? '' : 's'}`, cols, rows, this.query ? 'No pod matches.' : 'No pods on this node.', (p) => p.id);
  }
}

export class ContainersPage extends ListPage<ContainerView> {
  title = 'Containers';
  protected filterLabel = 'Filter containers';
  private readonly stats = new StatsFeed((ids) => this.updateCharts(ids));
  private readonly cells = new Map<string, { cpu: HTMLElement; mem: HTMLElement }>();

  async render(root: HTMLElement): Promise<void> {
    await super.render(root);
    this.stats.open();
  }
  dispose(): void {
    this.stats.close();
  }
  protected async load() {
    return (await getJson<{ containers: ContainerView[] }>('/api/containers')).containers;
  }
  protected text(c: ContainerView) {
    return `${c.name} ${c.podNamespace}/${c.podName} ${c.image} ${c.state} ${c.reason} ${c.id}`;
  }
  private chartCell(c: ContainerView, kind: 'cpu' | 'mem'): HTMLElement {
    const cell = h('span', { class: 'chart-cell' });
    cell.append(sparkline(kind, this.stats.series.get(c.id)));
    const slot = this.cells.get(c.id) ?? { cpu: cell, mem: cell };
    slot[kind] = cell;
    this.cells.set(c.id, slot);
    return cell;
  }
  private updateCharts(ids: string[]): void {
    for (const id of ids) {
      const slot = this.cells.get(id);
      if (!slot) continue;
      slot.cpu.replaceChildren(sparkline('cpu', this.stats.series.get(id)));
      slot.mem.replaceChildren(sparkline('mem', this.stats.series.get(id)));
    }
  }
  protected draw(rows: ContainerView[]) {
    this.cells.clear();
    const cols: Column<ContainerView>[] = [
      { label: 'Container', cell: (c) => containerLink(c.id, c.name) },
      { label: 'Pod', cell: (c) => (c.podName ? `${c.podNamespace}/${c.podName}` : shortId(c.podId)) },
      { label: 'State', cell: (c) => badge(c.state) },
      { label: 'Image', cell: (c) => h('span', { class: 'image', title: c.imageId }, c.image) },
      { label: 'CPU', cell: (c) => this.chartCell(c, 'cpu') },
      { label: 'Memory', cell: (c) => this.chartCell(c, 'mem') },
      { label: 'Exit code', cell: (c) => (c.exitCode === null ? '–' : h('span', { class: c.exitCode ? 'bad' : '' }, String(c.exitCode))), className: 'num' },
      { label: 'Reason', cell: (c) => c.reason || '–' },
      { label: 'Started', cell: (c) => age(c.startedAt) },
    ];
    return table(`${rows.length} container${rows.length === 1 ? '' : 's'}`, cols, rows,
      this.query ? 'No container matches.' : 'No containers on this node.', (c) => c.id);
  }
}

export class ImagesPage extends ListPage<ImageView> {
  title = 'Images';
  protected filterLabel = 'Filter images';
  protected async load() {
    return (await getJson<{ images: ImageView[] }>('/api/images')).images;
  }
  protected text(i: ImageView) {
    return `${i.tags.join(' ')} ${i.id}`;
  }
  protected draw(rows: ImageView[]) {
    const cols: Column<ImageView>[] = [
      { label: 'Tags', cell: (i) => (i.tags.length ? h('ul', { class: 'plain' }, ...i.tags.map((t) => h('li', null, t))) : h('span', { class: 'muted' }, 'untagged')) },
      { label: 'ID', cell: (i) => h('code', { title: i.id }, shortId(i.id)) },
      { label: 'Size', cell: (i) => fmtBytes(i.size), className: 'num' },
      {
        label: 'In use by',
        cell: (i) => (i.usedBy.length
          ? h('ul', { class: 'chips' }, ...i.usedBy.map((u) => h('li', null, containerLink(u.id, u.podName ? `${u.podName}/${u.name}` : u.name))))
          : h('span', { class: 'muted' }, 'not in use')),
      },
    ];
    return table(`${rows.length} image${rows.length === 1 ? '' : 's'}`, cols, rows, this.query ? 'No image matches.' : 'No images pulled yet.', (i) => i.id);
  }
}

export class EventsPage implements Page {
  title = 'Events';
  private readonly events: FeedEvent[] = [];
  private readonly section = h('section');

  async render(root: HTMLElement): Promise<void> {
    root.append(h('h1', { tabindex: -1 }, this.title), h('p', { class: 'muted' }, 'Lifecycle events of pods, containers and image pulls, newest first, as they happen.'), this.section);
    this.draw();
  }

  /** The history the live stream starts with (main.ts hands it over). */
  seed(history: FeedEvent[]): void {
    this.events.splice(0, this.events.length, ...history.slice().reverse());
    this.draw();
  }

  onEvent(e: FeedEvent): void {
    this.events.unshift(e);
    if (this.events.length > 200) this.events.pop();
    this.draw();
  }

  private draw(): void {
    const cols: Column<FeedEvent>[] = [
      { label: 'Time', cell: (e) => h('time', { datetime: new Date(e.time).toISOString() }, fmtTime(e.time)) },
      { label: 'Kind', cell: (e) => e.kind },
      { label: 'Event', cell: (e) => badge(e.action, e.action.replace(/ /g, '-')) },
      { label: 'Name', cell: (e) => (e.kind === 'container' ? containerLink(e.id, e.name) : e.name || shortId(e.id)) },
      { label: 'Pod', cell: (e) => (e.podName ? `${e.podNamespace}/${e.podName}` : '–') },
      { label: 'Detail', cell: (e) => e.detail || '–' },
    ];
    keepingFocus(this.section, () => {
      clear(this.section);
      this.section.append(table(`${this.events.length} recent event${this.events.length === 1 ? '' : 's'}`, cols, this.events, 'No events yet: they appear here as pods and containers change.', (e) => String(e.seq)));
    });
  }
}
