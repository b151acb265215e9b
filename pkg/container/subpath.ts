// An image volume's sub path (KEP-4639 `image_sub_path`), resolved inside the image's read-only
// view as the container would see it: a symlink with an absolute target means the image's root,
// not the host's, and a `..` (in the sub path or a symlink's target) that would climb above the
// image's root is refused. What comes out holds no symlink, so the bind mount of it cannot be
// redirected; the view is read-only and its layers immutable, so nothing changes in between.
import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../errors/errors.js';

/** Symlinks followed before a sub path is called a loop (the kernel's limit). */
const MAX_LINKS = 40;

/** The real directory `sub` names inside `root`; `what` names it in errors. */
export async function resolveSubPath(root: string, sub: string, what: string): Promise<string> {
  if (path.posix.isAbsolute(sub)) throw new InvalidArgumentError(`${what}: image_sub_path "${sub}" must be a relative path`);
  const done: string[] = [];
  const todo = sub.split('/');
  let links = 0;
  let via = '';
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!done.length) throw new InvalidArgumentError(`${what}: image_sub_path "${sub}" climbs out of the image${via}`);
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, part);
    const st = await lstat(here).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new NotFoundError(`${what}: image_sub_path "${sub}" does not exist in the image ("${shown(done, part)}" is missing)`);
      throw err;
    });
    if (!st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new InvalidArgumentError(`${what}: image_sub_path "${sub}" has too many levels of symbolic links`);
    const target = await readlink(here);
    via = ` (through the symlink "${shown(done, part)}" -> "${target}")`;
    if (path.posix.isAbsolute(target)) done.length = 0; // the image's root
    todo.unshift(...target.split('/'));
  }
  const real = path.join(root, ...done);
  const st = await stat(real);
  if (!st.isDirectory()) throw new InvalidArgumentError(`${what}: image_sub_path "${sub}" is not a directory (only directories can be mounted)`);
  return real;
}

const shown = (done: string[], part: string): string => [...done, part].join('/');
