// Parsers for the kernel's text formats: cgroup flat-keyed files, single values, io.stat and
// /proc/net/dev. Pure functions so they are tested on recorded contents.
import type { IoDeviceStats, NetInterfaceStats, PsiData, PsiStats } from './types.js';

/** "key value" per line (memory.stat, cpu.stat, cpuacct.stat) into a map. */
export function parseFlatKeyed(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = toBig(line.slice(sp + 1).trim());
    if (v !== undefined) out.set(line.slice(0, sp), v);
  }
  return out;
}

/** One integer per file (memory.current, pids.current, cpuacct.usage); "max" and garbage give undefined. */
export function parseSingle(text: string): bigint | undefined {
  return toBig(text.trim());
}

function toBig(s: string): bigint | undefined {
  return /^-?\d+$/.test(s) ? BigInt(s) : undefined;
}

/** cgroup v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device. */
export function parseIoStat(text: string): IoDeviceStats[] {
  const out: IoDeviceStats[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || !/^\d+:\d+$/.test(parts[0]!)) continue;
    const kv = new Map<string, bigint>();
    for (const p of parts.slice(1)) {
      const eq = p.indexOf('=');
      const v = eq > 0 ? toBig(p.slice(eq + 1)) : undefined;
      if (v !== undefined) kv.set(p.slice(0, eq), v);
    }
    out.push({
      device: parts[0]!,
      readBytes: kv.get('rbytes') ?? 0n,
      writeBytes: kv.get('wbytes') ?? 0n,
      readOps: kv.get('rios') ?? 0n,
      writeOps: kv.get('wios') ?? 0n,
    });
  }
  return out;
}

/** cgroup v1 blkio.throttle.io_service_bytes / io_serviced: "8:0 Read 123" lines, summed per device. */
export function parseBlkioV1(bytesText: string, opsText: string): IoDeviceStats[] {
  const devs = new Map<string, IoDeviceStats>();
  const dev = (d: string) => {
    let s = devs.get(d);
    if (!s) devs.set(d, (s = { device: d, readBytes: 0n, writeBytes: 0n, readOps: 0n, writeOps: 0n }));
    return s;
  };
  for (const [text, field] of [[bytesText, 'Bytes'], [opsText, 'Ops']] as const) {
    for (const line of text.split('\n')) {
      const [d, op, v] = line.trim().split(/\s+/);
      if (!d || !/^\d+:\d+$/.test(d) || v === undefined) continue;
      const n = toBig(v) ?? 0n;
      if (op === 'Read') dev(d)[`read${field}`] += n;
      else if (op === 'Write') dev(d)[`write${field}`] += n;
    }
  }
  return [...devs.values()];
}

/**
 * /proc/net/dev: two header lines, then "iface: rx bytes packets errs drop fifo frame compressed
 * multicast tx bytes packets errs drop fifo colls carrier compressed".
 */
export function parseNetDev(text: string): NetInterfaceStats[] {
  const out: NetInterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map((x) => toBig(x) ?? 0n);
    if (!name || f.length < 16) continue;
    out.push({
      name,
      rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!,
      txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]!,
    });
  }
  return out;
}

/** A cgroup "unlimited" memory value in v1 is a page-rounded LONG_MAX; anything this large means no limit. */
export const NO_LIMIT_THRESHOLD = 1n << 62n;

/** A pressure file: "some avg10=0.12 avg60=0.05 avg300=0.01 total=12345" and the same for "full". */
export function parsePsi(text: string): PsiStats {
  const out: PsiStats = {};
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const kv = new Map(fields.map((f) => f.split('=') as [string, string]));
    const total = toBig(kv.get('total') ?? '');
    if (total === undefined) continue;
    const d: PsiData = { total, avg10: Number(kv.get('avg10') ?? 0), avg60: Number(kv.get('avg60') ?? 0), avg300: Number(kv.get('avg300') ?? 0) };
    out[kind] = d;
  }
  return out;
}
