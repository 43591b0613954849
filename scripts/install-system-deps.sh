#!/usr/bin/env bash
# Installs the Debian packages that building and testing libp2p-native needs, only when missing.
# Everything comes from Debian's apt: nothing is downloaded from anywhere else.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config        # the native build (cmake-js drives cmake)
  libssl-dev                              # ChaCha20-Poly1305, SHA-256, RSA/ECDSA/secp256k1 verification
  libsodium-dev                           # X25519 and Ed25519 (faster than OpenSSL here, see README)
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev   # QUIC engine and its TLS
  nettle-dev libgmp-dev                   # nettle/GMP: GnuTLS's P-256/X25519 calls replaced (core/tls/gnutls_fast_ops.cpp)
  libmimalloc-dev libjemalloc-dev         # selectable allocators
  clang libclang-rt-14-dev libfuzzer-14-dev   # sanitizers and libFuzzer targets
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system deps: all present" >&2
  exit 0
fi
echo "system deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
