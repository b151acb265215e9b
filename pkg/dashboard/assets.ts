// The dashboard's static files, all from the build: the pages and styles in pkg/dashboard/web/
// (read in place, as the seccomp profile is) and the scripts tsc compiled from it into dist/.
// Read once, kept in memory (a few tens of KiB), served with an ETag. index.html names every
// compiled module as a modulepreload, so the browser asks for all of them at once instead of
// discovering them import by import, one round trip per level.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../version/version.js';

export const SOURCE_DIR = path.join(PROJECT_ROOT, 'pkg/dashboard/web');
// tsc's output of pkg/dashboard/web (its own tsconfig), also when this file runs from the bundle.
export const BUILD_DIR = path.join(PROJECT_ROOT, 'dist/pkg/dashboard/web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The login page's failure notice is marked hidden until a login failed. */
const FAILED_MARK = 'id="failed" hidden';

/** Where index.html lists the modules to preload. */
const PRELOAD_MARK = '<!-- modulepreload -->';
/** The page's entry module, and the modules index.html loads with a script tag of their own. */
const ENTRY = 'main.js';
const LOADED_BY_TAG = new Set([ENTRY, 'early.js']);
const IMPORT = /^(?:import|export)\b[^'"]*?['"]\.\/([\w.-]+\.js)['"]/gm;

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

/** Every module `entry` imports, directly or not (tsc's output: one static import per line). */
export function importGraph(entry: string, source: (name: string) => string | undefined): string[] {
  const seen = new Set([entry]);
  const queue = [entry];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    for (const m of (source(name) ?? '').matchAll(IMPORT)) {
      if (!seen.has(m[1]!)) queue.push(m[1]!);
      seen.add(m[1]!);
    }
  }
  return [...seen].sort();
}

/** index.html with a modulepreload link for each module the page imports. */
export function withPreloads(html: string, source: (name: string) => string | undefined): string {
  const links = importGraph(ENTRY, source).filter((m) => !LOADED_BY_TAG.has(m))
    .map((m) => `<link rel="modulepreload" href="/assets/${m}">`);
  return html.replace(PRELOAD_MARK, links.join('\n  '));
}

async function load(): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  const add = async (dir: string, exts: string[]) => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const ext = path.extname(name);
      if (exts.includes(ext)) out.set(name, asset(await readFile(path.join(dir, name)), TYPES[ext]!));
    }
  };
  await add(SOURCE_DIR, ['.html', '.css', '.svg']);
  await add(BUILD_DIR, ['.js']);
  const index = out.get('index.html');
  const source = (name: string) => out.get(name)?.body.toString('utf8');
  if (index) out.set('index.html', asset(Buffer.from(withPreloads(index.body.toString('utf8'), source)), index.type));
  return out;
}

export class Assets {
  private files: Promise<Map<string, Asset>> | undefined;

  async serve(req: IncomingMessage, res: ServerResponse, name: string, loginFailed = false): Promise<void> {
    this.files ??= load();
    const a = (await this.files).get(name);
    if (!a) return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    let body = a.body;
    if (loginFailed) body = Buffer.from(body.toString('utf8').replace(FAILED_MARK, 'id="failed"'));
    else if (req.headers['if-none-match'] === a.etag) return void res.writeHead(304, { ETag: a.etag }).end();
    res.writeHead(200, { 'Content-Type': a.type, 'Content-Length': body.length, 'Cache-Control': 'no-cache', ...(loginFailed ? {} : { ETag: a.etag }) });
    res.end(body);
  }
}
