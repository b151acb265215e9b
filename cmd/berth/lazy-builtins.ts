// Node builtins that `berth daemon` loads on first use instead of at start. scripts/bundle.mjs
// replaces each in the daemon's bundle with a stand-in that has the builtin's property names
// and requires it when one is first read. esbuild hoists every import to the top of the one-file
// bundle, so an import of node:https in the registry client loaded https, tls and most of
// crypto's JavaScript at start; an idle daemon with no pods never uses them. node:crypto (16
// modules) and node:v8 load at their first use too, after the daemon is ready.
// http has a stand-in too, though the streaming server loads it at start. Left out: builtins
// start-up uses anyway (net, fs, child_process), and worker_threads and assert (pino and its
// destination call them as they load).

/** The builtins the daemon's bundle loads lazily (bare names; `node:` imports are the same). */
export const LAZY_BUILTINS = ['http', 'https', 'tls', 'zlib', 'http2', 'v8', 'crypto'] as const;

/**
 * CommonJS source of the stand-in for builtin `name` with the property names `keys`: each
 * property reads (and writes) through to the builtin, which is required on the first access.
 * esbuild's import helpers copy properties as getters, so an import alone reads none.
 */
export function lazyBuiltinSource(name: string, keys: readonly string[]): string {
  const id = JSON.stringify(`node:${name}`);
  const props = keys.map((k) => {
    const key = JSON.stringify(k);
    return `  get ${key}() { return load()[${key}]; },\n  set ${key}(v) { load()[${key}] = v; },`;
  });
  return `let m;\nconst load = () => (m ??= require(${id}));\nmodule.exports = {\n${props.join('\n')}\n};\n`;
}
