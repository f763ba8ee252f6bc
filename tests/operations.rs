//! Operating switchyard: health and readiness, Prometheus metrics after known traffic, and a
//! `request-id` on every answer.
mod support;

use mock_upstream::Fault;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use support::*;
use switchyard::settings::StoreSettings;
use switchyard_actors::system::ActorName;

/// `name{labels} value` lines of the exposition, keyed by the series text.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn series(m: &HashMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with(name) && labels.iter().all(|l| k.contains(l)))
        .map(|(_, v)| *v)
        .sum()
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    parse_metrics(&resp.text().await.unwrap())
}

#[actix_web::test]
async fn health_is_always_up_and_ready_follows_the_pool() {
    let app = spawn_app().await;
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "no platform configured yet is not a failure");
    let v: Value = ready.json().await.unwrap();
    assert_eq!(v["components"]["store"]["ok"], true);
    for actor in ActorName::ALL {
        assert_eq!(v["components"]["actors"][actor.as_str()]["ok"], true, "{v}");
    }
    let id = app.add_console("a", "sk-ant-a").await;
    let v: Value = app
        .http
        .get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["components"]["platforms"]["claude"]["schedulable"], 1);
    app.admin(
        Method::PATCH,
        &format!("/admin/accounts/{id}"),
        Some(json!({"schedulable": false})),
    )
    .await;
    let ready = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        503,
        "a configured platform with nothing schedulable is not ready"
    );
    assert_eq!(
        ready.json::<Value>().await.unwrap()["components"]["platforms"]["claude"]["ok"],
        false
    );
}

#[actix_web::test]
async fn metrics_count_known_traffic() {
    // On the default (embedded) store, whose database operations the store metric counts.
    let dir = tempfile::tempdir().unwrap();
    let store = StoreSettings {
        data_dir: dir.path().to_owned(),
        ..StoreSettings::default()
    };
    let backends = switchyard::store::open_with_env_key(&store, None).await.unwrap();
    let app = spawn_app_on(backends, |_| {}).await;
    app.add_account(json!({"name": "a", "api_key": "sk-ant-a", "priority": 1, "max_concurrency": 5}))
        .await;
    app.add_account(json!({"name": "b", "api_key": "sk-ant-b", "priority": 2}))
        .await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-a",
        Fault::anthropic_error(529, "overloaded_error", "busy"),
    );
    for i in 0..3 {
        let mut body = claude_body(i == 1);
        body["messages"][0]["content"] = json!(format!("conversation {i}"));
        let resp = app.post_messages(&key, &body).await;
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    assert_eq!(
        app.post_messages("cr_bad", &claude_body(false)).await.status(),
        401
    );
    app.state.usage.drain().await.unwrap();
    app.assert_slots_released().await;
    app.state
        .scheduling
        .inject_panic(ActorName::StickySessions)
        .await
        .ok();

    let m = scrape(&app).await;
    assert_eq!(
        series(
            &m,
            "switchyard_requests_total",
            &["route=\"/v1/messages\"", "status=\"200\""]
        ),
        3.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_requests_total",
            &["route=\"/v1/messages\"", "status=\"401\""]
        ),
        1.0
    );
    assert_eq!(
        series(&m, "switchyard_failovers_total", &["platform=\"claude\""]),
        1.0
    );
    assert_eq!(
        series(&m, "switchyard_cooldowns_total", &["reason=\"overload\""]),
        1.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_tokens_total",
            &["class=\"input\"", "model=\"claude-sonnet-5\""]
        ),
        75.0
    );
    assert_eq!(series(&m, "switchyard_tokens_total", &["class=\"output\""]), 36.0);
    // 3 × (25 × $3/M + 12 × $15/M) = 3 × 255 µ$
    assert_eq!(
        series(&m, "switchyard_cost_micro_usd_total", &["platform=\"claude\""]),
        765.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_upstream_ttfb_seconds_count",
            &["platform=\"claude\""]
        ),
        4.0
    );
    assert_eq!(
        series(&m, "switchyard_upstream_seconds_count", &["platform=\"claude\""]),
        3.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_added_latency_seconds_count",
            &["platform=\"claude\""]
        ),
        4.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_accounts",
            &["platform=\"claude\"", "state=\"cooling_down\""]
        ),
        1.0
    );
    assert_eq!(
        series(
            &m,
            "switchyard_accounts",
            &["platform=\"claude\"", "state=\"available\""]
        ),
        1.0
    );
    assert_eq!(series(&m, "switchyard_account_slot_limit", &[]), 5.0);
    assert_eq!(series(&m, "switchyard_account_slots_in_use", &[]), 0.0);
    assert_eq!(
        series(&m, "switchyard_actor_restarts", &["actor=\"StickySessions\""]),
        1.0
    );
    assert!(series(&m, "switchyard_store_operations", &[]) > 0.0);
    assert!(series(&m, "switchyard_actor_messages", &["actor=\"ClaudeScheduler\""]) >= 4.0);
    assert_eq!(series(&m, "switchyard_actor_timeouts", &[]), 0.0);
}

#[actix_web::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    app.add_console("a", "sk-ant-a").await;
    let key = app.key().await;
    let ok = app.post_messages(&key, &claude_body(false)).await;
    let unauth = app.post_messages("cr_x", &claude_body(false)).await;
    let missing = app.http.get(app.url("/nowhere")).send().await.unwrap();
    let admin = app.http.get(app.url("/admin/keys")).send().await.unwrap();
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    let mut ids = std::collections::HashSet::new();
    for resp in [ok, unauth, missing, admin, health] {
        let id = resp
            .headers()
            .get("request-id")
            .expect("request-id header")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("req_") && id.len() == 28, "{id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 5, "each request has its own id");
}
