//! `GET /health` (liveness: the process answers) and `GET /ready` (the store answers, every
//! actor answers a ping, and every configured platform has a schedulable account), plus
//! `GET /metrics` in the Prometheus text format. With `operations.token` set, `/ready` and
//! `/metrics` require it as a bearer token (they name accounts and show traffic); `/health`
//! stays open for liveness probes.
use crate::admin_token::AdminToken;
use crate::error::{ApiError, ApiFailure, ApiFormat};
use crate::state::AppState;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::time::Duration;
use switchyard_actors::Platform;
use switchyard_actors::system::ActorName;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

const DEADLINE: Duration = Duration::from_secs(2);

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "service": "switchyard",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
    }))
}

/// Whether the request may read an operations route.
fn operator(state: &AppState, req: &HttpRequest) -> Result<(), ApiFailure> {
    let token = state.settings.operations.token.trim();
    if token.is_empty() {
        return Ok(());
    }
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &v[7..])
        });
    match presented {
        // Compared as digests, in constant time, like the admin token.
        Some(p) if AdminToken::from_token(token).matches(p) => Ok(()),
        _ => Err(ApiError::OperationsUnauthorized.in_format(ApiFormat::Admin)),
    }
}

async fn ready(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiFailure> {
    operator(&state, &req)?;
    let mut ok = true;
    let store = match tokio::time::timeout(DEADLINE, state.store.records_version()).await {
        Ok(Ok(_)) => json!({"ok": true}),
        Ok(Err(e)) => {
            ok = false;
            json!({"ok": false, "error": e.to_string()})
        }
        Err(_) => {
            ok = false;
            json!({"ok": false, "error": "no answer within 2 s"})
        }
    };
    let mut actors = serde_json::Map::new();
    for actor in ActorName::ALL {
        let answer = match tokio::time::timeout(DEADLINE, state.scheduling.ping(actor)).await {
            Ok(Ok(())) => json!({"ok": true}),
            Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
            Err(_) => json!({"ok": false, "error": "no answer within 2 s"}),
        };
        ok &= answer["ok"] == true;
        actors.insert(actor.as_str().to_owned(), answer);
    }
    let snapshot = state.scheduling.snapshot();
    let now = state.clock.now_ms();
    let mut platforms = serde_json::Map::new();
    for p in Platform::ALL {
        let entries = snapshot.entries(p);
        if entries.is_empty() {
            continue;
        }
        let schedulable = entries
            .iter()
            .filter(|e| e.account.is_enabled() && e.health.active_cooldown(now).is_none())
            .count();
        ok &= schedulable > 0;
        platforms.insert(
            p.as_str().to_owned(),
            json!({"ok": schedulable > 0, "accounts": entries.len(), "schedulable": schedulable}),
        );
    }
    let body: Value = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "components": { "store": store, "actors": actors, "platforms": platforms },
    });
    Ok(if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiFailure> {
    operator(&state, &req)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(
        state
            .metrics
            .render(&state.scheduling, state.clock.now_ms())
            .await,
    ))
}
