"""The official OpenAI Python SDK's chat completions served by a Claude or a Gemini account
through switchyard's chat front: plain, streamed with usage, and streamed tool calls.

Run by tests/python_sdks.rs with SWITCHYARD_URL, SWITCHYARD_KEY and MODEL set (the model names
the platform; the mock upstream answers in that platform's own format).
"""
import json
import os
import sys

import openai

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]
MODEL = os.environ["MODEL"]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def main():
    o = openai.OpenAI(api_key=KEY, base_url=f"{BASE}/v1", max_retries=0)
    c = o.chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    check(c.object == "chat.completion" and c.choices[0].message.content, "chat completion text")
    check(c.choices[0].finish_reason == "stop", "finish_reason stop")
    check(c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0, "usage in the answer")

    chunks = list(o.chat.completions.create(
        model=MODEL, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}]))
    check(chunks[-1].usage is not None and chunks[-1].choices == [], "stream ends with the usage chunk")
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    check(len(text) > 0, "stream text")

    chunks = list(o.chat.completions.create(
        model=MODEL, stream=True, tools=[WEATHER],
        messages=[{"role": "user", "content": "MOCK_TOOL_CALL Paris"}]))
    calls = {}
    finish = None
    for ch in chunks:
        for choice in ch.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"name": "", "arguments": ""})
                if tc.function.name:
                    call["name"] += tc.function.name
                if tc.function.arguments:
                    call["arguments"] += tc.function.arguments
    check(len(calls) >= 1, f"a streamed tool call ({calls})")
    first = calls[min(calls)]
    check(first["name"] == "get_weather" and isinstance(json.loads(first["arguments"]), dict),
          f"tool call name and arguments assembled ({first})")
    check(finish == "tool_calls", f"finish_reason tool_calls ({finish})")

    models = [m.id for m in o.models.list()]
    check(len(models) > 0, "models.list")


if __name__ == "__main__":
    main()
