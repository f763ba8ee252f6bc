"""The official google-genai Python SDK against switchyard (and the mock upstream behind it):
generate_content and generate_content_stream on both API versions, count_tokens.

Run by tests/python_sdks.rs with SWITCHYARD_URL and SWITCHYARD_KEY set.
"""
import os
import sys

from google import genai
from google.genai import types

BASE = os.environ["SWITCHYARD_URL"]
KEY = os.environ["SWITCHYARD_KEY"]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    for base in (BASE, f"{BASE}/gemini"):
        for version in ("v1", "v1beta"):
            g = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=base, api_version=version))
            r = g.models.generate_content(model="gemini-2.5-flash", contents="hi")
            check(r.text and r.usage_metadata.total_token_count == 37, f"generate_content {base} {version}")
            chunks = list(g.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
            text = "".join(c.text or "" for c in chunks)
            check(len(chunks) > 1 and text, f"generate_content_stream {base} {version}")
            check(chunks[-1].usage_metadata.candidates_token_count == 12, "the last chunk carries usage")
    check(g.models.count_tokens(model="gemini-2.5-flash", contents="hi").total_tokens == 25, "count_tokens")
    bad = genai.Client(api_key="cr_" + "0" * 64, http_options=types.HttpOptions(base_url=BASE, api_version="v1beta"))
    try:
        bad.models.generate_content(model="gemini-2.5-flash", contents="x")
        check(False, "a bad key is refused")
    except genai.errors.ClientError as e:
        check(e.code == 401, "a bad key raises ClientError 401")


if __name__ == "__main__":
    main()
