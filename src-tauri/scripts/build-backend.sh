#!/usr/bin/env bash
# Builds one more of llama.cpp's backends as a run-time library, from the same llama.cpp sources the
# engine was built from, and drops it beside the backends a build (or an installed Hearth) already
# loads. Nothing else is rebuilt: the worker loads every backend library in its folder when it
# starts (engine/src/devices.rs) and skips one whose driver or library is missing, with the reason.
#
# Why not a cargo feature: the CUDA and ROCm toolkits are large and vendor-specific, so `make test`
# and `make package` build only what every machine can (the CPU variants and Vulkan), and a person
# with the toolkit adds its backend to a build they already have, as Ollama and llama.cpp's releases
# ship them: one library per backend, from one source tree.
#
# Usage: build-backend.sh cuda|rocm|blas|cpu-x64|cpu-haswell [DEST...]
#   cuda  needs the CUDA toolkit (nvcc). CMAKE_CUDA_ARCHITECTURES picks the GPUs it is built for
#         (default: the ones in this machine where nvidia-smi sees any, else llama.cpp's list).
#   rocm  needs ROCm (hipconfig, hipcc). GPU_TARGETS picks the GPUs (e.g. gfx1100), default ROCm's.
#   blas  OpenBLAS (Debian's libopenblas-dev): no GPU, but it builds anywhere, which is how the
#         drop-in itself is checked on a machine without a GPU toolkit.
#   cpu-x64, cpu-haswell
#         another build of the CPU backend, for tests: the baseline x86-64 one (SSE2 only) or the
#         AVX2 one, into target/cpu-variants/NAME unless DEST is given. It does not go beside the
#         engine's own (a folder holds one CPU backend in a development build); point the engine at
#         it with HEARTH_BACKENDS_DIR (`make test-cpu-variant` runs the generation tests on x64).
#   DEST  folders to put the library in, e.g. /usr/lib/hearth for the .deb's install. Without one:
#         every build of this tree that has backends (the llama.cpp folder a debug or release build
#         loads from, and target/release/hearth-libs, which `make package` ships).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kind="${1:-}"
[ $# -gt 0 ] && shift
say() { printf '\033[1;33m==>\033[0m %s\n' "$*"; }

case "$kind" in
  cuda)
    command -v nvcc >/dev/null || { echo "build-backend: nvcc (the CUDA toolkit) is not installed" >&2; exit 1; }
    arch="${CMAKE_CUDA_ARCHITECTURES:-}"
    [ -z "$arch" ] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && arch=native
    opts=(-DGGML_CUDA=ON -DGGML_CUDA_NCCL=OFF ${arch:+-DCMAKE_CUDA_ARCHITECTURES=$arch})
    target=ggml-cuda ;;
  rocm)
    command -v hipconfig >/dev/null || { echo "build-backend: hipconfig (ROCm) is not installed" >&2; exit 1; }
    export HIPCXX="${HIPCXX:-$(hipconfig -l)/clang}" HIP_PATH="${HIP_PATH:-$(hipconfig -R)}"
    opts=(-DGGML_HIP=ON ${GPU_TARGETS:+-DGPU_TARGETS=$GPU_TARGETS})
    target=ggml-hip ;;
  blas)
    opts=(-DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS)
    target=ggml-blas ;;
  cpu-x64|cpu-haswell)
    # ggml's variants by name (its cmake/ggml-cpu variant list): x64 has no option on; haswell is
    # SSE4.2, AVX, F16C, FMA, AVX2 and BMI2. Everything else stays off, whatever this CPU has.
    off=(SSE42 AVX F16C FMA AVX2 BMI2 AVX_VNNI AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16 AMX_TILE AMX_INT8 AMX_BF16)
    on=()
    [ "$kind" = cpu-haswell ] && on=(SSE42 AVX F16C FMA AVX2 BMI2)
    opts=(-DGGML_CPU_ALL_VARIANTS=OFF)
    for o in "${off[@]}"; do
      case " ${on[*]} " in *" $o "*) opts+=("-DGGML_$o=ON") ;; *) opts+=("-DGGML_$o=OFF") ;; esac
    done
    target=ggml-cpu
    [ $# -eq 0 ] && set -- "$root/target/cpu-variants/${kind#cpu-}" ;;
  *)
    echo "usage: build-backend.sh cuda|rocm|blas|cpu-x64|cpu-haswell [DEST...]" >&2; exit 2 ;;
esac

# The llama.cpp sources llama-cpp-sys-2 builds the engine from (the version Cargo.lock pins).
src="$(cd "$root" && cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == "llama-cpp-sys-2"))')/llama.cpp"
[ -f "$src/CMakeLists.txt" ] || { echo "build-backend: no llama.cpp sources at $src (run cargo fetch)" >&2; exit 1; }

# The switches that shape ggml's ABI are the engine's (llama-cpp-sys-2's build.rs): shared
# libraries, backends loaded at run time, and the backend's own code built without -march=native so
# that the library runs on the machines the rest of the build runs on.
build="$root/target/backends/$kind"
mkdir -p "$build"
say "Building llama.cpp's $kind backend from $src"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON \
  -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_CURL=OFF "${opts[@]}" >"$build.configure.log" 2>&1 ||
  { tail -n 30 "$build.configure.log" >&2; echo "build-backend: CMake could not configure the $kind backend (log: $build.configure.log)" >&2; exit 1; }
cmake --build "$build" --config Release --target "$target" -j "$(nproc)"
lib="$(find "$build" -name "lib$target.so" -o -name "$target.dll" | head -n 1)"
[ -n "$lib" ] || { echo "build-backend: the build made no lib$target.so" >&2; exit 1; }

dests=("$@")
if [ ${#dests[@]} -eq 0 ]; then
  for profile in debug release; do
    # The folder this profile's engine loads backends from: the newest llama.cpp build's (as
    # collect-engine-libs.sh picks it).
    d="$(ls -td "$root/target/$profile"/build/llama-cpp-sys-2-*/out/backends 2>/dev/null | head -n 1 || true)"
    [ -n "$d" ] && dests+=("$d")
  done
  [ -d "$root/target/release/hearth-libs" ] && dests+=("$root/target/release/hearth-libs")
fi
[ ${#dests[@]} -gt 0 ] || { echo "build-backend: no build of Hearth here to add it to; build first, or name a folder" >&2; exit 1; }
for d in "${dests[@]}"; do
  mkdir -p "$d"
  # Copied under another name and renamed, so a worker starting meanwhile never loads half a file.
  cp "$lib" "$d/.$(basename "$lib").part" && mv "$d/.$(basename "$lib").part" "$d/$(basename "$lib")"
  say "$(basename "$lib") is in $d: Hearth loads it when it next starts"
done
