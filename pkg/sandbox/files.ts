// The files a pod's containers mount at /etc/resolv.conf, /etc/hosts and /etc/hostname.
import type { DnsConfig } from './request.js';

/** resolv.conf from the pod's dns_config; the host's file when the pod gives none. */
export function renderResolvConf(dns: DnsConfig | undefined, hostResolvConf: string): string {
  if (!dns || (!dns.servers.length && !dns.searches.length && !dns.options.length)) return hostResolvConf;
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

const LOCAL_HOSTS = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
`;

/** /etc/hosts: the localhost entries, then each pod IP with the hostname. */
export function renderHosts(hostname: string, ips: string[]): string {
  return LOCAL_HOSTS + ips.map((ip) => `${ip}\t${hostname}\n`).join('');
}
