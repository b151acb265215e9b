// gunzip-digest: inflates a gzip stream (one or more members) from stdin to stdout and, when it
// ended cleanly, prints the sha256 of the inflated bytes (a layer's diff ID) to stderr as
// "sha256:<hex>\n". berth's pull pipes each gzip layer through it while the layer downloads:
// the inflate and the diff ID hash then run in this process, on the other core, instead of on
// the daemon's one JS thread and its libuv pool. Any failure: a message on stderr, exit 1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1 << 20)

static unsigned char in[CHUNK];
static unsigned char out[CHUNK];

static int fail(const char *what) {
  fprintf(stderr, "gunzip-digest: %s\n", what);
  return 1;
}

static int write_all(const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(void) {
  // Bigger pipes: fewer wake-ups of both sides per MiB (best effort; not a pipe is fine).
  fcntl(0, F_SETPIPE_SZ, CHUNK);
  fcntl(1, F_SETPIPE_SZ, CHUNK);
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return fail("inflateInit failed");
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) return fail("sha256 init failed");
  int ended = 0; // the last member ended; what follows must be another member or zero padding
  for (;;) {
    ssize_t n = read(0, in, sizeof in);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(strerror(errno));
    }
    if (n == 0) break;
    z.next_in = in;
    z.avail_in = (uInt)n;
    while (z.avail_in) {
      if (ended) {
        // As node's gunzip: zero bytes after a member are padding, anything else a new member.
        while (z.avail_in && *z.next_in == 0) z.next_in++, z.avail_in--;
        if (!z.avail_in) break;
        if (inflateReset(&z) != Z_OK) return fail("inflateReset failed");
        ended = 0;
      }
      z.next_out = out;
      z.avail_out = sizeof out;
      int ret = inflate(&z, Z_NO_FLUSH);
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) return fail(z.msg ? z.msg : "invalid gzip data");
      size_t got = sizeof out - z.avail_out;
      if (got) {
        if (!EVP_DigestUpdate(md, out, got)) return fail("sha256 failed");
        if (write_all(out, got) < 0) return fail(strerror(errno));
      }
      if (ret == Z_STREAM_END) ended = 1;
      else if (ret == Z_BUF_ERROR && !got) break; // needs more input
    }
  }
  if (!ended) return fail("unexpected end of gzip stream");
  unsigned char sum[32];
  unsigned int len = 0;
  if (!EVP_DigestFinal_ex(md, sum, &len)) return fail("sha256 failed");
  fputs("sha256:", stderr);
  for (unsigned int i = 0; i < len; i++) fprintf(stderr, "%02x", sum[i]);
  fputc('\n', stderr);
  return 0;
}
