// save and load: image archives streamed over berth's own rpcs (the daemon reads and writes its
// content store; the CLI only moves bytes between the socket and a file).
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import { strFlag, UsageError, type Flags } from './args.js';
import type { Cli } from './context.js';

export async function save(cli: Cli, flags: Flags, args: string[]): Promise<void> {
  const file = strFlag(flags, 'output');
  if (!file && process.stdout.isTTY) throw new UsageError('save: give -o FILE.tar (berth will not write an archive to a terminal)');
  const toStdout = !file || file === '-';
  const tmp = toStdout ? '' : `${file}.${process.pid}.tmp`;
  const out = toStdout ? process.stdout : createWriteStream(tmp);
  const chunks = cli.berth.save(args);
  const bytes = new Transform({ objectMode: true, transform: (m: { data: Buffer }, _e, cb) => cb(null, m.data) });
  try {
    await pipeline(chunks, bytes, out as Writable, { end: !toStdout });
    if (!toStdout) await rename(tmp, file!);
  } catch (err) {
    if (!toStdout) await rm(tmp, { force: true });
    throw err;
  }
}

export async function load(cli: Cli, flags: Flags): Promise<void> {
  const file = strFlag(flags, 'input');
  if ((!file || file === '-') && process.stdin.isTTY) throw new UsageError('load: give -i FILE.tar or pipe the archive to stdin');
  const input = !file || file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  const { stream, done } = cli.berth.load();
  const toMessages = new Transform({ writableObjectMode: false, readableObjectMode: true, transform: (c: Buffer, _e, cb) => cb(null, { data: c }) });
  // A refusal from the daemon ends the call early: report it, not the broken pipe it causes.
  await Promise.all([pipeline(input, toMessages, stream as unknown as Writable).catch(() => done), done]);
  const res = await done;
  for (const img of res.images) {
    if (flags.quiet) cli.print(img.id);
    else if (img.repo_tags.length) for (const t of img.repo_tags) cli.print(`Loaded image: ${t}`);
    else cli.print(`Loaded image ID: ${img.id}`);
  }
}
