#!/usr/bin/env bash
# Hearth's engine against llama.cpp's own `llama-bench`, on the real test model, CPU only, at the
# same thread count: pp512 (a 512-token prompt from an empty cache) and tg128 (128 tokens one at a
# time), mean ± stddev over repetitions, best of several alternating rounds. Prints both tables and the ratios Hearth / llama-bench, and
# writes them to target/bench/llama_bench.json.
#
# The reference is built OUTSIDE the repository, in ~/.cache/hearth/llama-bench (or
# $HEARTH_LLAMA_BENCH_DIR), and never committed:
#   * the llama.cpp library sources are those that `llama-cpp-sys-2` vendors (the version in
#     Cargo.lock, from cargo's registry), so ggml's kernels are exactly the ones Hearth links;
#   * that copy carries no tools, so `tools/llama-bench` comes from the sdist of PyPI's
#     llama-cpp-python (fetched with pip), whose vendored llama.cpp is the closest to it;
#   * cmake flags as llama-cpp-sys-2's build.rs sets them without `target-cpu=native`: Release,
#     static, GGML_NATIVE=OFF (ggml then turns on AVX/AVX2/FMA/F16C/BMI2/SSE4.2), OpenMP on.
# If llama-bench.cpp does not compile against the vendored library, the sdist's whole llama.cpp is
# built instead, and the output says so.
#
# Usage: tests/bench/llama_bench.sh [--build-only] [-p 512] [-n 128] [-r 5] [-t THREADS] [--rounds 3]

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${HEARTH_LLAMA_BENCH_DIR:-$HOME/.cache/hearth/llama-bench}
# Newest llama-cpp-python sdist when this was written; its vendored llama.cpp (@0c1e57098, ggml
# 0.25) is a little older than llama-cpp-sys-2 0.1.161's (ggml 0.26). Only its llama-bench is used.
SDIST_VERSION=${HEARTH_LLAMA_CPP_PYTHON:-0.3.36}
PROMPT=512 GEN=128 REPS=5 ROUNDS=3 THREADS="" BUILD_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build-only) BUILD_ONLY=1 ;;
        -p) PROMPT=$2; shift ;;
        -n) GEN=$2; shift ;;
        -r) REPS=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        -t) THREADS=$2; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "llama_bench.sh: $*" >&2; }

