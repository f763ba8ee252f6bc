//! A format front: the client speaks one API, the accounts serving it another. The route
//! converts the request and relays it as the target's own call (so scheduling, sticky sessions,
//! failover and limits apply unchanged); the relay turns the answer back through the front,
//! after the kind's own adapter (e.g. Code Assist's unwrapping). Usage is still read from the
//! upstream's own bytes, so cost is that of the model that served.
use crate::upstream::BodyAdapter;
use actix_web::http::StatusCode;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;

pub trait Front: Send + Sync {
    /// The adapter for a successful answer. `stream`: the client asked for one, so the kind
    /// (after its own adapter) hands over the target's event stream, else its JSON answer.
    fn answer(&self, stream: bool) -> Box<dyn BodyAdapter>;
    /// An upstream error answer (whole body, any shape) as the client's error: status and body.
    fn error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, serde_json::Value);
}

/// The adapter a successful answer goes through: the kind's (if any), then the front's.
pub fn compose(kind: Option<Box<dyn BodyAdapter>>, front: Box<dyn BodyAdapter>) -> Box<dyn BodyAdapter> {
    match kind {
        None => front,
        Some(first) => Box::new(Chain { first, then: front }),
    }
}

struct Chain {
    first: Box<dyn BodyAdapter>,
    then: Box<dyn BodyAdapter>,
}

impl BodyAdapter for Chain {
    fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
        let mut mid = BytesMut::new();
        self.first.chunk(input, &mut mid);
        if !mid.is_empty() {
            self.then.chunk(&mid, out);
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let mut mid = BytesMut::new();
        self.first.finish(&mut mid);
        if !mid.is_empty() {
            self.then.chunk(&mid, out);
        }
        self.then.finish(out);
    }

    fn content_type(&self) -> Option<&'static str> {
        self.then.content_type().or_else(|| self.first.content_type())
    }
}

/// An upstream error answer passed to the client (the request's own fault) in the client's
/// format: read whole, converted at the end. The status stays the upstream's.
pub fn error_adapter(front: Arc<dyn Front>, status: StatusCode) -> Box<dyn BodyAdapter> {
    Box::new(ErrorBody {
        front,
        status,
        body: Vec::new(),
    })
}

struct ErrorBody {
    front: Arc<dyn Front>,
    status: StatusCode,
    body: Vec<u8>,
}

impl BodyAdapter for ErrorBody {
    fn chunk(&mut self, input: &[u8], _out: &mut BytesMut) {
        self.body.extend_from_slice(input);
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let (_, body) = self.front.error(self.status, &self.body);
        out.extend_from_slice(&Bytes::from(body.to_string()));
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upper-cases what it gets; adds `!` at the end.
    struct Upper;
    impl BodyAdapter for Upper {
        fn chunk(&mut self, input: &[u8], out: &mut BytesMut) {
            out.extend_from_slice(&input.to_ascii_uppercase());
        }
        fn finish(&mut self, out: &mut BytesMut) {
            out.extend_from_slice(b"!");
        }
    }

    /// Holds everything until the end, then wraps it in brackets.
    struct Hold(Vec<u8>);
    impl BodyAdapter for Hold {
        fn chunk(&mut self, input: &[u8], _: &mut BytesMut) {
            self.0.extend_from_slice(input);
        }
        fn finish(&mut self, out: &mut BytesMut) {
            out.extend_from_slice(b"[");
            out.extend_from_slice(&self.0);
            out.extend_from_slice(b"]");
        }
        fn content_type(&self) -> Option<&'static str> {
            Some("x/held")
        }
    }

    #[test]
    fn the_kinds_output_including_its_closing_bytes_feeds_the_front() {
        let mut chain = compose(Some(Box::new(Upper)), Box::new(Hold(Vec::new())));
        let mut out = BytesMut::new();
        chain.chunk(b"ab", &mut out);
        chain.chunk(b"c", &mut out);
        assert!(out.is_empty());
        chain.finish(&mut out);
        assert_eq!(&out[..], b"[ABC!]");
        assert_eq!(chain.content_type(), Some("x/held"));
    }
}
