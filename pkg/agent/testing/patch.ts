// Patch semantics of the Kubernetes API for the test API server: JSON merge patch (RFC 7386)
// and strategic merge patch restricted to what berth's agent sends (maps: labels,
// annotations). A strategic patch that holds a list or a `$`-directive is refused rather than
// guessed at: the real server merges lists by each field's patchMergeKey, which this stand-in
// does not know.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class PatchError extends Error {
  constructor(message: string, readonly code: number, readonly reason: string) {
    super(message);
  }
}

/** RFC 7386: objects merge key by key, null removes a key, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Strategic merge patch on maps (same result as a merge patch there); lists and directives are refused. */
export function strategicMergePatch(target: Json, patch: Json): Json {
  const check = (p: Json, where: string): void => {
    if (Array.isArray(p)) {
      throw new PatchError(`strategic merge patch of a list (${where}) is not implemented by the test API server`, 415, 'UnsupportedMediaType');
    }
    if (!isObj(p)) return;
    for (const [k, v] of Object.entries(p)) {
      if (k.startsWith('$')) throw new PatchError(`strategic merge directive ${k} is not implemented by the test API server`, 415, 'UnsupportedMediaType');
      check(v, where ? `${where}.${k}` : k);
    }
  };
  if (!isObj(patch)) throw new PatchError('a strategic merge patch must be a JSON object', 400, 'BadRequest');
  check(patch, '');
  return mergePatch(target, patch);
}
