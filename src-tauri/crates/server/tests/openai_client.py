"""The official `openai` Python package against Hearth's server, as a real client would use it.

Run by tests/real_model.rs with the venv's python: openai_client.py BASE_URL MODEL KEY.
Checks a non-streamed and a streamed chat completion (with usage), a completion (whole and
streamed), the model list, a wrong key (AuthenticationError, 401) and an unknown model
(NotFoundError, 404) in OpenAI's error shape, and structured output: `response_format` with a
JSON schema (whole and streamed) and `json_object` give JSON that parses and validates, and a
schema llama.cpp cannot enforce is a 400; log-probabilities on chat and completions, whole and
streamed; tool calls (a named function and `required`, whole and streamed as deltas; `none`; a
tool's answer in the next turn). Prints one JSON line of what it saw; exits non-zero
on the first failed check.
"""

import json
import sys

import openai

base, model, key = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)
seen = {"openai": openai.__version__}

ids = [m.id for m in client.models.list()]
assert model in ids, ids
seen["models"] = ids

messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
whole = client.chat.completions.create(model=model, messages=messages, max_tokens=16, temperature=0)
choice = whole.choices[0]
assert whole.object == "chat.completion", whole
assert whole.model == model, whole.model
assert choice.message.role == "assistant"
assert choice.message.content, whole
assert choice.finish_reason in ("stop", "length"), choice.finish_reason
assert whole.usage.prompt_tokens > 0 and whole.usage.completion_tokens > 0, whole.usage
assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens
seen["chat"] = {"text": choice.message.content, "finish": choice.finish_reason, "usage": whole.usage.model_dump()}

stream = client.chat.completions.create(
    model=model, messages=messages, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}
)
parts, finish, usage, chunks = [], None, None, 0
for chunk in stream:
    chunks += 1
    assert chunk.object == "chat.completion.chunk", chunk
    if chunk.usage is not None:
        usage = chunk.usage
    for c in chunk.choices:
        if c.delta.content:
            parts.append(c.delta.content)
        if c.finish_reason:
            finish = c.finish_reason
streamed = "".join(parts)
assert streamed == choice.message.content, (streamed, choice.message.content)
assert finish == choice.finish_reason, finish
assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens, usage
seen["chat_stream"] = {"text": streamed, "chunks": chunks, "finish": finish, "usage": usage.model_dump()}

done = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
assert done.object == "text_completion", done
assert done.choices[0].text, done
assert done.choices[0].finish_reason in ("stop", "length")
assert done.usage.completion_tokens > 0
text = "".join(c.choices[0].text for c in client.completions.create(
    model=model, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True) if c.choices)
assert text == done.choices[0].text, (text, done.choices[0].text)
seen["completion"] = {"text": done.choices[0].text, "finish": done.choices[0].finish_reason}

try:
    openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0).chat.completions.create(model=model, messages=messages, max_tokens=4)
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError as e:
    assert e.status_code == 401
    assert e.code == "invalid_api_key", e.body
    assert isinstance(e.body, dict) and e.body.get("message") and e.body.get("type"), e.body
    seen["wrong_key"] = {"status": e.status_code, "error": e.body}

try:
    client.chat.completions.create(model="gpt-4o-nonexistent", messages=messages, max_tokens=4)
    raise AssertionError("an unknown model was answered")
except openai.NotFoundError as e:
    assert e.status_code == 404
    assert e.code == "model_not_found", e.body
    assert e.body.get("param") == "model" and "gpt-4o-nonexistent" in e.body.get("message", ""), e.body
    seen["unknown_model"] = {"status": e.status_code, "error": e.body}

try:
    client.chat.completions.create(model=model, messages=messages, max_tokens="sixteen")
    raise AssertionError("a wrong type was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400 and e.body.get("param") == "max_tokens", e.body
    seen["wrong_type"] = {"status": e.status_code, "error": e.body}

# Structured output: a JSON schema (strict, as OpenAI's docs write it) holds the reply to it, whole
# and streamed; the client gets JSON that parses and validates.
city = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "population_millions": {"type": "integer"}, "coastal": {"type": "boolean"}},
            "required": ["city", "population_millions", "coastal"],
            "additionalProperties": False,
        },
    },
}
question = [{"role": "user", "content": "Name the capital of France, its population in millions and whether it is on the coast."}]


