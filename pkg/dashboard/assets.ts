// The dashboard's static files, all from the build: the pages and styles in pkg/dashboard/web/
// (read in place, as the seccomp profile is) and the scripts tsc compiled from it into dist/.
// Read once, kept in memory (a few tens of KiB), served with an ETag.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../version/version.js';

export const SOURCE_DIR = path.join(PROJECT_ROOT, 'pkg/dashboard/web');
export const BUILD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'web');

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

async function load(): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  const add = async (dir: string, exts: string[]) => {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const ext = path.extname(name);
      if (!exts.includes(ext)) continue;
      const body = await readFile(path.join(dir, name));
      out.set(name, { body, type: TYPES[ext]!, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
    }
  };
  await add(SOURCE_DIR, ['.html', '.css', '.svg']);
  await add(BUILD_DIR, ['.js']);
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
