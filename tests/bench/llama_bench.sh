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
#   * built twice, two anchors, two rows each:
#       "portable": the flags llama-cpp-sys-2's build.rs sets without `target-cpu=native` (Release,
#         static, GGML_NATIVE=OFF, -march=x86-64, OpenMP on) — what Hearth linked before it loaded
#         CPU variants at run time;
#       "native": GGML_NATIVE=ON, what a person building llama.cpp on this machine gets, and so the
#         anchor that shows an instruction set Hearth leaves unused (Hearth must reach 0.95x of it).
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
    log "fetching the llama-cpp-python $SDIST_VERSION sdist from PyPI"
    # The file itself, from PyPI's simple index (JSON form): `pip download --no-binary :all:` would first build the
    # sdist's build requirements from source to read its metadata, which takes minutes.
    mkdir -p "$WORK/sdist"
    python3 - "$SDIST_VERSION" "$WORK/sdist" <<'PY'
import json, sys, urllib.request
version, dest = sys.argv[1], sys.argv[2]
name = f"llama_cpp_python-{version}.tar.gz"
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-python/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req))["files"]
url = next(f["url"] for f in files if f["filename"] == name)
urllib.request.urlretrieve(url, f"{dest}/{name}")
PY
    tar xzf "$WORK/sdist/llama_cpp_python-$SDIST_VERSION.tar.gz" -C "$WORK"
fi
SDIST_LLAMA="$SDIST_DIR/vendor/llama.cpp"
SDIST_COMMIT=$(grep -m1 -o 'ggml-org/llama.cpp@[0-9a-f]*' "$SDIST_DIR/CHANGELOG.md" || echo "unknown")

BASE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DLLAMA_CURL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=OFF
)
C_FLAGS="-ffunction-sections -fdata-sections -fPIC"
if [ "$(uname -m)" = x86_64 ]; then
    PORTABLE_C_FLAGS="$C_FLAGS -m64 -march=x86-64"
else
    PORTABLE_C_FLAGS="$C_FLAGS"
fi
JOBS=$(nproc)

# build_anchor NAME: prints the path of llama-bench built with that anchor's flags, building it
# first when needed. First choice: the vendored library with the sdist's llama-bench on top; if
# that does not compile, the sdist's whole llama.cpp.
build_anchor() {
    local name=$1 flags
    case "$name" in
        portable) flags=(-DGGML_NATIVE=OFF "-DCMAKE_C_FLAGS=$PORTABLE_C_FLAGS" "-DCMAKE_CXX_FLAGS=$PORTABLE_C_FLAGS") ;;
        native) flags=(-DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=$C_FLAGS" "-DCMAKE_CXX_FLAGS=$C_FLAGS") ;;
    esac
    local hybrid="$WORK/$name-hybrid-sys-$SYS_VERSION-tool-$SDIST_VERSION" full="$WORK/$name-sdist-$SDIST_VERSION"
    if [ -x "$hybrid/build/llama-bench/llama-bench" ]; then
        echo "$hybrid/build/llama-bench/llama-bench hybrid"
        return
    elif [ -x "$full/build/bin/llama-bench" ]; then
        echo "$full/build/bin/llama-bench full"
        return
    fi
    log "building the $name llama-bench (llama-cpp-sys-2 $SYS_VERSION's llama.cpp + llama-bench from llama-cpp-python $SDIST_VERSION) in $hybrid"
    mkdir -p "$hybrid/src"
    cat >"$hybrid/src/CMakeLists.txt" <<EOF2
cmake_minimum_required(VERSION 3.14)
project(hearth_llama_bench C CXX)
set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
add_subdirectory("$VENDORED" llama.cpp)
add_subdirectory("$SDIST_LLAMA/tools/llama-bench" llama-bench)
EOF2
    if cmake -S "$hybrid/src" -B "$hybrid/build" "${BASE_FLAGS[@]}" "${flags[@]}" >"$hybrid/configure.log" 2>&1 &&
        cmake --build "$hybrid/build" --target llama-bench -j "$JOBS" >"$hybrid/build.log" 2>&1; then
        echo "$hybrid/build/llama-bench/llama-bench hybrid"
    else
        log "that did not build (see $hybrid/build.log); building the sdist's own llama.cpp ($SDIST_COMMIT) in $full"
        mkdir -p "$full"
        cmake -S "$SDIST_LLAMA" -B "$full/build" "${BASE_FLAGS[@]}" "${flags[@]}" -DLLAMA_BUILD_TOOLS=ON >"$full/configure.log" 2>&1
        cmake --build "$full/build" --target llama-bench -j "$JOBS" >"$full/build.log" 2>&1
        echo "$full/build/bin/llama-bench full"
    fi
}

