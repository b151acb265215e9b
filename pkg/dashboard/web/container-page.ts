// One container: its state (exit code and reason once it stopped), CPU and memory charts, and
// its log, followed live and searchable.
import { StatsFeed, sparkline } from './charts.js';
import { age, badge, clear, facts, fmtTime, getJson, h, shortId } from './dom.js';
import type { Page } from './pages.js';
import type { ContainerView, FeedEvent, LogLine } from './views.js';

const MAX_LINES = 5000;

/** `text` with each (case-insensitive) occurrence of `q` in a <mark>. */
export function highlight(text: string, q: string): (string | HTMLElement)[] {
  if (!q) return [text];
  const out: (string | HTMLElement)[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h('mark', null, text.slice(i, i + q.length)));
    at = i + q.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export class ContainerPage implements Page {
  title = 'Container';
  private readonly info = h('section', { 'aria-labelledby': 'state-h' });
  private readonly charts = h('div', { class: 'charts' });
  private readonly log = h('div', { class: 'log', id: 'log', tabindex: 0, role: 'region', 'aria-label': 'Container log' });
  private readonly status = h('p', { class: 'muted', id: 'log-status', role: 'status' });
  private readonly stats = new StatsFeed((ids) => ids.includes(this.id) && this.drawCharts());
  private es: EventSource | undefined;
  private query = '';
  private follow = true;
  private lines = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly id: string) {}

  async render(root: HTMLElement): Promise<void> {
    const search = h('input', { id: 'log-search', type: 'search', autocomplete: 'off', spellcheck: 'false' });
    const form = h('form', { class: 'log-controls', role: 'search', 'aria-label': 'Search the log' },
      h('label', { for: 'log-search' }, 'Search log'), search, h('button', { type: 'submit' }, 'Search'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.query = search.value.trim().toLowerCase();
      this.openLog();
    });
    const follow = h('input', { id: 'log-follow', type: 'checkbox', checked: true });
    follow.addEventListener('change', () => {
      this.follow = follow.checked;
      this.openLog();
    });
    form.append(h('span', { class: 'check' }, follow, h('label', { for: 'log-follow' }, 'Follow')));
    root.append(
      h('h1', { tabindex: -1, id: 'page-title' }, 'Container'),
      this.info,
      h('h2', null, 'Resources'), this.charts,
      h('h2', { id: 'log-h' }, 'Log'), form, this.status, this.log,
    );
    await this.refresh();
    this.stats.open();
    this.openLog();
  }

  async refresh(): Promise<void> {
    const { container: c } = await getJson<{ container: ContainerView }>(`/api/containers/${this.id}`);
    this.title = `Container ${c.name}`;
    document.title = `${this.title} · berth`;
    const heading = document.getElementById('page-title');
    if (heading) heading.textContent = `Container ${c.name}`;
    clear(this.info);
    this.info.append(h('h2', { id: 'state-h', class: 'visually-hidden' }, 'State'), facts([
      ['State', badge(c.state)],
      ['Exit code', c.exitCode === null ? '–' : h('span', { class: c.exitCode ? 'bad' : '', id: 'exit-code' }, String(c.exitCode))],
      ['Reason', c.reason || '–'],
      ['Message', c.message || '–'],
      ['Pod', c.podName ? `${c.podNamespace}/${c.podName}` : shortId(c.podId)],
      ['Image', h('span', { title: c.imageId }, c.image)],
      ['Attempt', String(c.attempt)],
      ['Created', fmtTime(c.createdAt)],
      ['Started', c.startedAt ? h('span', null, fmtTime(c.startedAt), ' (', age(c.startedAt), ' ago)') : '–'],
      ['Finished', fmtTime(c.finishedAt)],
      ['Runtime handler', c.handler || 'default'],
      ['ID', h('code', null, c.id)],
    ]));
    this.drawCharts();
  }

  onEvent(e: FeedEvent): void {
    if (e.kind === 'container' && e.id === this.id && e.action === 'deleted') this.status.textContent = 'This container was removed.';
  }

  dispose(): void {
    clearTimeout(this.retry);
    this.stats.close();
    const es = this.es;
    this.es = undefined;
    es?.close();
  }

  private drawCharts(): void {
    const s = this.stats.series.get(this.id);
    clear(this.charts);
    this.charts.append(
      h('figure', null, h('figcaption', null, 'CPU'), sparkline('cpu', s, 240, 48)),
      h('figure', null, h('figcaption', null, 'Memory (working set)'), sparkline('mem', s, 240, 48)),
    );
  }

  private openLog(): void {
    clearTimeout(this.retry);
    this.es?.close();
    clear(this.log);
    this.lines = 0;
    const params = new URLSearchParams({ tail: '500', follow: this.follow ? '1' : '0' });
    if (this.query) params.set('q', this.query);
    this.status.textContent = this.query ? `Lines containing “${this.query}”…` : 'Loading…';
    const es = new EventSource(`/api/containers/${this.id}/log?${params}`);
    this.es = es;
    es.addEventListener('lines', (ev) => {
      this.addLines(JSON.parse((ev as MessageEvent<string>).data) as LogLine[]);
      this.status.textContent = `${this.lines} line${this.lines === 1 ? '' : 's'}${this.query ? ` containing “${this.query}”` : ''}${this.follow ? ', following' : ''}`;
    });
    es.addEventListener('skipped', (ev) => this.log.append(h('div', { class: 'line gap' }, `… ${(ev as MessageEvent<string>).data} lines skipped (the page fell behind)`)));
    es.addEventListener('end', (ev) => {
      this.status.textContent = JSON.parse((ev as MessageEvent<string>).data) as string;
      es.close();
    });
    es.addEventListener('error', () => {
      es.close();
      // Without follow the server ends the stream after the tail: that is not an error. With
      // follow, start over (tail again) rather than let EventSource repeat the tail below.
      if (!this.follow || this.es !== es) return;
      this.status.textContent = 'Log stream interrupted; reconnecting…';
      this.retry = setTimeout(() => this.openLog(), 3000);
    });
  }

  private addLines(lines: LogLine[]): void {
    const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      frag.append(h('div', { class: `line ${l.stream}` },
        h('time', { datetime: new Date(l.time).toISOString() }, new Date(l.time).toLocaleTimeString()), ' ',
        h('span', { class: 'text' }, ...highlight(l.text, this.query))));
    }
    this.log.append(frag);
    this.lines += lines.length;
    while (this.log.childElementCount > MAX_LINES) this.log.firstElementChild!.remove();
    if (this.follow && atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
