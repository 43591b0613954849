#include "io/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cstring>

#include "l2n/errors.h"

namespace l2n::io {

bool make_addr(const std::string& host, uint16_t port, SockAddr& out) {
  out = SockAddr{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void describe_addr(const SockAddr& a, int& family, std::string& host, uint16_t& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    family = 6;
    port = ntohs(v6->sin6_port);
  } else {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.ss);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    family = 4;
    port = ntohs(v4->sin_port);
  }
  host = buf;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tcp_listen(const SockAddr& addr, int backlog) {
  int fd = socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -static_cast<int>(err::kBindFailed);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    return -static_cast<int>(e == EADDRINUSE ? err::kAddressInUse : err::kBindFailed);
  }
  return fd;
}

int tcp_connect(const SockAddr& addr) {
  int fd = socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -static_cast<int>(err::kConnectFailed);
  set_nodelay(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return -static_cast<int>(e == ECONNREFUSED ? err::kConnectRefused : err::kConnectFailed);
  }
  return fd;
}

int tcp_accept(int listen_fd, SockAddr& peer) {
  peer.len = sizeof(peer.ss);
  int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer.ss), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  set_nodelay(fd);
  return fd;
}

uint32_t connect_result(int fd) {
  int e = 0;
  socklen_t len = sizeof(e);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) return err::kConnectFailed;
  if (e == 0) return err::kNone;
  return e == ECONNREFUSED ? err::kConnectRefused : err::kConnectFailed;
}

bool local_addr(int fd, SockAddr& out) {
  out.len = sizeof(out.ss);
  return getsockname(fd, reinterpret_cast<sockaddr*>(&out.ss), &out.len) == 0;
}

bool peer_addr(int fd, SockAddr& out) {
  out.len = sizeof(out.ss);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&out.ss), &out.len) == 0;
}

}  // namespace l2n::io
