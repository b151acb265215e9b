// CreateContainer: rootfs (overlay of the image's snapshots and a writable layer), the OCI spec
// from the image config, the CRI config and the pod, the bundle and the record. The runtime's
// container (conmon → runtime create) is made at StartContainer (start.ts), as containerd makes
// its task at start. A failure undoes every step, so nothing is left behind.
import { chmod, lstat, mkdir, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, errorMessage } from '../errors/errors.js';
import type { SandboxInfo } from '../sandbox/types.js';
import { mkdirHostPath } from '../sys/files.js';
import { applyEdits, type ResolvedEdits } from '../cdi/edits.js';
import { devicesFromAnnotations } from '../cdi/names.js';
import { deviceFromHost, factsForCreate } from './host.js';
import { checkImageVolumes, mountImageVolumes, unmountImageVolumes } from './image-volumes.js';
import { mountRootfs, readImageFile, removeDirs, shiftLayerOwnership, unmountRootfs } from './rootfs.js';
import { loadDefaultProfile, loadLocalhostProfile, type SeccompProfileFile } from './seccomp.js';
import type { OciSpec } from './oci.js';
import { effectiveStopSignal } from './signals.js';
import { buildSpec } from './spec.js';
import type { ContainerRecord } from './store.js';
import type { ContainerConfigInput } from './types.js';
import { resolveUser } from './user.js';
import { nowNs, type ContainerManager } from './service.js';
import type { RuntimeHandler } from './runtime.js';
import { CleanupStack, describeFailures, settleAll } from '../sync/cleanup.js';
import type { ImageUserFiles } from './image-user-files.js';
import { Phases } from '../log/phases.js';

export async function createContainer(m: ContainerManager, sb: SandboxInfo, cfg: ContainerConfigInput, fingerprint: string): Promise<string> {
  const id = randomBytes(32).toString('hex');
  const cgroupsPath = m.o.cgroups.containerPath(sb.cgroupParent, id);
  const handler = m.handler(sb.runtimeHandler || m.o.config.runtime.default_handler, cgroupsPath);
  // Held until the record exists (which then keeps the image in use): RemoveImage cannot take
  // the image away while the container is being made.
  let lease;
  try {
    lease = m.o.images.leaseImage(cfg.image);
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`image "${cfg.image}" is not present locally (pull it first): ${err.message}`);
    throw err;
  }
  const leases = [lease];
  try {
    // The images mounted as volumes are held the same way.
    await checkImageVolumes(m.o.images, cfg.mounts);
    for (const mnt of cfg.mounts) if (mnt.image !== undefined) leases.push(m.o.images.leaseImage(mnt.image));
    return await createWithImage(m, sb, cfg, fingerprint, handler, lease.imageId, id, cgroupsPath);
  } finally {
    for (const l of leases) l.release();
  }
}

