// What CreateContainer may ask for, checked before anything is created: every refusal is an
// InvalidArgumentError naming the field (config.…), so a bad request never reaches the runtime
// as an INTERNAL error or a half-made container. Checks that need the host or the pod (a mount
// source that must exist, the TARGET container) are in create.ts.
import { InvalidArgumentError, quote } from '../errors/errors.js';
import { checkAbsolutePath, checkLabelsSize, checkName, checkRelativePath } from '../validate/input.js';
import { normalizeCap } from './caps.js';
import type { ContainerConfigInput, MountInput, ResourcesInput } from './types.js';

/**
 * argv plus environment of the container's process, in bytes. The kernel allows a quarter of the
 * stack limit (2 MiB by default) for both with their pointers; 1 MiB leaves room for the image's
 * env and keeps config.json small.
 */
export const MAX_PROCESS_BYTES = 1024 * 1024;

/** The largest id a user or group can have (2^32-2; -1 means "none" to the kernel). */
const MAX_ID = 2 ** 32 - 2;

const isAll = (c: string): boolean => c.trim().toUpperCase() === 'ALL';

function checkCaps(field: string, caps: readonly string[], allowAll: boolean): void {
  caps.forEach((c, i) => {
    if (allowAll && isAll(c)) return;
    try {
      normalizeCap(c);
    } catch {
      throw new InvalidArgumentError(`${field}[${i}]: unknown capability ${quote(c)}`);
    }
  });
}

function checkId(field: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= MAX_ID)) throw new InvalidArgumentError(`${field} ${v} is not a valid user or group id`);
}

function checkProcess(c: ContainerConfigInput): void {
  let bytes = 0;
  for (const a of [...c.command, ...c.args]) bytes += Buffer.byteLength(a) + 1;
  c.envs.forEach((e, i) => {
    if (!e.key || e.key.includes('=')) throw new InvalidArgumentError(`config.envs[${i}].key ${quote(e.key)} is not a variable name (empty, or holds "=")`);
    bytes += Buffer.byteLength(e.key) + Buffer.byteLength(e.value) + 2;
  });
  if (bytes > MAX_PROCESS_BYTES) {
    throw new InvalidArgumentError(`config.command, args and envs hold ${bytes} bytes, over the limit of ${MAX_PROCESS_BYTES}`);
  }
  if (c.workingDir) checkAbsolutePath('config.working_dir', c.workingDir);
}

/** An image volume (KEP-4639): an image and no host path, read-only, a sub path inside it. */
function checkImageMount(field: string, m: MountInput): void {
  if (!m.image) throw new InvalidArgumentError(`${field}.image.image is required: an image volume names its image`);
  if (m.hostPath) throw new InvalidArgumentError(`${field}.host_path ${quote(m.hostPath)} must be empty: the mount is image volume ${quote(m.image)}`);
  if (!m.readonly) throw new InvalidArgumentError(`${field}.readonly must be true: image volume ${quote(m.image)} is read-only`);
  if (m.imageSubPath) checkRelativePath(`${field}.image_sub_path`, m.imageSubPath);
}

function checkStorage(c: ContainerConfigInput): void {
  c.mounts.forEach((m, i) => {
    checkAbsolutePath(`config.mounts[${i}].container_path`, m.containerPath);
    if (m.image !== undefined) checkImageMount(`config.mounts[${i}]`, m);
    else {
      if (!m.hostPath) throw new InvalidArgumentError(`config.mounts[${i}].host_path is required`);
      checkAbsolutePath(`config.mounts[${i}].host_path`, m.hostPath);
    }
    if (m.recursiveReadOnly && (!m.readonly || m.propagation !== 'PRIVATE')) {
      throw new InvalidArgumentError(`config.mounts[${i}]: recursive read-only needs readonly and private propagation`);
    }
  });
  c.devices.forEach((d, i) => {
    checkAbsolutePath(`config.devices[${i}].host_path`, d.hostPath);
    checkAbsolutePath(`config.devices[${i}].container_path`, d.containerPath);
    if (!/^[rwm]*$/.test(d.permissions)) throw new InvalidArgumentError(`config.devices[${i}].permissions ${quote(d.permissions)} may hold only r, w and m`);
  });
  if (c.logPath) checkRelativePath('config.log_path', c.logPath);
}

function checkSecurity(c: ContainerConfigInput): void {
  const s = c.security;
  const caps = 'config.linux.security_context.capabilities';
  checkCaps(`${caps}.add_capabilities`, s.capabilities.add, true);
  checkCaps(`${caps}.drop_capabilities`, s.capabilities.drop, true);
  checkCaps(`${caps}.add_ambient_capabilities`, s.capabilities.addAmbient, false);
  const sc = 'config.linux.security_context';
  checkId(`${sc}.run_as_user`, s.runAsUser);
  checkId(`${sc}.run_as_group`, s.runAsGroup);
  s.supplementalGroups.forEach((g, i) => checkId(`${sc}.supplemental_groups[${i}]`, g));
  s.maskedPaths.forEach((p, i) => checkAbsolutePath(`${sc}.masked_paths[${i}]`, p));
  s.readonlyPaths.forEach((p, i) => checkAbsolutePath(`${sc}.readonly_paths[${i}]`, p));
  if (s.namespaces.pid === 'TARGET' && !s.namespaces.targetId) throw new InvalidArgumentError(`${sc}.namespace_options.target_id is required with pid mode TARGET`);
  if (s.seccomp?.type === 'Localhost') {
    const ref = (s.seccomp.localhostRef ?? '').replace(/^localhost\//, '');
    checkAbsolutePath(`${sc}.seccomp.localhost_ref`, ref);
  }
}

/** Resources either kubelet or UpdateContainerResources gives: no negative sizes or shares. */
export function checkResources(field: string, r: ResourcesInput | undefined): void {
  if (!r) return;
  const nonNegative: [string, number | undefined][] = [
    ['cpu_period', r.cpuPeriod], ['cpu_shares', r.cpuShares], ['memory_limit_in_bytes', r.memoryLimitInBytes],
  ];
  for (const [k, v] of nonNegative) if (v !== undefined && v < 0) throw new InvalidArgumentError(`${field}.${k} ${v} is negative`);
  // -1 means "no limit" to the kernel for these two.
  for (const [k, v] of [['cpu_quota', r.cpuQuota], ['memory_swap_limit_in_bytes', r.memorySwapLimitInBytes]] as const) {
    if (v !== undefined && v < -1) throw new InvalidArgumentError(`${field}.${k} ${v} is below -1`);
  }
}

/** Refuses a CreateContainer config that berth must not act on; the message names the field. */
export function validateContainerConfig(c: ContainerConfigInput): void {
  checkName('config.metadata.name', c.name);
  if (!c.image) throw new InvalidArgumentError(`container ${quote(c.name)}: config.image.image is required`);
  checkLabelsSize('config.labels', c.labels);
  checkLabelsSize('config.annotations', c.annotations);
  checkProcess(c);
  checkStorage(c);
  checkSecurity(c);
  checkResources('config.linux.resources', c.resources);
}
