"""The official Anthropic Python SDK served by a Gemini or an OpenAI (Responses) account
through switchyard's Messages front: create, stream, tool use (streamed and not), thinking.

Run by tests/python_sdks.rs with SWITCHYARD_URL, SWITCHYARD_KEY and MODEL set (the model names
the platform; the mock upstream answers in that platform's own format).
"""
import os
import sys

import anthropic

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]
MODEL = os.environ["MODEL"]

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    client = anthropic.Anthropic(api_key=KEY, base_url=BASE, max_retries=0)

    msg = client.messages.create(
        model=MODEL, max_tokens=256, system="Be brief.",
        messages=[{"role": "user", "content": "Say hello"}])
    check(msg.type == "message" and msg.role == "assistant", "messages.create returns a message")
    check(msg.content and msg.content[0].type == "text" and msg.content[0].text, "the message has text")
    check(msg.stop_reason == "end_turn", f"stop_reason end_turn ({msg.stop_reason})")
    check(msg.usage.output_tokens > 0, "usage in the message")

    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    check(len(text) > 0, "messages.stream yields text")
    check(final.usage.output_tokens > 0, "the streamed final message carries usage")

    raw = client.messages.create(
        model=MODEL, max_tokens=256, stream=True, messages=[{"role": "user", "content": "raw events"}])
    kinds = [event.type for event in raw]
    check(kinds[0] == "message_start" and kinds[-2] == "message_delta" and kinds[-1] == "message_stop",
          f"raw stream event order {kinds}")

    tool = client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER],
        messages=[{"role": "user", "content": "MOCK_TOOL_CALL Paris"}])
    uses = [b for b in tool.content if b.type == "tool_use"]
    check(tool.stop_reason == "tool_use" and uses and uses[0].name == "get_weather"
          and isinstance(uses[0].input, dict), f"tool use ({tool.content})")

    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER],
        messages=[{"role": "user", "content": "MOCK_TOOL_CALL Paris"},
                  {"role": "assistant", "content": [{"type": "tool_use", "id": uses[0].id, "name": "get_weather",
                                                     "input": uses[0].input}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"},
                                               {"type": "text", "text": "MOCK_TOOL_CALL again"}]}],
    ) as stream:
        final = stream.get_final_message()
    streamed = [b for b in final.content if b.type == "tool_use"]
    check(final.stop_reason == "tool_use" and streamed and isinstance(streamed[0].input, dict),
          f"streamed tool use after a tool result ({final.content})")

    thought = client.messages.create(
        model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "Think, then answer"}])
    check(any(b.type == "text" for b in thought.content), f"an answer with thinking on ({thought.content})")


if __name__ == "__main__":
    main()
