# The one list of the addon's C++ sources. CMakeLists.txt (cmake-js, the main build) and
# native/test/CMakeLists.txt (engine tests, sanitizers, fuzzers) include it; binding.gyp names
# the same files and test/build/sources-match.test.ts checks that the two lists agree.
# Each module owns its own list: edit only yours.

# Engines without I/O (native/core): multistream-select, Noise, Yamux, identity, QUIC/TLS.
set(L2N_CORE_SOURCES
  native/core/tls/session.cpp
  native/core/quic/connection.cpp
  native/core/quic/endpoint.cpp
  native/core/tls/certificate.cpp
  native/core/tls/host_key.cpp
  native/core/tls/gnutls_fast_ops.cpp
  native/core/tls/gnutls_pcert_cache.cpp
  native/core/multistream/message.cpp
  native/core/multistream/dialer.cpp
  native/core/multistream/listener.cpp
  native/core/yamux/session.cpp
  native/core/crypto/aead.cpp
  native/core/crypto/curve25519.cpp
  native/core/crypto/hash.cpp
  native/core/identity/keys.cpp
  native/core/identity/verify.cpp
  native/core/noise/cipher_state.cpp
  native/core/noise/handshake.cpp
  native/core/noise/payload.cpp
  native/core/noise/xx_state.cpp
)

# Sockets, threads, timers, batching (native/io): one file per mechanism.
set(L2N_IO_SOURCES
  native/io/connection.cpp
  native/io/host.cpp
  native/io/io_thread.cpp
  native/io/loop.cpp
  native/io/quic_io.cpp
  native/io/slab.cpp
  native/io/socket.cpp
)

# The only code that includes napi.h (native/binding).
set(L2N_BINDING_SOURCES
  native/binding/addon.cpp
  native/binding/connection.cpp
  native/binding/host.cpp
  native/binding/listener.cpp
  native/binding/quic_cert.cpp
)
