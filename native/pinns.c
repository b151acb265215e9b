// pinns: creates a pod's network, IPC and UTS namespaces and pins each one by bind-mounting it
// onto <dir>/{net,ipc,uts}/<id>, so they outlive this process. In the same run it sets the
// hostname, brings the loopback interface up and applies namespaced sysctls: those act on the
// namespaces of the calling task, so they must happen here, between unshare and exit.
//
// The mount namespace is not unshared, so the bind mounts land in the caller's (the host's)
// mount namespace. Nothing lingers: the namespaces stay alive through their pins alone.
//
// usage: pinns -d DIR -f ID [-n] [-i] [-u] [-h HOSTNAME] [-s KEY=VALUE]...
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void undo(void) {
  for (size_t i = 0; i < NKINDS; i++) {
    if (kinds[i].pinned) umount2(kinds[i].path, MNT_DETACH);
    if (kinds[i].path[0]) unlink(kinds[i].path);
  }
}

static void die(const char *what, const char *arg) {
  fprintf(stderr, "pinns: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  undo();
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: pinns -d DIR -f ID [-n] [-i] [-u] [-h HOSTNAME] [-s KEY=VALUE]...\n");
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

int main(int argc, char **argv) {
  const char *dir = NULL, *id = NULL, *hostname = NULL;
  const char *sysctls[MAX_SYSCTLS];
  int nsysctls = 0, opt;
  while ((opt = getopt(argc, argv, "d:f:niuh:s:")) != -1) {
    switch (opt) {
      case 'd': dir = optarg; break;
      case 'f': id = optarg; break;
      case 'n': kinds[0].wanted = 1; break;
      case 'i': kinds[1].wanted = 1; break;
      case 'u': kinds[2].wanted = 1; break;
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
    if (kinds[i].wanted) flags |= kinds[i].flag;
  if (!flags) usage();
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

  if (unshare(flags)) die("unshare", NULL);
  if (hostname && sethostname(hostname, strlen(hostname))) die("sethostname", hostname);
  if (kinds[0].wanted) loopback_up();
  for (int i = 0; i < nsysctls; i++) apply_sysctl(sysctls[i]);

  for (size_t i = 0; i < NKINDS; i++) {
    if (!kinds[i].wanted) continue;
    char src[64];
    snprintf(src, sizeof src, "/proc/self/ns/%s", kinds[i].name);
    if (mount(src, kinds[i].path, NULL, MS_BIND, NULL)) die("pin", kinds[i].path);
    kinds[i].pinned = 1;
  }
  return 0;
}
