// Stop signals (KEP-4960): the CRI Signal enum, the image config's StopSignal text and Linux
// signal numbers. berth keeps a signal as its Linux number; the CRI enum is read and written by
// number, because its names change between releases (cri-api v0.37 prefixes them with SIGNAL_).
import { InvalidArgumentError } from '../errors/errors.js';

/** Linux (x86_64, arm64) signal numbers by name without the SIG prefix; aliases included. */
const LINUX: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CLD: 17, CONT: 18, STOP: 19, TSTP: 20,
  TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29,
  PWR: 30, SYS: 31,
};

/** The kernel's real-time range as Docker and containerd name it (RTMIN = 34, RTMAX = 64). */
const RTMIN = 34;
const RTMAX = 64;

/** The CRI Signal enum in number order (0 is RUNTIME_DEFAULT), names without SIG. */
const CRI_ORDER = [
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE',
  'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU',
  'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
];
/** CRI numbers 35..65 are RTMIN, RTMIN+1 … RTMIN+15, RTMAX-14 … RTMAX-1, RTMAX: Linux 34..64. */
const CRI_RT_BASE = CRI_ORDER.length + 1;

/** The canonical name of a Linux signal number: SIGTERM, SIGRTMIN+3, SIGRTMAX-2. */
export function signalName(n: number): string {
  if (n >= RTMIN && n <= RTMAX) {
    if (n === RTMIN) return 'SIGRTMIN';
    if (n === RTMAX) return 'SIGRTMAX';
    return n - RTMIN <= 15 ? `SIGRTMIN+${n - RTMIN}` : `SIGRTMAX-${RTMAX - n}`;
  }
  const name = Object.keys(LINUX).find((k) => LINUX[k] === n);
  return name ? `SIG${name}` : String(n);
}

/** `RTMIN`, `RTMIN+3`, `RTMINPLUS3`, `RTMAX-2`, `RTMAXMINUS2` (no SIG prefix, upper case). */
function realtime(s: string): number | undefined {
  const m = /^RT(MIN|MAX)(?:(\+|-|PLUS|MINUS)(\d+))?$/.exec(s);
  if (!m) return undefined;
  const base = m[1] === 'MIN' ? RTMIN : RTMAX;
  const off = m[3] === undefined ? 0 : Number(m[3]);
  const n = m[2] === '+' || m[2] === 'PLUS' ? base + off : base - off;
  return n >= RTMIN && n <= RTMAX ? n : undefined;
}

/**
 * A signal as text → its Linux number: the image config's StopSignal (`SIGUSR1`, `USR1`, `10`,
 * `RTMIN+3`, `SIGRTMAX-1`, any case) and the CRI enum's names with or without `SIGNAL_`
 * (`SIGTERM`, `SIGNAL_SIGRTMINPLUS3`). Undefined when it is none of these.
 */
export function parseSignal(text: string): number | undefined {
  const s = text.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= RTMAX ? n : undefined;
  }
  const bare = s.replace(/^SIGNAL_/, '').replace(/^SIG/, '');
  return LINUX[bare] ?? realtime(bare);
}

/**
 * A CRI Signal value as grpc-js hands it (the enum name it knows, or the number when the name is
 * newer than our proto) → Linux number; undefined for RUNTIME_DEFAULT (0), unset or unknown.
 */
export function signalFromCri(v: string | number | null | undefined): number | undefined {
  if (v === null || v === undefined || v === '' || v === 0) return undefined;
  if (typeof v === 'number' || /^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= CRI_ORDER.length) return LINUX[CRI_ORDER[n - 1]!];
    const rt = RTMIN + (n - CRI_RT_BASE);
    return rt >= RTMIN && rt <= RTMAX ? rt : undefined;
  }
  if (/^(SIGNAL_)?RUNTIME_DEFAULT$/.test(v)) return undefined;
  return parseSignal(v);
}

/** A Linux signal number → the CRI enum number (0, RUNTIME_DEFAULT, for one CRI cannot name). */
export function signalToCri(n: number): number {
  if (n >= RTMIN && n <= RTMAX) return CRI_RT_BASE + (n - RTMIN);
  const i = CRI_ORDER.findIndex((name) => LINUX[name] === n);
  return i < 0 ? 0 : i + 1;
}

/**
 * The signal StopContainer sends: the CRI config's stop_signal, else the image's StopSignal, else
 * SIGTERM. An image StopSignal berth cannot read is refused when no override makes it moot.
 */
export function effectiveStopSignal(override: number | undefined, imageStopSignal: string | undefined, image: string): number {
  if (override !== undefined) return override;
  if (!imageStopSignal) return LINUX.TERM!;
  const n = parseSignal(imageStopSignal);
  if (n === undefined) throw new InvalidArgumentError(`image "${image}" has a StopSignal berth cannot read: "${imageStopSignal}"`);
  return n;
}
