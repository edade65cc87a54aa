"""Streaming clients at once against an OpenAI-compatible server, for tests/bench/concurrency.sh.

Each of CLIENTS threads sends REQUESTS streamed chat completions one after the other (greedy,
max_tokens TOKENS, a prompt of its own), and the figures are measured here, on the client's side,
the same way for Hearth and llama-server: completion tokens from the usage chunk, aggregate
tokens/s over the wall time, time to first token (first chunk with text) p50/p95 and the slowest,
and every status that was not 200. Prints one JSON object. Standard library only.

usage: concurrency_client.py BASE_URL MODEL CLIENTS REQUESTS TOKENS
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse

PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works.",
    "Describe a walk through a forest in autumn.",
    "What makes a good cup of tea?",
    "Tell me about the history of the printing press.",
    "Describe the life of a honeybee.",
    "Explain why the sky is blue.",
    "Write a letter to a friend about a trip to the sea.",
]


def one(base, model, prompt, tokens):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    body = json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    })
    sent = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        resp.read()
        return {"status": resp.status}
    ttft, completion, done = None, 0, False
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        chunk = json.loads(data)
        for choice in chunk.get("choices") or []:
            if ttft is None and (choice.get("delta") or {}).get("content"):
                ttft = time.monotonic() - sent
        usage = chunk.get("usage")
        if usage:
            completion = usage.get("completion_tokens", completion)
    conn.close()
    if not done:
        return {"status": "no [DONE]"}
    return {"status": 200, "ttft": ttft if ttft is not None else time.monotonic() - sent, "tokens": completion}


def main():
    base, model, clients, requests, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    results = []
    lock = threading.Lock()

    def client(c):
        for r in range(requests):
            out = one(base, model, PROMPTS[(c + r * clients) % len(PROMPTS)], tokens)
            with lock:
                results.append(out)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    ok = [r for r in results if r["status"] == 200]
    ttfts = sorted(r["ttft"] for r in ok)

    def pct(p):
        return ttfts[min(len(ttfts) - 1, round((len(ttfts) - 1) * p))] * 1000 if ttfts else None

    print(json.dumps({
        "clients": clients,
        "requests": len(results),
        "completed": len(ok),
        "refused": [r["status"] for r in results if r["status"] != 200],
        "tokens": sum(r["tokens"] for r in ok),
        "wall_s": wall,
        "tokens_per_s": sum(r["tokens"] for r in ok) / wall,
        "ttft_p50_ms": pct(0.5),
        "ttft_p95_ms": pct(0.95),
        "ttft_max_ms": pct(1.0),
    }))


if __name__ == "__main__":
    main()
