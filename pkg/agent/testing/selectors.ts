// Field and label selectors as the API server reads them, for the fields the test API server
// supports (metadata.name, metadata.namespace) and the equality-based label grammar
// (`k=v`, `k==v`, `k!=v`, `k`, `!k`). Anything else is refused, as the real server refuses
// field selectors it has no index for.
import type { KubeObject } from './store.js';

export class SelectorError extends Error {}

type Test = (o: KubeObject) => boolean;

function fieldTest(term: string): Test {
  const m = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (!m) throw new SelectorError(`invalid field selector: "${term}"`);
  const [, field, op, value] = m as unknown as [string, string, string, string];
  const get = field === 'metadata.name' ? (o: KubeObject) => o.metadata.name : field === 'metadata.namespace' ? (o: KubeObject) => o.metadata.namespace ?? '' : undefined;
  if (!get) throw new SelectorError(`field label not supported: ${field}`);
  return op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value;
}

function labelTest(term: string): Test {
  const neg = /^!\s*([^=!\s]+)$/.exec(term);
  if (neg) return (o) => !(neg[1]! in (o.metadata.labels ?? {}));
  const m = /^([^=!\s]+)\s*(?:(==|=|!=)\s*(.*))?$/.exec(term);
  if (!m) throw new SelectorError(`unable to parse requirement: "${term}"`);
  const [, key, op, value] = m as unknown as [string, string, string | undefined, string];
  if (!op) return (o) => key in (o.metadata.labels ?? {});
  return op === '!=' ? (o) => o.metadata.labels?.[key] !== value : (o) => o.metadata.labels?.[key] === value;
}

/** One predicate for both selectors; empty selectors match everything. */
export function parseSelectors(fieldSelector: string, labelSelector: string): Test {
  const split = (s: string) => s.split(',').map((t) => t.trim()).filter(Boolean);
  const tests = [...split(fieldSelector).map(fieldTest), ...split(labelSelector).map(labelTest)];
  return (o) => tests.every((t) => t(o));
}
