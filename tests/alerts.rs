//! Account alerts end to end: real relayed requests make the mock upstream refuse (401, 429),
//! the pool decides the account's new state, and a local receiver posing as each channel gets
//! the notification: signed, retried with backoff, deduplicated, then the recovery. Also the
//! chat services' documented payloads, `POST /admin/alerts/test` and `switchyard alert test`.
#[path = "support/redis_server.rs"]
mod redis_server;
mod support;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use mock_upstream::Fault;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{ADMIN_TOKEN, TestApp, claude_body, poll_until, spawn_app_on, spawn_app_with};
use switchyard::alerts::{ChannelSettings, Sensitive};
use switchyard::settings::Settings;

const SECRET: &str = "whsec-test-0123456789";
const KEY_HEX: &str = "3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

#[derive(Default)]
struct ReceiverState {
    deliveries: Mutex<Vec<Delivery>>,
    /// Answer this many requests with 503 before accepting.
    fail_next: Mutex<usize>,
}

/// A webhook receiver on 127.0.0.1 that records every POST and answers as the services do.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    fn fail_next(&self, n: usize) {
        *self.state.fail_next.lock() = n;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().clone()
    }

    /// Deliveries to `path` whose JSON `event` is `event`.
    fn events(&self, path: &str, event: &str) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.path == path && d.json()["event"] == event)
            .collect()
    }

    async fn wait_for(&self, what: &str, cond: impl Fn(&Receiver) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                self.deliveries()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let delivery = Delivery {
        path: req.path().to_owned(),
        query: form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    state.deliveries.lock().push(delivery);
    {
        let mut fail = state.fail_next.lock();
        if *fail > 0 {
            *fail -= 1;
            return HttpResponse::ServiceUnavailable().finish();
        }
    }
    match req.path() {
        "/refuse" => HttpResponse::BadRequest().json(json!({"error": "no"})),
        "/feishu" => HttpResponse::Ok().json(json!({"code": 0, "msg": "success"})),
        "/dingtalk-refuses" => {
            HttpResponse::Ok().json(json!({"errcode": 310000, "errmsg": "sign not match"}))
        }
        "/dingtalk" | "/wecom" => HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok"})),
        p if p.ends_with("/sendMessage") => HttpResponse::Ok().json(json!({"ok": true, "result": {}})),
        _ => HttpResponse::Ok().body("ok"),
    }
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Checks the generic webhook's signature as a receiver would (README, "Alerts").
fn assert_signed(d: &Delivery) {
    let timestamp = &d.headers["x-switchyard-timestamp"];
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(&d.body);
    let expected = format!("sha256={}", hex::encode(hmac(SECRET.as_bytes(), &message)));
    assert_eq!(
        d.headers["x-switchyard-signature"], expected,
        "signature of {d:?}"
    );
    let now = chrono::Utc::now().timestamp();
    let ts: i64 = timestamp.parse().unwrap();
    assert!((now - ts).abs() < 60, "a current timestamp: {ts}");
}

fn webhook(receiver: &Receiver, path: &str) -> ChannelSettings {
    ChannelSettings::Webhook {
        name: None,
        url: Sensitive::new(format!("{}{path}", receiver.url)),
        secret: Sensitive::new(SECRET),
    }
}

/// Fast retries, a long dedup window.
fn alert_settings(s: &mut Settings, channels: Vec<ChannelSettings>) {
    s.alerts.channels = channels;
    s.alerts.retry_initial_ms = 100;
    s.alerts.retry_max_ms = 400;
    s.alerts.max_attempts = 4;
    s.alerts.timeout_ms = 2_000;
    s.alerts.dedup_window_secs = 60;
}

/// A 429 from the mock with `retry-after: 1`: the account rests one second.
fn rate_limited() -> Fault {
    Fault::Status {
        status: 429,
        headers: vec![("retry-after".into(), "1".into())],
        body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#.into(),
    }
}

async fn relay(app: &TestApp, key: &str) -> u16 {
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&claude_body(false))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    resp.bytes().await.unwrap();
    status
}

async fn metric(app: &TestApp, line_start: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_rate_limited_account_alerts_signed_after_retries_then_recovers() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| alert_settings(s, vec![webhook(&receiver, "/hook")])).await;
    let id = app.add_console("primary", "sk-ant-a").await;
    let key = app.key().await;
    // The first two deliveries fail: the third attempt gets through.
    receiver.fail_next(2);
    app.mock.enqueue("sk-ant-a", rate_limited());
    assert_eq!(relay(&app, &key).await, 429);

    receiver
        .wait_for("the usage_limited alert", |r| {
            r.deliveries().len() >= 3 && !r.events("/hook", "usage_limited").is_empty()
        })
        .await;
    let tries = receiver.events("/hook", "usage_limited");
    assert_eq!(tries.len(), 3, "two failures, then the delivery: {tries:#?}");
    // Backoff: 100 ms, then 200 ms (less a little for timer slack).
    assert!(
        tries[1].at - tries[0].at >= Duration::from_millis(90),
        "{tries:#?}"
    );
    assert!(
        tries[2].at - tries[1].at >= Duration::from_millis(190),
        "{tries:#?}"
    );
    let alert = tries[2].json();
    assert_signed(&tries[2]);
    assert_eq!(alert["account"]["id"], id.as_str());
    assert_eq!(alert["account"]["name"], "primary");
    assert_eq!(alert["account"]["platform"], "claude");
    assert_eq!(alert["reason"], "rate_limit");
    assert_eq!(alert["status"], 429);
    assert!(alert["until"].as_i64().unwrap() > alert["at"].as_i64().unwrap());
    assert!(alert["text"].as_str().unwrap().contains("primary"), "{alert}");
    // The key's credential never reaches a channel.
    assert!(!String::from_utf8_lossy(&tries[2].body).contains("sk-ant-a"));

    // The cooldown ends by itself one second later: the recovery follows, signed.
    receiver
        .wait_for("the recovery", |r| !r.events("/hook", "recovered").is_empty())
        .await;
    let recovered = &receiver.events("/hook", "recovered")[0];
    assert_signed(recovered);
    assert!(
        recovered.at - tries[0].at >= Duration::from_millis(700),
        "not before the cooldown ended"
    );
    assert_eq!(relay(&app, &key).await, 200, "the account serves again");
    assert_eq!(
        metric(
            &app,
            "switchyard_alerts_total{channel=\"webhook\",result=\"sent\"}"
        )
        .await,
        2
    );
}

