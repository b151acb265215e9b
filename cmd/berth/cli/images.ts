// Image commands: pull (with live per-layer progress), images, rmi.
import type { PullProgressMessage } from '../../../pkg/client/berth.js';
import { CliError, forEachArg, type Cli } from './context.js';
import { formatFlag, strFlag, type Flags } from './args.js';
import { humanBytes, printList, shortId } from './output.js';
import { PullProgressView } from './progress.js';
import { resolveImage } from './resolve.js';

function credentials(creds: string | undefined): { username: string; password: string } {
  if (!creds) return { username: '', password: '' };
  const i = creds.indexOf(':');
  if (i <= 0) throw new CliError('--creds: expected USER:PASS', 125);
  return { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

/** Pulls `ref` through berth's progress stream, drawing progress on `out`; returns the image ID. */
export function pullWithProgress(cli: Cli, ref: string, creds: string | undefined, out: NodeJS.WritableStream | undefined): Promise<string> {
  const view = out && new PullProgressView(out);
  const stream = cli.berth.pull({ image: ref, ...credentials(creds) });
  return new Promise((resolve, reject) => {
    let id = '';
    stream.on('data', (m: PullProgressMessage) => {
      if (m.layers.length) view?.update(m.layers);
      if (m.image_id) id = m.image_id;
    });
    stream.on('error', reject);
    stream.on('end', () => (id ? resolve(id) : reject(new CliError(`pull ${ref}: the daemon ended the stream without an image ID`))));
  });
}

export async function pull(cli: Cli, flags: Flags, args: string[]): Promise<void> {
  const ref = args[0]!;
  const id = await pullWithProgress(cli, ref, strFlag(flags, 'creds'), flags.quiet ? undefined : cli.out);
  cli.print(id);
}

export async function images(cli: Cli, flags: Flags): Promise<void> {
  const format = formatFlag(flags);
  const list = (await cli.cri.image('ListImages', {})).images;
  const rows = list.flatMap((i) => {
    const tags = i.repo_tags.length ? i.repo_tags : ['<none>:<none>'];
    return tags.map((t) => ({ image: i, repo: t.slice(0, t.lastIndexOf(':')), tag: t.slice(t.lastIndexOf(':') + 1) }));
  });
  if (format === 'json' || flags.quiet) {
    printList(cli, { format, quiet: !!flags.quiet }, list, (i) => i.id, [], () => []);
    return;
  }
  printList(cli, { format, quiet: false }, rows, (r) => r.image.id, ['IMAGE', 'TAG', 'IMAGE ID', 'SIZE', 'PINNED'], (r) => [
    r.repo, r.tag, shortId(r.image.id), humanBytes(Number(r.image.size)), r.image.pinned ? 'true' : '',
  ]);
}

export function rmi(cli: Cli, _flags: Flags, args: string[]): Promise<number> {
  return forEachArg(cli, args, async (key) => {
    const img = await resolveImage(cli, key);
    await cli.cri.image('RemoveImage', { image: { image: img.id } });
    cli.print(`Deleted: ${img.id}`);
  });
}
