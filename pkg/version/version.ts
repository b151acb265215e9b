import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/pkg/version/version.js → the project root three levels up holds package.json.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const PROJECT_ROOT = root;
export const VERSION: string = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
export const RUNTIME_NAME = 'berth';
export const CRI_API_VERSION = 'v1';