ANCHORS=(portable native)
declare -A LLAMA_BENCH
for anchor in "${ANCHORS[@]}"; do
    read -r path kind < <(build_anchor "$anchor")
    if [ ! -x "$path" ]; then
        log "the $anchor llama-bench did not build (see the build.log beside $path)"
        exit 1
    fi
    LLAMA_BENCH[$anchor]=$path
    log "$anchor reference: $path"
done
case "$kind" in
    hybrid) REFERENCE="llama.cpp vendored by llama-cpp-sys-2 $SYS_VERSION, llama-bench from llama-cpp-python $SDIST_VERSION ($SDIST_COMMIT)" ;;
    *) REFERENCE="llama.cpp $SDIST_COMMIT from the llama-cpp-python $SDIST_VERSION sdist" ;;
esac
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
    for anchor in "${ANCHORS[@]}"; do
        log "round $round/$ROUNDS: $anchor llama-bench -m $MODEL -p $PROMPT -n $GEN -r $REPS -t $THREADS -fa $FA"
        "${LLAMA_BENCH[$anchor]}" -m "$MODEL" -p "$PROMPT" -n "$GEN" -r "$REPS" -t "$THREADS" -fa "$FA" -o json >"$OUT/llama_bench_$anchor.$round.json" 2>"$OUT/llama_bench_$anchor.log"
    done
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

anchors = ["portable", "native"]
ref_all, hearth_all = {a: [] for a in anchors}, []
for r in range(1, int(rounds) + 1):
    for a in anchors:
        for row in json.load(open(f"{out_dir}/llama_bench_{a}.{r}.json")):
            ref_all[a].append((name(row["n_prompt"], row["n_gen"]), row["avg_ts"], row["stddev_ts"]))
    for t in json.load(open(f"{out_dir}/llama_bench_hearth.{r}.json"))["tests"]:
        hearth_all.append((t["test"], t["tokensPerSecond"], t["stddev"]))
hearth_rows = best(hearth_all)
print(f"threads {threads}, best of {rounds} rounds each, reference: {reference}")
print(f"{'test':<8} {'anchor':<9} {'llama-bench t/s':>18} {'hearth t/s':>18} {'ratio':>7}")
rows = []
for a in anchors:
    for test, (r_mean, r_sd) in best(ref_all[a]).items():
        h_mean, h_sd = hearth_rows.get(test, (float("nan"), float("nan")))
        ratio = h_mean / r_mean if r_mean else float("nan")
        print(f"{test:<8} {a:<9} {r_mean:>10.2f} ± {r_sd:<5.2f} {h_mean:>10.2f} ± {h_sd:<5.2f} {ratio:>7.3f}")
        rows.append({"test": test, "anchor": a, "llamaBench": r_mean, "llamaBenchStddev": r_sd,
                     "hearth": h_mean, "hearthStddev": h_sd, "ratio": ratio})
json.dump({"threads": int(threads), "rounds": int(rounds), "reference": reference, "rows": rows,
           "allRounds": {"llamaBench": ref_all, "hearth": hearth_all}}, open(out_path, "w"), indent=2)
print(f"written to {out_path}")
EOF
