// Non-blocking TCP sockets for IPv4 and IPv6: listen, dial, accept, with TCP_NODELAY on every
// connected socket (both sides: Noise and Yamux frames are already batched by us, so Nagle only
// adds latency). Plain POSIX; errors are returned as l2n::err codes, never thrown.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace l2n::io {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// Parses a numeric IPv4 or IPv6 literal (no DNS: multiaddrs resolve before they get here).
bool make_addr(const std::string& host, uint16_t port, SockAddr& out);
// "ip4 1.2.3.4 80" style triple used in events: family (4/6), host text, port.
void describe_addr(const SockAddr& a, int& family, std::string& host, uint16_t& port);

// Each returns an fd >= 0 or -(l2n::err code).
int tcp_listen(const SockAddr& addr, int backlog);
int tcp_connect(const SockAddr& addr);   // non-blocking: completion is signalled by EPOLLOUT
int tcp_accept(int listen_fd, SockAddr& peer);  // -1 when no more pending (EAGAIN)
// After EPOLLOUT on a connecting socket: 0 on success, or an l2n::err code.
uint32_t connect_result(int fd);
bool local_addr(int fd, SockAddr& out);
bool peer_addr(int fd, SockAddr& out);
void set_nodelay(int fd);

}  // namespace l2n::io
