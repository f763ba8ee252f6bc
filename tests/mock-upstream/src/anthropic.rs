//! Anthropic's Messages API: `POST /v1/messages` (JSON or SSE) and `/v1/messages/count_tokens`.
//!
//! A stream is `message_start`, then per content block `content_block_start` (the first one
//! followed by `ping`), its deltas and `content_block_stop`, then `message_delta` with the
//! cumulative usage and `message_stop`. A request with thinking enabled or adaptive gets a
//! thinking block (with `signature_delta`) before the text, as Claude Code expects.
//!
//! Bedrock serves the same answers (see the `bedrock` module): the same JSON, and the same
//! stream events framed as event-stream `chunk`s instead of SSE.

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::answer::{Answer, Ctx, EVENT_STREAM, Id};
use crate::event_stream;
use crate::faults::anthropic_error_body;
use crate::reply::{Dialect, Reply, THINKING_TEXT};
use crate::sse;
use crate::usage::MockUsage;

const REQUEST_ID: &str = "request-id";

/// A tool_use block's input when the block starts.
static EMPTY_INPUT: LazyLock<Value> = LazyLock::new(|| Value::Object(serde_json::Map::new()));

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    thinking: Option<Thinking<'a>>,
}

#[derive(Deserialize)]
struct Thinking<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Thinking { thinking: &'a str, signature: Signature },
    Text { text: &'a str },
    ToolUse { id: Id, name: &'a str, input: &'a Value },
}

/// A thinking block's signature: empty when the block starts, filled by `signature_delta`.
#[derive(Clone, Copy)]
enum Signature {
    Empty,
    Mock(Id),
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Signature::Empty => serializer.serialize_str(""),
            Signature::Mock(id) => id.serialize(serializer),
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    id: Id,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'a [Block<'a>],
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: Usage,
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
    output_tokens: u64,
    service_tier: &'static str,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

impl Usage {
    fn new(usage: &MockUsage, output_tokens: u64) -> Self {
        Usage {
            input_tokens: usage.input_tokens,
            cache_creation_input_tokens: usage.cache_creation(),
            cache_read_input_tokens: usage.cache_read,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: usage.cache_creation_5m,
                ephemeral_1h_input_tokens: usage.cache_creation_1h,
            },
            output_tokens,
            service_tier: "standard",
        }
    }
}

/// `message_delta`'s usage: cumulative counts, as the live API sends them.
#[derive(Serialize)]
struct DeltaUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

/// A `content_block_delta`'s delta; the wire type is the variant name plus `_delta`.
#[derive(Serialize)]
#[serde(tag = "type")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: Id },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'a str,
    stop_sequence: Option<&'a str>,
}

/// Bedrock's own counts, added to the last stream event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvocationMetrics {
    input_token_count: u64,
    output_token_count: u64,
    cache_read_input_token_count: u64,
    cache_write_input_token_count: u64,
    invocation_latency: u64,
    first_byte_latency: u64,
}

/// How a stream's events go on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Anthropic's `event: <type>\ndata: <json>\n\n`.
    Sse,
    /// Bedrock's event-stream `chunk` frames, with `amazon-bedrock-invocationMetrics` on the
    /// last event and a `throttlingException` frame for an in-band error.
    EventStream,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: StopDelta<'a>,
        usage: DeltaUsage,
    },
    MessageStop,
    #[serde(rename = "message_stop")]
    MessageStopWithMetrics {
        #[serde(rename = "amazon-bedrock-invocationMetrics")]
        metrics: InvocationMetrics,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop | Event::MessageStopWithMetrics { .. } => "message_stop",
        }
    }

    fn frame(&self, framing: Framing) -> Bytes {
        match framing {
            Framing::Sse => sse::event(self.name(), self),
            Framing::EventStream => event_stream::chunk(self),
        }
    }
}

/// `POST .../v1/messages`.
pub(crate) fn messages(body: &[u8], ctx: &Ctx<'_>) -> Answer {
    let request: Request<'_> = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return invalid_request(&format!("mock-upstream: invalid JSON body: {err}")),
    };
    let model = request.model.as_deref().unwrap_or("claude-mock");
    let stream = request.stream.unwrap_or(false);
    answer(body, model, stream, thinking(&request), Framing::Sse, ctx)
}

/// A Bedrock `InvokeModel` answer (JSON) or `InvokeModelWithResponseStream` answer (event
/// stream) for a body already checked by the `bedrock` module.
pub(crate) fn bedrock_invoke(body: &[u8], model: &str, stream: bool, ctx: &Ctx<'_>) -> Answer {
    let thinking = serde_json::from_slice::<Request<'_>>(body).is_ok_and(|r| thinking(&r));
    answer(body, model, stream, thinking, Framing::EventStream, ctx)
}

fn thinking(request: &Request<'_>) -> bool {
    request
        .thinking
        .as_ref()
        .and_then(|t| t.kind.as_deref())
        .is_some_and(|k| k == "enabled" || k == "adaptive")
}