async function createWithImage(
  m: ContainerManager, sb: SandboxInfo, cfg: ContainerConfigInput, fingerprint: string, handler: RuntimeHandler, imageId: string, id: string, cgroupsPath: string,
): Promise<string> {
  const view = await m.o.images.containerView(imageId);
  const stopSignal = effectiveStopSignal(cfg.stopSignal, view.config.StopSignal, cfg.image);
  const bundle = path.join(m.bundlesDir, id);
  const rootfs = path.join(bundle, 'rootfs');
  const layerDir = path.join(m.o.images.writableLayerRoot(), id);
  const undo = new CleanupStack();
  const phases = new Phases();
  const mark = (name: string): void => phases.mark(name);
  try {
    // What the spec needs is gathered while the rootfs is made: none of it waits for the mount
    // but the image's /etc/passwd and /etc/group, and those are read once per image.
    const sec = cfg.security;
    const logPath = sb.logDirectory && cfg.logPath ? path.join(sb.logDirectory, cfg.logPath) : path.join(bundle, 'console.log');
    const rootfsReady = makeRootfs(undo, bundle, rootfs, layerDir, view.lowerdirs).then(() => mark('rootfs'));
    const [, { passwd, group }, pidNamespace, hostMounts, devices, seccompProfile, cdiEdits, host] = await settleAll([
      rootfsReady,
      m.imageUserFiles.get(imageId, () => rootfsReady.then(() => readUserFiles(rootfs))),
      resolvePidNamespace(m, sb, cfg),
      resolveMounts(cfg),
      Promise.all(cfg.devices.map(async (d) => {
        const device = await deviceFromHost(d.hostPath, d.containerPath).catch((e: unknown) => {
          throw new InvalidArgumentError(`device "${d.hostPath}": ${errorMessage(e)}`);
        });
        if (!device) throw new InvalidArgumentError(`device "${d.hostPath}" is not a device node`);
        return { device, permissions: d.permissions };
      })),
      loadSeccomp(cfg),
      resolveCdi(m, cfg),
      factsForCreate(m.o.host, cfg.security.privileged),
      // (console.log sits in the bundle, which makeRootfs makes.)
      logPath.startsWith(`${bundle}/`) ? undefined : mkdirHostPath(path.dirname(logPath)).catch((err: unknown) => {
        throw new InvalidArgumentError(`config.log_path: ${errorMessage(err)}`);
      }),
    ] as const);
    undo.add('image volume mounts', () => unmountImageVolumes(bundle));
    const mounts = await mountImageVolumes(m.o.images, bundle, hostMounts);
    const img = view.config;
    const user = resolveUser({
      runAsUser: sec.runAsUser, runAsGroup: sec.runAsGroup, runAsUsername: sec.runAsUsername,
      imageUser: img.User ?? '', supplementalGroups: sec.supplementalGroups, supplementalGroupsPolicy: sec.supplementalGroupsPolicy,
    }, passwd, group);
    const resolved: ContainerConfigInput = { ...cfg, mounts };
    const built = buildSpec({
      id, config: resolved, imageName: cfg.image, rootfs, user, pidNamespace, devices, seccompProfile, cgroupsPath, host,
      allowedAnnotations: m.o.config.runtime.handlers[handler.name]?.allowed_annotations ?? [],
      image: { entrypoint: img.Entrypoint ?? [], cmd: img.Cmd ?? [], env: img.Env ?? [], workingDir: img.WorkingDir ?? '', user: img.User ?? '' },
      sandbox: sb,
    });
    const spec = cdiEdits ? applyEdits(built, cdiEdits) : built;
    // The spec is written while the rootfs gets its directories: the runtime reads neither
    // before StartContainer.
    await settleAll([writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec)), prepareRootfsDirs(m, sb, rootfs, layerDir, bundle, spec, img)]);
    mark('spec');
    const createdAt = nowNs();
    const image = view.image;
    const rec: ContainerRecord = {
      info: {
        id, sandboxId: sb.id, name: cfg.name, attempt: cfg.attempt, state: 'CONTAINER_CREATED',
        createdAt, startedAt: 0n, finishedAt: 0n, exitCode: 0, reason: '', message: '',
        image: cfg.image, imageId: image.id, imageRef: image.repoDigests[0] ?? image.id,
        runtimeHandler: handler.name, logPath: sb.logDirectory && cfg.logPath ? logPath : '', pid: 0,
        labels: { ...cfg.labels }, annotations: { ...cfg.annotations }, config: resolved,
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids }, bundle, stopSignal, cgroupsPath,
      },
      ownPidNs: pidNamespace === undefined,
      layerDir, rootfs, fingerprint, awaitingRuntime: true,
    };
    m.save(rec);
    undo.release();
    mark('saved');
    m.o.log.debug({ id, phases: phases.ms }, 'container created');
    m.emit('CONTAINER_CREATED_EVENT', rec.info);
    return id;
  } catch (err) {
    const failed = await undo.unwind();
    // What is left has no record: the next start's reconciliation removes it.
    if (failed.length) m.o.log.warn({ id, steps: describeFailures(failed) }, 'container create: cleanup incomplete');
    throw err;
  }
}

/** The bundle and writable layer directories, then the overlay; each undone on failure. */
async function makeRootfs(undo: CleanupStack, bundle: string, rootfs: string, layerDir: string, lowerdirs: string[]): Promise<void> {
  // Registered first: rm of a directory that was never made is harmless.
  undo.add('bundle and writable layer', () => removeDirs(bundle, layerDir));
  await settleAll([mkdir(bundle, { recursive: true, mode: 0o700 }), mkdir(layerDir, { recursive: true, mode: 0o755 })]);
  await mountRootfs(rootfs, lowerdirs, layerDir);
  undo.add('rootfs mount', () => unmountRootfs(rootfs));
}

/**
 * The working directory and the image's volumes exist in the container's own layer (CRI-O's
 * default "mkdir" image-volume mode); a CRI mount at a volume path takes its place.
 */
async function prepareRootfsDirs(
  m: ContainerManager, sb: SandboxInfo, rootfs: string, layerDir: string, bundle: string, spec: OciSpec, img: { Volumes?: Record<string, unknown> },
): Promise<void> {
  const dirs = [spec.process.cwd, ...Object.keys(img.Volumes ?? {})];
  await Promise.all(dirs.map((d) => mkdirInRootfs(rootfs, d)));
  if (sb.usernsPath && sb.uidMappings?.[0] && sb.gidMappings?.[0]) {
    // The runtime sets up the rootfs as the pod's mapped root: it must reach it through the
    // bundle, own its writable layer and find the mount points it cannot create itself in
    // directories of the image (owned by an id outside the namespace).
    await ensureMountTargets(rootfs, spec.mounts);
    await shiftLayerOwnership(layerDir, rootfs, sb.uidMappings[0], sb.gidMappings[0]);
    await Promise.all([chmod(m.bundlesDir, 0o711), chmod(bundle, 0o711)]);
  }
}

/** The image's /etc/passwd and /etc/group, read through its freshly mounted rootfs. */
async function readUserFiles(rootfs: string): Promise<ImageUserFiles> {
  const [passwd, group] = await Promise.all([readImageFile(rootfs, 'etc/passwd'), readImageFile(rootfs, 'etc/group')]);
  return { passwd, group };
}

