"""The official `anthropic` Python package against Hearth's server, as a Claude-style client uses it.

Run by tests/real_model.rs with the venv's python: anthropic_client.py BASE_URL MODEL KEY (the key
goes as `x-api-key`). Checks a message (system, text blocks, stop_reason, usage), the same streamed
(the event sequence, and the text it adds up to), stop_sequences, count_tokens, a forced tool call
(tool_choice tool and any) as a tool_use block whose input validates, streamed as input_json_delta,
a tool_result in the next turn, and errors in Anthropic's shape (a wrong key, an unknown model, a
missing max_tokens). This version of the package has no `temperature` argument: greedy decoding
(for replies that can be compared) goes as `extra_body`, which Hearth reads. Prints one JSON line of what it saw; exits non-zero on the first failed check.
"""

import json
import sys

import anthropic

base, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=120)
seen = {"anthropic": anthropic.__version__}

question = [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France? Answer in one word."}]}]
whole = client.messages.create(model=model, max_tokens=16, extra_body={"temperature": 0}, system="Be brief.", messages=question)
assert whole.type == "message" and whole.role == "assistant" and whole.model == model, whole
assert whole.content and whole.content[0].type == "text" and whole.content[0].text, whole
assert whole.stop_reason in ("end_turn", "max_tokens"), whole.stop_reason
assert whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0, whole.usage
seen["message"] = {"text": whole.content[0].text, "stop_reason": whole.stop_reason, "usage": whole.usage.model_dump()}

kinds, text = [], []
with client.messages.stream(model=model, max_tokens=16, extra_body={"temperature": 0}, system="Be brief.", messages=question) as stream:
    for event in stream:
        kinds.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text.append(event.delta.text)
    final = stream.get_final_message()
assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
assert "content_block_start" in kinds and "content_block_stop" in kinds and "message_delta" in kinds, kinds
assert "".join(text) == whole.content[0].text == final.content[0].text, (text, whole.content)
assert final.stop_reason == whole.stop_reason and final.usage.output_tokens == whole.usage.output_tokens, final
seen["stream"] = {"events": len(kinds), "text": "".join(text)}

stopped = client.messages.create(model=model, max_tokens=64, extra_body={"temperature": 0}, messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}], stop_sequences=["5"])
assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "5", stopped
assert "5" not in stopped.content[0].text, stopped.content
seen["stop_sequence"] = stopped.content[0].text

counted = client.messages.count_tokens(model=model, system="Be brief.", messages=question)
assert counted.input_tokens == whole.usage.input_tokens, (counted, whole.usage)
seen["count_tokens"] = counted.input_tokens

weather = {
    "name": "get_weather",
    "description": "The weather in a city now.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
}
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
called = client.messages.create(model=model, max_tokens=64, extra_body={"temperature": 0}, messages=ask, tools=[weather], tool_choice={"type": "tool", "name": "get_weather"})
assert called.stop_reason == "tool_use", called
use = next(b for b in called.content if b.type == "tool_use")
assert use.name == "get_weather" and isinstance(use.input.get("city"), str) and set(use.input) == {"city"}, use
any_call = client.messages.create(model=model, max_tokens=64, extra_body={"temperature": 0}, messages=ask, tools=[weather], tool_choice={"type": "any"})
assert any_call.stop_reason == "tool_use", any_call

partial, started = [], None
with client.messages.stream(model=model, max_tokens=64, extra_body={"temperature": 0}, messages=ask, tools=[weather], tool_choice={"type": "tool", "name": "get_weather"}) as stream:
    for event in stream:
        if event.type == "content_block_start" and event.content_block.type == "tool_use":
            started = event.content_block
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            partial.append(event.delta.partial_json)
    streamed_call = stream.get_final_message()
assert started is not None and started.name == "get_weather", started
assert json.loads("".join(partial)) == use.input, partial
assert streamed_call.stop_reason == "tool_use", streamed_call

follow = ask + [
    {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": "get_weather", "input": use.input}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": json.dumps({"temperature": 18, "sky": "clear"})}]},
]
answer = client.messages.create(model=model, max_tokens=32, extra_body={"temperature": 0}, messages=follow, tools=[weather], tool_choice={"type": "none"})
assert answer.content[0].type == "text" and answer.content[0].text, answer
seen["tools"] = {"input": use.input, "pieces": len(partial), "after": answer.content[0].text}

for bad, expected in [
    (lambda: anthropic.Anthropic(base_url=base, api_key="sk-wrong", max_retries=0).messages.create(model=model, max_tokens=4, messages=question), anthropic.AuthenticationError),
    (lambda: client.messages.create(model="claude-nonexistent", max_tokens=4, messages=question), anthropic.NotFoundError),
    (lambda: client.post("/v1/messages", body={"model": model, "messages": question}, cast_to=object), anthropic.BadRequestError),
]:
    try:
        bad()
        raise AssertionError(f"{expected.__name__} expected")
    except expected as e:
        assert e.body.get("type") == "error" and e.body["error"].get("type") and e.body["error"].get("message"), e.body
        seen.setdefault("errors", []).append({"status": e.status_code, "error": e.body["error"]})

print(json.dumps(seen))
