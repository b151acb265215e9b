// IDs, unique ID prefixes and names, wherever a command takes a container, pod or image.
import type { Container__Output } from '../../../pkg/cri/gen/runtime/v1/Container.js';
import type { Image__Output } from '../../../pkg/cri/gen/runtime/v1/Image.js';
import type { PodSandbox__Output } from '../../../pkg/cri/gen/runtime/v1/PodSandbox.js';
import { CliError, type Cli } from './context.js';

export type Container = Container__Output;
export type Pod = PodSandbox__Output;
export type Image = Image__Output;

/**
 * The one item `key` names: its full ID, its name, or a unique ID prefix (in that order, so a
 * name that looks like a prefix still wins). Several with one name: the newest.
 */
export function pick<T extends { id: string; created_at: string }>(items: T[], key: string, nameOf: (t: T) => string, what: string): T {
  const byId = items.find((t) => t.id === key);
  if (byId) return byId;
  const named = items.filter((t) => nameOf(t) === key);
  if (named.length) return named.reduce((a, b) => (BigInt(b.created_at) > BigInt(a.created_at) ? b : a));
  const prefixed = key ? items.filter((t) => t.id.startsWith(key)) : [];
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) throw new CliError(`${what} "${key}" is ambiguous: ${prefixed.length} ${what}s have IDs starting with it`);
  throw new CliError(`no such ${what}: ${key}`);
}

export async function listContainers(cli: Cli): Promise<Container[]> {
  return (await cli.cri.runtime('ListContainers', {})).containers;
}

export async function listPods(cli: Cli): Promise<Pod[]> {
  return (await cli.cri.runtime('ListPodSandbox', {})).items;
}

export async function resolveContainer(cli: Cli, key: string, all?: Container[]): Promise<Container> {
  return pick(all ?? (await listContainers(cli)), key, (c) => c.metadata?.name ?? '', 'container');
}

export async function resolvePod(cli: Cli, key: string, all?: Pod[]): Promise<Pod> {
  return pick(all ?? (await listPods(cli)), key, (p) => p.metadata?.name ?? '', 'pod');
}

/** An image by reference (the daemon's lookup: tags, digests, IDs, ID prefixes). */
export async function resolveImage(cli: Cli, key: string): Promise<Image> {
  const res = await cli.cri.image('ImageStatus', { image: { image: key } });
  if (!res.image) throw new CliError(`no such image: ${key}`);
  return res.image;
}

/** The name to show for an image ID or repo digest: its first tag, else the reference itself. */
export function imageNamer(images: Image[]): (idOrRef: string) => string {
  const names = new Map<string, string>();
  for (const i of images) for (const k of [i.id, ...i.repo_digests]) names.set(k, i.repo_tags[0] ?? i.repo_digests[0] ?? i.id);
  return (ref) => names.get(ref) ?? ref;
}
