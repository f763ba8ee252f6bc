//! The one request path every relayed route shares: size check → key → client check and the
//! key's slot → body (bounded in size, time and memory) → route-specific parsing → model and
//! limit checks → relay. A route only says how to read its request.
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyRules, declared_length, read_body};
use crate::middleware::{LoggedByRelay, RequestContext};
use crate::oauth::TokenEndpoint;
use crate::relay::client::UpstreamClients;
use crate::relay::client_gone::ClientGone;
use crate::relay::drain;
use crate::relay::front::Front;
use crate::relay::headers::inbound_headers;
use crate::relay::{RelayRequest, relay};
use crate::state::AppState;
use crate::upstream::{ClientApi, ClientCall, Inbound, registry};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use std::sync::Arc;
use switchyard_actors::Platform;
use switchyard_actors::session::SessionId;

/// Longest model name accepted (real ones are under 100 characters): a client cannot make
/// switchyard carry, log or count megabytes of "model".
pub const MAX_MODEL_LEN: usize = 256;

/// Which relayed route a request came in on.
#[derive(Debug, Clone)]
pub struct Route {
    /// Its name in `server.body_limits_mb` (one of `http::body::ROUTES`).
    pub name: &'static str,
    /// Whether it takes one of the key's concurrency slots (token counting does not).
    pub takes_slot: bool,
    /// Where this platform's OAuth accounts refresh their tokens.
    pub token_endpoint: TokenEndpoint,
    /// The serving platform is read from the body (a format front choosing by model): the key's
    /// permission is checked once it is known, not before the body.
    pub platform_from_body: bool,
}

/// A request served by another platform's accounts than the route's (a format front).
pub struct FrontPlan {
    /// Whose accounts serve it; the format stays the route's.
    pub platform: Platform,
    /// Where that platform's OAuth accounts refresh their tokens.
    pub token_endpoint: TokenEndpoint,
    /// The upstream query (e.g. Gemini's `alt=sse`), instead of the client's.
    pub query: String,
    /// Turns the answer back into the client's format.
    pub answer: Arc<dyn Front>,
}

/// What a route read from its request.
pub struct Parsed {
    pub model: String,
    pub stream: bool,
    pub session: Option<SessionId>,
    /// Path on the upstream API.
    pub upstream_path: String,
    /// The body to send (usually the client's bytes untouched).
    pub body: Bytes,
    /// Which family of client calls it is: the kinds that serve it come from the registry.
    pub call: ClientCall,
    /// The body asks for a usage chunk the client did not ask for: hide it from the answer.
    pub hide_usage_chunk: bool,
    /// A real user turn (Claude only): paced per account (`relay::pacing`).
    pub user_turn: bool,
    /// Served through a format front.
    pub front: Option<FrontPlan>,
}

pub async fn relay_route(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    clients: &web::Data<UpstreamClients>,
    api: ClientApi,
    route: Route,
    parse: impl FnOnce(&HttpRequest, Bytes) -> Result<Parsed, ApiError>,
) -> ApiResult<HttpResponse> {
    let format = api.format;
    let fail = |e: ApiError| e.in_format(format);
    let rules = BodyRules::for_route(&state.settings.server, route.name);
    let declared = declared_length(req, &rules).map_err(fail)?;
    let key = if route.platform_from_body {
        auth::identify(state, req).await
    } else {
        auth::authenticate(state, req, api.platform).await
    }
    .map_err(fail)?;
    // The key's slot before its body: a key limited to N requests holds at most N bodies.
    let entered = auth::admission::enter(state, req, key, route.takes_slot)
        .await
        .map_err(fail)?;
    let mut held = state.body_memory.claim(
        &entered.key.id,
        entered.key.concurrency_limit,
        rules.limit_bytes(),
    );
    let body = read_body(payload, &rules, declared, &mut held)
        .await
        .map_err(fail)?;
    let parsed = parse(req, body).map_err(fail)?;
    if parsed.model.len() > MAX_MODEL_LEN {
        return Err(fail(ApiError::BadRequest(format!(
            "model: must be at most {MAX_MODEL_LEN} characters"
        ))));
    }
    let (api, token_endpoint, query, front) = match parsed.front {
        None => (
            api,
            route.token_endpoint,
            auth::query_without_key(req.query_string()),
            None,
        ),
        Some(plan) => {
            let api = ClientApi {
                platform: plan.platform,
                format,
            };
            (api, plan.token_endpoint, plan.query, Some(plan.answer))
        }
    };
    if !entered.key.allows(api.platform) {
        return Err(fail(ApiError::NoPermission(api.platform)));
    }
    let kinds = registry::kinds_serving(parsed.call);
    let admitted = auth::admission::admit(state, entered, Some(&parsed.model))
        .await
        .map_err(fail)?;
    let inbound = Inbound {
        upstream_path: parsed.upstream_path,
        query,
        headers: inbound_headers(req),
        body: parsed.body,
        model: parsed.model,
        stream: parsed.stream,
        session: parsed.session,
        hide_usage_chunk: parsed.hide_usage_chunk,
        user_turn: parsed.user_turn,
    };
    let ctx = req.extensions().get::<RequestContext>().cloned();
    // The relay writes this request's log line (with key, account, tokens and cost).
    req.extensions_mut().insert(LoggedByRelay);
    let (_client_here, client_gone) = ClientGone::pair();
    let request = RelayRequest {
        key: admitted.key,
        window_start: admitted.window_start,
        key_slot: admitted.slot,
        inbound,
        body_memory: Some(held),
        token_endpoint: Some(token_endpoint),
        kinds,
        request_id: ctx.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        received: ctx.map_or_else(std::time::Instant::now, |c| c.received),
        client_gone,
        front,
    };
    let reads_on = registry::bills_after_disconnect(api.platform)
        && drain::Bounds::from_settings(&state.settings.relay).is_some();
    if !reads_on {
        // Cut on disconnect: the relay is this handler's to drop with it.
        return relay(state, clients, api, request).await.map_err(fail);
    }
    // On a task of its own: a client that leaves once the request is upstream does not cancel
    // it (its answer is read on and billed); `_client_here` tells the relay when it has left.
    let (state, clients) = (state.clone(), clients.clone());
    let relayed = actix_web::rt::spawn(async move { relay(&state, &clients, api, request).await });
    match relayed.await {
        Ok(answer) => answer.map_err(fail),
        Err(e) => Err(fail(ApiError::Internal(format!("the relay task failed: {e}")))),
    }
}

/// A required, non-empty string field.
pub fn required(value: Option<&str>, field: &str) -> Result<String, ApiError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(ApiError::BadRequest(format!("{field}: Field required"))),
    }
}