#[actix_web::test]
async fn a_flapping_account_sends_one_alert_per_kind_within_the_window() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| alert_settings(s, vec![webhook(&receiver, "/hook")])).await;
    app.add_console("flappy", "sk-ant-f").await;
    let key = app.key().await;
    for cycle in 0..3 {
        app.mock.enqueue("sk-ant-f", rate_limited());
        assert_eq!(relay(&app, &key).await, 429, "cycle {cycle}");
        // Wait out the one-second cooldown and its recovery.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if relay(&app, &key).await == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "the account recovers");
        }
        // The recovery event is announced once the timer fires.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver
        .wait_for("both kinds", |r| {
            !r.events("/hook", "usage_limited").is_empty() && !r.events("/hook", "recovered").is_empty()
        })
        .await;
    // Give stray deliveries time to arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.events("/hook", "usage_limited").len(),
        1,
        "{:#?}",
        receiver.deliveries()
    );
    assert_eq!(receiver.events("/hook", "recovered").len(), 1);
    assert_eq!(
        metric(
            &app,
            "switchyard_alerts_total{channel=\"webhook\",result=\"suppressed\"}"
        )
        .await,
        4,
        "two more rests and two more recoveries were left out"
    );
}

#[actix_web::test]
async fn a_refused_credential_and_an_operator_disabling_the_account_alert() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| alert_settings(s, vec![webhook(&receiver, "/hook")])).await;
    let id = app.add_console("revoked", "sk-ant-r").await;
    let key = app.key().await;
    app.mock.enqueue(
        "sk-ant-r",
        Fault::anthropic_error(401, "authentication_error", "invalid x-api-key"),
    );
    relay(&app, &key).await;
    receiver
        .wait_for("the auth_failed alert", |r| {
            !r.events("/hook", "auth_failed").is_empty()
        })
        .await;
    let alert = receiver.events("/hook", "auth_failed")[0].json();
    assert_eq!(alert["reason"], "auth_error");
    assert_eq!(alert["status"], 401);
    assert_eq!(alert["account"]["id"], id.as_str());

    let (status, v) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{id}"),
            Some(json!({"schedulable": false})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    receiver
        .wait_for("the disabled alert", |r| {
            !r.events("/hook", "disabled").is_empty()
        })
        .await;
    let alert = receiver.events("/hook", "disabled")[0].json();
    assert_eq!(alert["account"]["name"], "revoked");
    assert_signed(&receiver.events("/hook", "disabled")[0]);
}

