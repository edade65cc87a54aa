#!/usr/bin/env python3
"""Constrained decoding against free decoding, side by side (issue 27): `hearth serve` with the test
model, the same prompt, greedy, exactly 128 generated tokens, alternately with a JSON schema and
without, ROUNDS pairs. The schema asks for at least 64 short strings, so that it cannot end the
reply before the 128 tokens (a schema the model can close early makes a short reply whose fixed
costs then look like slow decoding). Prints each side's median tokens per second (128 over the
request's wall time) and the median of the pair-by-pair ratios. A benchmark, not a test: run it
on a quiet machine.

    python3 tests/bench/constrained.py [ROUNDS]
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = pathlib.Path(os.environ.get("HEARTH_TEST_MODELS", pathlib.Path.home() / ".cache/hearth/test-models")) / "SmolLM2-135M-Instruct.Q4_1.gguf"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
SCHEMA = {
    "type": "object",
    "properties": {"names": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 64}},
    "required": ["names"],
}
TOKENS = 128


def request(base: str, model: str, constrained: bool) -> float:
    body = {
        "model": model,
        "max_tokens": TOKENS,
        "temperature": 0,
        "messages": [{"role": "user", "content": "List as many first names as you can, as JSON."}],
    }
    if constrained:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "names", "schema": SCHEMA}}
    req = urllib.request.Request(f"{base}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        answer = json.load(r)
    seconds = time.perf_counter() - started
    made = answer["usage"]["completion_tokens"]
    if made != TOKENS:
        sys.exit(f"a reply made {made} tokens, not {TOKENS}: the comparison would not be fair")
    return made / seconds


def main() -> None:
    subprocess.run(["cargo", "build", "-q", "-p", "hearth-cli"], cwd=ROOT, check=True)
    home = tempfile.mkdtemp(prefix="hearth-bench-constrained-")
    # Only the test model is listed: no Hugging Face cache or LM Studio folder of the person's.
    env = dict(os.environ, HEARTH_HOME=home, HEARTH_NO_KEYCHAIN="1", HOME=home, HF_HUB_CACHE=os.path.join(home, "no-hf-cache"))
    server = subprocess.Popen([str(ROOT / "target/debug/hearth"), "serve", "--port", "0", "--model", str(MODEL)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        base = server.stdout.readline().strip()
        model = json.load(urllib.request.urlopen(f"{base}/models"))["data"][0]["id"]
        request(base, model, False)  # loads the model and warms the cache
        free, held, ratios = [], [], []
        for _ in range(ROUNDS):
            f = request(base, model, False)
            c = request(base, model, True)
            free.append(f)
            held.append(c)
            ratios.append(f / c)
        print(f"constrained decoding, {ROUNDS} pairs, tokens/s (median, min-max):")
        print(f"  free         {statistics.median(free):7.1f}  ({min(free):.1f}-{max(free):.1f})")
        print(f"  json schema  {statistics.median(held):7.1f}  ({min(held):.1f}-{max(held):.1f})")
        print(f"  free/schema  {statistics.median(ratios):7.2f}x")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
