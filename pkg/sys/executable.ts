// Whether a host binary (an OCI runtime, conmon, a CNI plugin) can be run: the execute bit as
// access(2) sees it for the daemon. A sync form for start-up decisions, an async one for calls.
import { accessSync, constants } from 'node:fs';
import { access } from 'node:fs/promises';

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function isExecutableAsync(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
