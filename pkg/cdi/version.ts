// cdiVersion rules: the known releases of the CDI specification, and the least version a spec
// must declare for the features it uses (SPEC.md "Released versions"; the CDI library's
// MinimumRequiredVersion). 0.8.0 and 1.0.0 changed no field.
import type { ContainerEdits, Spec } from './types.js';

export const VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0', '1.1.0'] as const;
export type Version = (typeof VERSIONS)[number];

const rank = (v: string) => VERSIONS.indexOf(v as Version);

function allEdits(spec: Spec): ContainerEdits[] {
  return [...(spec.containerEdits ? [spec.containerEdits] : []), ...spec.devices.map((d) => d.containerEdits)];
}

/** The oldest version that has every feature `spec` uses. */
export function minimumVersion(spec: Spec): Version {
  const edits = allEdits(spec);
  const rdts = edits.flatMap((e) => (e.intelRdt ? [e.intelRdt] : []));
  if (rdts.some((r) => r.schemata !== undefined || r.enableMonitoring) || edits.some((e) => e.netDevices?.length)) return '1.1.0';
  if (rdts.length || edits.some((e) => e.additionalGids?.length)) return '0.7.0';
  const cls = spec.kind.slice(spec.kind.indexOf('/') + 1);
  if (Object.keys(spec.annotations ?? {}).length || spec.devices.some((d) => Object.keys(d.annotations ?? {}).length) || cls.includes('.')) return '0.6.0';
  if (spec.devices.some((d) => /^[0-9]/.test(d.name)) || edits.some((e) => e.deviceNodes?.some((n) => n.hostPath))) return '0.5.0';
  if (edits.some((e) => e.mounts?.some((m) => m.type))) return '0.4.0';
  return '0.3.0';
}

/** Throws when cdiVersion is unknown, older than the features used need, or has fields a newer one dropped. */
export function checkVersion(spec: Spec): void {
  const v = spec.cdiVersion.replace(/^v/, '');
  if (rank(v) < 0) throw new Error(`cdiVersion: "${spec.cdiVersion}" is not a CDI release (${VERSIONS[0]} … ${VERSIONS[VERSIONS.length - 1]})`);
  const min = minimumVersion(spec);
  if (rank(v) < rank(min)) throw new Error(`cdiVersion: the features this spec uses need at least ${min}, it declares ${spec.cdiVersion}`);
  // 1.1.0 dropped these IntelRdt fields.
  if (rank(v) >= rank('1.1.0') && allEdits(spec).some((e) => e.intelRdt?.enableCMT !== undefined || e.intelRdt?.enableMBM !== undefined)) {
    throw new Error('intelRdt: enableCMT and enableMBM are not in cdiVersion 1.1.0 (use enableMonitoring)');
  }
}