def check_city(text):
    value = json.loads(text)
    assert set(value) == {"city", "population_millions", "coastal"}, value
    assert isinstance(value["city"], str) and isinstance(value["coastal"], bool), value
    assert isinstance(value["population_millions"], int) and not isinstance(value["population_millions"], bool), value
    return value


structured = client.chat.completions.create(model=model, messages=question, max_tokens=96, temperature=0, response_format=city)
assert structured.choices[0].finish_reason == "stop", structured
value = check_city(structured.choices[0].message.content)
parts = [
    c.choices[0].delta.content or ""
    for c in client.chat.completions.create(
        model=model, messages=question, max_tokens=96, temperature=0, response_format=city, stream=True
    )
    if c.choices
]
assert "".join(parts) == structured.choices[0].message.content, parts
seen["json_schema"] = {"value": value, "chunks": len(parts)}

# At temperature 1 (sampled, not greedy), twenty replies in a row, each validated by the
# `jsonschema` package against the schema.
import jsonschema

# The schema bounds its string and its number, so that a sampled reply ends within the tokens
# allowed (unbounded, a small model at temperature 1 can write digits until max_tokens).
bounded = json.loads(json.dumps(city))
bounded["json_schema"]["schema"]["properties"]["city"]["maxLength"] = 30
bounded["json_schema"]["schema"]["properties"]["population_millions"].update({"minimum": 0, "maximum": 1000})
valid = 0
for seed in range(20):
    sampled = client.chat.completions.create(model=model, messages=question, max_tokens=160, temperature=1, seed=seed, response_format=bounded)
    assert sampled.choices[0].finish_reason == "stop", sampled
    jsonschema.validate(json.loads(sampled.choices[0].message.content), bounded["json_schema"]["schema"])
    valid += 1
assert valid == 20, f"{valid} of 20 sampled replies were whole and valid"
seen["json_schema_sampled_valid"] = valid

anything = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": 'What is the capital of France? Reply in JSON with the key "capital" only.'}],
    max_tokens=64,
    temperature=0,
    response_format={"type": "json_object"},
)
assert isinstance(json.loads(anything.choices[0].message.content), dict), anything
seen["json_object"] = anything.choices[0].message.content

