//! Around every request: a `request-id` on the answer, the requests counter, and one log line
//! for requests the relay does not log itself (errors before relaying, admin, health…).
use crate::state::AppState;
use crate::telemetry::LogText;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use rand::RngCore;
use std::time::Instant;

/// Per-request facts handlers can read from the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub id: String,
    pub received: Instant,
}

/// Set by the relay when it logs the request's line itself (with key, account and tokens).
#[derive(Debug, Clone, Copy)]
pub struct LoggedByRelay;

fn new_request_id() -> String {
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    format!("req_{}", hex::encode(b))
}

/// A client's API call (every relay route is a POST), not an operator's or a browser's.
fn is_relayed(method: &actix_web::http::Method, route: &str) -> bool {
    method == actix_web::http::Method::POST
        && route != "unmatched"
        && !["/admin", "/dashboard", "/stats"]
            .iter()
            .any(|p| route.starts_with(p))
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let ctx = RequestContext {
        id: new_request_id(),
        received: Instant::now(),
    };
    req.extensions_mut().insert(ctx.clone());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&ctx.id) {
        res.headers_mut().insert(HeaderName::from_static("request-id"), v);
    }
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = &state {
        state
            .metrics
            .requests
            .with_label_values(&[route.as_str(), &status.to_string()])
            .inc();
        if is_relayed(&method, &route) {
            state
                .metrics
                .per_minute
                .record(state.clock.now_ms(), status >= 500);
        }
    }
    if res.request().extensions().get::<LoggedByRelay>().is_none() {
        tracing::info!(
            request_id = %ctx.id,
            method = %LogText(method.as_str()),
            route = %LogText(&route),
            status,
            duration_ms = ctx.received.elapsed().as_millis() as u64,
            "request"
        );
    }
    Ok(res)
}
