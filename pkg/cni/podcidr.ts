// UpdateRuntimeConfig's pod_cidr: kubelet sends the node's pod CIDR, or its CIDRs joined with ","
// on a dual-stack node. It is pasted into the CNI config template, so it must be nothing else.
import net from 'node:net';
import { InvalidArgumentError, quote } from '../errors/errors.js';

/** The CIDRs of a pod_cidr value; INVALID_ARGUMENT for anything that is not a list of CIDRs. */
export function parsePodCidrs(value: string): string[] {
  const out = value.split(',');
  for (const cidr of out) {
    const m = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(cidr);
    const family = m ? net.isIP(m[1]!) : 0;
    if (!m || !family || Number(m[2]) > (family === 4 ? 32 : 128)) {
      throw new InvalidArgumentError(`runtime_config.network_config.pod_cidr ${quote(value)}: ${quote(cidr)} is not a CIDR`);
    }
  }
  return out;
}