async function resolvePidNamespace(m: ContainerManager, sb: SandboxInfo, cfg: ContainerConfigInput): Promise<string | undefined> {
  const ns = cfg.security.namespaces;
  switch (ns.pid) {
    case 'NODE':
      return 'host';
    case 'POD':
      if (sb.pidMode === 'NODE') return 'host';
      if (!sb.pausePid) throw new FailedPreconditionError(`pod sandbox "${sb.id}" has no shared PID namespace (pod PID mode ${sb.pidMode})`);
      return `/proc/${sb.pausePid}/ns/pid`;
    case 'TARGET': {
      const t = m.record(ns.targetId);
      // Only a container of the same pod: another pod's processes are not this pod's to see.
      if (t.info.sandboxId !== sb.id) throw new InvalidArgumentError(`namespace_options.target_id: container "${t.info.id}" belongs to another pod sandbox`);
      if (t.info.state !== 'CONTAINER_RUNNING' || !t.info.pid) throw new FailedPreconditionError(`target container "${ns.targetId}" of the PID namespace is not running`);
      return `/proc/${t.info.pid}/ns/pid`;
    }
    default:
      return undefined;
  }
}

/**
 * Host paths resolved (symlinks followed; a missing directory created, as kubelet's hostPath
 * does, but never under /proc, /sys or /dev); image volumes as they are (image-volumes.ts).
 * validateContainerConfig checked the paths' form.
 */
async function resolveMounts(cfg: ContainerConfigInput): Promise<ContainerConfigInput['mounts']> {
  return Promise.all(cfg.mounts.map(async (m, i) => {
    if (m.image !== undefined) return m;
    let host = await realpath(m.hostPath).catch(() => undefined);
    if (!host) {
      try {
        await mkdirHostPath(m.hostPath);
        host = await realpath(m.hostPath);
      } catch (err) {
        throw new InvalidArgumentError(`config.mounts[${i}].host_path: ${errorMessage(err)}`);
      }
    }
    return { ...m, hostPath: host };
  }));
}

/** The CDI devices the config and its `cdi.k8s.io/*` annotations ask for, resolved; undefined for none. */
async function resolveCdi(m: ContainerManager, cfg: ContainerConfigInput): Promise<ResolvedEdits | undefined> {
  let names: string[];
  try {
    names = [...(cfg.cdiDevices ?? []), ...devicesFromAnnotations(cfg.annotations)];
  } catch (err) {
    throw new InvalidArgumentError(`CDI device request in ${errorMessage(err)}`);
  }
  if (!names.length) return undefined;
  if (!m.o.cdi) throw new FailedPreconditionError(`CDI devices ${names.join(', ')} requested, but this berth has no CDI registry`);
  return m.o.cdi.resolve(names);
}

async function loadSeccomp(cfg: ContainerConfigInput): Promise<SeccompProfileFile | undefined> {
  const s = cfg.security.seccomp;
  if (!s || s.type === 'Unconfined' || cfg.security.privileged) return undefined;
  if (s.type === 'RuntimeDefault') return loadDefaultProfile();
  return loadLocalhostProfile(s.localhostRef ?? '');
}

/** Creates each missing mount point (a file for a file bind mount), staying inside the rootfs. */
async function ensureMountTargets(rootfs: string, mounts: OciSpec['mounts']): Promise<void> {
  for (const mnt of mounts) {
    const target = path.join(rootfs, path.posix.normalize(`/${mnt.destination}`));
    if (await lstat(target).then(() => true, () => false)) continue;
    const isFile = mnt.type === 'bind' && (await stat(mnt.source ?? '').then((st) => !st.isDirectory(), () => false));
    if (!isFile) {
      await mkdirInRootfs(rootfs, mnt.destination);
      continue;
    }
    await mkdirInRootfs(rootfs, path.posix.dirname(mnt.destination));
    const parent = await realpath(path.dirname(target)).catch(() => '');
    if (parent === rootfs || parent.startsWith(`${rootfs}/`)) await writeFile(path.join(parent, path.basename(target)), '', { flag: 'wx', mode: 0o644 }).catch(() => undefined);
  }
}

/** mkdir -p of a container path inside the mounted rootfs, refusing paths that climb out of it. */
async function mkdirInRootfs(rootfs: string, p: string): Promise<void> {
  const rel = path.posix.normalize(`/${p}`).slice(1);
  if (!rel) return;
  // Symlinks inside the image could point anywhere on the host: resolve them component by
  // component and stay under the rootfs.
  let cur = rootfs;
  for (const part of rel.split('/')) {
    const next = path.join(cur, part);
    const real = await realpath(next).catch(() => undefined);
    if (real === undefined) {
      await mkdir(next, { mode: 0o755 }).catch(() => undefined);
      cur = next;
    } else if (real === rootfs || real.startsWith(`${rootfs}/`)) cur = real;
    else return; // the runtime resolves it inside the container; leave it
  }
}