fn answer(body: &[u8], model: &str, stream: bool, thinking: bool, framing: Framing, ctx: &Ctx<'_>) -> Answer {
    let reply = Reply::for_request(body, Dialect::Anthropic, None);
    let blocks = blocks(&reply, thinking, ctx.n);
    let stop_reason = if reply.tool_call.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    let answer = if stream {
        let content_type = match framing {
            Framing::Sse => EVENT_STREAM,
            Framing::EventStream => event_stream::CONTENT_TYPE,
        };
        Answer::events(
            content_type,
            stream_events(&reply, &blocks, model, stop_reason, framing, ctx),
        )
    } else if ctx.in_band_error_after.is_some() {
        return match framing {
            Framing::Sse => overloaded(),
            Framing::EventStream => crate::bedrock::throttled(),
        };
    } else {
        let message = Message {
            id: Id("msg_mock_", ctx.n),
            kind: "message",
            role: "assistant",
            model,
            content: &blocks,
            stop_reason: Some(stop_reason),
            stop_sequence: None,
            usage: Usage::new(ctx.usage, ctx.usage.output_tokens),
        };
        Answer::json(StatusCode::OK, sse::json(&message))
    };
    let request_id = match framing {
        Framing::Sse => REQUEST_ID,
        Framing::EventStream => crate::bedrock::REQUEST_ID,
    };
    answer.request_id(request_id, ctx.n)
}

/// `POST .../v1/messages/count_tokens`.
pub(crate) fn count_tokens(ctx: &Ctx<'_>) -> Answer {
    #[derive(Serialize)]
    struct Count {
        input_tokens: u64,
    }
    Answer::json(
        StatusCode::OK,
        sse::json(&Count {
            input_tokens: ctx.usage.input_tokens,
        }),
    )
    .request_id(REQUEST_ID, ctx.n)
}

pub(crate) fn invalid_request(message: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        sse::json(&anthropic_error_body("invalid_request_error", message)),
    )
}

/// What a non-streaming request gets for an in-band error fault.
fn overloaded() -> Answer {
    let status = StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Answer::json(
        status,
        sse::json(&anthropic_error_body("overloaded_error", "Overloaded")),
    )
}

/// The finished content blocks of the answer.
fn blocks<'a>(reply: &'a Reply, thinking: bool, n: u64) -> Vec<Block<'a>> {
    let mut blocks = Vec::with_capacity(3);
    if thinking {
        blocks.push(Block::Thinking {
            thinking: THINKING_TEXT,
            signature: Signature::Mock(Id("mocksig_", n)),
        });
    }
    blocks.push(Block::Text { text: reply.text() });
    if let Some(call) = &reply.tool_call {
        blocks.push(Block::ToolUse {
            id: Id("toolu_mock_", n),
            name: &call.name,
            input: &call.input,
        });
    }
    blocks
}

/// The events of a streamed answer made of `blocks`; a tool_use block starts with empty input
/// and gets its arguments in one `input_json_delta`, as the live API streams them.
fn stream_events(
    reply: &Reply,
    blocks: &[Block<'_>],
    model: &str,
    stop_reason: &str,
    framing: Framing,
    ctx: &Ctx<'_>,
) -> Vec<Bytes> {
    let usage = ctx.usage;
    let mut events = Vec::with_capacity(16);
    events.push(
        Event::MessageStart {
            message: Message {
                id: Id("msg_mock_", ctx.n),
                kind: "message",
                role: "assistant",
                model,
                content: &[],
                stop_reason: None,
                stop_sequence: None,
                usage: Usage::new(usage, 1),
            },
        }
        .frame(framing),
    );
    let mut arguments = String::new();
    for (index, block) in blocks.iter().enumerate() {
        let start = match block {
            Block::Thinking { .. } => Block::Thinking {
                thinking: "",
                signature: Signature::Empty,
            },
            Block::Text { .. } => Block::Text { text: "" },
            Block::ToolUse { id, name, input } => {
                arguments = input.to_string();
                Block::ToolUse {
                    id: *id,
                    name,
                    input: &EMPTY_INPUT,
                }
            }
        };
        events.push(
            Event::ContentBlockStart {
                index,
                content_block: start,
            }
            .frame(framing),
        );
        if index == 0 {
            events.push(Event::Ping.frame(framing));
        }
        let mut delta = |delta| events.push(Event::ContentBlockDelta { index, delta }.frame(framing));
        match block {
            Block::Thinking { thinking, signature } => {
                delta(Delta::Thinking { thinking });
                if let Signature::Mock(signature) = signature {
                    delta(Delta::Signature {
                        signature: *signature,
                    });
                }
            }
            Block::Text { .. } => {
                for text in reply.pieces() {
                    delta(Delta::Text { text });
                }
            }
            Block::ToolUse { .. } => delta(Delta::InputJson {
                partial_json: &arguments,
            }),
        }
        events.push(Event::ContentBlockStop { index }.frame(framing));
    }
    events.push(
        Event::MessageDelta {
            delta: StopDelta {
                stop_reason,
                stop_sequence: None,
            },
            usage: DeltaUsage {
                input_tokens: usage.input_tokens,
                cache_creation_input_tokens: usage.cache_creation(),
                cache_read_input_tokens: usage.cache_read,
                output_tokens: usage.output_tokens,
            },
        }
        .frame(framing),
    );
    let stop = match framing {
        Framing::Sse => Event::MessageStop,
        Framing::EventStream => Event::MessageStopWithMetrics {
            metrics: InvocationMetrics {
                input_token_count: usage.input_tokens,
                output_token_count: usage.output_tokens,
                cache_read_input_token_count: usage.cache_read,
                cache_write_input_token_count: usage.cache_creation(),
                invocation_latency: 1,
                first_byte_latency: 1,
            },
        },
    };
    events.push(stop.frame(framing));
    if let Some(after) = ctx.in_band_error_after {
        events.truncate(after);
        events.push(match framing {
            Framing::Sse => sse::event("error", &anthropic_error_body("overloaded_error", "Overloaded")),
            Framing::EventStream => crate::bedrock::throttling_exception(),
        });
    }
    events
}
