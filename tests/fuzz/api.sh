#!/usr/bin/env bash
# make fuzz-api: property-based fuzzing of the real server from its own OpenAPI description, with
# Schemathesis (PyPI): `hearth serve` with the real test model, every operation of /openapi.json fed
# generated requests. It fails on any 5xx, any answer that breaks the description, and a worker that
# was restarted (its process id changes) during the run. Loading and unloading by name are left out:
# an unload ends the worker by design. The server caps every reply at MAX_TOKENS (`serve
# --max-tokens`, default 32): without it a request with no max_tokens writes until the context is
# full (as OpenAI's and llama-server's do), up to about two minutes for the test model here.
#
# EXAMPLES=N sets the examples per operation (default 20; `make test` runs 5, `make fuzz-api
# EXAMPLES=500` is a long run). Needs `make build` and `make test-model` (the venv gets
# schemathesis here).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
examples="${EXAMPLES:-20}"
max_tokens="${MAX_TOKENS:-32}"
venv="${HEARTH_TEST_VENV:-$HOME/.cache/hearth/venv}"
model="${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -x "$venv/bin/st" ] || "$venv/bin/pip" install -q schemathesis==4.32.5
home="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
HEARTH_HOME="$home" HEARTH_NO_KEYCHAIN=1 "$root/target/debug/hearth" serve --port "$port" --model "$model" --parallel 2 --max-tokens "$max_tokens" >"$home/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$home"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break; sleep 0.2; done
worker() { pgrep -P "$serve" -f -- '--engine-worker' | head -n 1; }
before="$(worker)"
[ -n "$before" ] || { cat "$home/serve.log"; echo "fuzz-api: the server has no engine worker" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "fuzz-api: $examples examples per operation against http://127.0.0.1:$port (worker $before, server RSS $(rss $serve) KiB)"
started=$(date +%s)
status=0
"$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-operation-id loadModel --exclude-operation-id unloadModel \
  --max-examples "$examples" --request-timeout 180 --generation-deterministic --workers 2 || status=$?
after="$(worker)"
echo "fuzz-api: $(( $(date +%s) - started )) s; worker before $before, after ${after:-none}; server RSS $(rss $serve) KiB"
[ "$before" = "$after" ] || { echo "fuzz-api: the engine worker was restarted or died during the run" >&2; exit 1; }
exit "$status"
