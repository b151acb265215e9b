// Which of a container's CRI annotations reach its OCI spec. OCI runtimes act on annotations:
// crun on run.oci.* (keep_original_groups, hooks, seccomp, systemd sub-cgroups, ...) and on
// org.systemd.property.*, runc on org.systemd.property.* and org.criu.config. Copied unfiltered,
// whoever writes a container's annotations steers the runtime past berth's own spec. So only
// Kubernetes' own (io.kubernetes.*: kubelet's container hash, restart count, termination path)
// and what the operator allows for the handler (`runtime.handlers.NAME.allowed_annotations`)
// pass, as containerd's per-runtime `container_annotations` and CRI-O's per-handler
// `allowed_annotations`. The record keeps every annotation: ContainerStatus returns them all.

/** Annotations that always reach the spec, whatever the handler's list. */
export const ALWAYS_ALLOWED_ANNOTATIONS: readonly string[] = ['io.kubernetes.*'];

/** A glob as a test: `*` matches any run of characters (dots and slashes too); the rest is literal. */
export function globMatcher(glob: string): (key: string) => boolean {
  if (!glob.includes('*')) return (key) => key === glob;
  const parts = glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^${parts.join('.*')}$`, 's');
  return (key) => re.test(key);
}

/** The annotations of `all` whose key matches io.kubernetes.* or one of `allowed`. */
export function allowedAnnotations(all: Record<string, string>, allowed: readonly string[]): Record<string, string> {
  const tests = [...ALWAYS_ALLOWED_ANNOTATIONS, ...allowed].map(globMatcher);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (tests.some((t) => t(k))) out[k] = v;
  return out;
}
