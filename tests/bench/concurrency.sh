#!/usr/bin/env bash
# Many requests at once: 1, 2, 4 and 8 clients streaming at the same time through `hearth serve`
# and through llama.cpp's own `llama-server`, on the real test model, CPU only, the same threads,
# N slots for N clients (`--parallel N` / `-np N`), each slot with the model's 8K context
# (`-c 8192×N`: llama-server's cache is then split per slot, as Hearth's is), flash attention on
# as Hearth's plan has it. Each client sends REQUESTS greedy streamed chat completions of TOKENS
# tokens one after the other; the client (concurrency_client.py, the same for both) measures
# aggregate tokens/s and time to first token p50/p95/max, and counts anything but a 200.
# Prints a table and writes target/bench/concurrency.json.
#
# llama-server is the one tests/bench/memory.sh builds outside the repository from the
# llama-cpp-python sdist's llama.cpp (a little older than the one Hearth links; the output says
# which).
#
# Usage: tests/bench/concurrency.sh [CLIENTS...]   (default: 1 2 4 8; REQUESTS=3 TOKENS=128)

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${HEARTH_LLAMA_BENCH_DIR:-$HOME/.cache/hearth/llama-bench}
SDIST_VERSION=${HEARTH_LLAMA_CPP_PYTHON:-0.3.36}
REQUESTS=${REQUESTS:-3}
TOKENS=${TOKENS:-128}
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(1 2 4 8)
log() { echo "concurrency.sh: $*" >&2; }

"$ROOT/tests/bench/memory.sh" --build-only
SERVER="$WORK/server-sdist-$SDIST_VERSION/build/bin/llama-server"
REFERENCE="llama-server from llama.cpp $(grep -m1 -o 'ggml-org/llama.cpp@[0-9a-f]*' "$WORK/llama_cpp_python-$SDIST_VERSION/CHANGELOG.md" || echo '?')"

MODEL=${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$MODEL" ] || { log "the test model is not at $MODEL (make test-model)"; exit 1; }
# The dev build, as the other benchmarks run it: every dependency (llama.cpp, axum, tokio) is
# optimised in it (Cargo.toml).
(cd "$ROOT" && cargo build -q -p hearth-cli)
HEARTH="$ROOT/target/debug/hearth"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
# One thread per physical core, as the engine runs by default.
THREADS=$(lscpu -p=Core,Socket 2>/dev/null | grep -v '^#' | sort -u | wc -l)
[ "$THREADS" -gt 0 ] || THREADS=$(nproc)
CTX=8192
# A home of its own, so the bench neither reads nor changes the person's library.
export HEARTH_HOME="$OUT/concurrency-home"
rm -rf "$HEARTH_HOME"

wait_ready() { # url pid log
    for _ in $(seq 240); do
        curl -sf "$1" >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || { log "the server exited: $(tail -5 "$3")"; return 1; }
        sleep 0.5
    done
    log "the server did not come up: $(tail -5 "$3")"
    return 1
}

RESULTS="$OUT/concurrency.jsonl"
: >"$RESULTS"
for N in "${CLIENTS[@]}"; do
    PORT=$((19000 + RANDOM % 1000))
    log "Hearth, $N clients: hearth serve --cpu --parallel $N"
    "$HEARTH" serve --model "$MODEL" --cpu --parallel "$N" --queue 4 --port "$PORT" >"$OUT/concurrency_hearth_$N.log" 2>&1 &
    PID=$!
    if wait_ready "http://127.0.0.1:$PORT/v1/models" "$PID" "$OUT/concurrency_hearth_$N.log"; then
        ID=$(curl -s "http://127.0.0.1:$PORT/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
        python3 "$ROOT/tests/bench/concurrency_client.py" "http://127.0.0.1:$PORT" "$ID" "$N" "$REQUESTS" "$TOKENS" \
            | python3 -c 'import json,sys; d=json.load(sys.stdin); d["server"]="hearth"; print(json.dumps(d))' >>"$RESULTS"
    fi
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true

    PORT=$((20000 + RANDOM % 1000))
    log "llama-server, $N clients: -np $N -c $((CTX * N)) -fa on -ngl 0 -t $THREADS"
    "$SERVER" -m "$MODEL" -np "$N" -c $((CTX * N)) -fa on -ngl 0 -t "$THREADS" -tb "$THREADS" --host 127.0.0.1 --port "$PORT" \
        >"$OUT/concurrency_server_$N.log" 2>&1 &
    PID=$!
    if wait_ready "http://127.0.0.1:$PORT/health" "$PID" "$OUT/concurrency_server_$N.log"; then
        python3 "$ROOT/tests/bench/concurrency_client.py" "http://127.0.0.1:$PORT" smollm "$N" "$REQUESTS" "$TOKENS" \
            | python3 -c 'import json,sys; d=json.load(sys.stdin); d["server"]="llama-server"; print(json.dumps(d))' >>"$RESULTS"
    fi
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
done

python3 - "$RESULTS" "$OUT/concurrency.json" "$REFERENCE" "$THREADS" "$REQUESTS" "$TOKENS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reference, threads, requests, tokens = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
json.dump({"reference": reference, "threads": int(threads), "rows": rows}, open(sys.argv[2], "w"), indent=2)
print(f"Concurrency: SmolLM2-135M Q4_1, CPU, {threads} threads, {requests} requests × {tokens} tokens per client; reference {reference}")
print(f"{'clients':>7} {'server':>12} {'done':>6} {'refused':>8} {'tok/s':>8} {'TTFT p50':>9} {'p95':>7} {'max':>7}")
by = {(r["server"], r["clients"]): r for r in rows}
for n in sorted({r["clients"] for r in rows}):
    for s in ("hearth", "llama-server"):
        r = by.get((s, n))
        if not r:
            print(f"{n:>7} {s:>12}  (did not run)")
            continue
        f = lambda v: "–" if v is None else f"{v:.0f}"
        print(f"{n:>7} {s:>12} {r['completed']:>3}/{r['requests']:<2} {len(r['refused']):>8} {r['tokens_per_s']:>8.1f} {f(r['ttft_p50_ms']):>9} {f(r['ttft_p95_ms']):>7} {f(r['ttft_max_ms']):>7}")
    h, l = by.get(("hearth", n)), by.get(("llama-server", n))
    if h and l and l["tokens_per_s"] and l["ttft_max_ms"]:
        print(f"{n:>7} {'ratio':>12} {'':>6} {'':>8} {h['tokens_per_s'] / l['tokens_per_s']:>7.2f}× {'':>9} {'':>7} {h['ttft_max_ms'] / l['ttft_max_ms']:>6.2f}×")
EOF
