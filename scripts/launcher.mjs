// bin/berth's first line, `#!/usr/bin/env -S [NAME=VALUE…] node FLAGS`, split at `node` into what
// env(1) sets and the node flags. Plain JavaScript, so that scripts/package.mjs imports it without
// a build; tsc copies it to dist/scripts for e2e/harness.ts.

/**
 * @param {string} text bin/berth's text; its first line is read
 * @returns {{ env: string[], flags: string[] }} NAME=VALUE words, and node's flags
 */
export function parseLauncher(text) {
  const first = text.split('\n', 1)[0] ?? '';
  const [, env = '', flags = ''] = /^#!\S*\s+-S\s+(.*?)\bnode\b(.*)$/.exec(first) ?? [];
  /** @param {string} s */
  const words = (s) => s.trim().split(/\s+/).filter(Boolean);
  return { env: words(env), flags: words(flags) };
}
