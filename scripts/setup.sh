#!/usr/bin/env bash
# npm ci, then make sure Dawn finds a WebGPU adapter (installing Mesa's software Vulkan driver where
# there is none), then print the adapter.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if ! node bin/ivc.mjs doctor >/dev/null 2>&1; then
  bash scripts/install-vulkan.sh
fi
node bin/ivc.mjs doctor 2>&1 | grep -v "artificially reduced"
