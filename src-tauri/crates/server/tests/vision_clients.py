"""The official `openai` and `anthropic` Python packages send Hearth's server a picture.

Run by tests/real_model.rs with the venv's python: vision_clients.py BASE_URL VISION_MODEL TEXT_MODEL.
VISION_MODEL has a projector beside it, TEXT_MODEL none. Checks, with each client: a chat
completion with an `image_url` part (a data URL), a Responses API `input_image`, an Anthropic
`image` block (base64) — each answered, its usage counting the picture's 256 tokens — and the
same picture sent to the text-only model, a remote URL and a picture in a system message, each a
400 that says why. The picture is a red PNG written here with the standard library. Prints one
JSON line of what it saw; exits non-zero on the first failed check.
"""

import base64
import json
import struct
import sys
import zlib

import anthropic
import openai

base, vision, text_only = sys.argv[1], sys.argv[2], sys.argv[3]
seen = {"openai": openai.__version__, "anthropic": anthropic.__version__}


def png(width, height, rgb):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


red = base64.b64encode(png(32, 32, (220, 20, 20))).decode()
url = f"data:image/png;base64,{red}"
oa = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)
greedy = {"temperature": 0, "max_tokens": 4}

asked = [{"role": "user", "content": [{"type": "text", "text": "What colour is this picture?"}, {"type": "image_url", "image_url": {"url": url}}]}]
reply = oa.chat.completions.create(model=vision, messages=asked, **greedy)
assert reply.choices[0].message.content is not None, reply
assert reply.usage.prompt_tokens > 256, reply.usage
seen["chat"] = {"text": reply.choices[0].message.content, "prompt_tokens": reply.usage.prompt_tokens}

without = oa.chat.completions.create(model=vision, messages=[{"role": "user", "content": "What colour is this picture?"}], **greedy)
seen["chat"]["prompt_tokens_without"] = without.usage.prompt_tokens
assert reply.usage.prompt_tokens - without.usage.prompt_tokens >= 256, (reply.usage, without.usage)

response = oa.responses.create(
    model=vision,
    input=[{"role": "user", "content": [{"type": "input_text", "text": "What colour?"}, {"type": "input_image", "image_url": url}]}],
    max_output_tokens=4,
    temperature=0,
)
assert response.status in ("completed", "incomplete"), response
assert response.usage.input_tokens > 256, response.usage
seen["responses"] = {"text": response.output_text, "input_tokens": response.usage.input_tokens}


def refused(call, words):
    try:
        call()
    except (openai.BadRequestError, anthropic.BadRequestError) as e:
        assert e.status_code == 400, e
        message = str(e)
        assert words in message, message
        return message
    raise AssertionError(f"taken, though it should have been refused with: {words}")


seen["errors"] = [
    refused(lambda: oa.chat.completions.create(model=text_only, messages=asked, **greedy), "reads text only"),
    refused(
        lambda: oa.chat.completions.create(
            model=vision, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}], **greedy
        ),
        "never fetches",
    ),
    refused(
        lambda: oa.chat.completions.create(
            model=vision, messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": url}}]}, {"role": "user", "content": "Hi"}], **greedy
        ),
        "pictures go in the user's messages",
    ),
]

an = anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0, timeout=120)
block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": red}}
message = an.messages.create(
    model=vision, max_tokens=4, extra_body={"temperature": 0}, messages=[{"role": "user", "content": [block, {"type": "text", "text": "What colour?"}]}]
)
assert message.usage.input_tokens > 256, message.usage
seen["anthropic_message"] = {"text": "".join(b.text for b in message.content if b.type == "text"), "input_tokens": message.usage.input_tokens}
seen["errors"].append(
    refused(
        lambda: an.messages.create(model=text_only, max_tokens=4, messages=[{"role": "user", "content": [block, {"type": "text", "text": "Hi"}]}]),
        "reads text only",
    )
)
print(json.dumps(seen))
