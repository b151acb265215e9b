// Image references in the Docker grammar: `[domain[:port]/]path[:tag][@digest]`, normalised as
// Docker and containerd do (`busybox` → `docker.io/library/busybox:latest`).
import { InvalidArgumentError } from '../errors/errors.js';

export interface Reference {
  /** Registry host as written (`docker.io` for Docker Hub), with port if any. */
  domain: string;
  /** Repository path inside the registry (`library/busybox`). */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

function invalid(ref: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid image reference "${ref}": ${why}`);
}

/** Parses and normalises a reference; a reference with neither tag nor digest gets `latest`. */
export function parseReference(ref: string): Reference {
  if (!ref) throw invalid(ref, 'empty');
  if (ref.length > 4096) throw invalid(ref.slice(0, 64) + '…', 'too long');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `malformed digest "${digest}"`);
    if (digest.startsWith('sha256:') && !SHA256.test(digest)) throw invalid(ref, `malformed sha256 digest "${digest}"`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `malformed tag "${tag}"`);
  }
  if (!rest) throw invalid(ref, 'no repository name');
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const first = rest.indexOf('/');
  if (first >= 0) {
    const head = rest.slice(0, first);
    if (head.includes('.') || head.includes(':') || head === 'localhost' || head !== head.toLowerCase()) {
      domain = head;
      path = rest.slice(first + 1);
    }
  }
  if (domain !== DEFAULT_DOMAIN && !DOMAIN.test(domain)) throw invalid(ref, `malformed registry host "${domain}"`);
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  for (const c of path.split('/')) {
    if (!PATH_COMPONENT.test(c)) {
      throw invalid(ref, c !== c.toLowerCase() ? 'repository names must be lowercase' : `malformed repository path component "${c}"`);
    }
  }
  if (domain.length + path.length + 1 > 255) throw invalid(ref, 'repository name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `domain/path`, the repository name used in repo tags and repo digests. */
export function repoName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The canonical string: `domain/path[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return repoName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** True when `s` looks like an image ID or a prefix of one rather than a name. */
export function looksLikeId(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{6,64}$/.test(s);
}
