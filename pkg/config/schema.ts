// The config file's shape and defaults. Every key berth reads is declared here, so that an
// unknown key or a wrong type in berth.toml is refused at start, naming the file and the key.

export interface RuntimeHandlerConfig {
  /** OCI runtime binary (runc or crun compatible). */
  path: string;
  /** Extra root directory for the runtime's state; empty means `<state>/runtime/<name>`. */
  root: string;
  /**
   * Globs (`*` = any characters) of container annotations that reach the OCI spec beside
   * io.kubernetes.*; the rest (run.oci.* and the like, which the runtime acts on) are dropped.
   */
  allowed_annotations: string[];
}

/** Credentials for one registry host, used when a pull request carries none (as docker's config.json `auths`). */
export interface RegistryAuthConfig {
  username: string;
  password: string;
  /** base64 of `username:password`, instead of the two keys above. */
  auth: string;
}

export interface BerthConfig {
  listen: string;
  root: string;
  state: string;
  log_level: string;
  metrics_listen: string;
  /** auto: systemd where systemd is PID 1 on a cgroup v2 host, else cgroupfs (resolved at start). */
  cgroup_driver: 'auto' | 'cgroupfs' | 'systemd';
  /** Bounded wait for in-flight calls on SIGTERM/SIGINT. */
  shutdown_grace_seconds: number;
  runtime: {
    default_handler: string;
    conmon: string;
    /** Parent cgroup for pods when kubelet passes none; "" = /berth (cgroupfs) or berth.slice (systemd). */
    cgroup_parent: string;
    handlers: Record<string, RuntimeHandlerConfig>;
  };
  image: {
    max_concurrent_downloads: number;
    /** A pull whose bytes stop arriving for this long fails ("1m", "90s"; "0" disables). */
    pull_progress_timeout: string;
  };
  registry: {
    insecure: string[];
    mirrors: Record<string, string[]>;
    /** Credentials per registry host (`[registry.auths."ghcr.io"]`). */
    auths: Record<string, RegistryAuthConfig>;
  };
  cni: {
    conf_dir: string;
    bin_dirs: string[];
    /** Template written by UpdateRuntimeConfig; `{{.PodCIDR}}` is replaced. Empty disables. */
    conf_template: string;
  };
  cdi: {
    /** CDI spec directories, lowest priority first: a device defined again in a later directory is the later one's. */
    spec_dirs: string[];
  };
  streaming: {
    /** host:port; port 0 lets the OS pick. */
    listen: string;
  };
  dashboard: {
    /** host:port of the read-only web dashboard; "" disables it. */
    listen: string;
    /** Bearer token the dashboard requires (always when set; a non-loopback listen needs one). */
    token: string;
    /** File holding the token (read at start, surrounding whitespace trimmed). */
    token_file: string;
  };
}

export const DEFAULT_CONFIG: BerthConfig = {
  listen: 'unix:///run/berth/berth.sock',
  root: '/var/lib/berth',
  state: '/run/berth',
  log_level: 'info',
  metrics_listen: '127.0.0.1:9466',
  cgroup_driver: 'auto',
  shutdown_grace_seconds: 10,
  runtime: {
    default_handler: 'crun',
    conmon: '/usr/bin/conmon',
    cgroup_parent: '',
    handlers: {
      runc: { path: '/usr/sbin/runc', root: '', allowed_annotations: [] },
      crun: { path: '/usr/bin/crun', root: '', allowed_annotations: [] },
    },
  },
  image: { max_concurrent_downloads: 3, pull_progress_timeout: '1m' },
  registry: { insecure: [], mirrors: {}, auths: {} },
  cni: { conf_dir: '/etc/cni/net.d', bin_dirs: ['/opt/cni/bin', '/usr/lib/cni'], conf_template: '' },
  cdi: { spec_dirs: ['/etc/cdi', '/var/run/cdi'] },
  streaming: { listen: '127.0.0.1:0' },
  dashboard: { listen: '127.0.0.1:9468', token: '', token_file: '' },
};

/** Keys whose values are maps with free-form keys, and the shape of each value. */
export const MAP_KEYS: Record<string, 'string[]' | 'handler' | 'auth'> = {
  'registry.mirrors': 'string[]',
  'registry.auths': 'auth',
  'runtime.handlers': 'handler',
};

/** Keys holding a duration ("1m30s", "500ms", "0"), checked with parseDuration. */
export const DURATIONS = new Set(['image.pull_progress_timeout']);

/** A Go-style duration ("1h", "1m30s", "90s", "250ms", "0") in milliseconds; undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (t === '0') return 0;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  let rest = t;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|h|m|s)/.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return t ? Math.round(ms) : undefined;
}

export const ENUMS: Record<string, readonly string[]> = {
  cgroup_driver: ['auto', 'cgroupfs', 'systemd'],
  log_level: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
};
