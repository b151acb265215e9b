// Small DOM helpers for the dashboard: elements built with textContent (never HTML strings, so
// nothing from the node can inject markup), number and time formatting, and accessible tables
// that turn into labelled cards on narrow screens (each cell carries its column's label).
import { JSON_REQUEST, takeEarly } from './early.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** "3m12s" since `ms` (epoch milliseconds); "–" for 0. */
export function fmtAge(ms: number, now = Date.now()): string {
  return ms ? fmtDuration((now - ms) / 1000) : '–';
}

export function fmtTime(ms: number): string {
  return ms ? new Date(ms).toLocaleString() : '–';
}

export function fmtCores(c: number): string {
  return c >= 1 ? `${c.toFixed(2)} cores` : `${Math.round(c * 1000)}m`;
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/** A <time> element showing the age, with the exact time as its datetime and tooltip. */
export function age(ms: number): HTMLElement {
  if (!ms) return h('span', null, '–');
  const iso = new Date(ms).toISOString();
  return h('time', { datetime: iso, title: fmtTime(ms) }, fmtAge(ms));
}

export function badge(text: string, kind: string = text): HTMLElement {
  return h('span', { class: `badge badge-${kind.replace(/[^a-z-]/gi, '')}` }, text);
}

export interface Column<T> {
  label: string;
  cell(row: T): Child;
  className?: string;
}

/** A table with a caption, column headers and one row per item; `empty` when there are none. */
export function table<T>(caption: string, cols: Column<T>[], rows: T[], empty: string, key?: (row: T) => string): HTMLElement {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('tr', null, ...cols.map((c) => h('th', { scope: 'col', class: c.className }, c.label)));
  const body = document.createDocumentFragment();
  for (const r of rows) {
    const tr = h('tr', key ? { 'data-key': key(r) } : null);
    for (const c of cols) tr.append(h('td', { 'data-label': c.label, class: c.className }, c.cell(r)));
    body.append(tr);
  }
  const tbody = h('tbody');
  tbody.append(body);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list' }, h('caption', null, caption), h('thead', null, head), tbody));
}

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';

/**
 * Runs `redraw` (which rebuilds what is inside `root`) and puts the keyboard focus back where
 * it was: on the same element of the row with the same key (tables' `data-key`), so that a
 * live refresh does not drop a keyboard user's place.
 */
export function keepingFocus(root: Element, redraw: () => void): void {
  const el = document.activeElement;
  const row = el && root.contains(el) ? el.closest('tr[data-key]') : null;
  const key = row?.getAttribute('data-key');
  const at = row ? [...row.querySelectorAll(FOCUSABLE)].indexOf(el!) : -1;
  redraw();
  if (key == null || at < 0) return;
  const again = [...root.querySelectorAll('tr[data-key]')].find((r) => r.getAttribute('data-key') === key);
  (again?.querySelectorAll<HTMLElement>(FOCUSABLE)[at])?.focus();
}

/** A definition list of label/value pairs. */
export function facts(pairs: [string, Child][]): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(h('dt', null, k), h('dd', null, v));
  return dl;
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await (takeEarly(url) ?? fetch(url, JSON_REQUEST));
  if (r.status === 401) {
    location.href = '/login';
    throw new Error('not logged in');
  }
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      msg = ((await r.json()) as { error?: string }).error ?? msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return (await r.json()) as T;
}

/** A text filter box; `onInput` gets the lower-cased text. */
export function filterBox(id: string, label: string, value: string, onInput: (q: string) => void): HTMLElement {
  const input = h('input', { id, type: 'search', value, autocomplete: 'off', spellcheck: 'false' });
  input.addEventListener('input', () => onInput(input.value.trim().toLowerCase()));
  return h('div', { class: 'filter' }, h('label', { for: id }, label), input);
}