try:
    client.chat.completions.create(
        model=model, messages=question, max_tokens=8,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/definitions/nowhere"}}},
    )
    raise AssertionError("a schema llama.cpp cannot enforce was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400 and "cannot be enforced" in e.body.get("message", ""), e.body
    seen["bad_schema"] = {"status": e.status_code, "error": e.body}

# Log-probabilities: chat (logprobs + top_logprobs) and completions (logprobs: N), whole and streamed.
lp = client.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
content = lp.choices[0].logprobs.content
assert "".join(t.token for t in content) == lp.choices[0].message.content, (content, lp.choices[0].message.content)
assert all(t.logprob <= 0 and len(t.top_logprobs) == 3 and t.top_logprobs[0].token == t.token for t in content), content
streamed_lp = [
    t.token
    for c in client.chat.completions.create(
        model=model, messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3, stream=True
    )
    if c.choices and c.choices[0].logprobs
    for t in c.choices[0].logprobs.content
]
assert streamed_lp == [t.token for t in content], (streamed_lp, content)
text_lp = client.completions.create(model=model, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=2)
tl = text_lp.choices[0].logprobs
assert "".join(tl.tokens) == text_lp.choices[0].text and len(tl.token_logprobs) == len(tl.tokens) == len(tl.top_logprobs), tl
assert all(len(alternatives) == 2 for alternatives in tl.top_logprobs), tl
seen["logprobs"] = {"chat": [(t.token, round(t.logprob, 3)) for t in content], "completion_tokens": tl.tokens}

# Tool calls. A forced call (a named function, or `required`) is held by a grammar to a call whose
# arguments match the function's parameters, whatever the model; streamed, it comes as OpenAI's
# deltas (id and name first, then argument pieces). The call and the tool's answer go back in the
# conversation for the next turn.
weather = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
clock = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
ask = [{"role": "user", "content": "What is the weather in Paris, in celsius?"}]


def check_weather(call):
    assert call.type == "function" and call.id, call
    assert call.function.name == "get_weather", call
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit"} and isinstance(arguments["city"], str) and arguments["unit"] in ("celsius", "fahrenheit"), arguments
    return arguments


named = client.chat.completions.create(
    model=model, messages=ask, max_tokens=64, temperature=0, tools=[weather, clock],
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
)
assert named.choices[0].finish_reason == "tool_calls", named
call = named.choices[0].message.tool_calls[0]
arguments = check_weather(call)

ids, names, pieces, finish = {}, {}, {}, None
for chunk in client.chat.completions.create(
    model=model, messages=ask, max_tokens=64, temperature=0, tools=[weather, clock],
    tool_choice={"type": "function", "function": {"name": "get_weather"}}, stream=True,
):
    for c in chunk.choices:
        for d in c.delta.tool_calls or []:
            if d.id:
                ids[d.index] = d.id
            if d.function and d.function.name:
                names[d.index] = d.function.name
            if d.function and d.function.arguments:
                pieces.setdefault(d.index, []).append(d.function.arguments)
        finish = c.finish_reason or finish
assert finish == "tool_calls" and names == {0: "get_weather"} and 0 in ids, (finish, names, ids)
assert json.loads("".join(pieces[0])) == arguments, pieces
assert len(pieces[0]) > 1, "the arguments come in pieces"

required = client.chat.completions.create(model=model, messages=ask, max_tokens=96, temperature=0, tools=[weather, clock], tool_choice="required")
assert required.choices[0].finish_reason == "tool_calls", required
assert {c.function.name for c in required.choices[0].message.tool_calls} <= {"get_weather", "get_time"}, required

none = client.chat.completions.create(model=model, messages=ask, max_tokens=16, temperature=0, tools=[weather], tool_choice="none")
assert none.choices[0].message.tool_calls is None and none.choices[0].message.content, none

follow = ask + [
    {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}]},
    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})},
]
answer = client.chat.completions.create(model=model, messages=follow, max_tokens=32, temperature=0, tools=[weather], tool_choice="none")
assert answer.choices[0].message.content, answer
seen["tools"] = {"named": arguments, "stream_pieces": len(pieces[0]), "required": [c.function.name for c in required.choices[0].message.tool_calls], "after_tool": answer.choices[0].message.content}

try:
    client.chat.completions.create(model=model, messages=ask, max_tokens=8, tools=[weather], tool_choice={"type": "function", "function": {"name": "nope"}})
    raise AssertionError("a tool_choice naming no tool was accepted")
except openai.BadRequestError as e:
    assert e.status_code == 400 and e.body.get("param") == "tool_choice", e.body

# Embeddings: the test model is a chat model (no pooling in its file): a clear 400. Its copy with a
# pooling named (the fourth argument) embeds: the same text twice gives cosine 1, two texts less.
try:
    client.embeddings.create(model=model, input="hello")
    raise AssertionError("a chat model made embeddings")
except openai.BadRequestError as e:
    assert e.status_code == 400 and "cannot make embeddings" in e.body.get("message", ""), e.body
    seen["embeddings_refused"] = e.body.get("message")
pooled = sys.argv[4]
vectors = client.embeddings.create(model=pooled, input=["The cat sat on the mat.", "The cat sat on the mat.", "Quarterly revenue grew."])
a, b, c = (d.embedding for d in vectors.data)
cos = lambda x, y: sum(p * q for p, q in zip(x, y)) / (sum(p * p for p in x) ** 0.5 * sum(q * q for q in y) ** 0.5)
assert abs(cos(a, b) - 1.0) < 1e-5 and cos(a, c) < 1.0 - 1e-5, (cos(a, b), cos(a, c))
assert vectors.usage.prompt_tokens > 0, vectors.usage
seen["embeddings"] = {"same": cos(a, b), "different": cos(a, c), "width": len(a)}

print(json.dumps(seen))
