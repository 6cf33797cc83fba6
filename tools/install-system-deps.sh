#!/usr/bin/env bash
# Gives a Debian or Ubuntu machine what Tessera needs outside npm, and does nothing where it is
# already there (apt is only touched, and `apt-get update` only run, when something is missing):
#  - WebGPU in Node runs on Dawn, which needs a Vulkan driver. Without a GPU that is Mesa's lavapipe
#    (CPU Vulkan) from `mesa-vulkan-drivers`, version 25 or newer: Mesa 22, Debian 12's own, offers
#    no adapter ("shaderUniform*ArrayDynamicIndexing required"), so on bookworm it comes from the
#    bookworm-backports suite, which this script adds to apt's sources when it is not there.
#  - The browser tests drive Debian's Chromium (WebGPU on SwiftShader). TESSERA_SKIP_BROWSER=1
#    leaves it out.
# On a machine without apt (macOS, Windows, another Linux) it installs nothing and says what is needed.
#
# For tests, two paths can be moved: APT_ETC (default /etc/apt), OS_RELEASE (/etc/os-release).
set -Eeuo pipefail
trap 'status=$?; echo "install-system-deps: error: line $LINENO: \`$BASH_COMMAND\` failed (exit $status)" >&2; exit $status' ERR
export DEBIAN_FRONTEND=noninteractive

APT_ETC="${APT_ETC:-/etc/apt}"
OS_RELEASE="${OS_RELEASE:-/etc/os-release}"
MIN_MESA=25

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  echo "install-system-deps: no apt here; install a WebGPU-capable driver yourself (Vulkan on Linux, e.g. Mesa ${MIN_MESA}+ lavapipe; Metal and D3D12 need nothing) and, for the browser tests, Chromium"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    echo "install-system-deps: apt-get update"
    $SUDO apt-get update
    APT_UPDATED=1
  fi
  echo "install-system-deps: apt-get install $*"
  $SUDO apt-get install -y "$@"
}

# The version of an installed Debian package, or nothing when it is absent. dpkg-query exits 1 for
# a package it does not know, which is an answer here, not a failure.
installed_version() {
  { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$1 == "install" && $3 == "installed" { print $4 }'
}

mesa_ok() {
  local version
  version="$(installed_version mesa-vulkan-drivers)"
  [ -n "$(installed_version libvulkan1)" ] && [ -n "$version" ] && dpkg --compare-versions "$version" ge "$MIN_MESA"
}

# ---- Vulkan loader and Mesa lavapipe >= 25 (WebGPU in Node) ---------------------------------------
if mesa_ok; then
  echo "install-system-deps: libvulkan1 and mesa-vulkan-drivers $(installed_version mesa-vulkan-drivers) are installed"
else
  codename="$( (. "$OS_RELEASE" && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)"
  if [ "$codename" = bookworm ]; then
    if ! grep -rqs 'bookworm-backports' "$APT_ETC/sources.list" "$APT_ETC/sources.list.d/"; then
      echo "install-system-deps: adding the bookworm-backports apt suite (for Mesa ${MIN_MESA})"
      $SUDO mkdir -p "$APT_ETC/sources.list.d"
      $SUDO tee "$APT_ETC/sources.list.d/bookworm-backports.sources" >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    fi
    apt_install libvulkan1
    apt_install -t bookworm-backports mesa-vulkan-drivers
  else
    apt_install libvulkan1 mesa-vulkan-drivers
  fi
  if ! mesa_ok; then
    echo "install-system-deps: error: after installing, libvulkan1 is '$(installed_version libvulkan1)' and mesa-vulkan-drivers is '$(installed_version mesa-vulkan-drivers)'; WebGPU in Node (Dawn) needs both, Mesa ${MIN_MESA} or newer" >&2
    exit 1
  fi
fi

# ---- Chromium (browser tests) ----------------------------------------------------------------------
if [ "${TESSERA_SKIP_BROWSER:-}" = 1 ]; then
  echo "install-system-deps: TESSERA_SKIP_BROWSER=1: Chromium not checked"
elif [ -n "$(installed_version chromium)" ]; then
  echo "install-system-deps: chromium $(installed_version chromium) is installed"
else
  apt_install chromium
  if [ -z "$(installed_version chromium)" ]; then
    echo "install-system-deps: error: apt-get installed no chromium package" >&2
    exit 1
  fi
fi
