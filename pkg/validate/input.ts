// Checks shared by the request validations of pods and containers: names, paths and label maps.
// Each throws InvalidArgumentError naming the field; values are quoted and cut (quote()).
import path from 'node:path';
import { InvalidArgumentError, quote } from '../errors/errors.js';

/** Longest name, namespace or uid: a Kubernetes DNS subdomain (253). */
export const MAX_NAME = 253;
/** Labels, and annotations, of one object: Kubernetes' TotalAnnotationSizeLimitB (256 KiB). */
export const MAX_LABELS_BYTES = 256 * 1024;

// Control characters and whitespace break the files and lines a name is written into
// (/etc/hosts, the hostname); ';' and '=' break CNI_ARGS (K8S_POD_NAME=…;K8S_POD_NAMESPACE=…).
const BAD_NAME_CHAR = /[\u0000-\u0020\u007f-\u00a0;=]/;

/** A metadata name, namespace or uid: non-empty, at most 253 characters, no whitespace, control characters, ';' or '='. */
export function checkName(field: string, v: string): void {
  if (!v) throw new InvalidArgumentError(`${field} is required`);
  if (v.length > MAX_NAME) throw new InvalidArgumentError(`${field} is ${v.length} characters long, over the limit of ${MAX_NAME}`);
  const bad = BAD_NAME_CHAR.exec(v);
  if (bad) throw new InvalidArgumentError(`${field} ${quote(v)} contains ${quote(bad[0])}: names may not hold whitespace, control characters, ';' or '='`);
}

/** An absolute path with no ".." component (Kubernetes refuses ".." in hostPath too). */
export function checkAbsolutePath(field: string, v: string): void {
  if (!path.posix.isAbsolute(v)) throw new InvalidArgumentError(`${field} ${quote(v)} is not an absolute path`);
  if (v.split('/').includes('..')) throw new InvalidArgumentError(`${field} ${quote(v)} contains a ".." component`);
}

/** A relative path that stays below its base: not absolute, no ".." component. */
export function checkRelativePath(field: string, v: string): void {
  if (path.posix.isAbsolute(v)) throw new InvalidArgumentError(`${field} ${quote(v)} must be relative`);
  if (v.split('/').includes('..')) throw new InvalidArgumentError(`${field} ${quote(v)} contains a ".." component`);
}

/** Keys plus values of a label or annotation map, at most MAX_LABELS_BYTES (UTF-8). */
export function checkLabelsSize(field: string, m: Record<string, string>): void {
  let n = 0;
  for (const [k, v] of Object.entries(m)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (n > MAX_LABELS_BYTES) throw new InvalidArgumentError(`${field} hold ${n} bytes, over the limit of ${MAX_LABELS_BYTES} (Kubernetes' own for annotations)`);
}
