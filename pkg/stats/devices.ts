// Block device names by "major:minor", for the `device` label cAdvisor puts on I/O metrics
// ("/dev/vda" rather than "254:0"). Read from /proc/partitions, again when a number is unknown
// (a disk was added), at most once a minute.
import { readFile } from 'node:fs/promises';

/** /proc/partitions: "major minor #blocks name" rows after a header. */
export function parsePartitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (name && /^\d+$/.test(major ?? '') && /^\d+$/.test(minor ?? '')) out.set(`${major}:${minor}`, `/dev/${name}`);
  }
  return out;
}

export class BlockDeviceNames {
  private names = new Map<string, string>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(private readonly file = '/proc/partitions', private readonly minReloadMs = 60_000) {}

  /** Loads the table if needed for `wanted`; call before `name`. */
  async refresh(wanted: string[]): Promise<void> {
    const missing = wanted.some((d) => !this.names.has(d));
    if (this.loadedAt && (!missing || Date.now() - this.loadedAt < this.minReloadMs)) return;
    this.loading ??= readFile(this.file, 'utf8')
      .then((t) => void (this.names = parsePartitions(t)), () => undefined)
      .finally(() => {
        this.loadedAt = Date.now();
        this.loading = undefined;
      });
    await this.loading;
  }

  /** "/dev/vda" for "254:0"; the numbers themselves when the device is not listed. */
  name(majorMinor: string): string {
    return this.names.get(majorMinor) ?? majorMinor;
  }
}
