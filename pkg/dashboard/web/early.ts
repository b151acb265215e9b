// The data of the section in the address, requested as soon as this small module arrives (index.html
// loads it async, next to the page's other modules), so the API answer travels while the rest of
// the scripts load and compile instead of after them. getJson takes the answer once; later
// refreshes fetch anew.

/** The API address a section's page loads first (keep in step with main.ts's routes). */
export function firstDataUrl(hash: string): string | undefined {
  const m = /^#\/containers\/([0-9a-f]{1,64})$/.exec(hash);
  if (m) return `/api/containers/${m[1]}`;
  switch (hash) {
    case '#/node':
      return '/api/node';
    case '#/containers':
      return '/api/containers';
    case '#/images':
      return '/api/images';
    case '#/events':
      return undefined;
    default:
      return '/api/pods';
  }
}

export const JSON_REQUEST: RequestInit = { headers: { Accept: 'application/json' }, credentials: 'same-origin' };

const early = new Map<string, Promise<Response>>();
const first = firstDataUrl(location.hash);
// A failed early request is left for getJson to report (it awaits the same promise).
if (first) early.set(first, fetch(first, JSON_REQUEST));

/** The early answer for `url`, once; undefined when there is none (any later request). */
export function takeEarly(url: string): Promise<Response> | undefined {
  const r = early.get(url);
  early.delete(url);
  return r;
}
