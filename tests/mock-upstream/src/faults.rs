//! What can go wrong with an upstream answer, and the helpers that build the providers' error
//! bodies.
//!
//! Faults serialise as `{"kind": "status", "status": 429, ...}` so the binary's control API can
//! take them as JSON too.

use serde::{Deserialize, Serialize};

/// What the mock does instead of (or while) answering a request successfully.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status, extra headers and body. Without a `content-type` among the
    /// headers the body is sent as `application/json`.
    Status {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
    },
    /// Wait before answering normally (time to first byte).
    Delay { ms: u64 },
    /// Stream normally but pause `ms` between events. A non-streaming answer is sent in two
    /// halves with the pause between them.
    SlowStream { ms: u64 },
    /// Send the first `after_events` events, then close the connection without the final chunk.
    /// A non-streaming answer sends its head and the first half of its body, then closes.
    CutStream { after_events: usize },
    /// After `after_events` events send the provider's in-band error event and end the stream.
    /// A non-streaming answer can't carry one; it gets the provider's overloaded/unavailable
    /// error status instead (Anthropic 529, OpenAI 500, Gemini 503). On Bedrock the event is a
    /// `throttlingException` frame and the status 429 `ThrottlingException`.
    InBandError { after_events: usize },
    /// Accept the request, then close the socket without any response.
    Drop,
    /// Never answer (until the client gives up).
    Hang,
}

impl Fault {
    /// An Anthropic error: `{"type":"error","error":{"type":..,"message":..}}`.
    pub fn anthropic_error(status: u16, error_type: &str, message: &str) -> Fault {
        Fault::json_status(status, &anthropic_error_body(error_type, message))
    }

    /// An OpenAI error: `{"error":{"message":..,"type":..,"param":null,"code":..}}`.
    pub fn openai_error(status: u16, code: &str, message: &str) -> Fault {
        Fault::json_status(status, &openai_error_body(status, code, message))
    }

    /// A Google API error: `{"error":{"code":..,"message":..,"status":..}}`.
    pub fn gemini_error(status: u16, status_text: &str, message: &str) -> Fault {
        Fault::json_status(status, &gemini_error_body(status, status_text, message))
    }

    /// A Bedrock (AWS) error: `x-amzn-ErrorType: <type>:…` and `{"message":..}`, e.g.
    /// `Fault::bedrock_error(429, "ThrottlingException", "Too many requests, please wait before
    /// trying again.")`.
    pub fn bedrock_error(status: u16, error_type: &str, message: &str) -> Fault {
        Fault::json_status(status, &serde_json::json!({ "message": message }))
            .with_header("x-amzn-errortype", &aws_error_type(error_type))
    }

    /// Adds a response header to a [`Fault::Status`] (e.g. `retry-after`); other faults send no
    /// response head of their own, so they are returned unchanged.
    pub fn with_header(self, name: &str, value: &str) -> Fault {
        match self {
            Fault::Status {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.to_ascii_lowercase(), value.to_owned()));
                Fault::Status {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    fn json_status(status: u16, body: &impl Serialize) -> Fault {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: to_json(body),
        }
    }
}

/// How a stream-level fault changes an answer that is otherwise produced normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamFault {
    Slow { ms: u64 },
    Cut { after_events: usize },
}

#[derive(Serialize)]
struct AnthropicError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: TypedMessage<'a>,
}

#[derive(Serialize)]
struct TypedMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct OpenAiError<'a> {
    error: OpenAiErrorBody<'a>,
}

#[derive(Serialize)]
pub(crate) struct OpenAiErrorBody<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: &'a str,
}

#[derive(Serialize)]
struct GeminiError<'a> {
    error: GeminiErrorBody<'a>,
}

#[derive(Serialize)]
pub(crate) struct GeminiErrorBody<'a> {
    pub code: u16,
    pub message: &'a str,
    pub status: &'a str,
}

/// The body of an Anthropic error answer, also the data of its in-band `error` event.
pub(crate) fn anthropic_error_body<'a>(error_type: &'a str, message: &'a str) -> impl Serialize + 'a {
    AnthropicError {
        kind: "error",
        error: TypedMessage {
            kind: error_type,
            message,
        },
    }
}

pub(crate) fn openai_error_body<'a>(status: u16, code: &'a str, message: &'a str) -> impl Serialize + 'a {
    // OpenAI's `type` is coarser than `code`; clients branch on the status and `code`.
    let kind = match status {
        401 | 403 => "invalid_request_error",
        429 => "requests",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    OpenAiError {
        error: OpenAiErrorBody {
            message,
            kind,
            param: None,
            code,
        },
    }
}

pub(crate) fn gemini_error_body<'a>(
    status: u16,
    status_text: &'a str,
    message: &'a str,
) -> impl Serialize + 'a {
    GeminiError {
        error: GeminiErrorBody {
            code: status,
            message,
            status: status_text,
        },
    }
}

/// The `x-amzn-ErrorType` value AWS sends: the type and the service's namespace.
pub(crate) fn aws_error_type(error_type: &str) -> String {
    format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/")
}

/// Serialises one of the plain structs above. They hold only strings and numbers, which
/// serde_json always accepts, so the fallback is unreachable in practice.
pub(crate) fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| String::from("{}"))
}
