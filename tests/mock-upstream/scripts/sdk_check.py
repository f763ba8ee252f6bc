"""Checks the mock upstream against the official Python SDKs' parsers (anthropic, openai,
google-genai), straight, without the relay: the SDKs must parse every answer and stream, and turn
the scripted faults into their usual errors.

Usage: start `mock-upstream` and run, with the venv that has the SDKs (tests/python/requirements.txt):
    .venv/bin/python tests/mock-upstream/scripts/sdk_check.py http://127.0.0.1:PORT
Prints one `ok`/`FAIL` line per check and exits non-zero on any failure. Faults are scripted
through the mock's control API (`/__mock/enqueue`).
"""
import json, os, sys, urllib.request
import anthropic, openai
from google import genai
from google.genai import types

URL = sys.argv[1]

def ctl(action, body):
    req = urllib.request.Request(f"{URL}/__mock/{action}", data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()

def check(cond, what):
    print(("ok  " if cond else "FAIL"), what)
    if not cond:
        globals()["failed"] = True

failed = False
# ---------------- Anthropic
a = anthropic.Anthropic(api_key="ak", base_url=URL, max_retries=0)
m = a.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
check(m.content[0].text.startswith("MOCK_OK") and m.usage.input_tokens == 25 and m.usage.output_tokens == 12, "anthropic create")
check(m.usage.cache_creation.ephemeral_5m_input_tokens == 0, "anthropic cache_creation object parsed")
with a.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
    text = "".join(s.text_stream); final = s.get_final_message()
check(text == "MOCK_OK hello from the mock upstream." and final.usage.output_tokens == 12, f"anthropic stream text={text!r}")
with a.messages.stream(model="claude-opus-4-8", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "MOCK_TOOL_CALL weather in Paris"}],
        tools=[{"name": "get_weather", "description": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]) as s:
    final = s.get_final_message()
check([b.type for b in final.content] == ["thinking", "text", "tool_use"] and final.content[0].signature and final.content[2].input == {"city": "mock"} and final.stop_reason == "tool_use", f"anthropic thinking+tool stream {[b.type for b in final.content]}")
raw = a.messages.create(model="x", max_tokens=8, stream=True, messages=[{"role": "user", "content": "hi"}], extra_body={"thinking": {"type": "adaptive"}})
kinds = [e.type for e in raw]
check(kinds[0] == "message_start" and kinds[-1] == "message_stop", f"anthropic raw {kinds}")
check(a.messages.count_tokens(model="x", messages=[{"role": "user", "content": "c"}]).input_tokens == 25, "anthropic count_tokens")
ids = [x.id for x in a.models.list()]
check("claude-sonnet-5" in ids, f"anthropic models {ids}")
ctl("enqueue", {"credential": "ak", "fault": {"kind": "status", "status": 429, "headers": [["retry-after", "1"]], "body": json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})}})
try:
    a.messages.create(model="x", max_tokens=8, messages=[{"role": "user", "content": "hi"}]); check(False, "429 raises")
except anthropic.RateLimitError as e:
    check(e.status_code == 429, "anthropic RateLimitError")
ctl("enqueue", {"credential": "ak", "fault": {"kind": "in_band_error", "after_events": 4}})
try:
    with a.messages.stream(model="x", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        "".join(s.text_stream)
    check(False, "in-band error raises")
except anthropic.APIStatusError as e:
    check("Overloaded" in str(e), f"anthropic in-band error -> {type(e).__name__}")
ctl("enqueue", {"credential": "ak", "fault": {"kind": "cut_stream", "after_events": 4}})
try:
    with a.messages.stream(model="x", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        "".join(s.text_stream)
    check(False, "cut raises")
except Exception as e:
    check("incomplete" in repr(e).lower() or "RemoteProtocolError" in type(e).__name__ or "APIConnectionError" in type(e).__name__, f"anthropic cut -> {type(e).__name__}: {e}")
ctl("enqueue", {"credential": "ak", "fault": {"kind": "in_band_error", "after_events": 4}})
try:
    a.messages.create(model="x", max_tokens=8, messages=[{"role": "user", "content": "hi"}]); check(False, "529")
except anthropic.APIStatusError as e:
    check(e.status_code == 529, f"anthropic non-stream in-band -> {e.status_code} {type(e).__name__}")

# ---------------- OpenAI
o = openai.OpenAI(api_key="ok", base_url=URL + "/v1", max_retries=0)
c = o.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
check(c.choices[0].message.content.startswith("MOCK_OK") and c.usage.total_tokens == 37, "openai chat")
chunks = list(o.chat.completions.create(model="gpt-4o-mini", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "hi"}]))
check(chunks[-1].usage and chunks[-1].usage.prompt_tokens == 25 and chunks[-1].choices == [], "openai chat stream usage chunk")
text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
check(text == "MOCK_OK hello from the mock upstream.", f"openai chat stream text {text!r}")
with o.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "MOCK_TOOL_CALL Paris"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]) as s:
    fc = s.get_final_completion()
