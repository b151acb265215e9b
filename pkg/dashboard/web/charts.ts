// CPU and memory charts: the page opens /api/stats (the daemon samples only while such a stream
// is open), keeps each container's recent samples and draws them as small inline SVG lines.
import { fmtBytes, fmtCores } from './dom.js';
import type { Series, StatsHistory, Tick } from './views.js';

const SVG = 'http://www.w3.org/2000/svg';
const KEEP = 150;

export class StatsFeed {
  readonly series = new Map<string, Series>();
  private es: EventSource | undefined;

  constructor(private readonly onUpdate: (ids: string[]) => void) {}

  open(): void {
    this.es = new EventSource('/api/stats');
    this.es.addEventListener('history', (ev) => {
      const h = JSON.parse((ev as MessageEvent<string>).data) as StatsHistory;
      for (const [id, s] of Object.entries(h.series)) this.series.set(id, s);
      this.onUpdate(Object.keys(h.series));
    });
    this.es.addEventListener('tick', (ev) => {
      const t = JSON.parse((ev as MessageEvent<string>).data) as Tick;
      for (const [id, [cpu, mem]] of Object.entries(t.values)) {
        let s = this.series.get(id);
        if (!s) this.series.set(id, (s = { t: [], cpu: [], mem: [] }));
        s.t.push(t.t);
        s.cpu.push(cpu);
        s.mem.push(mem);
        if (s.t.length > KEEP) {
          s.t.shift();
          s.cpu.shift();
          s.mem.shift();
        }
      }
      this.onUpdate(Object.keys(t.values));
    });
  }

  close(): void {
    this.es?.close();
  }
}

/** Points of a line through `values` in a w×h box (the top is the larger of max and `floor`). */
export function linePoints(values: number[], w: number, h: number, floor: number): string {
  if (!values.length) return '';
  // One sample: a level line across the box rather than an invisible single point.
  if (values.length === 1) values = [values[0]!, values[0]!];
  const top = Math.max(floor, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  return values.map((v, i) => `${(i * step).toFixed(1)},${(h - 1 - (v / top) * (h - 2)).toFixed(1)}`).join(' ');
}

/** A small chart with its current value beside it, labelled for screen readers. */
export function sparkline(kind: 'cpu' | 'mem', s: Series | undefined, width = 96, height = 24): Element {
  const values = s ? (kind === 'cpu' ? s.cpu : s.mem) : [];
  const fmt = kind === 'cpu' ? fmtCores : fmtBytes;
  const wrap = document.createElement('span');
  wrap.className = `spark spark-${kind}`;
  if (!values.length) {
    wrap.textContent = '–';
    wrap.setAttribute('aria-label', `${kind === 'cpu' ? 'CPU' : 'Memory'}: no samples yet`);
    return wrap;
  }
  const now = values[values.length - 1]!;
  const peak = Math.max(...values);
  const minutes = s && s.t.length > 1 ? Math.max(1, Math.round((s.t[s.t.length - 1]! - s.t[0]!) / 60000)) : 0;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${kind === 'cpu' ? 'CPU' : 'Memory'} ${fmt(now)} now, peak ${fmt(peak)}${minutes ? ` over ${minutes} min` : ''}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', linePoints(values, width, height, kind === 'cpu' ? 0.01 : 1024 * 1024));
  line.setAttribute('class', 'spark-line');
  svg.append(line);
  const label = document.createElement('span');
  label.className = 'spark-value';
  label.setAttribute('aria-hidden', 'true');
  label.textContent = fmt(now);
  wrap.append(svg, label);
  return wrap;
}
