#!/usr/bin/env bash
# Installs everything libp2p-native needs on a fresh Debian 12 machine with Node 20, then builds.
# Debian packages (only when missing), npm packages from the lockfile, the native addon, TypeScript.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build:native
