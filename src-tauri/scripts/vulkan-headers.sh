#!/usr/bin/env bash
# Puts Vulkan headers new enough for llama.cpp's Vulkan backend into target/vulkan-headers, where
# .cargo/config.toml points llama.cpp's CMake build (CMAKE_INCLUDE_PATH).
#
# Why: ggml-vulkan needs Vulkan-Hpp 1.4 (vk::LayerSettingsCreateInfoEXT); Debian 12 ships 1.3.239.
# Debian 13's libvulkan-dev (headers only are used; the loader we link is the system's) is downloaded
# and unpacked into the build folder, never installed: mixing trixie packages into a bookworm system
# is not safe. On a system whose own headers are new enough this does nothing.
# Safe to run again.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/target/vulkan-headers"
need="LayerSettingsCreateInfoEXT"

have_headers() { grep -qs "$need" "$1/vulkan/vulkan_structs.hpp"; }

if have_headers "$dest/usr/include" || have_headers /usr/include; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "vulkan-headers: Vulkan headers 1.4 or newer are needed (install your system's vulkan headers / the Vulkan SDK)" >&2
  exit 1
fi

echo "==> Fetching Vulkan headers 1.4 (Debian 13's libvulkan-dev, unpacked into $dest)" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb http://deb.debian.org/debian trixie main" > "$tmp/sources.list"
# A private package index and cache: the system's apt state never sees the trixie suite.
apt_opts=(-q -o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update >&2
(cd "$tmp" && apt-get "${apt_opts[@]}" download libvulkan-dev >&2)
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$tmp"/libvulkan-dev_*.deb "$dest"
have_headers "$dest/usr/include" || { echo "vulkan-headers: the unpacked headers lack $need" >&2; exit 1; }
