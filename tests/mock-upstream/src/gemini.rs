//! Gemini's `models/{model}:generateContent`, `:streamGenerateContent` and `:countTokens`, and
//! the same behind Gemini Code Assist's `v1internal:*` (request wrapped as
//! `{model, project, request}`, each answer chunk as `{"response": ...}`).
//!
//! A stream (`?alt=sse`: `data: <json>\r\n\r\n` events; otherwise a JSON array sent element by
//! element) is a thought chunk when thoughts were asked for, a chunk per text piece, the
//! function call if any; the last chunk has `finishReason` and the complete `usageMetadata`.
//! A request for `application/json` output gets JSON matching its schema.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{Answer, Ctx, Id};
use crate::faults::gemini_error_body;
use crate::reply::{Dialect, Reply, THINKING_TEXT};
use crate::router::GeminiVerb;
use crate::sse;
use crate::usage::MockUsage;

const SSE: &str = "text/event-stream";
const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// Google's JSON parser takes field names in lowerCamelCase and snake_case alike, and the SDKs
/// send both (google-genai writes `thinkingConfig: {"include_thoughts": true}`), hence the aliases.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default, alias = "generation_config")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default, alias = "response_mime_type")]
    response_mime_type: Option<String>,
    #[serde(default, alias = "response_json_schema")]
    response_json_schema: Option<Value>,
    #[serde(default, alias = "response_schema")]
    response_schema: Option<Value>,
    #[serde(default, alias = "thinking_config")]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(default, alias = "include_thoughts")]
    include_thoughts: Option<bool>,
}

/// Code Assist's envelope around a Gemini request.
#[derive(Deserialize)]
struct CodeAssistRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    request: Option<Request>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse<'a> {
    candidates: [Candidate<'a>; 1],
    usage_metadata: UsageMetadata,
    model_version: &'a str,
    response_id: Id,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<&'static str>,
    index: u32,
}

#[derive(Serialize)]
struct Content<'a> {
    parts: &'a [Part<'a>],
    role: &'static str,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'a>>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    args: &'a Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached_content_token_count: Option<u64>,
    total_token_count: u64,
}

impl UsageMetadata {
    fn complete(usage: &MockUsage) -> Self {
        UsageMetadata {
            prompt_token_count: usage.prompt_total(),
            candidates_token_count: Some(usage.output_tokens),
            cached_content_token_count: Some(usage.cache_read),
            total_token_count: usage.total(),
        }
    }

    /// What the chunks before the last carry: the prompt is known, the output is not yet.
    fn partial(usage: &MockUsage) -> Self {
        UsageMetadata {
            prompt_token_count: usage.prompt_total(),
            candidates_token_count: None,
            cached_content_token_count: None,
            total_token_count: usage.prompt_total(),
        }
    }
}

/// Code Assist's envelope around each answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wrapped<'a> {
    response: &'a GenerateResponse<'a>,
    trace_id: Id,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenCount {
    total_tokens: u64,
}

/// Whether the answer goes out as Gemini's own or wrapped for Code Assist.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Envelope {
    Plain,
    CodeAssist,
}

/// `POST .../models/{model}:{verb}`.
pub(crate) fn models(model: &str, verb: GeminiVerb, body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let request: Request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return invalid_argument(&format!("mock-upstream: invalid JSON payload: {err}")),
    };
    answer(model, verb, &request, body, Dialect::Gemini, Envelope::Plain, ctx)
}

/// `POST .../v1internal:{method}` (Gemini Code Assist).
pub(crate) fn code_assist(method: &str, body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let verb = match method {
        "generateContent" => GeminiVerb::Generate,
        "streamGenerateContent" => GeminiVerb::Stream,
        "countTokens" => GeminiVerb::CountTokens,
        "loadCodeAssist" => {
            return Answer::json(StatusCode::OK, Bytes::from_static(LOAD_CODE_ASSIST.as_bytes()));
        }
        "onboardUser" => return Answer::json(StatusCode::OK, Bytes::from_static(ONBOARD_USER.as_bytes())),
        // Quota, experiments, telemetry and the like: an empty object satisfies the CLI.
        _ => return Answer::json(StatusCode::OK, Bytes::from_static(b"{}")),
    };
    let request: CodeAssistRequest<'_> = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return invalid_argument(&format!("mock-upstream: invalid JSON payload: {err}")),
    };
    let model = request.model.as_deref().unwrap_or("gemini-mock");
    let inner = request.request.unwrap_or_default();
    answer(
        model,
        verb,
        &inner,
        body,
        Dialect::CodeAssist,
        Envelope::CodeAssist,
        ctx,
    )
}

