// execwait: runs `RUNTIME ... exec --detach --pid-file PIDFILE ... ID` and exits with the exit
// status of the exec'd process, as soon as that process exits.
//
// Why: a non-detached `runc exec` copies the process's output through pipes of its own and only
// exits once they reach EOF, so a command that leaves a process in the background holding
// stdout never returns (ExecSync would hang). Detached, the process writes straight into our
// stdio, but its parent (the runtime) is gone: we become a child subreaper first, so the kernel
// hands the orphaned process to us and we can wait for it and learn its status, as conmon does.
//
// SIGTERM asks for the exec'd process to be killed (ExecSync's timeout, or the caller gone): at
// once if its pid is known, else as soon as the runtime has written it. The runtime may still be
// starting the process when the timeout comes (under emulation `runc exec` takes seconds); killing
// execwait then would leave the process running in the container with nobody to end it.
//
// usage: execwait PIDFILE RUNTIME ARGS...
// Exit: the process's exit code, 128+N when killed by signal N; if the runtime itself fails,
// its own exit status (its message is on stderr); 125 for execwait's own errors.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t target = 0;

static void on_term(int sig) {
  (void)sig;
  stop_requested = 1;
  if (target > 0) kill((pid_t)target, SIGKILL);
}

static pid_t read_pid(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return -1;
  long pid = -1;
  if (fscanf(f, "%ld", &pid) != 1) pid = -1;
  fclose(f);
  return (pid_t)pid;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: execwait PIDFILE RUNTIME ARGS...\n");
    return 125;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    fprintf(stderr, "execwait: cannot become a subreaper: %s\n", strerror(errno));
    return 125;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  pid_t rt = fork();
  if (rt < 0) {
    fprintf(stderr, "execwait: fork: %s\n", strerror(errno));
    return 125;
  }
  if (rt == 0) {
    execv(argv[2], argv + 2);
    fprintf(stderr, "execwait: exec %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int st;
  while (waitpid(rt, &st, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "execwait: wait for the runtime: %s\n", strerror(errno));
      return 125;
    }
  }
  if (status_code(st) != 0) return status_code(st);
  pid_t pid = read_pid(argv[1]);
  if (pid <= 0) {
    fprintf(stderr, "execwait: the runtime wrote no pid to %s\n", argv[1]);
    return 125;
  }
  target = pid;
  if (stop_requested) kill(pid, SIGKILL); // asked before the pid was known
  // Reap whatever the kernel hands us (the exec'd process, stray runtime helpers) until the
  // exec'd process itself has exited.
  for (;;) {
    pid_t got = waitpid(-1, &st, 0);
    if (got == pid) return status_code(st);
    if (got < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "execwait: process %d was not handed to us: %s\n", (int)pid, strerror(errno));
      return 125;
    }
  }
}