/// Every chat channel, posing as the service at the receiver: the documented JSON shapes and
/// signatures, and a per-channel report from `POST /admin/alerts/test`.
#[actix_web::test]
async fn the_test_notification_reaches_every_channel_in_its_documented_form() {
    let receiver = Receiver::start();
    let u = |p: &str| Sensitive::new(format!("{}{p}", receiver.url));
    let channels = vec![
        webhook(&receiver, "/hook"),
        ChannelSettings::Slack {
            name: None,
            url: u("/slack"),
        },
        ChannelSettings::Discord {
            name: None,
            url: u("/discord"),
        },
        ChannelSettings::Telegram {
            name: None,
            bot_token: Sensitive::new("123456:bot-secret-token"),
            chat_id: "-100777".into(),
            api_base_url: receiver.url.clone(),
        },
        ChannelSettings::Feishu {
            name: None,
            url: u("/feishu"),
            secret: Some(Sensitive::new("feishu-secret")),
        },
        ChannelSettings::Dingtalk {
            name: None,
            url: u("/dingtalk?access_token=tok"),
            secret: Some(Sensitive::new("SECdingtalk")),
        },
        ChannelSettings::Wecom {
            name: None,
            url: u("/wecom"),
        },
        ChannelSettings::Slack {
            name: Some("broken".into()),
            url: u("/refuse"),
        },
        ChannelSettings::Dingtalk {
            name: Some("unsigned".into()),
            url: u("/dingtalk-refuses"),
            secret: None,
        },
    ];
    let app = spawn_app_with(|s| alert_settings(s, channels)).await;
    let (status, v) = app
        .admin(reqwest::Method::POST, "/admin/alerts/test", Some(json!({})))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], false, "two channels fail: {v}");
    let report: HashMap<String, Value> = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["channel"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    for ok in [
        "webhook", "slack", "discord", "telegram", "feishu", "dingtalk", "wecom",
    ] {
        assert_eq!(report[ok]["ok"], true, "{ok}: {v}");
    }
    assert_eq!(report["broken"]["error"], "the channel answered HTTP 400");
    assert_eq!(
        report["unsigned"]["error"],
        "the channel refused the message: errcode 310000: sign not match"
    );
    assert!(
        !v.to_string().contains("bot-secret-token"),
        "no secret in the answer: {v}"
    );

    let one = |path: &str| {
        let all: Vec<Delivery> = receiver
            .deliveries()
            .into_iter()
            .filter(|d| d.path == path)
            .collect();
        assert_eq!(all.len(), 1, "one test delivery to {path}");
        all[0].clone()
    };
    let hook = one("/hook");
    assert_signed(&hook);
    assert_eq!(hook.json()["event"], "test");

    let slack = one("/slack").json();
    assert!(
        slack["text"].as_str().unwrap().contains("test notification"),
        "{slack}"
    );
    let discord = one("/discord").json();
    assert!(
        discord["content"].as_str().unwrap().contains("test notification"),
        "{discord}"
    );
    // Telegram: POST {api}/bot<token>/sendMessage with chat_id and text.
    let telegram = one("/bot123456:bot-secret-token/sendMessage").json();
    assert_eq!(telegram["chat_id"], "-100777");
    assert!(telegram["text"].is_string());

    // Feishu: msg_type text, timestamp (seconds, a string) and sign = base64(HMAC-SHA256 with
    // key "timestamp\nsecret" over nothing).
    let feishu = one("/feishu").json();
    assert_eq!(feishu["msg_type"], "text");
    assert!(feishu["content"]["text"].is_string());
    let ts = feishu["timestamp"].as_str().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 60);
    assert_eq!(
        feishu["sign"],
        STANDARD.encode(hmac(format!("{ts}\nfeishu-secret").as_bytes(), b""))
    );

    // DingTalk: msgtype text; timestamp (ms) and sign = base64(HMAC-SHA256 of
    // "timestamp\nsecret" under the secret) in the query, next to the access token.
    let dingtalk = one("/dingtalk");
    assert_eq!(dingtalk.query["access_token"], "tok");
    let ts = &dingtalk.query["timestamp"];
    assert!((chrono::Utc::now().timestamp_millis() - ts.parse::<i64>().unwrap()).abs() < 60_000);
    assert_eq!(
        dingtalk.query["sign"],
        STANDARD.encode(hmac(b"SECdingtalk", format!("{ts}\nSECdingtalk").as_bytes()))
    );
    let body = dingtalk.json();
    assert_eq!(body["msgtype"], "text");
    assert!(body["text"]["content"].is_string());

    let wecom = one("/wecom").json();
    assert_eq!(wecom["msgtype"], "text");
    assert!(wecom["text"]["content"].as_str().unwrap().contains("switchyard"));

    assert_eq!(
        metric(
            &app,
            "switchyard_alerts_total{channel=\"slack\",result=\"failed\"}"
        )
        .await,
        1
    );
    assert_eq!(
        metric(&app, "switchyard_alerts_total{channel=\"slack\",result=\"sent\"}").await,
        1
    );
}

