//! OpenAI chat completions: `POST .../chat/completions`, JSON or SSE.
//!
//! A stream is a role chunk, a chunk per text piece, the tool-call chunks if any, the chunk with
//! `finish_reason`, then (only with `stream_options.include_usage`) the usage chunk with
//! `choices: []`, and `data: [DONE]` last: the OpenAI SDK stops reading at `[DONE]`. With
//! include_usage every other chunk carries `"usage": null`; without it, no `usage` key at all.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{Answer, Ctx, EVENT_STREAM, Id};
use crate::faults::openai_error_body;
use crate::reply::{Dialect, Reply};
use crate::sse;
use crate::usage::MockUsage;

pub(crate) const REQUEST_ID: &str = "x-request-id";
const FINGERPRINT: &str = "fp_mock";

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    response_format: Option<Value>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: Id,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: ChatMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: Id,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// Chat usage; also what the Responses API's chat-style callers expect.
#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

impl Usage {
    fn new(usage: &MockUsage) -> Self {
        Usage {
            prompt_tokens: usage.prompt_total(),
            completion_tokens: usage.output_tokens,
            total_tokens: usage.total(),
            prompt_tokens_details: PromptDetails {
                cached_tokens: usage.cache_read,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: Id,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without include_usage; `null` on every chunk but the usage one with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[DeltaToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct DeltaToolCall<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<Id>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: DeltaFunction<'a>,
}

#[derive(Serialize)]
struct DeltaFunction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// `POST .../chat/completions`.
pub(crate) fn completions(body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let request: Request<'_> = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return invalid_request(&format!("mock-upstream: invalid JSON body: {err}")),
    };
    let model = request.model.as_deref().unwrap_or("gpt-mock");
    let reply = Reply::for_request(
        body,
        Dialect::OpenAiChat,
        structured(request.response_format.as_ref()),
    );
    let arguments = reply.tool_call.as_ref().map(|call| call.arguments());
    let finish_reason = if reply.tool_call.is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    let answer = if request.stream.unwrap_or(false) {
        let include_usage = request
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let stream = StreamParts {
            model,
            reply: &reply,
            arguments: arguments.as_deref(),
            finish_reason,
        };
        Answer::events(EVENT_STREAM, stream.events(include_usage, ctx))
    } else if ctx.in_band_error_after.is_some() {
        return server_error();
    } else {
        let tool_calls = reply
            .tool_call
            .as_ref()
            .zip(arguments.as_deref())
            .map(|(call, arguments)| {
                [ToolCall {
                    id: Id("call_mock_", ctx.n),
                    kind: "function",
                    function: Function {
                        name: &call.name,
                        arguments,
                    },
                }]
            });
        let completion = Completion {
            id: Id("chatcmpl-mock", ctx.n),
            object: "chat.completion",
            created: ctx.created,
            model,
            choices: [Choice {
                index: 0,
                message: ChatMessage {
                    role: "assistant",
                    content: reply.text(),
                    refusal: None,
                    tool_calls,
                    annotations: [],
                },
                logprobs: None,
                finish_reason,
            }],
            usage: Usage::new(ctx.usage),
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
        };
        Answer::json(StatusCode::OK, sse::json(&completion))
    };
    answer.request_id(REQUEST_ID, ctx.n)
}

/// `response_format` asking for JSON: `Some(schema)` for json_schema, `Some(None)` for json_object.
fn structured(format: Option<&Value>) -> Option<Option<&Value>> {
    let format = format?;
    match format.get("type")?.as_str()? {
        "json_schema" => Some(format.get("json_schema").and_then(|s| s.get("schema"))),
        "json_object" => Some(None),
        _ => None,
    }
}

pub(crate) fn invalid_request(message: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        sse::json(&openai_error_body(400, "invalid_request_error", message)),
    )
}

/// What a non-streaming request gets for an in-band error fault.
pub(crate) fn server_error() -> Answer {
    Answer::json(
        StatusCode::INTERNAL_SERVER_ERROR,
        sse::json(&openai_error_body(
            500,
            "server_error",
            "The server had an error while processing your request.",
        )),
    )
}

struct StreamParts<'a> {
    model: &'a str,
    reply: &'a Reply,
    arguments: Option<&'a str>,
    finish_reason: &'a str,
}

impl StreamParts<'_> {
    fn events(&self, include_usage: bool, ctx: &Ctx<'_>) -> Vec<Bytes> {
        let no_usage = || include_usage.then_some(None);
        let chunk = |delta: Delta<'_>, finish_reason: Option<&str>| {
            let choices = [ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }];
            sse::data(&Chunk {
                id: Id("chatcmpl-mock", ctx.n),
                object: "chat.completion.chunk",
                created: ctx.created,
                model: self.model,
                system_fingerprint: FINGERPRINT,
                choices: &choices,
                usage: no_usage(),
            })
        };
        let mut events = Vec::with_capacity(10);
        events.push(chunk(
            Delta {
                role: Some("assistant"),
                content: Some(""),
                tool_calls: None,
            },
            None,
        ));
        for piece in self.reply.pieces() {
            events.push(chunk(
                Delta {
                    content: Some(piece),
                    ..Delta::default()
                },
                None,
            ));
        }
        if let (Some(call), Some(arguments)) = (&self.reply.tool_call, self.arguments) {
            let call_delta = |id, kind, name, arguments| Delta {
                tool_calls: Some([DeltaToolCall {
                    index: 0,
                    id,
                    kind,
                    function: DeltaFunction { name, arguments },
                }]),
                ..Delta::default()
            };
            events.push(chunk(
                call_delta(
                    Some(Id("call_mock_", ctx.n)),
                    Some("function"),
                    Some(&call.name),
                    "",
                ),
                None,
            ));
            events.push(chunk(call_delta(None, None, None, arguments), None));
        }
        events.push(chunk(Delta::default(), Some(self.finish_reason)));
        if include_usage {
            events.push(sse::data(&Chunk {
                id: Id("chatcmpl-mock", ctx.n),
                object: "chat.completion.chunk",
                created: ctx.created,
                model: self.model,
                system_fingerprint: FINGERPRINT,
                choices: &[],
                usage: Some(Some(Usage::new(ctx.usage))),
            }));
        }
        events.push(Bytes::from_static(sse::DONE));
        if let Some(after) = ctx.in_band_error_after {
            // The OpenAI SDK raises on any data object with an `error` key.
            events.truncate(after);
            events.push(sse::data(&openai_error_body(
                500,
                "server_error",
                "The server had an error while processing your request.",
            )));
        }
        events
    }
}
