"""The official OpenAI Python SDK against switchyard (and the mock upstream behind it): chat
completions with include_usage, responses.create (stream and not) and responses.stream().

Run by tests/python_sdks.rs with SWITCHYARD_URL and SWITCHYARD_KEY set.
"""
import os
import sys

import openai

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    for base in (f"{BASE}/openai/v1", f"{BASE}/v1"):
        o = openai.OpenAI(api_key=KEY, base_url=base, max_retries=0)
        c = o.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        check(c.choices[0].message.content and c.usage.total_tokens == 37, f"chat completions via {base}")
        chunks = list(o.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "hi"}]))
        check(chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 25 and chunks[-1].choices == [],
              "chat stream ends with the include_usage chunk")
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        check(len(text) > 0, "chat stream text")

        r = o.responses.create(model="gpt-5", input="hi", instructions="Be brief.")
        check(r.output_text and r.usage.input_tokens == 25, "responses.create")
        events = list(o.responses.create(model="gpt-5", input="hi", stream=True))
        check(events[0].type == "response.created" and events[-1].type == "response.completed",
              f"responses.create(stream=True) events {events[0].type}..{events[-1].type}")
        with o.responses.stream(model="gpt-5", input=[{"role": "user", "content": "hi"}]) as s:
            for _ in s:
                pass
            final = s.get_final_response()
        check(final.output_text and final.usage.output_tokens == 12, "responses.stream() final response")

    models = [m.id for m in openai.OpenAI(api_key=KEY, base_url=f"{BASE}/openai/v1", max_retries=0).models.list()]
    check("gpt-5" in models, "models.list")
    bad = openai.OpenAI(api_key="cr_" + "0" * 64, base_url=f"{BASE}/v1", max_retries=0)
    try:
        bad.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        check(False, "a bad key is refused")
    except openai.AuthenticationError as e:
        check(e.status_code == 401, "a bad key raises AuthenticationError")


if __name__ == "__main__":
    main()