tc = fc.choices[0].message.tool_calls[0]
check(tc.function.name == "get_weather" and json.loads(tc.function.arguments) == {"city": "mock"}, "openai chat stream helper tool call")
r = o.responses.create(model="gpt-4o-mini", input="hi", instructions="Be brief.")
check(r.output_text.startswith("MOCK_OK") and r.usage.input_tokens == 25 and r.usage.input_tokens_details.cached_tokens == 0, "openai responses")
evs = list(o.responses.create(model="gpt-4o-mini", input="hi", stream=True))
check(evs[0].type == "response.created" and evs[-1].type == "response.completed" and evs[-1].response.usage.total_tokens == 37, "openai responses raw stream")
with o.responses.stream(model="gpt-4o-mini", input=[{"role": "user", "content": "hi"}]) as s:
    for _ in s: pass
    fr = s.get_final_response()
check(fr.output_text == "MOCK_OK hello from the mock upstream.", f"openai responses.stream final {fr.output_text!r}")
with o.responses.stream(model="gpt-5", input="MOCK_TOOL_CALL:exec_command x", tools=[{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}]) as s:
    for _ in s: pass
    fr = s.get_final_response()
check(fr.output[1].type == "function_call" and fr.output[1].name == "exec_command", "openai responses.stream tool call")
check("gpt-5-codex" in [x.id for x in o.models.list()], "openai models")
ctl("enqueue", {"credential": "ok", "fault": {"kind": "in_band_error", "after_events": 2}})
try:
    list(o.chat.completions.create(model="x", stream=True, messages=[{"role": "user", "content": "hi"}])); check(False, "chat in-band raises")
except openai.APIError as e:
    check(True, f"openai chat in-band -> {type(e).__name__}")
ctl("enqueue", {"credential": "ok", "fault": {"kind": "in_band_error", "after_events": 3}})
try:
    with o.responses.stream(model="x", input="hi") as s:
        for _ in s: pass
    pass
except Exception as e:
    check(True, f"openai responses in-band -> {type(e).__name__}: {e}")
ctl("enqueue", {"credential": "ok", "fault": {"kind": "in_band_error", "after_events": 3}})
evs = [e.type for e in o.responses.create(model="x", input="hi", stream=True)]
check(evs[-2:] == ["error", "response.failed"], f"openai responses in-band events {evs}")
ctl("enqueue", {"credential": "ok", "fault": {"kind": "status", "status": 429, "body": json.dumps({"error": {"message": "rl", "type": "requests", "param": None, "code": "rate_limit_exceeded"}})}})
try:
    o.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}]); check(False, "429")
except openai.RateLimitError as e:
    check(e.code == "rate_limit_exceeded", "openai RateLimitError code")

# ---------------- Gemini
for ver in ["v1", "v1beta"]:
    g = genai.Client(api_key="gk", http_options=types.HttpOptions(base_url=URL, api_version=ver))
    r = g.models.generate_content(model="gemini-2.5-flash", contents="hi")
    check(r.text.startswith("MOCK_OK") and r.usage_metadata.total_token_count == 37, f"gemini {ver} generate")
    text = "".join(ch.text or "" for ch in g.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    check(text == "MOCK_OK hello from the mock upstream.", f"gemini {ver} stream {text!r}")
check(g.models.count_tokens(model="gemini-2.5-flash", contents="hi").total_tokens == 25, "gemini count")
r = g.models.generate_content(model="gemini-2.5-flash", contents="rate",
    config=types.GenerateContentConfig(response_mime_type="application/json", response_json_schema={"type": "object", "properties": {"complexity_reasoning": {"type": "string"}, "complexity_score": {"type": "integer"}}}))
check(isinstance(json.loads(r.text)["complexity_score"], int), f"gemini json mode {r.text}")
def get_weather(city: str) -> str:
    """Weather for a city"""
    return "sunny"
r = g.models.generate_content(model="gemini-2.5-flash", contents="MOCK_TOOL_CALL Paris",
    config=types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
check(r.function_calls and r.function_calls[0].name == "get_weather" and r.function_calls[0].args == {"city": "mock"}, f"gemini function call {r.function_calls}")
r = g.models.generate_content(model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True)))
check(any(p.thought for p in r.candidates[0].content.parts), "gemini thoughts")
ctl("enqueue", {"credential": "gk", "fault": {"kind": "in_band_error", "after_events": 1}})
try:
    list(g.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")); check(False, "gemini in-band raises")
except Exception as e:
    check(True, f"gemini in-band -> {type(e).__name__}: {str(e)[:80]}")
ctl("enqueue", {"credential": "gk", "fault": {"kind": "status", "status": 429, "body": json.dumps({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})}})
try:
    g.models.generate_content(model="gemini-2.5-flash", contents="hi"); check(False, "gemini 429")
except genai.errors.ClientError as e:
    check(e.code == 429 and e.status == "RESOURCE_EXHAUSTED", "gemini 429 ClientError")
sys.exit(1 if failed else 0)
