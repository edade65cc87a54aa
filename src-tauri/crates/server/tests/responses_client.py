"""The official `openai` package's Responses API, and the `openai-agents` SDK, against Hearth's server.

Run by tests/real_model.rs with the venv's python, twice around a server restart:
  responses_client.py BASE_URL MODEL KEY first          -> prints {"kept": RESPONSE_ID, ...}
  responses_client.py BASE_URL MODEL KEY second ID      -> the stored conversation goes on
First: `responses.create` whole and streamed (the same text at temperature 0), `responses.stream()`
to a final response with `text_format` (a Pydantic model: json_schema held by the grammar), a
function tool forced with `tool_choice` and its output sent back (as items, and through
`previous_response_id`), errors (an unknown stored response, a hosted tool), and an agent of the
Agents SDK (tracing off) with one function tool run to its final output, whole and streamed.
Second: the response kept before the restart is read back, and a request that continues from it
reads the earlier turn (more input tokens than the same question alone).
Prints one JSON line of what it saw; exits non-zero on the first failed check.
"""

import asyncio
import json
import sys

import openai
import pydantic

base, model, key, phase = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)
seen = {"openai": openai.__version__}

if phase == "second":
    kept = sys.argv[5]
    back = client.responses.retrieve(kept)
    assert back.id == kept and back.output_text, back
    question = "What is my name?"
    alone = client.responses.create(model=model, input=question, max_output_tokens=8, temperature=0, store=False)
    going_on = client.responses.create(model=model, input=question, previous_response_id=kept, max_output_tokens=8, temperature=0)
    assert going_on.previous_response_id == kept, going_on
    assert going_on.usage.input_tokens > alone.usage.input_tokens, (going_on.usage, alone.usage)
    seen["after_restart"] = {"kept": back.output_text, "alone": alone.usage.input_tokens, "going_on": going_on.usage.input_tokens}
    print(json.dumps(seen))
    sys.exit(0)

question = "What is the capital of France? Answer in one word."
whole = client.responses.create(model=model, instructions="Be brief.", input=question, max_output_tokens=16, temperature=0)
assert whole.object == "response" and whole.id.startswith("resp_"), whole
assert whole.status in ("completed", "incomplete"), whole.status
assert whole.output_text, whole
assert whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0, whole.usage
assert whole.usage.total_tokens == whole.usage.input_tokens + whole.usage.output_tokens, whole.usage
seen["whole"] = {"text": whole.output_text, "status": whole.status, "usage": whole.usage.model_dump()}

kinds, parts, final = [], [], None
for event in client.responses.create(
    model=model, instructions="Be brief.", input=question, max_output_tokens=16, temperature=0, stream=True, store=False
):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        parts.append(event.delta)
    if event.type in ("response.completed", "response.incomplete"):
        final = event.response
assert kinds[0] == "response.created", kinds
assert final is not None and final.output_text == whole.output_text == "".join(parts), (final, parts)
seen["stream"] = {"events": len(kinds), "text": "".join(parts)}


class City(pydantic.BaseModel):
    city: str


with client.responses.stream(model=model, input="Name a city in France.", text_format=City, temperature=0, max_output_tokens=40) as stream:
    for _ in stream:
        pass
    final = stream.get_final_response()
assert final.status == "completed", final
assert isinstance(final.output_parsed, City), final
seen["structured"] = final.output_parsed.model_dump()

weather = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False},
    "strict": True,
}
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
called = client.responses.create(
    model=model, input=ask, tools=[weather], tool_choice={"type": "function", "name": "get_weather"}, temperature=0, max_output_tokens=40
)
calls = [item for item in called.output if item.type == "function_call"]
assert len(calls) == 1 and calls[0].name == "get_weather", called.output
assert isinstance(json.loads(calls[0].arguments).get("city"), str), calls[0].arguments
# `required` with parallel calls (issue 31, item 5): whole calls, bounded, and the reply ends when
# the array closes, never running on to `max_output_tokens` as raw JSON text.
required = client.responses.create(model=model, input=ask, tools=[weather], tool_choice="required", temperature=0, max_output_tokens=400)
assert required.status == "completed", required
assert 1 <= len(required.output) <= 8 and all(item.type == "function_call" for item in required.output), required.output
seen["required"] = len(required.output)
answer = {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C and sunny"}
# The call's output sent back: with the whole conversation as items, and by continuing the stored one.
by_items = client.responses.create(model=model, input=ask + [c.model_dump() for c in called.output] + [answer], tools=[weather], max_output_tokens=16, temperature=0)
by_id = client.responses.create(model=model, previous_response_id=called.id, input=[answer], tools=[weather], max_output_tokens=16, temperature=0)
assert by_items.output_text and by_id.output_text, (by_items, by_id)
assert by_id.usage.input_tokens == by_items.usage.input_tokens, (by_id.usage, by_items.usage)
seen["tool"] = {"arguments": calls[0].arguments, "answer": by_id.output_text}

kept = client.responses.create(model=model, input="My name is Ann. Say hello to me.", max_output_tokens=12, temperature=0)
seen["kept"] = kept.id

errors = {}
try:
    client.responses.retrieve("resp_nothing_here")
    raise AssertionError("an unknown response was found")
except openai.NotFoundError as e:
    errors["unknown"] = e.status_code
try:
    client.responses.create(model=model, input="x", tools=[{"type": "web_search"}])
    raise AssertionError("a hosted tool was taken")
except openai.BadRequestError as e:
    assert "web_search" in e.message, e.message
    errors["hosted_tool"] = e.status_code
seen["errors"] = errors

# The Agents SDK: one function tool, the call forced on the first turn, the tool's result the final
# output (the test model is too small to be trusted to write a sensible last turn).
import agents  # noqa: E402

agents.set_tracing_disabled(True)


@agents.function_tool
def get_weather_tool(city: str) -> str:
    """The weather in a city."""
    return f"18 C and sunny in {city}"


agent = agents.Agent(
    name="Weather",
    instructions="Answer with the weather tool.",
    tools=[get_weather_tool],
    model=agents.OpenAIResponsesModel(model=model, openai_client=openai.AsyncOpenAI(base_url=base, api_key=key, max_retries=0)),
    model_settings=agents.ModelSettings(tool_choice="required", temperature=0, max_tokens=40),
    tool_use_behavior="stop_on_first_tool",
)


async def run_agent():
    result = await agents.Runner.run(agent, "What is the weather in Paris?", max_turns=3)
    streamed = agents.Runner.run_streamed(agent, "What is the weather in Paris?", max_turns=3)
    events = 0
    async for _ in streamed.stream_events():
        events += 1
    return result.final_output, streamed.final_output, events


whole_output, streamed_output, events = asyncio.run(run_agent())
assert whole_output.startswith("18 C and sunny in "), whole_output
assert streamed_output.startswith("18 C and sunny in ") and events > 0, (streamed_output, events)
seen["agent"] = {"final_output": whole_output, "streamed": streamed_output, "events": events, "version": agents.__version__ if hasattr(agents, "__version__") else None}

print(json.dumps(seen))
