"""The official Anthropic Python SDK against switchyard (and the mock upstream behind it).

Run by tests/python_sdks.rs with SWITCHYARD_URL and SWITCHYARD_KEY set; exits non-zero on the
first failed check.
"""
import os
import sys

import anthropic

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]
MODEL = "claude-sonnet-5"


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    # anthropic 2.x sends the key as Authorization: Bearer.
    client = anthropic.Anthropic(api_key=KEY, base_url=BASE, max_retries=0)

    msg = client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Say hello"}]
    )
    check(msg.type == "message" and msg.role == "assistant", "messages.create returns a message")
    check(len(msg.content) > 0 and msg.content[0].type == "text", "the message has text")
    check(msg.usage.input_tokens == 25 and msg.usage.output_tokens == 12, "usage is passed through")

    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    check(len(text) > 0, "messages.stream yields text")
    check(final.usage.output_tokens == 12, "the streamed final message carries usage")

    raw = client.messages.create(
        model=MODEL, max_tokens=64, stream=True,
        messages=[{"role": "user", "content": "raw events"}],
    )
    kinds = [event.type for event in raw]
    check(kinds[0] == "message_start" and kinds[-1] == "message_stop", f"raw stream events {kinds[:2]}..{kinds[-1:]}")

    count = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "count me"}])
    check(count.input_tokens == 25, "count_tokens")

    models = client.models.list()
    ids = [m.id for m in models]
    check(MODEL in ids, "models.list includes the model")

    bad = anthropic.Anthropic(api_key="cr_" + "0" * 64, base_url=BASE, max_retries=0)
    try:
        bad.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
        check(False, "a bad key is refused")
    except anthropic.AuthenticationError as e:
        check(e.status_code == 401, "a bad key raises AuthenticationError")

    try:
        client.messages.create(model=MODEL, max_tokens=8, messages="not a list")
        check(False, "a malformed request is refused")
    except anthropic.BadRequestError as e:
        check(e.status_code == 400, "a malformed request raises BadRequestError")


if __name__ == "__main__":
    main()
