// The dashboard page: a hash router over the sections (#/node, #/pods, #/containers,
// #/containers/<id>, #/images, #/events) and one live event stream: every lifecycle event
// refreshes the section on screen, so a new container shows up without a reload.
import { ContainerPage } from './container-page.js';
import { clear, h } from './dom.js';
import { NodePage } from './node-page.js';
import { ContainersPage, EventsPage, ImagesPage, PodsPage, type Page } from './pages.js';
import type { FeedEvent } from './views.js';

const main = document.getElementById('main')!;
const live = document.getElementById('live')!;
const history: FeedEvent[] = [];
let page: Page | undefined;
let pending: ReturnType<typeof setTimeout> | undefined;

function pageFor(hash: string): Page {
  const m = /^#\/containers\/([0-9a-f]{1,64})$/.exec(hash);
  if (m) return new ContainerPage(m[1]!);
  switch (hash) {
    case '#/node':
      return new NodePage();
    case '#/containers':
      return new ContainersPage();
    case '#/images':
      return new ImagesPage();
    case '#/events': {
      const p = new EventsPage();
      queueMicrotask(() => p.seed(history));
      return p;
    }
    default:
      return new PodsPage();
  }
}

function markNav(hash: string): void {
  const section = hash.startsWith('#/containers') ? '#/containers' : hash || '#/pods';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.getAttribute('href') === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function show(focus: boolean): Promise<void> {
  page?.dispose?.();
  clearTimeout(pending);
  const hash = location.hash;
  const p = pageFor(hash);
  page = p;
  markNav(hash);
  clear(main);
  document.title = `${p.title} · berth`;
  main.setAttribute('aria-busy', 'true');
  // A page puts its heading up before it asks for its data.
  const rendering = p.render(main);
  // After a navigation, move focus to the new heading at once, as a screen reader user expects
  // (not once the data came: a keyboard user would be left on the link, then pulled back).
  if (focus) main.querySelector<HTMLElement>('h1')?.focus();
  try {
    await rendering;
  } catch (err) {
    main.append(h('p', { class: 'error', role: 'alert' }, `Could not load this page: ${(err as Error).message}`));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

/** Refreshes the section on screen soon, once for a burst of events. */
function refreshSoon(): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = undefined;
    page?.refresh?.().catch(() => undefined);
  }, 200);
}

function connect(): void {
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  es.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
  es.addEventListener('history', (ev) => {
    history.splice(0, history.length, ...(JSON.parse((ev as MessageEvent<string>).data) as FeedEvent[]));
    if (page instanceof EventsPage) page.seed(history);
  });
  es.addEventListener('event', (ev) => {
    const e = JSON.parse((ev as MessageEvent<string>).data) as FeedEvent;
    history.push(e);
    if (history.length > 200) history.shift();
    page?.onEvent?.(e);
    refreshSoon();
  });
}

window.addEventListener('hashchange', () => void show(true));
// Ages and pull times move on: redraw every 10 s even without events.
setInterval(() => {
  if (!document.hidden) page?.refresh?.().catch(() => undefined);
}, 10_000);
connect();
void show(false);
