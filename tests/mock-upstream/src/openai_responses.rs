//! OpenAI's Responses API: `POST .../responses` (also Codex's `/backend-api/codex/responses`),
//! JSON or SSE.
//!
//! A stream is `response.created`, `response.in_progress`, then for the message item
//! `response.output_item.added`, `response.content_part.added`, `response.output_text.delta`...,
//! `response.output_text.done`, `response.content_part.done`, `response.output_item.done`, then
//! the function-call item if any (`output_item.added`, `function_call_arguments.delta`/`.done`,
//! `output_item.done`), and `response.completed` with the full response and its usage. Every
//! event carries `sequence_number`; `responses.stream()` in the OpenAI SDK needs this order.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{Answer, Ctx, EVENT_STREAM, Id};
use crate::openai_chat::{REQUEST_ID, invalid_request, server_error};
use crate::reply::{Dialect, Reply};
use crate::sse;
use crate::usage::MockUsage;

const FAILURE_MESSAGE: &str = "The server had an error while processing your request.";

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    instructions: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    previous_response_id: Option<Cow<'a, str>>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    text: Option<Value>,
}

#[derive(Clone, Copy, Serialize)]
struct ResponseObject<'a> {
    id: Id,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    background: bool,
    error: Option<Failure>,
    incomplete_details: Option<()>,
    instructions: Option<&'a str>,
    max_output_tokens: Option<u64>,
    model: &'a str,
    output: &'a [OutputItem<'a>],
    parallel_tool_calls: bool,
    previous_response_id: Option<&'a str>,
    reasoning: Reasoning,
    store: bool,
    temperature: f64,
    text: TextConfig,
    tool_choice: &'static str,
    tools: [(); 0],
    top_p: f64,
    truncation: &'static str,
    usage: Option<Usage>,
    user: Option<()>,
    metadata: Empty,
}

#[derive(Clone, Copy, Serialize)]
struct Failure {
    code: &'static str,
    message: &'static str,
}

#[derive(Clone, Copy, Serialize)]
struct Reasoning {
    effort: Option<()>,
    summary: Option<()>,
}

#[derive(Clone, Copy, Serialize)]
struct TextConfig {
    format: TextFormat,
}

#[derive(Clone, Copy, Serialize)]
struct TextFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Clone, Copy, Serialize)]
struct Empty {}

#[derive(Clone, Copy, Serialize)]
struct Usage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

#[derive(Clone, Copy, Serialize)]
struct InputDetails {
    cached_tokens: u64,
}

#[derive(Clone, Copy, Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

impl Usage {
    fn new(usage: &MockUsage) -> Self {
        Usage {
            input_tokens: usage.prompt_total(),
            input_tokens_details: InputDetails {
                cached_tokens: usage.cache_read,
            },
            output_tokens: usage.output_tokens,
            output_tokens_details: OutputDetails { reasoning_tokens: 0 },
            total_tokens: usage.total(),
        }
    }
}

#[derive(Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutputItem<'a> {
    Message {
        id: Id,
        status: &'static str,
        role: &'static str,
        content: &'a [OutputText<'a>],
    },
    FunctionCall {
        id: Id,
        call_id: Id,
        name: &'a str,
        arguments: &'a str,
        status: &'static str,
    },
}

#[derive(Clone, Copy, Serialize)]
struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    annotations: [(); 0],
    logprobs: [(); 0],
}

impl<'a> OutputText<'a> {
    fn new(text: &'a str) -> Self {
        OutputText {
            kind: "output_text",
            text,
            annotations: [],
            logprobs: [],
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Event<'a> {
    #[serde(rename = "response.created")]
    Created {
        sequence_number: usize,
        response: ResponseObject<'a>,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        sequence_number: usize,
        response: ResponseObject<'a>,
    },
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        sequence_number: usize,
        output_index: usize,
        item: OutputItem<'a>,
    },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        content_index: usize,
        part: OutputText<'a>,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        content_index: usize,
        delta: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        content_index: usize,
        text: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        content_index: usize,
        part: OutputText<'a>,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        sequence_number: usize,
        output_index: usize,
        item: OutputItem<'a>,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        delta: &'a str,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        sequence_number: usize,
        item_id: Id,
        output_index: usize,
        arguments: &'a str,
    },
    #[serde(rename = "response.completed")]
    Completed {
        sequence_number: usize,
        response: ResponseObject<'a>,
    },
    #[serde(rename = "response.failed")]
    Failed {
        sequence_number: usize,
        response: ResponseObject<'a>,
    },
    #[serde(rename = "error")]
    Error {
        sequence_number: usize,
        code: &'static str,
        message: &'static str,
        param: Option<()>,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "response.created",
            Event::InProgress { .. } => "response.in_progress",
            Event::ItemAdded { .. } => "response.output_item.added",
            Event::PartAdded { .. } => "response.content_part.added",
            Event::TextDelta { .. } => "response.output_text.delta",
            Event::TextDone { .. } => "response.output_text.done",
            Event::PartDone { .. } => "response.content_part.done",
            Event::ItemDone { .. } => "response.output_item.done",
            Event::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Event::ArgumentsDone { .. } => "response.function_call_arguments.done",
            Event::Completed { .. } => "response.completed",
            Event::Failed { .. } => "response.failed",
            Event::Error { .. } => "error",
        }
    }
}

