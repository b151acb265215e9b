// pinns: creates a pod's network, IPC and UTS namespaces and pins each one by bind-mounting it
// onto <dir>/{net,ipc,uts}/<id>, so they outlive this process. In the same run it sets the
// hostname, brings the loopback interface up and applies namespaced sysctls: those act on the
// namespaces of the calling task, so they must happen here, between unshare and exit.
//
// The mount namespace is not unshared, so the bind mounts land in the caller's (the host's)
// mount namespace. Nothing lingers: the namespaces stay alive through their pins alone.
//
// With -U (and -m/-g mappings "CONTAINER:HOST:LENGTH") it first creates a user namespace, so that
// the other namespaces are owned by it: a child process unshares CLONE_NEWUSER, this process (in
// the parent user namespace, with CAP_SETUID/CAP_SETGID) writes the child's uid_map and gid_map,
// then the child becomes root of its namespace, unshares the rest and sets hostname, loopback and
// sysctls there; this process pins /proc/<child>/ns/* and lets the child exit.
//
// usage: pinns -d DIR -f ID [-U -m UIDMAP -g GIDMAP] [-n] [-i] [-u] [-h HOSTNAME] [-s KEY=VALUE]...
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SYSCTLS 128

struct ns_kind {
  const char *name;
  int flag;
  int wanted;
  int pinned;
  char path[4096];
};

static struct ns_kind kinds[] = {
  {"net", CLONE_NEWNET, 0, 0, ""},
  {"ipc", CLONE_NEWIPC, 0, 0, ""},
  {"uts", CLONE_NEWUTS, 0, 0, ""},
  {"user", CLONE_NEWUSER, 0, 0, ""},
};
#define USER_KIND 3
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void undo(void) {
  for (size_t i = 0; i < NKINDS; i++) {
    if (kinds[i].pinned) umount2(kinds[i].path, MNT_DETACH);
    if (kinds[i].path[0]) unlink(kinds[i].path);
  }
}

static int in_child;      // the userns child must not undo the parent's pins
static pid_t userns_child;  // reaped by the parent on failure too

static void die(const char *what, const char *arg) {
  fprintf(stderr, "pinns: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  if (in_child) _exit(1);
  undo();
  if (userns_child > 0) {
    kill(userns_child, SIGKILL);
    while (waitpid(userns_child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: pinns -d DIR -f ID [-U -m UIDMAP -g GIDMAP] [-n] [-i] [-u] [-h HOSTNAME] [-s KEY=VALUE]...\n");
  exit(2);
}

static int mkdir_p(const char *dir) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return errno = ENAMETOOLONG, -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0700) && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0700) && errno != EEXIST) return -1;
  return 0;
}

// Writes VALUE to /proc/sys/KEY, where KEY uses dots (net.ipv4.ip_forward) or slashes.
static void apply_sysctl(const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    errno = EINVAL;
    die("bad sysctl", kv);
  }
  char path[4096];
  int n = snprintf(path, sizeof path, "/proc/sys/%.*s", (int)(eq - kv), kv);
  if (n >= (int)sizeof path) {
    errno = ENAMETOOLONG;
    die("sysctl", kv);
  }
  // With slashes in the key, dots are part of names (e.g. an interface called eth0.100).
  if (!memchr(kv, '/', eq - kv))
    for (char *p = path + 10; *p; p++)
      if (*p == '.') *p = '/';
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open sysctl", path);
  size_t len = strlen(eq + 1);
  if (write(fd, eq + 1, len) != (ssize_t)len) die("write sysctl", path);
  close(fd);
}

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die("get flags of", "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die("bring up", "lo");
  close(fd);
}


// Hostname, loopback and sysctls act on the calling task's namespaces.
static void setup(const char *hostname, const char **sysctls, int nsysctls) {
  if (hostname && sethostname(hostname, strlen(hostname))) die("sethostname", hostname);
  if (kinds[0].wanted) loopback_up();
  for (int i = 0; i < nsysctls; i++) apply_sysctl(sysctls[i]);
}

static void pin_from(const char *proc) {
  for (size_t i = 0; i < NKINDS; i++) {
    if (!kinds[i].wanted) continue;
    char src[64];
    snprintf(src, sizeof src, "/proc/%s/ns/%s", proc, kinds[i].name);
    if (mount(src, kinds[i].path, NULL, MS_BIND, NULL)) die("pin", kinds[i].path);
    kinds[i].pinned = 1;
  }
}

