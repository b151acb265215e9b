import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The bundled daemon (scripts/bundle.mjs) defines BERTH_BUNDLE: its chunks sit in dist/bundle/,
// two levels below the root; this file compiled alone is dist/pkg/version/version.js, three levels.
declare const BERTH_BUNDLE: boolean | undefined;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), typeof BERTH_BUNDLE === 'undefined' ? '../../..' : '../..');

export const PROJECT_ROOT = root;
export const VERSION: string = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
export const RUNTIME_NAME = 'berth';
export const CRI_API_VERSION = 'v1';
