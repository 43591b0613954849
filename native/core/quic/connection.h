// Internal: Connection::Impl, the per-connection state behind l2n/quic.h, and the interface the
// endpoint (endpoint.cpp) uses to drive it. Only native/core/quic includes this.
#pragma once
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <deque>
#include <unordered_map>

#include "l2n/ngtcp2_compat.h"
#include "l2n/quic.h"
#include "core/quic/cert_cache.h"

namespace l2n::quic {

struct Cid {
  uint8_t len = 0;
  uint8_t b[NGTCP2_MAX_CIDLEN] = {};
  static Cid of(const uint8_t* p, size_t n) {  // n <= NGTCP2_MAX_CIDLEN (callers check)
    Cid c;
    if (n > NGTCP2_MAX_CIDLEN) n = NGTCP2_MAX_CIDLEN;
    c.len = static_cast<uint8_t>(n);
    for (size_t i = 0; i < n; i++) c.b[i] = p[i];
    return c;
  }
  static Cid of(const ngtcp2_cid& cid) { return of(cid.data, cid.datalen); }
  bool operator==(const Cid& o) const {
    if (len != o.len) return false;
    for (size_t i = 0; i < len; i++) if (b[i] != o.b[i]) return false;
    return true;
  }
};
struct CidHash {
  size_t operator()(const Cid& c) const {
    // Our ids are random, so their first bytes are a good hash; peer-chosen ids (the client's
    // original DCID) are short-lived and bounded by max_handshaking. FNV-1a over all bytes.
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < c.len; i++) h = (h ^ c.b[i]) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// A peer's stateless reset token (RFC 9000 10.3), as a hash-map key.
struct ResetToken {
  uint8_t b[NGTCP2_STATELESS_RESET_TOKENLEN] = {};
  static ResetToken of(const uint8_t* p) {
    ResetToken t;
    for (size_t i = 0; i < sizeof t.b; i++) t.b[i] = p[i];
    return t;
  }
  bool operator==(const ResetToken& o) const {
    for (size_t i = 0; i < sizeof b; i++) if (b[i] != o.b[i]) return false;
    return true;
  }
};
struct ResetTokenHash {
  size_t operator()(const ResetToken& t) const {  // tokens are pseudo-random: any 8 bytes do
    uint64_t h = 0;
    for (size_t i = 0; i < 8; i++) h = h << 8 | t.b[i];
    return static_cast<size_t>(h);
  }
};

// What a connection needs from its endpoint: connection-id routing and shared context.
class EndpointHooks {
 public:
  virtual void add_cid(const Cid&, Connection::Impl*) = 0;
  virtual void remove_cid(const Cid&) = 0;
  // The peer's reset tokens for the ids we send to: a Stateless Reset carries a random id, so the
  // endpoint finds its connection by the token in its last 16 bytes.
  virtual void add_reset_token(const ResetToken&, Connection::Impl*) = 0;
  virtual void remove_reset_token(const ResetToken&) = 0;
  virtual void on_handshake_done(Connection::Impl*) = 0;
  virtual int64_t unix_now() const = 0;
  // Checks the peer's certificate in `session` (tls::verify_session_peer's contract), through the
  // endpoint's VerifiedCertificates: a certificate verified before is only looked up.
  virtual tls::Error verify_peer(gnutls_session_t session, const std::vector<uint8_t>& expected,
                                 tls::PeerIdentity& out) = 0;
  virtual void mark_dirty(uint64_t conn_id) = 0;  // the connection may have output now
  // The stateless reset token of one of our connection ids (keyed by the endpoint's reset key).
  virtual bool reset_token(const ngtcp2_cid& cid, uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN]) = 0;
 protected:
  ~EndpointHooks() = default;
};

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  void set(const Address& a);
  static Address to_address(const sockaddr* sa);
};

