#!/usr/bin/env bash
# How fast Hearth reads a picture, against llama.cpp's own `llama-mtmd-cli` built from the same
# llama.cpp Hearth links: the same model, the same projector, the same picture, the same thread
# count, one token of reply. Prints, per round, each one's time to encode the picture (the projector's
# encoder) and Hearth's time to its first token, then the medians and the ratio Hearth / llama.cpp,
# and writes them to target/bench/mtmd.json.
#
# There is no Hub here, so the projector is synthetic, of Gemma 3's real shape (a SigLIP encoder 1152
# wide, 27 layers, 896-pixel pictures in 4096 patches pooled to 256 tokens, F16; its weights zeros,
# which cost the encoder the same arithmetic as real ones), reading into the test model
# (SmolLM2-135M, 576 wide): the encoder's cost is what a person with Gemma 3 pays for a picture on
# this CPU. `--tiny` uses the tests' one-layer projector instead (quick, but mostly overhead).
#
# The reference is built OUTSIDE the repository, in ~/.cache/hearth/mtmd (or $HEARTH_MTMD_DIR),
# from the llama.cpp sources that llama-cpp-sys-2 vendors (the version in Cargo.lock), Release,
# GGML_NATIVE=ON, never committed.
#
# Hearth runs on the machine's physical cores; llama-mtmd-cli is given the same count (-t).
#
# Usage: tests/bench/mtmd.sh [--tiny] [--rounds 3] [--build-only]

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${HEARTH_MTMD_DIR:-$HOME/.cache/hearth/mtmd}
MODELS=${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}
MODEL=$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf
KIND=gemma3 ROUNDS=3 BUILD_ONLY=0 THREADS=$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) KIND=tiny ;;
        --build-only) BUILD_ONLY=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
log() { echo "mtmd.sh: $*" >&2; }
[ -f "$MODEL" ] || { log "the test model is missing: run tests/setup/fetch-test-model.sh"; exit 1; }

# --- llama-mtmd-cli from the llama.cpp Hearth links ------------------------------------------------
SYS_VERSION=$(awk '/^name = "llama-cpp-sys-2"/ { getline; gsub(/"/, "", $3); print $3 }' "$ROOT/Cargo.lock")
VENDORED=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"llama-cpp-sys-2-$SYS_VERSION"/llama.cpp 2>/dev/null | head -n1 || true)
[ -n "$VENDORED" ] || { log "llama-cpp-sys-2 $SYS_VERSION is not in cargo's registry; run 'cargo fetch' first"; exit 1; }
MTMD_CLI=$WORK/build-$SYS_VERSION/bin/llama-mtmd-cli
if [ ! -x "$MTMD_CLI" ]; then
    log "building llama-mtmd-cli from llama-cpp-sys-2 $SYS_VERSION's llama.cpp (a few minutes, once)"
    # The vendored copy carries only some tools' sources, so its tools/ is built with mtmd alone.
    mkdir -p "$WORK"
    rm -rf "$WORK/src-$SYS_VERSION" "$WORK/build-$SYS_VERSION"
    cp -r "$VENDORED" "$WORK/src-$SYS_VERSION"
    echo 'add_subdirectory(mtmd)' >"$WORK/src-$SYS_VERSION/tools/CMakeLists.txt"
    cmake -S "$WORK/src-$SYS_VERSION" -B "$WORK/build-$SYS_VERSION" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF >"$WORK/cmake.log" 2>&1 \
        || { log "cmake failed; see $WORK/cmake.log"; exit 1; }
    cmake --build "$WORK/build-$SYS_VERSION" --target llama-mtmd-cli -j "$(nproc)" >"$WORK/build.log" 2>&1 \
        || { log "build failed; see $WORK/build.log"; exit 1; }
fi
[ "$BUILD_ONLY" = 0 ] || exit 0

