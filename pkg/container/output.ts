// ExecSync's output: kept in memory and sent back in one gRPC message, so stdout and stderr
// together must stay under the message limit (16 MiB for kubelet). Output past the cap is read
// and dropped (the process must not block on a full pipe), and the answer says how much.

/** stdout + stderr kept: 16 MiB less room for the rest of the response and a note. */
export const EXEC_OUTPUT_MAX = 16 * 1024 * 1024 - 64 * 1024;

/** Collects two streams into one shared budget, keeping the first bytes of each. */
export class OutputCap {
  private readonly chunks: [Buffer[], Buffer[]] = [[], []];
  private kept = 0;
  /** Bytes read and not kept, per stream. */
  readonly dropped: [number, number] = [0, 0];

  constructor(private readonly max = EXEC_OUTPUT_MAX) {}

  /** Adds a chunk of stream 0 (stdout) or 1 (stderr). */
  add(stream: 0 | 1, b: Buffer): void {
    const room = this.max - this.kept;
    const take = Math.min(room, b.length);
    if (take > 0) {
      this.chunks[stream].push(take === b.length ? b : b.subarray(0, take));
      this.kept += take;
    }
    this.dropped[stream] += b.length - take;
  }

  /** The kept output; when anything was dropped, stderr ends with a line saying so. */
  result(): { stdout: Buffer; stderr: Buffer; truncated: boolean } {
    const stdout = Buffer.concat(this.chunks[0]);
    let stderr = Buffer.concat(this.chunks[1]);
    const [o, e] = this.dropped;
    const truncated = o + e > 0;
    if (truncated) {
      const note = `\n[berth: exec output over ${this.max} bytes; ${o} bytes of stdout and ${e} bytes of stderr were dropped]\n`;
      stderr = Buffer.concat([stderr, Buffer.from(note)]);
    }
    return { stdout, stderr, truncated };
  }
}
