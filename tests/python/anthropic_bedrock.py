"""The official Anthropic Python SDK against switchyard with a Bedrock account behind it.

Run by tests/python_sdks.rs with SWITCHYARD_URL and SWITCHYARD_KEY set; exits non-zero on the
first failed check. The client speaks plain Anthropic Messages: that the answers come from
Bedrock (SigV4, event-stream framing) must not show.
"""
import os
import sys

import anthropic

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]
MODEL = "claude-sonnet-4-5-20250929"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    client = anthropic.Anthropic(api_key=KEY, base_url=BASE, max_retries=0)

    msg = client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Say hello"}]
    )
    check(msg.type == "message" and msg.content[0].type == "text", "messages.create returns text")
    check(msg.usage.input_tokens == 25 and msg.usage.output_tokens == 12, "usage is passed through")

    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    check(len(text) > 0, "messages.stream yields text decoded from Bedrock's event stream")
    check(final.usage.output_tokens == 12, "the streamed final message carries usage")

    with client.messages.stream(
        model=MODEL, max_tokens=64, tools=[WEATHER],
        messages=[{"role": "user", "content": "MOCK_TOOL_CALL:get_weather"}],
    ) as stream:
        final = stream.get_final_message()
    tools = [b for b in final.content if b.type == "tool_use"]
    check(len(tools) == 1 and tools[0].name == "get_weather", "a streamed tool_use block")
    check(isinstance(tools[0].input, dict), "the tool input is parsed JSON")

    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "count me"}])
    check(count.input_tokens > 0, "count_tokens through Bedrock CountTokens")

    try:
        client.messages.create(model="claude-unknown-9", max_tokens=8, messages=[{"role": "user", "content": "x"}])
        check(False, "a model Bedrock does not know is refused")
    except anthropic.BadRequestError as e:
        check(e.status_code == 400, "a model Bedrock does not know raises BadRequestError")


if __name__ == "__main__":
    main()
