// CNI results: 0.3.x, 0.4.0 and 1.x share the `ips`/`interfaces` layout (1.x drops `version` from
// ips); 0.1/0.2 used `ip4`/`ip6`. Everything is normalised to one shape here.

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIp {
  /** CIDR, e.g. 10.88.0.5/16. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIp[];
  routes: { dst: string; gw?: string }[];
  dns: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  /** The plugin's JSON as it came, passed back as prevResult to DEL and CHECK. */
  raw: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export function parseResult(raw: unknown, fallbackVersion: string): CniResult {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('CNI result is not a JSON object');
  const r = raw as Record<string, unknown>;
  const cniVersion = str(r.cniVersion) ?? fallbackVersion;
  const interfaces: CniInterface[] = Array.isArray(r.interfaces)
    ? (r.interfaces as Record<string, unknown>[]).map((i) => ({ name: str(i.name) ?? '', mac: str(i.mac), sandbox: str(i.sandbox) }))
    : [];
  const ips: CniIp[] = [];
  const routes: CniResult['routes'] = [];
  if (Array.isArray(r.ips)) {
    for (const ip of r.ips as Record<string, unknown>[]) {
      const address = str(ip.address);
      if (!address) throw new Error('CNI result has an ip without "address"');
      ips.push({ address, gateway: str(ip.gateway), interface: typeof ip.interface === 'number' ? ip.interface : undefined });
    }
  } else {
    // 0.1.0 / 0.2.0: {ip4: {ip, gateway, routes}, ip6: {...}}
    for (const key of ['ip4', 'ip6']) {
      const block = r[key] as Record<string, unknown> | undefined;
      if (!block) continue;
      const address = str(block.ip);
      if (!address) throw new Error(`CNI result ${key} has no "ip"`);
      ips.push({ address, gateway: str(block.gateway) });
      if (Array.isArray(block.routes)) for (const rt of block.routes as Record<string, unknown>[]) routes.push({ dst: String(rt.dst), gw: str(rt.gw) });
    }
  }
  if (Array.isArray(r.routes)) for (const rt of r.routes as Record<string, unknown>[]) routes.push({ dst: String(rt.dst), gw: str(rt.gw) });
  const dns = (r.dns && typeof r.dns === 'object' ? r.dns : {}) as CniResult['dns'];
  return { cniVersion, interfaces, ips, routes, dns, raw: r };
}

/** Addresses without prefix length, IPv4 first then IPv6, those on the sandbox interface first. */
export function podIps(result: CniResult, ifName = 'eth0'): string[] {
  const onIf = (ip: CniIp) => ip.interface === undefined || result.interfaces[ip.interface]?.name === ifName;
  const ordered = [...result.ips].sort((a, b) => Number(onIf(b)) - Number(onIf(a)));
  const bare = ordered.map((ip) => ip.address.split('/')[0]!);
  return [...bare.filter((a) => !a.includes(':')), ...bare.filter((a) => a.includes(':'))];
}