/// Runs the real binary off the test's thread (the server lives on it).
async fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "--url".into(),
        app.base.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
    ]);
    actix_web::rt::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(&all)
            .env_remove("SWITCHYARD_URL")
            .env_remove("SWITCHYARD_ADMIN_TOKEN")
            .current_dir(std::env::temp_dir())
            .output()
            .expect("binary runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn switchyard_alert_test_reports_each_channel_and_fails_when_one_does() {
    let receiver = Receiver::start();
    let channels = vec![
        webhook(&receiver, "/hook"),
        ChannelSettings::Slack {
            name: Some("ops-slack".into()),
            url: Sensitive::new(format!("{}/slack", receiver.url)),
        },
    ];
    let app = spawn_app_with(|s| alert_settings(s, channels)).await;
    let (code, out, err) = cli(&app, &["alert", "test"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("webhook") && out.contains("ops-slack"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.trim_end().ends_with(" ok")).count(),
        2,
        "{out}"
    );
    assert_eq!(receiver.deliveries().len(), 2);

    // The Slack endpoint is down now: the table says so and the exit code is 1.
    receiver.fail_next(1);
    let (code, out, err) = cli(&app, &["alert", "test"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("error: the channel answered HTTP 503") || out.contains("error:"),
        "{out}"
    );
    assert!(err.contains("1 of 2 alert channels failed"), "{err}");

    let (code, out, _) = cli(&app, &["alert", "test", "--json"]).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["channels"].as_array().unwrap().len(), 2);
}

/// Two instances on one Redis both see an operator disable an account (one from its own
/// reload, the other from its refresh): the store's claim lets exactly one of them send it.
#[actix_web::test]
async fn two_instances_on_one_redis_send_one_alert() {
    use switchyard::settings::{StoreBackend, StoreSettings};
    let server = redis_server::RedisServer::launch();
    let store = StoreSettings {
        backend: StoreBackend::Redis,
        redis_url: server.url(),
        redis_prefix: "alerts:".into(),
        ..StoreSettings::default()
    };
    let receiver = Receiver::start();
    let open = || async {
        switchyard::store::open_with_env_key(&store, Some(KEY_HEX))
            .await
            .expect("store opens")
    };
    let on = |s: &mut Settings| {
        let data_dir = s.store.data_dir.clone();
        s.store = store.clone();
        s.store.data_dir = data_dir;
        s.scheduler.refresh_ms = 50;
        alert_settings(s, vec![webhook(&receiver, "/hook")]);
    };
    let a = spawn_app_on(open().await, on).await;
    let id = a.add_console("shared", "sk-ant-s").await;
    let b = spawn_app_on(open().await, on).await;
    poll_until("B knows the account", || {
        b.state
            .scheduling
            .snapshot()
            .all()
            .any(|e| e.account.id.as_str() == id)
    })
    .await;
    let (status, v) = a
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{id}"),
            Some(json!({"schedulable": false})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    poll_until("B sees it disabled", || {
        b.state
            .scheduling
            .snapshot()
            .all()
            .any(|e| e.account.id.as_str() == id && !e.account.schedulable)
    })
    .await;
    receiver
        .wait_for("the disabled alert", |r| {
            !r.events("/hook", "disabled").is_empty()
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.events("/hook", "disabled").len(),
        1,
        "{:#?}",
        receiver.deliveries()
    );
    let suppressed = metric(
        &a,
        "switchyard_alerts_total{channel=\"webhook\",result=\"suppressed\"}",
    )
    .await
        + metric(
            &b,
            "switchyard_alerts_total{channel=\"webhook\",result=\"suppressed\"}",
        )
        .await;
    assert_eq!(suppressed, 1, "the other instance left it out");
}

/// The dashboard's "send a test alert" button: a signed-in operator's form (with its CSRF token)
/// sends the test notification and the overview says it arrived; the same POST without the
/// token sends nothing.
#[actix_web::test]
async fn the_dashboards_test_button_sends_the_test_alert() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| alert_settings(s, vec![webhook(&receiver, "/hook")])).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(app.url("/dashboard/login"))
        .header("origin", &app.base)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let overview = http
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = &overview[overview.find("id=\"alert-test\"").expect("the button's form")..];
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries its CSRF token")
        .to_owned();
    let press = |fields: Vec<(&'static str, String)>| {
        http.post(app.url("/dashboard/alerts/test"))
            .header("cookie", &cookie)
            .header("origin", &app.base)
            .form(&fields)
            .send()
    };

    let forged = press(vec![]).await.unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token, no alert");
    assert!(receiver.events("/hook", "test").is_empty());

    let pressed = press(vec![("csrf", csrf)]).await.unwrap();
    assert_eq!(pressed.status(), 303);
    let location = pressed.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("notice=test+alert+delivered+to+1+channel"),
        "{location}"
    );
    assert_eq!(receiver.events("/hook", "test").len(), 1);
    let shown = http
        .get(app.url(&location))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains("test alert delivered to 1 channel"),
        "the overview says so"
    );
}