// "C:H:L" → "C H L\n" for /proc/<pid>/{uid,gid}_map (one mapping: the kernel takes the whole map
// in one write).
static void write_map(pid_t pid, const char *file, const char *spec) {
  unsigned long c, h, l;
  char end;
  if (sscanf(spec, "%lu:%lu:%lu%c", &c, &h, &l, &end) != 3 || !l) {
    errno = EINVAL;
    die("bad mapping", spec);
  }
  char path[64], line[96];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int n = snprintf(line, sizeof line, "%lu %lu %lu\n", c, h, l);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open", path);
  if (write(fd, line, n) != n) die("write", path);
  close(fd);
}

static int in_userns(int flags, const char *hostname, const char **sysctls, int nsysctls, const char *uidmap, const char *gidmap) {
  int up[2], down[2];  // up: child → parent, down: parent → child
  if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) die("pipe", NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", NULL);
  if (pid > 0) userns_child = pid;
  char b = 0;
  if (pid == 0) {
    in_child = 1;
    close(up[0]);
    close(down[1]);
    if (unshare(CLONE_NEWUSER)) die("unshare user namespace", NULL);
    if (write(up[1], &b, 1) != 1) die("signal parent", NULL);
    if (read(down[0], &b, 1) != 1) _exit(1);  // parent failed to write the maps
    // Root of the new namespace (the mapped root), with all capabilities in it.
    if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) die("become root of the user namespace", NULL);
    if (flags && unshare(flags)) die("unshare", NULL);
    setup(hostname, sysctls, nsysctls);
    if (write(up[1], &b, 1) != 1) die("signal parent", NULL);
    read(down[0], &b, 1);  // EOF once the parent has pinned everything
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  int ok = read(up[0], &b, 1) == 1;
  if (ok) {
    write_map(pid, "uid_map", uidmap);
    write_map(pid, "gid_map", gidmap);
    ok = write(down[1], &b, 1) == 1 && read(up[0], &b, 1) == 1;
  }
  if (ok) {
    char proc[24];
    snprintf(proc, sizeof proc, "%d", (int)pid);
    pin_from(proc);
  }
  close(down[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  userns_child = 0;
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status)) {
    fprintf(stderr, "pinns: user namespace child failed\n");
    undo();
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *id = NULL, *hostname = NULL, *uidmap = NULL, *gidmap = NULL;
  const char *sysctls[MAX_SYSCTLS];
  int nsysctls = 0, opt;
  while ((opt = getopt(argc, argv, "d:f:niuUm:g:h:s:")) != -1) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'f': id = optarg; break;
      case 'n': kinds[0].wanted = 1; break;
      case 'i': kinds[1].wanted = 1; break;
      case 'u': kinds[2].wanted = 1; break;
      case 'U': kinds[USER_KIND].wanted = 1; break;
      case 'm': uidmap = optarg; break;
      case 'g': gidmap = optarg; break;
      case 'h': hostname = optarg; break;
      case 's':
        if (nsysctls == MAX_SYSCTLS) usage();
        sysctls[nsysctls++] = optarg;
        break;
      default: usage();
    }
  }
  if (!dir || !id || optind != argc || strchr(id, '/') || !*id) usage();
  int flags = 0;
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i].wanted && i != USER_KIND) flags |= kinds[i].flag;
  if (!flags && !kinds[USER_KIND].wanted) usage();
  if (kinds[USER_KIND].wanted != (uidmap && gidmap) || (!kinds[USER_KIND].wanted && (uidmap || gidmap))) usage();
  if (hostname && !kinds[2].wanted) {
    errno = EINVAL;
    die("a hostname needs a new UTS namespace (-u)", NULL);
  }

  // Pin files first: a name clash fails before any namespace exists.
  for (size_t i = 0; i < NKINDS; i++) {
    if (!kinds[i].wanted) continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, kinds[i].name);
    if (mkdir_p(sub)) die("mkdir", sub);
    if (snprintf(kinds[i].path, sizeof kinds[i].path, "%s/%s", sub, id) >= (int)sizeof kinds[i].path) {
      kinds[i].path[0] = 0;
      errno = ENAMETOOLONG;
      die("pin path for", id);
    }
    int fd = open(kinds[i].path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (fd < 0) {
      kinds[i].path[0] = 0;  // not ours: leave it
      die("create pin file", sub);
    }
    close(fd);
  }

  if (kinds[USER_KIND].wanted) return in_userns(flags, hostname, sysctls, nsysctls, uidmap, gidmap);
  if (unshare(flags)) die("unshare", NULL);
  setup(hostname, sysctls, nsysctls);
  pin_from("self");
  return 0;
}