/// `POST .../responses`.
pub(crate) fn create(body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let request: Request<'_> = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return invalid_request(&format!("mock-upstream: invalid JSON body: {err}")),
    };
    let reply = Reply::for_request(body, Dialect::OpenAiResponses, structured(request.text.as_ref()));
    let arguments = reply.tool_call.as_ref().map(|call| call.arguments());
    let message_id = Id("msg_mock_", ctx.n);
    let content = [OutputText::new(reply.text())];
    let mut output = vec![OutputItem::Message {
        id: message_id,
        status: "completed",
        role: "assistant",
        content: &content,
    }];
    if let (Some(call), Some(arguments)) = (&reply.tool_call, &arguments) {
        output.push(OutputItem::FunctionCall {
            id: Id("fc_mock_", ctx.n),
            call_id: Id("call_mock_", ctx.n),
            name: &call.name,
            arguments,
            status: "completed",
        });
    }
    let response = ResponseObject {
        id: Id("resp_mock_", ctx.n),
        object: "response",
        created_at: ctx.created,
        status: "completed",
        background: false,
        error: None,
        incomplete_details: None,
        instructions: request.instructions.as_deref(),
        max_output_tokens: None,
        model: request.model.as_deref().unwrap_or("gpt-mock"),
        output: &output,
        parallel_tool_calls: true,
        previous_response_id: request.previous_response_id.as_deref(),
        reasoning: Reasoning {
            effort: None,
            summary: None,
        },
        store: request.store.unwrap_or(true),
        temperature: 1.0,
        text: TextConfig {
            format: TextFormat { kind: "text" },
        },
        tool_choice: "auto",
        tools: [],
        top_p: 1.0,
        truncation: "disabled",
        usage: Some(Usage::new(ctx.usage)),
        user: None,
        metadata: Empty {},
    };
    let answer = if request.stream.unwrap_or(false) {
        Answer::events(
            EVENT_STREAM,
            stream_events(&response, &reply, ctx.in_band_error_after),
        )
    } else if ctx.in_band_error_after.is_some() {
        return server_error();
    } else {
        Answer::json(StatusCode::OK, sse::json(&response))
    };
    answer.request_id(REQUEST_ID, ctx.n)
}

/// `text.format` asking for JSON: `Some(schema)` for json_schema, `Some(None)` for json_object.
fn structured(text: Option<&Value>) -> Option<Option<&Value>> {
    let format = text?.get("format")?;
    match format.get("type")?.as_str()? {
        "json_schema" => Some(format.get("schema")),
        "json_object" => Some(None),
        _ => None,
    }
}

/// The events of a streamed `response` (which is the finished one).
fn stream_events(
    response: &ResponseObject<'_>,
    reply: &Reply,
    in_band_error_after: Option<usize>,
) -> Vec<Bytes> {
    let mut events: Vec<Bytes> = Vec::with_capacity(16);
    let mut push = |event: Event<'_>| events.push(sse::event(event.name(), &event));
    let mut seq = 0..;
    let mut next = || seq.next().unwrap_or_default();
    let pending = ResponseObject {
        status: "in_progress",
        output: &[],
        usage: None,
        ..*response
    };
    push(Event::Created {
        sequence_number: next(),
        response: pending,
    });
    push(Event::InProgress {
        sequence_number: next(),
        response: pending,
    });
    for (output_index, item) in response.output.iter().enumerate() {
        match *item {
            OutputItem::Message {
                id, role, content, ..
            } => {
                let added = OutputItem::Message {
                    id,
                    status: "in_progress",
                    role,
                    content: &[],
                };
                push(Event::ItemAdded {
                    sequence_number: next(),
                    output_index,
                    item: added,
                });
                let (content_index, text) = (0, reply.text());
                let item_id = id;
                let part = OutputText::new("");
                push(Event::PartAdded {
                    sequence_number: next(),
                    item_id,
                    output_index,
                    content_index,
                    part,
                });
                for delta in reply.pieces() {
                    let sequence_number = next();
                    push(Event::TextDelta {
                        sequence_number,
                        item_id,
                        output_index,
                        content_index,
                        delta,
                        logprobs: [],
                    });
                }
                let sequence_number = next();
                push(Event::TextDone {
                    sequence_number,
                    item_id,
                    output_index,
                    content_index,
                    text,
                    logprobs: [],
                });
                let part = content.first().copied().unwrap_or(OutputText::new(text));
                push(Event::PartDone {
                    sequence_number: next(),
                    item_id,
                    output_index,
                    content_index,
                    part,
                });
            }
            OutputItem::FunctionCall {
                id,
                call_id,
                name,
                arguments,
                ..
            } => {
                let added = OutputItem::FunctionCall {
                    id,
                    call_id,
                    name,
                    arguments: "",
                    status: "in_progress",
                };
                push(Event::ItemAdded {
                    sequence_number: next(),
                    output_index,
                    item: added,
                });
                let item_id = id;
                push(Event::ArgumentsDelta {
                    sequence_number: next(),
                    item_id,
                    output_index,
                    delta: arguments,
                });
                push(Event::ArgumentsDone {
                    sequence_number: next(),
                    item_id,
                    output_index,
                    arguments,
                });
            }
        }
        push(Event::ItemDone {
            sequence_number: next(),
            output_index,
            item: *item,
        });
    }
    push(Event::Completed {
        sequence_number: next(),
        response: *response,
    });
    if let Some(after) = in_band_error_after {
        events.truncate(after);
        let sequence_number = events.len();
        let failure = Failure {
            code: "server_error",
            message: FAILURE_MESSAGE,
        };
        let failed = ResponseObject {
            status: "failed",
            error: Some(failure),
            output: &[],
            usage: None,
            ..*response
        };
        let error = Event::Error {
            sequence_number,
            code: failure.code,
            message: failure.message,
            param: None,
        };
        events.push(sse::event(error.name(), &error));
        let failed = Event::Failed {
            sequence_number: sequence_number + 1,
            response: failed,
        };
        events.push(sse::event(failed.name(), &failed));
    }
    events
}
