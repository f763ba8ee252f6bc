"""The official OpenAI Python SDK against switchyard's /azure routes, served by an Azure OpenAI
account (the mock upstream speaking Azure behind it): chat completions, a stream with usage, a
tool round trip (streamed), and the Responses API (plain and streamed).

Run by tests/python_sdks.rs with SWITCHYARD_URL and SWITCHYARD_KEY set; the Rust side checks
the usage recorded for the 7 requests made here.
"""
import json
import os
import sys

import openai

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    o = openai.OpenAI(api_key=KEY, base_url=f"{BASE}/azure", max_retries=0)
    hi = [{"role": "user", "content": "hi"}]

    c = o.chat.completions.create(model="gpt-4o", messages=hi)
    check(c.choices[0].message.content and c.usage.total_tokens == 37, "chat completions")

    chunks = list(o.chat.completions.create(model="gpt-4o", messages=hi, stream=True,
                                            stream_options={"include_usage": True}))
    check(chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 25 and chunks[-1].choices == [],
          "chat stream ends with the include_usage chunk")
    check("".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices), "chat stream text")

    plain = list(o.chat.completions.create(model="gpt-4o", messages=hi, stream=True))
    check(all(ch.usage is None for ch in plain), "a stream without include_usage shows no usage chunk")

    ask = [{"role": "user", "content": "MOCK_TOOL_CALL weather in Paris"}]
    call = o.chat.completions.create(model="gpt-4o", messages=ask, tools=[WEATHER])
    tool_calls = call.choices[0].message.tool_calls
    check(call.choices[0].finish_reason == "tool_calls" and tool_calls[0].function.name == "get_weather",
          "a tool call comes back")
    check(json.loads(tool_calls[0].function.arguments).get("city"), "its arguments parse")
    follow = ask + [
        call.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tool_calls[0].id, "content": "sunny"},
    ]
    answer = list(o.chat.completions.create(model="gpt-4o", messages=follow, tools=[WEATHER], stream=True,
                                            stream_options={"include_usage": True}))
    check("".join(ch.choices[0].delta.content or "" for ch in answer if ch.choices), "the tool result is answered")

    r = o.responses.create(model="gpt-5", input="hi", instructions="Be brief.")
    check(r.output_text and r.usage.input_tokens == 25, "responses.create")
    events = list(o.responses.create(model="gpt-5", input="hi", stream=True))
    check(events[0].type == "response.created" and events[-1].type == "response.completed",
          f"responses.create(stream=True) events {events[0].type}..{events[-1].type}")


if __name__ == "__main__":
    main()
