/*
 * The raw limit for one encrypted stream on this machine: a sender process encrypts each 256 KiB
 * chunk with ChaCha20-Poly1305 (OpenSSL) and writes it to a loopback TCP socket; a receiver process
 * reads and decrypts each chunk (verifying its tag). No framing beyond the fixed chunk size, no
 * multiplexing, no event loop: what libp2p-native is compared with ("at least 75% of the pump").
 *
 *   raw_pump <bytes>   prints {"bytes":N,"seconds":S,"gbit":G,"cpu_user_s":U,"cpu_system_s":Y,"max_rss_bytes":R}
 *
 * CPU is both processes' (getrusage of the sender and of its reaped receiver child), so the bench
 * prints the pump's CPU per GiB beside ours: the cost of encryption plus kernel copies, no libp2p.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define TAG 16

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }
static void die(const char *what) { perror(what); exit(1); }

static void nonce_for(uint64_t n, unsigned char out[12]) {
  memset(out, 0, 4);
  for (int i = 0; i < 8; i++) out[4 + i] = (unsigned char)(n >> (8 * i));
}

static void write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) die("write");
    p += w; n -= (size_t)w;
  }
}

static int read_all(int fd, unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r == 0) return 0;
    if (r < 0) die("read");
    p += r; n -= (size_t)r;
  }
  return 1;
}

int main(int argc, char **argv) {
  uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : (1ull << 30);
  unsigned char key[32] = {7};
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1)) die("listen");
  socklen_t sl = sizeof sa;
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  uint64_t chunks = (total + CHUNK - 1) / CHUNK;
  pid_t pid = fork();
  if (pid == 0) { /* receiver */
    int fd = accept(ls, NULL, NULL);
    unsigned char *buf = malloc(CHUNK + TAG), *pt = malloc(CHUNK);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL);
    for (uint64_t i = 0; i < chunks; i++) {
      if (!read_all(fd, buf, CHUNK + TAG)) die("short");
      unsigned char nonce[12]; int len = 0, fl = 0;
      nonce_for(i, nonce);
      EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce);
      EVP_DecryptUpdate(ctx, pt, &len, buf, CHUNK);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, buf + CHUNK);
      if (EVP_DecryptFinal_ex(ctx, pt + len, &fl) != 1) { fprintf(stderr, "tag mismatch\n"); exit(2); }
    }
    unsigned char ack = 1;
    write_all(fd, &ack, 1);
    exit(0);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) die("connect");
  unsigned char *pt = calloc(1, CHUNK), *buf = malloc(CHUNK + TAG);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL);
  double t0 = now_s();
  for (uint64_t i = 0; i < chunks; i++) {
    unsigned char nonce[12]; int len = 0, fl = 0;
    nonce_for(i, nonce);
    EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce);
    EVP_EncryptUpdate(ctx, buf, &len, pt, CHUNK);
    EVP_EncryptFinal_ex(ctx, buf + len, &fl);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, buf + CHUNK);
    write_all(fd, buf, CHUNK + TAG);
  }
  unsigned char ack;
  if (!read_all(fd, &ack, 1)) die("ack");
  double secs = now_s() - t0;
  waitpid(pid, NULL, 0);
  struct rusage self, child;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &child);
  double user = tv_s(self.ru_utime) + tv_s(child.ru_utime), sys = tv_s(self.ru_stime) + tv_s(child.ru_stime);
  long rss_kib = self.ru_maxrss > child.ru_maxrss ? self.ru_maxrss : child.ru_maxrss;
  uint64_t bytes = chunks * CHUNK;
  printf("{\"bytes\":%llu,\"seconds\":%.6f,\"gbit\":%.3f,\"cpu_user_s\":%.6f,\"cpu_system_s\":%.6f,\"max_rss_bytes\":%ld}\n",
         (unsigned long long)bytes, secs, bytes * 8 / secs / 1e9, user, sys, rss_kib * 1024);
  return 0;
}
