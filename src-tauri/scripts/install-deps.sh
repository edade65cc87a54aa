#!/usr/bin/env bash
# Installs what building, running and testing Hearth needs on Debian/Ubuntu, and nothing that is
# already there: system packages (WebKitGTK for the window, cmake and clang for llama.cpp, Xvfb and
# WebKitWebDriver for the end-to-end tests), the UI's npm packages, and tauri-driver.
# Safe to run again: every step checks first. Usage: install-deps.sh [--for-tests]
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

say() { printf '\033[1;33m==>\033[0m %s\n' "$*"; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

# --- system packages ---------------------------------------------------------------------------
# glslc, spirv-headers and libvulkan-dev: llama.cpp's Vulkan backend (its shaders, and the loader it links against).
packages=(
  build-essential pkg-config curl file cmake clang libclang-dev glslc spirv-headers libvulkan-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev
  python3 python3-pip
)
if [ "$for_tests" = 1 ]; then
  # python3-venv: the server's tests run the official `openai` client from a venv (tests/setup/python-venv.sh).
  # mesa-vulkan-drivers: lavapipe, the software Vulkan device the GPU path is tested on.
  # qemu-user: runs the engine as an older CPU, to check which CPU backend it picks.
  packages+=(xvfb xauth webkit2gtk-driver python3-venv mesa-vulkan-drivers qemu-user)
fi
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${packages[@]}"; do
    # python3/pip may come from elsewhere (pyenv); a working command is enough.
    case "$p" in
      python3) command -v python3 >/dev/null && continue ;;
      python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
      python3-venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing system packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  say "Not a Debian/Ubuntu system: install WebKitGTK 4.1, cmake and clang with your package manager."
fi

# --- Vulkan headers new enough for llama.cpp (Debian 12's are too old) ---------------------------------
"$root/src-tauri/scripts/vulkan-headers.sh"

# --- Node.js (Vite 8 needs 20.19 or newer) ----------------------------------------------------------
if ! command -v node >/dev/null; then
  say "Installing Node.js"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q nodejs npm
fi
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number);console.log(a>20||(a===20&&b>=19)?1:0)')
if [ "$node_ok" != 1 ]; then
  say "Node.js $(node --version) is too old for Vite; installing Node 22 from the npm registry"
  "${sudo_cmd[@]}" npm install -g node@22
  hash -r
fi

# --- Rust ------------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  echo "install-deps: Rust is missing. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

# --- the UI's packages -----------------------------------------------------------------------------
if [ ! -d "$root/ui/node_modules" ] || [ "$root/ui/package-lock.json" -nt "$root/ui/node_modules/.package-lock.json" ]; then
  say "Installing the UI's npm packages"
  # `npm install`, not `npm ci`: npm 11 leaves the optional per-platform packages of @tauri-apps/cli
  # out of the lock file, and `npm ci` then refuses the lock as out of sync. The lock still pins every
  # version that is in it.
  (cd "$root/ui" && npm install --no-audit --no-fund --loglevel=error)
fi

# --- tauri-driver, for the end-to-end tests -------------------------------------------------------------
if [ "$for_tests" = 1 ] && ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  say "Installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi
