# node-gyp build of the same addon that CMakeLists.txt (cmake-js, the main build) produces.
# The source list must equal native/sources.cmake (L2N_CORE_SOURCES + L2N_IO_SOURCES +
# L2N_BINDING_SOURCES): test/build/sources-match.test.ts parses both files and fails if they differ.
# System allocator only here (the allocator choice is a cmake-js option); same release flags
# otherwise: -O3, LTO, hidden symbols, kept frame pointers.
{
  "targets": [
    {
      "target_name": "libp2p_native",
      # gyp strips a leading "lib" from module names; put it back so both builds make libp2p_native.node
      "product_prefix": "lib",
      "sources": [
        # L2N_CORE_SOURCES
        "native/core/quic/connection.cpp",
        "native/core/quic/endpoint.cpp",
        "native/core/tls/certificate.cpp",
        "native/core/tls/host_key.cpp",
        "native/core/tls/session.cpp",
        "native/core/tls/gnutls_fast_ops.cpp",
        "native/core/tls/gnutls_pcert_cache.cpp",
        "native/core/multistream/message.cpp",
        "native/core/multistream/dialer.cpp",
        "native/core/multistream/listener.cpp",
        "native/core/yamux/session.cpp",
        "native/core/crypto/aead.cpp",
        "native/core/crypto/curve25519.cpp",
        "native/core/crypto/hash.cpp",
        "native/core/identity/keys.cpp",
        "native/core/identity/verify.cpp",
        "native/core/noise/cipher_state.cpp",
        "native/core/noise/handshake.cpp",
        "native/core/noise/payload.cpp",
        "native/core/noise/xx_state.cpp",
        # L2N_IO_SOURCES
        "native/io/connection.cpp",
        "native/io/host.cpp",
        "native/io/io_thread.cpp",
        "native/io/loop.cpp",
        "native/io/quic_io.cpp",
        "native/io/slab.cpp",
        "native/io/socket.cpp",
        # L2N_BINDING_SOURCES
        "native/binding/addon.cpp",
        "native/binding/connection.cpp",
        "native/binding/host.cpp",
        "native/binding/listener.cpp",
        "native/binding/quic_cert.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "L2N_ALLOCATOR_NAME=\"system\"",
        "L2N_HAVE_NGTCP2=1"
      ],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "cflags": ["-O3", "-fvisibility=hidden", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-flto=auto", "-g",
                 "-Wall", "-Wextra", "-Wno-unused-parameter",
                 "<!@(pkg-config --cflags openssl libsodium libngtcp2 libngtcp2_crypto_gnutls gnutls hogweed nettle gmp)"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-fvisibility-inlines-hidden"],
      "ldflags": ["-flto=auto", "-O3"],
      "libraries": ["<!@(pkg-config --libs openssl libsodium libngtcp2 libngtcp2_crypto_gnutls gnutls hogweed nettle gmp)", "-lpthread"]
    }
  ]
}
