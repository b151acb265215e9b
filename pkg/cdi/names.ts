// CDI names: fully qualified device names "vendor.com/class=name", spec kinds "vendor.com/class",
// and the device requests kubelet's device plugins put in `cdi.k8s.io/*` annotations. The
// syntax is the CDI specification's (SPEC.md "Kind", "CDI Devices").

export const ANNOTATION_PREFIX = 'cdi.k8s.io/';

const letter = (c: string) => /^[A-Za-z]$/.test(c);
const alnum = (c: string) => /^[A-Za-z0-9]$/.test(c);

/** A vendor or class: starts with a letter, ends with a letter or digit, `_ - .` between. */
function checkVendorOrClass(what: 'vendor' | 'class', s: string): void {
  if (!s) throw new Error(`empty ${what}`);
  if (!letter(s[0]!)) throw new Error(`${what} "${s}" should start with a letter`);
  if (!/^.[A-Za-z0-9_.-]*$/.test(s)) throw new Error(`${what} "${s}" has a character other than letters, digits, "_", "-" and "."`);
  if (!alnum(s[s.length - 1]!)) throw new Error(`${what} "${s}" should end with a letter or digit`);
}

/** A device name: starts and ends with a letter or digit, `_ - . :` between. */
export function checkDeviceName(s: string): void {
  if (!s) throw new Error('empty device name');
  if (!alnum(s[0]!)) throw new Error(`device name "${s}" should start with a letter or digit`);
  if (!/^.[A-Za-z0-9_.:-]*$/.test(s)) throw new Error(`device name "${s}" has a character other than letters, digits, "_", "-", "." and ":"`);
  if (!alnum(s[s.length - 1]!)) throw new Error(`device name "${s}" should end with a letter or digit`);
}

export interface Kind {
  vendor: string;
  class: string;
}

/** "vendor.com/class" → its parts; throws naming what is wrong. */
export function parseKind(kind: string): Kind {
  const slash = kind.indexOf('/');
  if (slash <= 0 || slash === kind.length - 1) throw new Error(`kind "${kind}" is not "vendor/class"`);
  const k = { vendor: kind.slice(0, slash), class: kind.slice(slash + 1) };
  checkVendorOrClass('vendor', k.vendor);
  checkVendorOrClass('class', k.class);
  return k;
}

export interface QualifiedName extends Kind {
  name: string;
}

/** "vendor.com/class=name" → its parts; throws naming what is wrong. */
export function parseQualifiedName(device: string): QualifiedName {
  const eq = device.indexOf('=');
  if (eq <= 0 || eq === device.length - 1) throw new Error(`"${device}" is not a qualified CDI device name (vendor.com/class=name)`);
  const name = device.slice(eq + 1);
  try {
    const kind = parseKind(device.slice(0, eq));
    checkDeviceName(name);
    return { ...kind, name };
  } catch (err) {
    throw new Error(`"${device}" is not a valid CDI device name: ${(err as Error).message}`);
  }
}

export const qualifiedName = (kind: string, name: string): string => `${kind}=${name}`;

/**
 * The devices requested through `cdi.k8s.io/<key>` annotations (comma-separated qualified names),
 * in key order so the result does not depend on map order. Throws naming the first bad name.
 */
export function devicesFromAnnotations(annotations: Record<string, string>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(annotations).filter((k) => k.startsWith(ANNOTATION_PREFIX)).sort()) {
    for (const d of annotations[key]!.split(',')) {
      try {
        parseQualifiedName(d);
      } catch (err) {
        throw new Error(`annotation ${key}: ${(err as Error).message}`);
      }
      out.push(d);
    }
  }
  return out;
}
