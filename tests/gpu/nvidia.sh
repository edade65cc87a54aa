#!/usr/bin/env bash
# The GPU path on a real NVIDIA GPU, in a few minutes: run it whenever such a machine is at hand
# (it needs the CUDA toolkit's nvcc, cmake, and Rust; no internet beyond crates.io and PyPI).
#
# 1. builds `hearth` as every Linux build is (CPU and Vulkan backends), then adds llama.cpp's CUDA
#    backend to it with `make backend-cuda` (libggml-cuda.so, dropped beside the others, picked up at
#    run time: the drop-in a person with the toolkit does);
# 2. `hearth probe`: the GPU must be listed as usable by the engine through CUDA;
# 3. `hearth run --verbose` on the test model, fully offloaded: the plan's per-device memory beside
#    llama.cpp's own buffers, at three contexts;
# 4. `hearth bench` against llama.cpp's `llama-bench` built with CUDA from the same sources
#    (tests/bench/llama_bench.sh, asked for CUDA through HEARTH_LLAMA_BENCH_CMAKE, which that script
#    does not read yet: the one step left to write), all layers on the GPU.
#
# Not yet run on a real GPU: no GPU machine was lent when it was written. Expect to fix it the first
# time; the figures it prints go in the README.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
command -v nvcc >/dev/null || { echo "nvidia.sh: nvcc (the CUDA toolkit) is needed" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv
MODEL=$(tests/setup/fetch-test-model.sh)
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-native}
time cargo build --release -p hearth-cli
src-tauri/scripts/collect-engine-libs.sh target/release target/release
time src-tauri/scripts/build-backend.sh cuda
HEARTH=target/release/hearth
export HEARTH_HOME=$(mktemp -d)

echo "== probe"
$HEARTH probe | tee /dev/stderr | grep -q "engine: CUDA" || { echo "nvidia.sh: the engine does not drive the GPU" >&2; exit 1; }

for ctx in 512 4096 8192; do
  echo "== plan against llama.cpp, context $ctx"
  $HEARTH run --verbose --ctx "$ctx" --max-tokens 16 --temp 0 "$MODEL" "The capital of France is"
done

echo "== hearth bench (GPU)"
$HEARTH bench "$MODEL" -p 512 -n 128
if [ -x tests/bench/llama_bench.sh ]; then
  echo "== llama-bench (CUDA, same sources)"
  HEARTH_LLAMA_BENCH_DIR="$HOME/.cache/hearth/llama-bench-cuda" HEARTH_LLAMA_BENCH_CMAKE="-DGGML_CUDA=ON" \
    tests/bench/llama_bench.sh -p 512 -n 128 --rounds 1 || echo "nvidia.sh: llama-bench did not build with CUDA here" >&2
fi
