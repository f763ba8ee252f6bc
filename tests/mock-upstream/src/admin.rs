//! The control API under `/__mock/`, so scripts that run the binary (Python SDK tests, load
//! runs) can do over HTTP what Rust tests do through [`crate::MockUpstream`]:
//!
//! - `GET  /__mock/requests[?credential=C]`, `GET /__mock/token_requests`: recorded requests as
//!   `[{"method","path","query","headers":[[name,value]],"credential","body","json"}]`
//! - `GET  /__mock/in_flight`: `{"in_flight": n}`
//! - `POST /__mock/enqueue` `{"credential": C, "fault": F}`; `POST /__mock/persistent`
//!   `{"credential": C, "fault": F | null}`; faults as `{"kind": "status", "status": 429,
//!   "headers": [["retry-after", "1"]], "body": "..."}`, `{"kind": "delay", "ms": 100}`,
//!   `{"kind": "slow_stream", "ms": 50}`, `{"kind": "cut_stream", "after_events": 2}`,
//!   `{"kind": "in_band_error", "after_events": 2}`, `{"kind": "drop"}`, `{"kind": "hang"}`
//! - `POST /__mock/usage` `{"credential": C, "usage": {"input_tokens": .., ...}}`
//! - `POST /__mock/headers` `{"credential": C, "headers": [[name, value]]}`
//! - `POST /__mock/fail_token_refreshes` `{"n": 2}`
//! - `POST /__mock/clear`
//!
//! These requests are not recorded and do not count as in flight.

use actix_web::http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use crate::faults::{Fault, anthropic_error_body};
use crate::record::{RecordedRequest, query_param};
use crate::sse;
use crate::state::Shared;
use crate::usage::MockUsage;

#[derive(Serialize)]
struct RecordView<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [(String, String)],
    credential: Option<&'a str>,
    body: std::borrow::Cow<'a, str>,
    json: serde_json::Value,
}

impl<'a> RecordView<'a> {
    fn of(record: &'a RecordedRequest) -> Self {
        RecordView {
            method: &record.method,
            path: &record.path,
            query: &record.query,
            headers: &record.headers,
            credential: record.credential.as_deref(),
            body: String::from_utf8_lossy(&record.body),
            json: record.json(),
        }
    }
}

#[derive(Deserialize)]
struct EnqueueBody {
    credential: String,
    fault: Fault,
}

#[derive(Deserialize)]
struct PersistentBody {
    credential: String,
    fault: Option<Fault>,
}

#[derive(Deserialize)]
struct UsageBody {
    credential: String,
    usage: MockUsage,
}

#[derive(Deserialize)]
struct HeadersBody {
    credential: String,
    headers: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct CountBody {
    n: usize,
}

#[derive(Serialize)]
struct InFlight {
    in_flight: usize,
}

#[derive(Serialize)]
struct Done {
    ok: bool,
}

/// Answers one control request.
pub(crate) fn handle(shared: &Shared, action: &str, method: &Method, query: &str, body: &[u8]) -> Answer {
    let done = || Answer::json(StatusCode::OK, sse::json(&Done { ok: true }));
    match (method.as_str(), action) {
        ("GET", "requests") => {
            let records = match query_param(query, "credential") {
                Some(credential) => shared.requests_for(&credential),
                None => shared.requests(),
            };
            records_answer(&records)
        }
        ("GET", "token_requests") => records_answer(&shared.token_requests()),
        ("GET", "in_flight") => Answer::json(
            StatusCode::OK,
            sse::json(&InFlight {
                in_flight: shared.in_flight(),
            }),
        ),
        ("POST", "enqueue") => parse(body).map_or_else(bad_request, |b: EnqueueBody| {
            shared.enqueue(&b.credential, b.fault);
            done()
        }),
        ("POST", "persistent") => parse(body).map_or_else(bad_request, |b: PersistentBody| {
            shared.set_persistent(&b.credential, b.fault);
            done()
        }),
        ("POST", "usage") => parse(body).map_or_else(bad_request, |b: UsageBody| {
            shared.set_usage(&b.credential, b.usage);
            done()
        }),
        ("POST", "headers") => parse(body).map_or_else(bad_request, |b: HeadersBody| {
            shared.set_response_headers(&b.credential, b.headers);
            done()
        }),
        ("POST", "fail_token_refreshes") => parse(body).map_or_else(bad_request, |b: CountBody| {
            shared.fail_next_token_calls(b.n);
            done()
        }),
        ("POST", "clear") => {
            shared.clear();
            done()
        }
        _ => Answer::json(
            StatusCode::NOT_FOUND,
            sse::json(&anthropic_error_body(
                "not_found_error",
                "mock-upstream: unknown control action",
            )),
        ),
    }
}

fn records_answer(records: &[RecordedRequest]) -> Answer {
    let views: Vec<RecordView<'_>> = records.iter().map(RecordView::of).collect();
    Answer::json(StatusCode::OK, sse::json(&views))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|err| format!("mock-upstream: bad control request: {err}"))
}

fn bad_request(message: String) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        sse::json(&anthropic_error_body("invalid_request_error", &message)),
    )
}
