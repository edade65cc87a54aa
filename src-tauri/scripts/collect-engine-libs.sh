#!/usr/bin/env bash
# Puts the engine's llama.cpp libraries beside the binaries of a build, or in an installer's folder:
# libllama/libggml* (linked, with their versioned names) and, with --backends, the backends the engine
# loads at run time (libggml-cpu-*.so, one per CPU variant — or one libggml-cpu.so in a development build, see
# src-tauri/cmake/ — and libggml-vulkan.so).
#
# Why: llama-cpp-sys-2 builds them in its own OUT_DIR and leaves only dangling symlinks beside the
# binaries (it hard-links `libggml.so`, which is itself a symlink to `libggml.so.0`). `cargo run` and
# `cargo test` find the libraries through LD_LIBRARY_PATH; a binary started directly (`make run`, the
# end-to-end tests, the .deb) finds them through its rpath ($ORIGIN, $ORIGIN/../lib/hearth). In a
# build folder the engine finds the backends in llama.cpp's own install folder, so they are copied
# only for an installer. The Makefile also fills deps/ and examples/: llama-cpp-sys-2's build script
# panics on its own dangling links there when it runs again for another feature set (its
# `exists()` check follows the link, then the hard link fails with EEXIST).
# Usage: collect-engine-libs.sh [--backends] PROFILE_DIR DEST
set -euo pipefail
backends=0
[ "${1:-}" = "--backends" ] && { backends=1; shift; }
profile="$1"
dest="$2"
# The newest llama.cpp build: the one the binaries were just linked against (older ones, of other
# feature sets, may still be in the folder).
out="$(ls -td "$profile"/build/llama-cpp-sys-2-*/out/lib/libllama.so 2>/dev/null | head -n 1 | xargs -r dirname | xargs -r dirname)"
[ -n "$out" ] || { echo "collect-engine-libs: no llama.cpp build under $profile/build" >&2; exit 1; }
mkdir -p "$dest"
# -P keeps the versioned symlinks (libggml.so -> libggml.so.0 -> libggml.so.0.26.0) as they are.
rm -f "$dest"/libllama*.so* "$dest"/libggml*.so*
cp -P "$out"/lib/lib*.so* "$dest"/
if [ "$backends" = 1 ]; then
  cp "$out"/backends/*.so "$dest"/
  ls "$dest"/libggml-cpu*.so >/dev/null || { echo "collect-engine-libs: no CPU backend in $out/backends" >&2; exit 1; }
fi