# --- the llama.cpp that Hearth links -----------------------------------------------------------
SYS_VERSION=$(awk '/^name = "llama-cpp-sys-2"/ { getline; gsub(/"/, "", $3); print $3 }' "$ROOT/Cargo.lock")
CARGO_REGISTRY=${CARGO_HOME:-$HOME/.cargo}/registry/src
VENDORED=$(ls -d "$CARGO_REGISTRY"/*/"llama-cpp-sys-2-$SYS_VERSION"/llama.cpp 2>/dev/null | head -n1 || true)
if [ -z "$VENDORED" ]; then
    log "llama-cpp-sys-2 $SYS_VERSION is not in cargo's registry; run 'cargo fetch' first"
    exit 1
fi
log "Hearth links llama-cpp-sys-2 $SYS_VERSION (ggml $(awk '/set\(GGML_VERSION_(MAJOR|MINOR|PATCH)/ { gsub(/\)/, "", $2); printf "%s.", $2 }' "$VENDORED/ggml/CMakeLists.txt" | sed 's/\.$//'))"

# --- llama-bench's source, from the llama-cpp-python sdist -------------------------------------
mkdir -p "$WORK"
SDIST_DIR="$WORK/llama_cpp_python-$SDIST_VERSION"
if [ ! -d "$SDIST_DIR/vendor/llama.cpp/tools/llama-bench" ]; then
    log "fetching the llama-cpp-python $SDIST_VERSION sdist with pip"
    python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$SDIST_VERSION" -d "$WORK/sdist"
    tar xzf "$WORK/sdist/llama_cpp_python-$SDIST_VERSION.tar.gz" -C "$WORK"
fi
SDIST_LLAMA="$SDIST_DIR/vendor/llama.cpp"
SDIST_COMMIT=$(grep -m1 -o 'ggml-org/llama.cpp@[0-9a-f]*' "$SDIST_DIR/CHANGELOG.md" || echo "unknown")

CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DGGML_NATIVE=OFF
    -DLLAMA_CURL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=OFF
)
C_FLAGS="-ffunction-sections -fdata-sections -fPIC"
if [ "$(uname -m)" = x86_64 ]; then
    C_FLAGS="$C_FLAGS -m64 -march=x86-64"
fi
CMAKE_FLAGS+=("-DCMAKE_C_FLAGS=$C_FLAGS" "-DCMAKE_CXX_FLAGS=$C_FLAGS")
JOBS=$(nproc)

# First choice: the vendored library with the sdist's llama-bench on top.
HYBRID="$WORK/hybrid-sys-$SYS_VERSION-tool-$SDIST_VERSION"
build_hybrid() {
    mkdir -p "$HYBRID/src"
    cat >"$HYBRID/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.14)
project(hearth_llama_bench C CXX)
set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
add_subdirectory("$VENDORED" llama.cpp)
add_subdirectory("$SDIST_LLAMA/tools/llama-bench" llama-bench)
EOF
    cmake -S "$HYBRID/src" -B "$HYBRID/build" "${CMAKE_FLAGS[@]}" >"$HYBRID/configure.log" 2>&1 &&
        cmake --build "$HYBRID/build" --target llama-bench -j "$JOBS" >"$HYBRID/build.log" 2>&1
}
FULL="$WORK/sdist-$SDIST_VERSION"
build_full() {
    cmake -S "$SDIST_LLAMA" -B "$FULL/build" "${CMAKE_FLAGS[@]}" -DLLAMA_BUILD_TOOLS=ON >"$FULL/configure.log" 2>&1 &&
        cmake --build "$FULL/build" --target llama-bench -j "$JOBS" >"$FULL/build.log" 2>&1
}

LLAMA_BENCH=""
if [ -x "$HYBRID/build/llama-bench/llama-bench" ]; then
    LLAMA_BENCH="$HYBRID/build/llama-bench/llama-bench"
elif [ -x "$FULL/build/bin/llama-bench" ]; then
    LLAMA_BENCH="$FULL/build/bin/llama-bench"
else
    log "building llama-bench (llama-cpp-sys-2 $SYS_VERSION's llama.cpp + llama-bench from llama-cpp-python $SDIST_VERSION) in $HYBRID"
    if build_hybrid; then
        LLAMA_BENCH="$HYBRID/build/llama-bench/llama-bench"
    else
        log "that did not build (see $HYBRID/build.log); building the sdist's own llama.cpp ($SDIST_COMMIT) in $FULL"
        mkdir -p "$FULL"
        build_full
        LLAMA_BENCH="$FULL/build/bin/llama-bench"
    fi
fi
case "$LLAMA_BENCH" in
    "$HYBRID"/*) REFERENCE="llama.cpp vendored by llama-cpp-sys-2 $SYS_VERSION, llama-bench from llama-cpp-python $SDIST_VERSION ($SDIST_COMMIT)" ;;
    *) REFERENCE="llama.cpp $SDIST_COMMIT from the llama-cpp-python $SDIST_VERSION sdist" ;;
esac
log "reference: $LLAMA_BENCH"
log "           $REFERENCE"
if [ "$BUILD_ONLY" = 1 ]; then
    exit 0
fi

# --- the model and Hearth ----------------------------------------------------------------------
MODEL=${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$MODEL" ]; then
    log "the test model is not at $MODEL (make test-model)"
    exit 1
fi
(cd "$ROOT" && cargo build -q -p hearth-cli)
HEARTH="$ROOT/target/debug/hearth"
if [ -z "$THREADS" ]; then
    THREADS=$(lscpu -p=Core,Socket 2>/dev/null | grep -v '^#' | sort -u | wc -l)
    [ "$THREADS" -gt 0 ] || THREADS=$(nproc)
fi

# Spinning threads of another build would halve either side's figures: wait (up to 3 minutes)
# for the load average to settle.
for _ in $(seq 18); do
    LOAD=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$LOAD" 'BEGIN { exit !(l < 0.5) }'; then break; fi
    log "load average $LOAD: waiting for the machine to be quiet"
    sleep 10
done
log "load average $(cut -d' ' -f1 /proc/loadavg) at the start"

OUT="$ROOT/target/bench"
mkdir -p "$OUT"
# Rounds of both, alternating: on a shared machine another process only ever slows a run, so each
# side's best round (highest mean) is the figure, as the RAM bandwidth probe keeps its fastest pass.
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS: hearth bench $MODEL -p $PROMPT -n $GEN -r $REPS -t $THREADS"
    "$HEARTH" bench "$MODEL" -p "$PROMPT" -n "$GEN" -r "$REPS" -t "$THREADS" --json >"$OUT/llama_bench_hearth.$round.json" 2>/dev/null
    # The same flash-attention setting as the fit plan gave Hearth (llama-bench's default is auto).
    FA=$(python3 -c 'import json, sys; print("on" if json.load(open(sys.argv[1]))["flashAttention"] else "off")' "$OUT/llama_bench_hearth.$round.json")
    log "round $round/$ROUNDS: llama-bench -m $MODEL -p $PROMPT -n $GEN -r $REPS -t $THREADS -fa $FA"
    "$LLAMA_BENCH" -m "$MODEL" -p "$PROMPT" -n "$GEN" -r "$REPS" -t "$THREADS" -fa "$FA" -o json >"$OUT/llama_bench_reference.$round.json" 2>"$OUT/llama_bench_reference.log"
done
log "load average $(cut -d' ' -f1 /proc/loadavg) at the end"

python3 - "$OUT" "$ROUNDS" "$REFERENCE" "$THREADS" "$OUT/llama_bench.json" <<'EOF'
import json, sys

out_dir, rounds, reference, threads, out_path = sys.argv[1:6]

def name(n_prompt, n_gen):
    return f"pp{n_prompt}" if n_gen == 0 else f"tg{n_gen}"

def best(rows):
    """test -> (mean, stddev) of the round with the highest mean."""
    out = {}
    for test, mean, sd in rows:
        if test not in out or mean > out[test][0]:
            out[test] = (mean, sd)
    return out

ref_all, hearth_all = [], []
for r in range(1, int(rounds) + 1):
    for row in json.load(open(f"{out_dir}/llama_bench_reference.{r}.json")):
        ref_all.append((name(row["n_prompt"], row["n_gen"]), row["avg_ts"], row["stddev_ts"]))
    for t in json.load(open(f"{out_dir}/llama_bench_hearth.{r}.json"))["tests"]:
        hearth_all.append((t["test"], t["tokensPerSecond"], t["stddev"]))
ref_rows, hearth_rows = best(ref_all), best(hearth_all)
print(f"threads {threads}, best of {rounds} rounds each, reference: {reference}")
print(f"{'test':<8} {'llama-bench t/s':>18} {'hearth t/s':>18} {'ratio':>7}")
rows = []
for test in ref_rows:
    r_mean, r_sd = ref_rows[test]
    h_mean, h_sd = hearth_rows.get(test, (float("nan"), float("nan")))
    ratio = h_mean / r_mean if r_mean else float("nan")
    print(f"{test:<8} {r_mean:>10.2f} ± {r_sd:<5.2f} {h_mean:>10.2f} ± {h_sd:<5.2f} {ratio:>7.3f}")
    rows.append({"test": test, "llamaBench": r_mean, "llamaBenchStddev": r_sd,
                 "hearth": h_mean, "hearthStddev": h_sd, "ratio": ratio})
json.dump({"threads": int(threads), "rounds": int(rounds), "reference": reference, "rows": rows,
           "allRounds": {"llamaBench": ref_all, "hearth": hearth_all}}, open(out_path, "w"), indent=2)
print(f"written to {out_path}")
EOF
