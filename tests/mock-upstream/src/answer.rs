//! An answer as the provider modules describe it (a whole body or a list of events), and how it
//! becomes an HTTP response with the stream faults applied.

use std::fmt;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use bytes::Bytes;
use serde::{Serialize, Serializer};

use crate::faults::StreamFault;
use crate::sse::EventStream;
use crate::state::InFlightGuard;
use crate::usage::MockUsage;

pub(crate) const JSON: &str = "application/json";
pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// What a provider module needs to know to answer one request.
pub(crate) struct Ctx<'a> {
    /// Unique per answer; goes into every id the answer carries.
    pub n: u64,
    pub usage: &'a MockUsage,
    /// Unix seconds, for `created` fields.
    pub created: u64,
    /// Set by [`crate::Fault::InBandError`]: replace the stream's tail after this many events
    /// with the provider's error event.
    pub in_band_error_after: Option<usize>,
    pub query: &'a str,
}

/// An id such as `msg_mock_7`, written straight into the JSON without building a string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Id(pub &'static str, pub u64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub(crate) enum Body {
    Whole(Bytes),
    Events(Vec<Bytes>),
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    /// The provider's request-id header and the id's number (`req_mock_<n>`).
    pub request_id: Option<(&'static str, u64)>,
    /// AWS's `x-amzn-ErrorType` (Bedrock error answers).
    pub error_type: Option<String>,
    pub body: Body,
}

impl Answer {
    pub fn json(status: StatusCode, body: Bytes) -> Self {
        Answer {
            status,
            content_type: JSON,
            request_id: None,
            error_type: None,
            body: Body::Whole(body),
        }
    }

    pub fn events(content_type: &'static str, events: Vec<Bytes>) -> Self {
        Answer {
            status: StatusCode::OK,
            content_type,
            request_id: None,
            error_type: None,
            body: Body::Events(events),
        }
    }

    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    pub fn error_type(mut self, error_type: &str) -> Self {
        self.error_type = Some(crate::faults::aws_error_type(error_type));
        self
    }

    pub fn request_id(mut self, header: &'static str, n: u64) -> Self {
        self.request_id = Some((header, n));
        self
    }

    /// The HTTP response: `extra_headers` are the ones scripted for the credential; `guard`
    /// keeps the request counted in flight until the body has been sent (or dropped).
    pub fn into_response(
        self,
        fault: Option<StreamFault>,
        extra_headers: &[(String, String)],
        guard: Option<InFlightGuard>,
    ) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder.insert_header((CONTENT_TYPE, self.content_type));
        if let Some((name, n)) = self.request_id {
            builder.insert_header((name, Id("req_mock_", n).to_string()));
        }
        if let Some(error_type) = self.error_type {
            builder.insert_header(("x-amzn-errortype", error_type));
        }
        for (name, value) in extra_headers {
            // A scripted header that is not valid HTTP is skipped rather than turning the
            // answer into a 500.
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value))
            {
                builder.append_header((name, value));
            }
        }
        match self.body {
            Body::Whole(body) => {
                let Some(fault) = fault else {
                    return builder.body(body);
                };
                // A non-streaming body keeps its content-length, so a cut shows as a short body.
                let size = body.len() as u64;
                let half = body.len() / 2;
                let pieces = vec![body.slice(..half), body.slice(half..)];
                builder.body(SizedStream::new(
                    size,
                    with_fault(EventStream::new(pieces, guard), fault),
                ))
            }
            Body::Events(events) => {
                builder.insert_header((CACHE_CONTROL, "no-cache"));
                let stream = EventStream::new(events, guard);
                match fault {
                    Some(fault) => builder.streaming(with_fault(stream, fault)),
                    None => builder.streaming(stream),
                }
            }
        }
    }
}

fn with_fault(stream: EventStream, fault: StreamFault) -> EventStream {
    match fault {
        StreamFault::Slow { ms } => stream.pause(Duration::from_millis(ms)),
        StreamFault::Cut { after_events } => stream.cut_after(after_events),
    }
}
