#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe) so Dawn finds a WebGPU adapter on a machine
# without a GPU. Debian bookworm's own Mesa 22 lacks features Dawn requires, so there we take
# Mesa from bookworm-backports.
set -euo pipefail

if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo unknown)
  case "$ver" in
    22.*|23.*) echo "ivc setup: Mesa $ver is too old for Dawn; upgrading from backports" ;;
    *) echo "ivc setup: software Vulkan driver present (mesa-vulkan-drivers $ver)"; exit 0 ;;
  esac
fi

if [ ! -r /etc/os-release ]; then
  echo "ivc setup: unknown system. Install a Vulkan driver (or a GPU driver) so that Dawn finds an adapter." >&2
  exit 1
fi
. /etc/os-release
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

case "${ID:-}:${VERSION_CODENAME:-}" in
  debian:bookworm)
    echo "ivc setup: installing mesa-vulkan-drivers and libvulkan1 from bookworm-backports"
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $sudo tee /etc/apt/sources.list.d/ivc-backports.list >/dev/null
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    ;;
  debian:*|ubuntu:*)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    ;;
  *)
    echo "ivc setup: no automatic install for ${PRETTY_NAME:-this system}." >&2
    echo "  Install Mesa >= 24 with its Vulkan drivers (lavapipe) and the Vulkan loader, or a GPU driver." >&2
    exit 1
    ;;
esac
echo "ivc setup: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
