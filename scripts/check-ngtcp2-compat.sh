#!/usr/bin/env bash
# Compiles the QUIC engine (syntax only) against the public headers of other ngtcp2 releases, to
# check that native/include/l2n/ngtcp2_compat.h covers them. Needs a git clone of ngtcp2:
#   scripts/check-ngtcp2-compat.sh /path/to/ngtcp2.git v1.0.0 v1.11.0 v1.25.0
# The installed release (Debian 12: 0.12.1) is covered by the normal build and tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
repo=$1; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0
for tag in "$@"; do
  d="$tmp/$tag/ngtcp2"; mkdir -p "$d"
  git -C "$repo" show "$tag:lib/includes/ngtcp2/ngtcp2.h" >"$d/ngtcp2.h"
  git -C "$repo" show "$tag:crypto/includes/ngtcp2/ngtcp2_crypto.h" >"$d/ngtcp2_crypto.h"
  git -C "$repo" show "$tag:crypto/includes/ngtcp2/ngtcp2_crypto_gnutls.h" >"$d/ngtcp2_crypto_gnutls.h"
  v=${tag#v}; IFS=. read -r a b c <<<"$v"
  num=$(printf "0x%02x%02x%02x" "$a" "$b" "$c")
  git -C "$repo" show "$tag:lib/includes/ngtcp2/version.h.in" |
    sed "s/@PACKAGE_VERSION@/$v/; s/@PACKAGE_VERSION_NUM@/$num/" >"$d/version.h"
  for f in "$root"/native/core/quic/*.cpp; do
    if ! ${CXX:-clang++} -std=c++20 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Werror \
        -I"$tmp/$tag" -I"$root/native/include" -I"$root/native" "$f"; then
      echo "FAIL $tag $(basename "$f")"; status=1
    fi
  done
  echo "ngtcp2 $tag ($num): checked"
done
exit $status
