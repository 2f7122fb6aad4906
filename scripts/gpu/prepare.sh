#!/bin/bash
# Packs what an NVIDIA GPU machine without Node.js or network needs to run ivc (../shared/device.md):
# node, the Vulkan loader with the GL vendor-neutral dispatch libraries NVIDIA's ICD loads through,
# and node_modules with only the linux-x64 dawn.node. Writes .gpu/ (git-ignored), about 51 MB.
# Then, with the device tool: run `bash scripts/gpu/run.sh` with carry [".gpu"].
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
mkdir -p .gpu /tmp/amd64/partial
xz -T2 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update > /dev/null
# libvulkan1 alone is not enough: the NVIDIA ICD (libGLX_nvidia.so.0) answers no vkCreateInstance
# ("Found no drivers") until libglvnd's dispatch libraries are there.
(cd .gpu && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v "^W:" || true)
# The native TypeScript preview (typecheck only) is left out to stay under the 64 MiB transfer limit.
tar cf - --exclude='node_modules/webgpu/dist/darwin-universal' --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/.cache' --exclude='node_modules/@typescript' node_modules |
  xz -T2 -3 > .gpu/app.tar.xz
du -sh .gpu