fn answer(
    model: &str,
    verb: GeminiVerb,
    request: &Request,
    body: &[u8],
    dialect: Dialect,
    envelope: Envelope,
    ctx: &Ctx<'_>,
) -> Answer {
    if verb == GeminiVerb::CountTokens {
        return Answer::json(
            StatusCode::OK,
            sse::json(&TokenCount {
                total_tokens: ctx.usage.input_tokens,
            }),
        );
    }
    let config = request.generation_config.as_ref();
    let json_output = config
        .and_then(|c| c.response_mime_type.as_deref())
        .is_some_and(|mime| mime.eq_ignore_ascii_case("application/json"));
    let structured = json_output
        .then(|| config.and_then(|c| c.response_json_schema.as_ref().or(c.response_schema.as_ref())));
    let thoughts = config
        .and_then(|c| c.thinking_config.as_ref())
        .and_then(|t| t.include_thoughts)
        .unwrap_or(false);
    let reply = Reply::for_request(body, dialect, structured);
    let chunks = Chunks {
        model,
        reply: &reply,
        thoughts,
        ctx,
    };
    if verb == GeminiVerb::Stream {
        let sse = ctx.query.split('&').any(|pair| pair == "alt=sse");
        chunks.stream(sse, envelope)
    } else if ctx.in_band_error_after.is_some() {
        unavailable()
    } else {
        let mut parts = Vec::with_capacity(3);
        if thoughts {
            parts.push(Part {
                text: Some(THINKING_TEXT),
                thought: Some(true),
                ..Part::default()
            });
        }
        parts.push(Part {
            text: Some(reply.text()),
            ..Part::default()
        });
        if let Some(call) = &reply.tool_call {
            parts.push(Part {
                function_call: Some(FunctionCall {
                    name: &call.name,
                    args: &call.input,
                }),
                ..Part::default()
            });
        }
        let response = chunks.response(&parts, true);
        let body = match envelope {
            Envelope::Plain => sse::json(&response),
            Envelope::CodeAssist => sse::json(&Wrapped {
                response: &response,
                trace_id: Id("mock-trace-", ctx.n),
            }),
        };
        Answer::json(StatusCode::OK, body).content_type(JSON_UTF8)
    }
}

struct Chunks<'a> {
    model: &'a str,
    reply: &'a Reply,
    thoughts: bool,
    ctx: &'a Ctx<'a>,
}

impl Chunks<'_> {
    fn response<'p>(&'p self, parts: &'p [Part<'p>], last: bool) -> GenerateResponse<'p> {
        let usage = self.ctx.usage;
        GenerateResponse {
            candidates: [Candidate {
                content: Content { parts, role: "model" },
                finish_reason: last.then_some("STOP"),
                index: 0,
            }],
            usage_metadata: if last {
                UsageMetadata::complete(usage)
            } else {
                UsageMetadata::partial(usage)
            },
            model_version: self.model,
            response_id: Id("mock-resp-", self.ctx.n),
        }
    }

    /// The chunks' parts, one list per chunk.
    fn chunk_parts(&self) -> Vec<Vec<Part<'_>>> {
        let mut chunks = Vec::with_capacity(5);
        if self.thoughts {
            chunks.push(vec![Part {
                text: Some(THINKING_TEXT),
                thought: Some(true),
                ..Part::default()
            }]);
        }
        for piece in self.reply.pieces() {
            chunks.push(vec![Part {
                text: Some(piece),
                ..Part::default()
            }]);
        }
        if let Some(call) = &self.reply.tool_call {
            let function_call = FunctionCall {
                name: &call.name,
                args: &call.input,
            };
            chunks.push(vec![Part {
                function_call: Some(function_call),
                ..Part::default()
            }]);
        }
        chunks
    }

    fn stream(&self, sse: bool, envelope: Envelope) -> Answer {
        let parts = self.chunk_parts();
        let count = parts.len();
        let mut events: Vec<Bytes> = Vec::with_capacity(count + 2);
        for (i, parts) in parts.iter().enumerate() {
            let response = self.response(parts, i + 1 == count);
            let wrapped = Wrapped {
                response: &response,
                trace_id: Id("mock-trace-", self.ctx.n),
            };
            let event = match (sse, envelope) {
                (true, Envelope::Plain) => sse::data_crlf(&response),
                (true, Envelope::CodeAssist) => sse::data_crlf(&wrapped),
                (false, Envelope::Plain) => array_element(i == 0, &response),
                (false, Envelope::CodeAssist) => array_element(i == 0, &wrapped),
            };
            events.push(event);
        }
        let error = gemini_error_body(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        );
        if let Some(after) = self.ctx.in_band_error_after {
            events.truncate(after);
            events.push(match sse {
                true => sse::data_crlf(&error),
                false => array_element(events.is_empty(), &error),
            });
        }
        if sse {
            Answer::events(SSE, events)
        } else {
            events.push(Bytes::from_static(b"]"));
            Answer::events(JSON_UTF8, events)
        }
    }
}

/// One element of a JSON array sent piece by piece: `[` before the first, `,` before the others.
fn array_element(first: bool, value: &impl Serialize) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    buf.extend_from_slice(if first { b"[" } else { b",\r\n" });
    sse::write_json(&mut buf, value);
    Bytes::from(buf)
}

pub(crate) fn invalid_argument(message: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        sse::json(&gemini_error_body(400, "INVALID_ARGUMENT", message)),
    )
}

/// What a non-streaming request gets for an in-band error fault.
fn unavailable() -> Answer {
    Answer::json(
        StatusCode::SERVICE_UNAVAILABLE,
        sse::json(&gemini_error_body(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        )),
    )
}

const LOAD_CODE_ASSIST: &str = r#"{"currentTier":{"id":"standard-tier","name":"Gemini Code Assist","description":"Mock tier","userDefinedCloudaicompanionProject":true},"allowedTiers":[{"id":"standard-tier","name":"Gemini Code Assist","description":"Mock tier","userDefinedCloudaicompanionProject":true,"isDefault":true}],"cloudaicompanionProject":"mock-project","gcpManaged":false}"#;

const ONBOARD_USER: &str = r#"{"name":"operations/mock-onboard","done":true,"response":{"@type":"type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse","cloudaicompanionProject":{"id":"mock-project","name":"mock-project"}}}"#;