struct Connection::Impl {
  // First member: GnuTLS's session pointer points here, and the crypto helper finds the
  // ngtcp2_conn through it; user_data points back to this Impl.
  ngtcp2_crypto_conn_ref conn_ref{};
  ngtcp2_conn* conn = nullptr;
  gnutls_session_t session = nullptr;
  std::shared_ptr<const tls::Certificate> cert;
  Config cfg;
  EventSink* sink = nullptr;
  EndpointHooks* ep = nullptr;
  uint64_t id = 0;
  bool server = false;
  State state = State::kHandshaking;
  Error error = Error::kNone;
  tls::Error tls_error = tls::Error::kNone;
  uint64_t remote_code = 0;
  bool stateless_reset = false;
  bool callback_failed_internal = false;
  Address local, remote;
  SockAddr local_sa, remote_sa;
  std::vector<uint8_t> expected_peer_id;
  tls::PeerIdentity peer;
  std::vector<Cid> cids;  // registered with the endpoint, removed on destruction
  std::vector<ResetToken> reset_tokens;  // likewise

  struct Chunk { const uint8_t* p; size_t len; };
  struct Stream {
    std::deque<Chunk> unsent;   // transferred buffers not yet handed to ngtcp2
    size_t front_offset = 0;    // bytes of unsent.front() already handed over
    size_t unsent_bytes = 0;
    bool fin_queued = false, fin_sent = false;
    bool write_closed = false;  // reset or stopped: drop unsent data
    bool blocked = false;       // flow control: wait for extend_max_stream_data
    bool queued = false;        // in send_queue
  };
  std::unordered_map<int64_t, Stream> streams;
  std::deque<int64_t> send_queue;  // streams with unsent data or fin, round robin

  // Closing: the CONNECTION_CLOSE packet, re-sent when the peer keeps sending (RFC 9000 10.2.1).
  bool close_pending = false;      // close() called; the packet is made by write_datagrams
  uint64_t close_app_code = 0;
  std::vector<uint8_t> close_packet;
  Address close_to;                 // the path the close packet was written for
  std::vector<uint8_t> stash;       // a packet for another path, sent alone by the next write
  Address stash_to;
  bool close_packet_due = false;
  uint64_t packets_while_closing = 0;
  uint64_t drain_deadline = UINT64_MAX;
  size_t burst_pkts = 0;            // packets of the current pacing burst already written
  // How write_datagrams' bursts ended when ngtcp2 wrote nothing more (Connection::CongestionStats).
  uint64_t bursts_cwnd_limited = 0, bursts_app_limited = 0, bursts_other = 0;
  bool counted_handshaking = true;  // the endpoint's handshaking count includes us
  bool reap_queued = false;         // the endpoint will free us (state kClosed)
  bool in_dirty = false;            // in the endpoint's output queue
  uint64_t armed_deadline = UINT64_MAX;  // the endpoint's live timer entry for us

  ~Impl();
  Error init_client(const Address& local, const Address& remote, uint64_t now);
  // odcid: the original destination id from a validated Retry token (then hd.dcid is our Retry
  // source id and token/token_len the token), or null for a connection without Retry.
  Error init_server(const Address& local, const Address& remote, const ngtcp2_pkt_hd& hd,
                    const ngtcp2_cid* odcid, const uint8_t* token, size_t token_len, uint64_t now);
  void handle_datagram(const uint8_t* data, size_t len, const Address& from, uint64_t now);
  void handle_timeout(uint64_t now);
  Transmit write_datagrams(uint8_t* out, size_t cap, uint64_t now);
  uint64_t next_deadline() const;

  // helpers
  Error common_init(ngtcp2_settings& s, ngtcp2_transport_params& p, uint64_t now);
  Error setup_tls(bool is_server);
  void fail(Error e, int liberr, uint64_t now);  // fatal error: queue CONNECTION_CLOSE
  void enter_closed(Error e);                     // silent close (idle, timeout, reset)
  void emit(Event ev);
  void emit_closed();
  void enqueue(int64_t id, Stream& s);
  bool closed_emitted = false;
};

}  // namespace l2n::quic