# --- the model, its projector and a picture ---------------------------------------------------------
BENCH=$WORK/models-$KIND
mkdir -p "$BENCH" "$ROOT/target/bench"
ln -sf "$MODEL" "$BENCH/SmolLM2-135M-Instruct.Q4_1.gguf"
PROJ=$BENCH/mmproj-F16.gguf
[ -f "$PROJ" ] || (cd "$ROOT" && cargo run -q -p hearth-gguf --example write_projector -- "$KIND" 576 "$PROJ") >&2
PICTURE=$BENCH/red.png
python3 - "$PICTURE" <<'PY'
import struct, sys, zlib
w = h = 640  # a camera-ish size, scaled to 896 by both
row = b"\x00" + bytes([220, 30, 30]) * w
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(row * h)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

HEARTH=$ROOT/target/debug/hearth
[ -x "$HEARTH" ] || { log "build Hearth first (make build)"; exit 1; }
PROMPT="What colour is this picture?"
log "$KIND projector, $THREADS threads, $ROUNDS rounds; llama-mtmd-cli: $MTMD_CLI"

hearth_ms=() first_ms=() ref_ms=() refdec_ms=()
for r in $(seq 1 "$ROUNDS"); do
    # Hearth: "... first token N ms · prompt P tokens (256 from pictures, encoded in E ms) ..."
    out=$("$HEARTH" run "$BENCH/SmolLM2-135M-Instruct.Q4_1.gguf" "$PROMPT" \
        --image "$PICTURE" --max-tokens 1 --temp 0 --cpu 2>&1 >/dev/null)
    e=$(grep -o 'encoded in [0-9]* ms' <<<"$out" | grep -o '[0-9]*' || true)
    f=$(grep -o 'first token [0-9]* ms' <<<"$out" | grep -o '[0-9]*' || true)
    [ -n "$e" ] || { log "Hearth printed no encoding time:"; echo "$out" >&2; exit 1; }
    # llama.cpp: the encoding time, and "image decoded (batch 1/1) in D ms" where it is logged
    ref=$("$MTMD_CLI" -m "$BENCH/SmolLM2-135M-Instruct.Q4_1.gguf" --mmproj "$PROJ" --image "$PICTURE" \
        -p "$PROMPT" -n 1 --temp 0 -t "$THREADS" --no-warmup 2>&1 || true)
    # (one picture: "image slice encoded in E ms" from older builds, "mtmd batch encoding done in E ms")
    re=$(grep -oE '(slice encoded in|batch encoding done in) [0-9]+ ms' <<<"$ref" | grep -oE '[0-9]+' | head -n1 || true)
    rd=$(grep -o 'decoded (batch [0-9/]*) in [0-9]* ms' <<<"$ref" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | paste -sd+ | bc || true)
    [ -n "$re" ] || { log "llama-mtmd-cli printed no encoding time:"; tail -n 20 <<<"$ref" >&2; exit 1; }
    echo "round $r: Hearth encoded in $e ms, first token at $f ms | llama-mtmd-cli encoded in $re ms, image decoded in ${rd:-?} ms"
    hearth_ms+=("$e") first_ms+=("$f") ref_ms+=("$re") refdec_ms+=("${rd:-0}")
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
H=$(median "${hearth_ms[@]}") F=$(median "${first_ms[@]}") R=$(median "${ref_ms[@]}") D=$(median "${refdec_ms[@]}")
RATIO=$(awk -v h="$H" -v r="$R" 'BEGIN { printf "%.2f", h / r }')
echo "median encode: Hearth $H ms, llama-mtmd-cli $R ms (Hearth / llama.cpp = ${RATIO}x); Hearth's first token $F ms; llama.cpp's picture decode $D ms"
cat >"$ROOT/target/bench/mtmd.json" <<JSON
{"projector": "$KIND", "threads": $THREADS, "rounds": $ROUNDS, "hearth_encode_ms": $H, "hearth_first_token_ms": $F, "llama_mtmd_cli_encode_ms": $R, "llama_mtmd_cli_image_decode_ms": $D, "ratio": $RATIO}
JSON
