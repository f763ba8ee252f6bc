//! The contract every backend of [`KeyStore`], [`LimitStore`] and [`UsageStore`] must pass,
//! written once and run against memory, embedded and Redis (`tests/store_memory_records.rs`,
//! `tests/store_embedded.rs`, `tests/store_redis.rs`) through
//! [`records_conformance_tests!`](crate::records_conformance_tests). Limit checks pass their
//! own clock (`now`), so window roll-over is tested at its exact boundary without sleeping.
//! One account check lives here too: the URL fields switchyard's record layer seals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]
use crate::keys::{ApiKey, ClientKind, KeyLimits, KeyPatch, LegacyVerifier, hash_key};
use crate::limits::{Admission, KeyCounters, LimitStore, Refusal, SettleBatch, Settlement, WindowSpec};
use crate::money::Money;
use crate::store::Backends;
use crate::usage::{Dimension, RecentRequest, TokenUsage, UsageBatch, UsageCounters, UsageDelta};
use futures::future::join_all;
use switchyard_actors::clock::Millis;
use switchyard_actors::domain::{AccountId, Binding, KeyBindings, Platform};

/// Instantiates every check for one backend: `$make` is a future of [`Backends`] on a fresh,
/// empty store.
#[macro_export]
macro_rules! records_conformance_tests {
    ($make:expr) => {
        $crate::records_conformance_tests!(@each $make;
            keys_round_trip, key_patches_are_field_level, touch_writes_only_last_used,
            deleting_a_key_drops_its_hash, keys_version_moves_on_every_write,
            legacy_verifiers_round_trip_and_replace_by_name,
            window_counts_requests_and_refuses_without_counting,
            window_rolls_over_when_its_length_has_passed,
            token_limit_takes_precedence_over_window_cost, cost_limits_refuse_in_order,
            settlements_land_in_their_own_window_only, day_and_week_buckets_are_separate,
            money_stays_exact_beyond_double_precision,
            concurrent_admissions_admit_exactly_the_limit,
            concurrent_settlements_add_up_exactly,
            a_settlement_batch_equals_its_settlements_one_by_one,
            a_settlement_batch_counts_once, concurrent_settlement_batches_add_up_exactly,
            usage_adds_up_per_dimension_and_bucket,
            usage_by_lists_one_dimension_and_bucket, recent_requests_are_newest_first_and_capped,
            concurrent_usage_batches_add_up_exactly, a_usage_batch_counts_once,
            raising_counters_restores_them_and_never_lowers,
            sealed_account_urls_round_trip_through_writes_and_patches);
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[actix_rt::test]
            async fn $name() {
                let backends: $crate::store::Backends = $make.await;
                $crate::store::conformance_records::$name(backends).await;
            }
        )*
    };
}

// ---------------------------------------------------------------- accounts

/// `proxy` and `base_url` (sealed at rest, see `record.rs`) read back as written, through a
/// whole write, a patch that changes one and clears the other, and a load of every account.
pub async fn sealed_account_urls_round_trip_through_writes_and_patches(b: Backends) {
    use switchyard_actors::domain::{Account, AccountKind};
    use switchyard_actors::store::AccountPatch;
    let mut a = Account::new("urls-1", AccountKind::ClaudeConsole, 1);
    a.proxy = Some("socks5h://user:pw@127.0.0.1:1080".into());
    a.base_url = Some("https://user:pw@upstream.test/v1".into());
    b.store.put_account(&a).await.unwrap();
    assert_eq!(b.store.get_account(&a.id).await.unwrap(), Some(a.clone()));
    let patch = AccountPatch {
        proxy: Some("http://other:pw2@127.0.0.1:3128".into()),
        base_url: Some(String::new()),
        ..Default::default()
    };
    let patched = b
        .store
        .patch_account(&a.id, &patch)
        .await
        .unwrap()
        .expect("exists");
    let mut want = a.clone();
    patch.apply(&mut want);
    assert_eq!(want.base_url, None);
    assert_eq!(patched, want);
    assert_eq!(b.store.get_account(&a.id).await.unwrap(), Some(want.clone()));
    assert_eq!(b.store.load_accounts().await.unwrap(), vec![want]);
}

// ---------------------------------------------------------------- API keys

fn api_key(id: &str, created_at: Millis) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        name: format!("key {id}"),
        hash: hash_key(&format!("sk-test-{id}")),
        active: true,
        created_at,
        last_used_at: None,
        permissions: Vec::new(),
        concurrency_limit: 0,
        bindings: KeyBindings::default(),
        expires_at: None,
        tags: Vec::new(),
        limits: KeyLimits::default(),
        blocked_models: Vec::new(),
        allowed_clients: Vec::new(),
        activation_days: None,
        activated_at: None,
        cost_multiplier_ppm: crate::keys::UNIT_MULTIPLIER,
        legacy_verifier: None,
        deleted_at: None,
    }
}

/// Every field set to something other than its default (money in whole micro-dollars: key
/// limits are stored as dollar strings, exact to the micro-dollar).
fn full_key(id: &str) -> ApiKey {
    ApiKey {
        last_used_at: Some(1_500),
        permissions: vec![Platform::Claude, Platform::OpenAi],
        concurrency_limit: 3,
        bindings: KeyBindings {
            claude: Some(Binding::Account(AccountId::new("acct-1"))),
            dedicated_fallback: Some(true),
            ..KeyBindings::default()
        },
        expires_at: Some(9_000_000),
        tags: vec!["team-a".into(), "ci".into()],
        limits: KeyLimits {
            window_minutes: 5,
            window_requests: 10,
            window_tokens: 1_000,
            window_cost_usd: Money::from_micros(2_500_000),
            daily_cost_usd: Money::from_micros(10_000_000),
            weekly_cost_usd: Money::from_micros(50_000_000),
            total_cost_usd: Money::from_micros(100_000_001),
            weekly_reset_day: 3,
            weekly_reset_hour: 7,
        },
        blocked_models: vec!["claude-opus-4".into()],
        allowed_clients: vec![ClientKind::ClaudeCode, ClientKind::CodexCli],
        activation_days: Some(30),
        activated_at: Some(1_200),
        cost_multiplier_ppm: 1_250_000,
        legacy_verifier: Some("crs-0123456789abcdef".into()),
        deleted_at: Some(2_000),
        ..api_key(id, 1_000)
    }
}

pub async fn keys_round_trip(b: Backends) {
    let s = &b.keys;
    assert_eq!(s.get_key("nope").await.unwrap(), None);
    assert_eq!(s.key_by_hash(&hash_key("sk-unknown")).await.unwrap(), None);
    assert!(s.list_keys().await.unwrap().is_empty());

    let full = full_key("full");
    s.put_key(&full).await.unwrap();
    assert_eq!(
        s.get_key("full").await.unwrap(),
        Some(full.clone()),
        "every field round-trips"
    );
    assert_eq!(s.key_by_hash(&full.hash).await.unwrap(), Some(full.clone()));

    let (late, early_b, early_a) = (api_key("late", 3_000), api_key("b", 500), api_key("a", 500));
    for k in [&late, &early_b, &early_a] {
        s.put_key(k).await.unwrap();
    }
    let ids: Vec<String> = s.list_keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["a", "b", "full", "late"], "oldest first, then by id");

    // Replacing a key whole with a new secret: the old hash no longer finds it.
    let mut rekeyed = late.clone();
    rekeyed.hash = hash_key("sk-test-rotated");
    rekeyed.name = "rotated".into();
    s.put_key(&rekeyed).await.unwrap();
    assert_eq!(s.key_by_hash(&late.hash).await.unwrap(), None);
    assert_eq!(s.key_by_hash(&rekeyed.hash).await.unwrap(), Some(rekeyed.clone()));
    assert_eq!(s.get_key("late").await.unwrap(), Some(rekeyed));
    assert_eq!(s.list_keys().await.unwrap().len(), 4);
}

pub async fn key_patches_are_field_level(b: Backends) {
    let s = &b.keys;
    let mut want = full_key("p");
    s.put_key(&want).await.unwrap();
    s.touch_key("p", 7_000).await.unwrap();
    want.last_used_at = Some(7_000);

    let patches = [
        KeyPatch {
            name: Some("renamed".into()),
            ..KeyPatch::default()
        },
        KeyPatch {
            active: Some(false),
            expires_at: Some(None),
            activation_days: Some(None),
            ..KeyPatch::default()
        },
        KeyPatch {
            limits: Some(KeyLimits {
                daily_cost_usd: Money::from_micros(1),
                ..KeyLimits::default()
            }),
            tags: Some(Vec::new()),
            allowed_clients: Some(vec![ClientKind::GeminiCli]),
            cost_multiplier_ppm: Some(500_000),
            ..KeyPatch::default()
        },
        KeyPatch {
            expires_at: Some(Some(123_456)),
            activated_at: Some(99),
            permissions: Some(vec![Platform::Gemini]),
            concurrency_limit: Some(9),
            bindings: Some(KeyBindings::default()),
            blocked_models: Some(Vec::new()),
            ..KeyPatch::default()
        },
        KeyPatch::default(),
    ];
    for p in patches {
        p.apply(&mut want);
        let got = s.patch_key("p", &p).await.unwrap();
        assert_eq!(got.as_ref(), Some(&want), "patch answer after {p:?}");
        assert_eq!(
            s.get_key("p").await.unwrap().as_ref(),
            Some(&want),
            "stored after {p:?}"
        );
    }
    assert_eq!(want.last_used_at, Some(7_000), "a patch never rewrites last-used");
    assert_eq!(s.key_by_hash(&want.hash).await.unwrap(), Some(want));

    let ghost = KeyPatch {
        name: Some("ghost".into()),
        ..KeyPatch::default()
    };
    assert_eq!(s.patch_key("missing", &ghost).await.unwrap(), None);
    assert_eq!(
        s.get_key("missing").await.unwrap(),
        None,
        "a patch creates no record"
    );
    assert_eq!(s.list_keys().await.unwrap().len(), 1);
}

pub async fn touch_writes_only_last_used(b: Backends) {
    let s = &b.keys;
    let k = full_key("t");
    s.put_key(&k).await.unwrap();
    let v = s.keys_version().await.unwrap();
    s.touch_key("t", 5_000).await.unwrap();
    s.touch_key("t", 4_000).await.unwrap();
    let mut want = k.clone();
    want.last_used_at = Some(5_000);
    assert_eq!(
        s.get_key("t").await.unwrap(),
        Some(want),
        "the later time wins, nothing else moves"
    );
    s.touch_key("never-created", 1).await.unwrap();
    assert_eq!(
        s.get_key("never-created").await.unwrap(),
        None,
        "no partial record"
    );
    assert_eq!(
        s.keys_version().await.unwrap(),
        v,
        "a recorded use is not a key change other instances must reload for"
    );
    // Several keys in one call, an unknown one among them, each keeping its later time.
    s.put_key(&full_key("u")).await.unwrap();
    s.touch_keys(&[("t".into(), 4_500), ("ghost".into(), 9), ("u".into(), 6_000)])
        .await
        .unwrap();
    let last = |id: &'static str| async move { s.get_key(id).await.unwrap().unwrap().last_used_at };
    assert_eq!((last("t").await, last("u").await), (Some(5_000), Some(6_000)));
    assert_eq!(s.get_key("ghost").await.unwrap(), None);
}

pub async fn deleting_a_key_drops_its_hash(b: Backends) {
    let s = &b.keys;
    let (k, other) = (api_key("d", 1), api_key("e", 2));
    s.put_key(&k).await.unwrap();
    s.put_key(&other).await.unwrap();
    assert!(s.delete_key("d").await.unwrap());
    assert_eq!(s.get_key("d").await.unwrap(), None);
    assert_eq!(s.key_by_hash(&k.hash).await.unwrap(), None);
    assert_eq!(s.list_keys().await.unwrap(), vec![other.clone()]);
    assert!(!s.delete_key("d").await.unwrap(), "a second delete finds nothing");
    assert_eq!(s.key_by_hash(&other.hash).await.unwrap(), Some(other));
}

/// Verifiers come back with their secret, one per name (a second put of a name replaces it),
/// and a put moves the keys version (other instances reload them).
pub async fn legacy_verifiers_round_trip_and_replace_by_name(b: Backends) {
    let s = &b.keys;
    assert_eq!(s.legacy_verifiers().await.unwrap(), Vec::new());
    let a = LegacyVerifier::for_crs("first-installation-key");
    let z = LegacyVerifier::for_crs("second-installation-key");
    let v0 = s.keys_version().await.unwrap();
    s.put_legacy_verifier(&a).await.unwrap();
    assert_ne!(
        s.keys_version().await.unwrap(),
        v0,
        "a verifier write moves the keys version"
    );
    s.put_legacy_verifier(&z).await.unwrap();
    s.put_legacy_verifier(&a).await.unwrap();
    let mut got = s.legacy_verifiers().await.unwrap();
    got.sort_by(|x, y| x.name.cmp(&y.name));
    let mut want = vec![a, z];
    want.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(got, want);
}

pub async fn keys_version_moves_on_every_write(b: Backends) {
    let s = &b.keys;
    let v0 = s.keys_version().await.unwrap();
    s.put_key(&api_key("v", 1)).await.unwrap();
    let v1 = s.keys_version().await.unwrap();
    assert_ne!(v1, v0, "put_key moves the keys version");
    let p = KeyPatch {
        active: Some(false),
        ..KeyPatch::default()
    };
    s.patch_key("v", &p).await.unwrap();
    let v2 = s.keys_version().await.unwrap();
    assert_ne!(v2, v1, "patch_key moves the keys version");
    s.get_key("v").await.unwrap();
    s.key_by_hash(&api_key("v", 1).hash).await.unwrap();
    s.list_keys().await.unwrap();
    assert_eq!(s.keys_version().await.unwrap(), v2, "reads move nothing");
    assert!(s.delete_key("v").await.unwrap());
    assert_ne!(
        s.keys_version().await.unwrap(),
        v2,
        "delete_key moves the keys version"
    );
}

// ---------------------------------------------------------------- limit counters

const T0: Millis = 1_700_000_000_000;
const DAY: &str = "2026-11-27";
const WEEK: &str = "2026-11-23";

fn usd(dollars: u64) -> Money {
    Money::from_micros(dollars * 1_000_000)
}

fn window(length_ms: i64, max_requests: u64, max_tokens: u64, max_cost: Money) -> Option<WindowSpec> {
    Some(WindowSpec {
        length_ms,
        max_requests,
        max_tokens,
        max_cost,
    })
}

/// An admission with no cost limits.
fn adm<'a>(key_id: &'a str, now: Millis, window: Option<WindowSpec>) -> Admission<'a> {
    Admission {
        key_id,
        now,
        window,
        day: DAY,
        week: WEEK,
        max_daily: Money::ZERO,
        max_total: Money::ZERO,
        max_weekly: Money::ZERO,
    }
}

fn settlement(key_id: &str, window_start: Option<Millis>, tokens: u64, cost: Money) -> Settlement {
    Settlement {
        key_id: key_id.to_owned(),
        window_start,
        tokens,
        cost,
        day: DAY.to_owned(),
        week: WEEK.to_owned(),
    }
}

async fn admit(l: &dyn LimitStore, a: &Admission<'_>) -> Result<Option<Millis>, Refusal> {
    l.admit(a).await.expect("admit answers")
}

async fn counters(l: &dyn LimitStore, key: &str, now: Millis, window_ms: i64) -> KeyCounters {
    l.counters(key, now, window_ms, DAY, WEEK).await.unwrap()
}

pub async fn window_counts_requests_and_refuses_without_counting(b: Backends) {
    let l = &*b.limits;
    assert_eq!(counters(l, "w", T0, 60_000).await, KeyCounters::default());
    let w = window(60_000, 3, 0, Money::ZERO);
    for i in 0..3 {
        assert_eq!(admit(l, &adm("w", T0 + i, w)).await, Ok(Some(T0)));
    }
    let refused = Err(Refusal::Requests {
        current: 3,
        limit: 3,
        reset_at: T0 + 60_000,
    });
    assert_eq!(admit(l, &adm("w", T0 + 10, w)).await, refused);
    assert_eq!(
        admit(l, &adm("w", T0 + 20, w)).await,
        refused,
        "refusals count nothing"
    );
    let c = counters(l, "w", T0 + 30, 60_000).await;
    assert_eq!((c.window_start, c.window_requests), (Some(T0), 3));
    // Without a window the request is not counted in one.
    assert_eq!(admit(l, &adm("w", T0 + 40, None)).await, Ok(None));
    assert_eq!(counters(l, "w", T0 + 50, 60_000).await.window_requests, 3);
    assert_eq!(
        counters(l, "w", T0 + 50, 0).await.window_start,
        None,
        "no window, no counters"
    );
}

pub async fn window_rolls_over_when_its_length_has_passed(b: Backends) {
    let l = &*b.limits;
    let w = window(100, 1, 0, Money::ZERO);
    assert_eq!(admit(l, &adm("r", T0, w)).await, Ok(Some(T0)));
    assert!(
        admit(l, &adm("r", T0 + 99, w)).await.is_err(),
        "99 ms in: same window"
    );
    assert_eq!(
        admit(l, &adm("r", T0 + 100, w)).await,
        Ok(Some(T0 + 100)),
        "now - start >= length: a new window"
    );
    let c = counters(l, "r", T0 + 150, 100).await;
    assert_eq!((c.window_start, c.window_requests), (Some(T0 + 100), 1));
    let ended = counters(l, "r", T0 + 200, 100).await;
    assert_eq!(
        (ended.window_start, ended.window_requests),
        (None, 0),
        "an ended window reads as empty"
    );
    // A window that rolls on a request refused for another reason still rolls.
    l.settle(&settlement("r", None, 0, usd(1))).await.unwrap();
    let mut a = adm("r", T0 + 300, w);
    a.max_total = usd(1);
    assert!(matches!(admit(l, &a).await, Err(Refusal::Total { .. })));
    let c = counters(l, "r", T0 + 301, 100).await;
    assert_eq!((c.window_start, c.window_requests), (Some(T0 + 300), 0));
}

pub async fn token_limit_takes_precedence_over_window_cost(b: Backends) {
    let l = &*b.limits;
    let both = window(60_000, 0, 100, usd(1));
    let start = admit(l, &adm("tok", T0, both)).await.unwrap();
    l.settle(&settlement("tok", start, 50, usd(2))).await.unwrap();
    assert_eq!(
        admit(l, &adm("tok", T0 + 1, both)).await,
        Ok(Some(T0)),
        "with a token limit the window cost is not checked"
    );
    l.settle(&settlement("tok", start, 60, Money::ZERO))
        .await
        .unwrap();
    assert_eq!(
        admit(l, &adm("tok", T0 + 2, both)).await,
        Err(Refusal::Tokens {
            current: 110,
            limit: 100,
            reset_at: T0 + 60_000
        })
    );

    let cost_only = window(60_000, 0, 0, usd(1));
    let start = admit(l, &adm("cost", T0, cost_only)).await.unwrap();
    l.settle(&settlement("cost", start, 5, Money::from_picos(999_999_999_999)))
        .await
        .unwrap();
    assert_eq!(admit(l, &adm("cost", T0 + 1, cost_only)).await, Ok(Some(T0)));
    l.settle(&settlement("cost", start, 5, Money::from_picos(1)))
        .await
        .unwrap();
    assert_eq!(
        admit(l, &adm("cost", T0 + 2, cost_only)).await,
        Err(Refusal::WindowCost {
            current: usd(1),
            limit: usd(1),
            reset_at: T0 + 60_000
        })
    );
    let c = counters(l, "cost", T0 + 3, 60_000).await;
    assert_eq!(
        (c.window_requests, c.window_tokens, c.window_cost),
        (2, 10, usd(1))
    );
}

pub async fn cost_limits_refuse_in_order(b: Backends) {
    let l = &*b.limits;
    l.settle(&settlement("c", None, 10, usd(2))).await.unwrap();
    let limited = |daily: u64, total: u64, weekly: u64| Admission {
        max_daily: usd(daily),
        max_total: usd(total),
        max_weekly: usd(weekly),
        ..adm("c", T0, window(60_000, 10, 0, Money::ZERO))
    };
    assert_eq!(
        admit(l, &limited(2, 2, 2)).await,
        Err(Refusal::Daily {
            current: usd(2),
            limit: usd(2)
        }),
        "daily first"
    );
    assert_eq!(
        admit(l, &limited(3, 2, 2)).await,
        Err(Refusal::Total {
            current: usd(2),
            limit: usd(2)
        }),
        "then total"
    );
    assert_eq!(
        admit(l, &limited(0, 0, 2)).await,
        Err(Refusal::Weekly {
            current: usd(2),
            limit: usd(2)
        }),
        "then weekly"
    );
    let c = counters(l, "c", T0, 60_000).await;
    assert_eq!(c.window_requests, 0, "cost refusals count nothing in the window");
    assert_eq!(
        admit(l, &limited(3, 3, 3)).await,
        Ok(Some(T0)),
        "under every limit"
    );
    let c = counters(l, "c", T0, 60_000).await;
    assert_eq!(
        (c.window_requests, c.daily_cost, c.weekly_cost, c.total_cost),
        (1, usd(2), usd(2), usd(2))
    );
}

pub async fn settlements_land_in_their_own_window_only(b: Backends) {
    let l = &*b.limits;
    let w = window(100, 0, 1_000, Money::ZERO);
    let first = admit(l, &adm("s", T0, w)).await.unwrap();
    let second = admit(l, &adm("s", T0 + 100, w)).await.unwrap();
    assert_eq!((first, second), (Some(T0), Some(T0 + 100)));
    l.settle(&settlement("s", first, 7, usd(3))).await.unwrap();
    let c = counters(l, "s", T0 + 150, 100).await;
    assert_eq!(
        (
            c.window_tokens,
            c.window_cost,
            c.total_cost,
            c.daily_cost,
            c.weekly_cost
        ),
        (0, Money::ZERO, usd(3), usd(3), usd(3)),
        "a late settlement of an ended window counts in the totals only"
    );
    l.settle(&settlement("s", second, 11, usd(4))).await.unwrap();
    l.settle(&settlement("s", None, 13, usd(5))).await.unwrap();
    let c = counters(l, "s", T0 + 150, 100).await;
    assert_eq!(
        (c.window_requests, c.window_tokens, c.window_cost, c.total_cost),
        (1, 11, usd(4), usd(12))
    );
}

pub async fn day_and_week_buckets_are_separate(b: Backends) {
    let l = &*b.limits;
    let at = |day: &str, week: &str, dollars: u64| Settlement {
        day: day.to_owned(),
        week: week.to_owned(),
        ..settlement("dw", None, 1, usd(dollars))
    };
    l.settle(&at("2026-11-25", "2026-11-23", 1)).await.unwrap();
    l.settle(&at("2026-11-26", "2026-11-23", 2)).await.unwrap();
    l.settle(&at("2026-12-01", "2026-11-30", 4)).await.unwrap();
    let read = |day: &'static str, week: &'static str| async move {
        let c = l.counters("dw", T0, 0, day, week).await.unwrap();
        (c.daily_cost, c.weekly_cost, c.total_cost)
    };
    assert_eq!(read("2026-11-25", "2026-11-23").await, (usd(1), usd(3), usd(7)));
    assert_eq!(read("2026-11-26", "2026-11-30").await, (usd(2), usd(4), usd(7)));
    assert_eq!(
        read("2026-12-02", "2026-12-07").await,
        (Money::ZERO, Money::ZERO, usd(7))
    );
    fn on<'a>(day: &'a str, week: &'a str) -> Admission<'a> {
        Admission {
            day,
            week,
            max_daily: usd(2),
            max_weekly: usd(4),
            ..adm("dw", T0, None)
        }
    }
    assert_eq!(admit(l, &on("2026-11-25", "2026-11-16")).await, Ok(None));
    assert!(matches!(
        admit(l, &on("2026-11-26", "2026-11-16")).await,
        Err(Refusal::Daily { .. })
    ));
    assert!(matches!(
        admit(l, &on("2026-11-27", "2026-11-30")).await,
        Err(Refusal::Weekly { .. })
    ));
}

pub async fn money_stays_exact_beyond_double_precision(b: Backends) {
    let l = &*b.limits;
    // 2^53 picodollars (≈ $9,007): the first integer a double cannot tell from its successor.
    let edge = Money::from_picos(1 << 53);
    l.settle(&settlement("big", None, 0, edge)).await.unwrap();
    assert_eq!(counters(l, "big", T0, 0).await.total_cost, edge);
    let under = Admission {
        max_total: Money::from_picos((1 << 53) + 1),
        ..adm("big", T0, None)
    };
    assert_eq!(admit(l, &under).await, Ok(None), "2^53 < 2^53 + 1");
    l.settle(&settlement("big", None, 0, Money::from_picos(1)))
        .await
        .unwrap();
    assert_eq!(
        admit(l, &under).await,
        Err(Refusal::Total {
            current: Money::from_picos((1 << 53) + 1),
            limit: Money::from_picos((1 << 53) + 1)
        })
    );
}

pub async fn concurrent_admissions_admit_exactly_the_limit(b: Backends) {
    let l = &b.limits;
    let w = window(3_600_000, 600, 0, Money::ZERO);
    let answers = join_all((0..1_000).map(|_| {
        let l = l.clone();
        async move { l.admit(&adm("busy", T0, w)).await.expect("admit answers") }
    }))
    .await;
    let admitted = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(admitted, 600, "exactly the window limit is admitted");
    assert!(answers.iter().all(|a| match a {
        Ok(start) => *start == Some(T0),
        Err(r) => matches!(
            r,
            Refusal::Requests {
                current: 600,
                limit: 600,
                ..
            }
        ),
    }));
    assert_eq!(
        counters(&**l, "busy", T0 + 1_000, 3_600_000)
            .await
            .window_requests,
        600
    );
}

pub async fn concurrent_settlements_add_up_exactly(b: Backends) {
    let l = &b.limits;
    let w = window(3_600_000, 0, 0, usd(1_000_000));
    let start = admit(&**l, &adm("sum", T0, w)).await.unwrap();
    let cost = Money::from_picos(12_345_678_901_234); // ≈ $12.35, not a whole micro-dollar
    join_all((0..1_000).map(|_| {
        let l = l.clone();
        async move {
            l.settle(&settlement("sum", start, 1_234, cost))
                .await
                .expect("settle")
        }
    }))
    .await;
    let c = counters(&**l, "sum", T0 + 1, 3_600_000).await;
    let total = Money::from_picos(12_345_678_901_234_000);
    assert_eq!(c.window_tokens, 1_234_000);
    assert_eq!(
        (c.window_cost, c.daily_cost, c.weekly_cost, c.total_cost),
        (total, total, total, total),
        "every picodollar counted once"
    );
}

/// Every day and week bucket a key's settlements can land in, with the totals.
async fn all_counters(l: &dyn LimitStore, key: &str) -> Vec<KeyCounters> {
    let mut out = Vec::new();
    for (day, week) in [
        ("2026-11-27", "2026-11-23"),
        ("2026-11-28", "2026-11-23"),
        ("2026-11-30", "2026-11-30"),
    ] {
        out.push(l.counters(key, T0 + 150, 100, day, week).await.unwrap());
    }
    out
}

/// A mixed batch over two keys: the current window, an ended one, no window; three days and
/// two weeks; two keys interleaved.
fn mixed_batch(a: &str, b: &str, windows: (Option<Millis>, Option<Millis>)) -> Vec<Settlement> {
    let (old, current) = windows;
    let on = |key: &str, start, tokens, cost: Money, day: &str, week: &str| Settlement {
        day: day.to_owned(),
        week: week.to_owned(),
        ..settlement(key, start, tokens, cost)
    };
    vec![
        on(a, current, 10, usd(1), "2026-11-27", "2026-11-23"),
        on(b, None, 3, Money::from_picos(7), "2026-11-27", "2026-11-23"),
        on(a, old, 20, usd(2), "2026-11-27", "2026-11-23"),
        on(
            a,
            current,
            30,
            Money::from_picos(4_000_000_000_001),
            "2026-11-28",
            "2026-11-23",
        ),
        on(a, None, 40, usd(8), "2026-11-30", "2026-11-30"),
        on(b, None, 5, usd(16), "2026-11-30", "2026-11-30"),
        on(a, current, 50, usd(32), "2026-11-30", "2026-11-30"),
    ]
}

pub async fn a_settlement_batch_equals_its_settlements_one_by_one(b: Backends) {
    let l = &*b.limits;
    let w = window(100, 0, 1_000_000, Money::ZERO);
    let mut starts = Vec::new();
    for key in ["one-a", "many-a"] {
        let old = admit(l, &adm(key, T0, w)).await.unwrap();
        let current = admit(l, &adm(key, T0 + 100, w)).await.unwrap();
        starts.push((old, current));
    }
    for s in mixed_batch("one-a", "one-b", starts[0]) {
        l.settle(&s).await.unwrap();
    }
    l.settle_many(&SettleBatch::new(mixed_batch("many-a", "many-b", starts[1])))
        .await
        .unwrap();
    for (one, many) in [("one-a", "many-a"), ("one-b", "many-b")] {
        let want = all_counters(l, one).await;
        assert_eq!(all_counters(l, many).await, want, "{many}");
        assert!(want.iter().all(|c| c.total_cost > Money::ZERO));
    }
    let a = all_counters(l, "many-a").await;
    assert_eq!(
        (a[0].window_tokens, a[0].window_cost),
        (90, usd(33) + Money::from_picos(4_000_000_000_001)),
        "only the current window's settlements count in it"
    );
    l.settle_many(&SettleBatch::new(Vec::new())).await.unwrap();
}

pub async fn a_settlement_batch_counts_once(b: Backends) {
    let l = &b.limits;
    let w = window(100, 0, 1_000_000, Money::ZERO);
    let old = admit(&**l, &adm("once-a", T0, w)).await.unwrap();
    let current = admit(&**l, &adm("once-a", T0 + 100, w)).await.unwrap();
    let batch = SettleBatch::new(mixed_batch("once-a", "once-b", (old, current)));
    l.settle_many(&batch).await.unwrap();
    let want = (
        all_counters(&**l, "once-a").await,
        all_counters(&**l, "once-b").await,
    );
    // Sent again (a lost answer), also several times at once: nothing changes.
    l.settle_many(&batch).await.unwrap();
    join_all((0..5).map(|_| {
        let (l, batch) = (l.clone(), batch.clone());
        async move { l.settle_many(&batch).await.expect("settle_many") }
    }))
    .await;
    let got = (
        all_counters(&**l, "once-a").await,
        all_counters(&**l, "once-b").await,
    );
    assert_eq!(got, want, "a batch id is applied once");
    // The same settlements under a new id are a new batch.
    l.settle_many(&SettleBatch::new(batch.settlements.clone()))
        .await
        .unwrap();
    let again = all_counters(&**l, "once-b").await;
    assert_eq!(again[0].total_cost, want.1[0].total_cost + want.1[0].total_cost);
}

pub async fn concurrent_settlement_batches_add_up_exactly(b: Backends) {
    let l = &b.limits;
    let w = window(3_600_000, 0, 0, usd(1_000_000));
    let start = admit(&**l, &adm("bsum", T0, w)).await.unwrap();
    let cost = Money::from_picos(12_345_678_901_234);
    let batches: Vec<SettleBatch> = (0..100)
        .map(|i| {
            SettleBatch::new(
                (0..10)
                    .map(|j| {
                        settlement(
                            if (i + j) % 3 == 0 { "bsum-2" } else { "bsum" },
                            start,
                            1_234,
                            cost,
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    // Every batch twice, all at once: each counts once.
    join_all(batches.iter().chain(&batches).map(|batch| {
        let l = l.clone();
        async move { l.settle_many(batch).await.expect("settle_many") }
    }))
    .await;
    let one = counters(&**l, "bsum", T0 + 1, 3_600_000).await;
    let two = counters(&**l, "bsum-2", T0 + 1, 3_600_000).await;
    let to_two = (0..100u64)
        .flat_map(|i| (0..10).map(move |j| (i + j) % 3 == 0))
        .filter(|two| *two)
        .count() as u64;
    let total = Money::from_picos(cost.picos() * (1_000 - to_two));
    assert_eq!(one.window_tokens, 1_234 * (1_000 - to_two));
    assert_eq!(
        (one.window_cost, one.daily_cost, one.weekly_cost, one.total_cost),
        (total, total, total, total),
        "every picodollar counted once"
    );
    assert_eq!(two.total_cost, Money::from_picos(cost.picos() * to_two));
    assert_eq!(two.window_tokens, 0, "bsum-2 has no window");
}

// ---------------------------------------------------------------- usage

fn uc(requests: u64, base: u64) -> UsageCounters {
    UsageCounters {
        requests,
        input_tokens: base,
        output_tokens: base + 1,
        cache_creation_5m_tokens: base + 2,
        cache_creation_1h_tokens: base + 3,
        cache_read_tokens: base + 4,
        cost: Money::from_picos(base * 1_000_003),
        rated_cost: Money::from_picos(base * 2_000_007),
    }
}

fn delta(dimension: Dimension, id: &str, bucket: &str, c: UsageCounters) -> UsageDelta {
    UsageDelta {
        dimension,
        id: id.to_owned(),
        bucket: bucket.to_owned(),
        counters: c,
    }
}

/// The deltas as a batch under a fresh id.
fn fresh(deltas: &[UsageDelta]) -> UsageBatch {
    UsageBatch::new(deltas.to_vec())
}

fn times(c: UsageCounters, n: u64) -> UsageCounters {
    let mut out = UsageCounters::default();
    for _ in 0..n {
        out.add(&c);
    }
    out
}

/// Dated bucket names around now (UTC). Buckets of a fixed date age past the retention pass
/// (hourly rows go after 7 days), which may run in the middle of a test and remove what it wrote.
struct Recent {
    day: String,
    next_day: String,
    hour: String,
    month: String,
}

impl Recent {
    fn now() -> Self {
        let now = chrono::Utc::now();
        let tomorrow = now + chrono::Duration::days(1);
        Recent {
            day: now.format("d:%Y-%m-%d").to_string(),
            next_day: tomorrow.format("d:%Y-%m-%d").to_string(),
            hour: now.format("h:%Y-%m-%dT%H").to_string(),
            month: now.format("m:%Y-%m").to_string(),
        }
    }
}

pub async fn usage_adds_up_per_dimension_and_bucket(b: Backends) {
    let r = Recent::now();
    let u = &b.usage;
    assert_eq!(
        u.usage_of(Dimension::Key, "k", "total").await.unwrap(),
        UsageCounters::default()
    );
    u.add_usage(&fresh(&[])).await.unwrap();
    let one = uc(1, 100);
    let batch = [
        delta(Dimension::Key, "k", "total", one),
        delta(Dimension::Key, "k", &r.day, one),
        delta(Dimension::Key, "k", &r.hour, one),
        delta(Dimension::Key, "k", &r.month, one),
        delta(Dimension::Account, "acct", "total", uc(2, 7)),
        delta(Dimension::Model, "claude-sonnet-5", "total", uc(3, 9)),
    ];
    u.add_usage(&fresh(&batch)).await.unwrap();
    u.add_usage(&fresh(&batch[..1])).await.unwrap();
    assert_eq!(
        u.usage_of(Dimension::Key, "k", "total").await.unwrap(),
        times(one, 2)
    );
    for bucket in [&r.day, &r.hour, &r.month] {
        assert_eq!(
            u.usage_of(Dimension::Key, "k", bucket).await.unwrap(),
            one,
            "{bucket}"
        );
    }
    assert_eq!(
        u.usage_of(Dimension::Account, "acct", "total").await.unwrap(),
        uc(2, 7)
    );
    assert_eq!(
        u.usage_of(Dimension::Model, "claude-sonnet-5", "total")
            .await
            .unwrap(),
        uc(3, 9)
    );
    assert_eq!(
        u.usage_of(Dimension::Account, "k", "total").await.unwrap(),
        UsageCounters::default(),
        "dimensions are separate"
    );
    // Beyond a double's precision, still exact.
    let huge = UsageCounters {
        cost: Money::from_picos((1 << 53) + 1),
        ..UsageCounters::default()
    };
    u.add_usage(&fresh(&[delta(Dimension::Key, "big", "total", huge)]))
        .await
        .unwrap();
    u.add_usage(&fresh(&[delta(Dimension::Key, "big", "total", huge)]))
        .await
        .unwrap();
    assert_eq!(
        u.usage_of(Dimension::Key, "big", "total").await.unwrap().cost,
        Money::from_picos((1 << 54) + 2)
    );
}

pub async fn usage_by_lists_one_dimension_and_bucket(b: Backends) {
    let r = Recent::now();
    let u = &b.usage;
    assert!(u.usage_by(Dimension::Key, &r.day).await.unwrap().is_empty());
    u.add_usage(&fresh(&[
        delta(Dimension::Key, "k2", &r.day, uc(2, 20)),
        delta(Dimension::Key, "k1", &r.day, uc(1, 10)),
        delta(Dimension::Key, "k3", &r.next_day, uc(3, 30)),
        delta(Dimension::Account, "a1", &r.day, uc(4, 40)),
        delta(Dimension::Key, "k1", "total", uc(5, 50)),
    ]))
    .await
    .unwrap();
    u.add_usage(&fresh(&[delta(Dimension::Key, "k1", &r.day, uc(1, 10))]))
        .await
        .unwrap();
    assert_eq!(
        u.usage_by(Dimension::Key, &r.day).await.unwrap(),
        vec![
            ("k1".to_owned(), times(uc(1, 10), 2)),
            ("k2".to_owned(), uc(2, 20))
        ]
    );
    assert_eq!(
        u.usage_by(Dimension::Account, &r.day).await.unwrap(),
        vec![("a1".to_owned(), uc(4, 40))]
    );
    assert_eq!(
        u.usage_by(Dimension::Key, &r.next_day).await.unwrap(),
        vec![("k3".to_owned(), uc(3, 30))]
    );
    assert!(u.usage_by(Dimension::Model, &r.day).await.unwrap().is_empty());
}

fn recent_request(n: u64) -> RecentRequest {
    RecentRequest {
        at: T0 + n as i64,
        account_id: format!("acct-{n}"),
        model: "claude-sonnet-5".into(),
        usage: TokenUsage {
            input_tokens: n,
            output_tokens: n + 1,
            cache_creation_5m_tokens: 0,
            cache_creation_1h_tokens: 2,
            cache_read_tokens: 3,
        },
        cost: Money::from_picos(n * 1_000_001),
        rated_cost: Money::from_picos(n * 2_000_001),
        client_disconnected: n.is_multiple_of(2),
    }
}

pub async fn recent_requests_are_newest_first_and_capped(b: Backends) {
    let u = &b.usage;
    assert!(u.recent("k", 10).await.unwrap().is_empty());
    let r: Vec<RecentRequest> = (1..=6).map(recent_request).collect();
    u.push_recent("k", &r[..3], 4).await.unwrap();
    assert_eq!(
        u.recent("k", 10).await.unwrap(),
        vec![r[2].clone(), r[1].clone(), r[0].clone()]
    );
    u.push_recent("k", &r[3..], 4).await.unwrap();
    assert_eq!(
        u.recent("k", 10).await.unwrap(),
        vec![r[5].clone(), r[4].clone(), r[3].clone(), r[2].clone()],
        "the newest 4 are kept"
    );
    assert_eq!(u.recent("k", 2).await.unwrap(), vec![r[5].clone(), r[4].clone()]);
    assert!(u.recent("k", 0).await.unwrap().is_empty());
    assert!(u.recent("other", 10).await.unwrap().is_empty());
    u.push_recent("k", &r[..1], 2).await.unwrap();
    assert_eq!(u.recent("k", 10).await.unwrap(), vec![r[0].clone(), r[5].clone()]);
}

pub async fn concurrent_usage_batches_add_up_exactly(b: Backends) {
    let r = Recent::now();
    let u = &b.usage;
    let one = uc(1, 12_345);
    join_all((0..1_000).map(|_| {
        let u = u.clone();
        let (day, hour) = (r.day.clone(), r.hour.clone());
        async move {
            u.add_usage(&fresh(&[
                delta(Dimension::Key, "hot", "total", one),
                delta(Dimension::Model, "m", &day, one),
                delta(Dimension::Account, "a", &hour, one),
            ]))
            .await
            .expect("add_usage")
        }
    }))
    .await;
    let want = times(one, 1_000);
    assert_eq!(want.rated_cost, Money::from_picos(12_345 * 2_000_007 * 1_000));
    assert_eq!(u.usage_of(Dimension::Key, "hot", "total").await.unwrap(), want);
    assert_eq!(u.usage_of(Dimension::Model, "m", &r.day).await.unwrap(), want);
    assert_eq!(u.usage_of(Dimension::Account, "a", &r.hour).await.unwrap(), want);
}

pub async fn a_usage_batch_counts_once(b: Backends) {
    let r = Recent::now();
    let u = &b.usage;
    let one = uc(1, 321);
    let batch = fresh(&[
        delta(Dimension::Key, "dup", "total", one),
        delta(Dimension::Key, "dup", &r.hour, one),
        delta(Dimension::Model, "dup-model", &r.day, one),
    ]);
    u.add_usage(&batch).await.unwrap();
    // Sent again (a lost answer), also several times at once: counted once.
    u.add_usage(&batch).await.unwrap();
    join_all((0..5).map(|_| {
        let (u, batch) = (u.clone(), batch.clone());
        async move { u.add_usage(&batch).await.expect("add_usage") }
    }))
    .await;
    assert_eq!(u.usage_of(Dimension::Key, "dup", "total").await.unwrap(), one);
    assert_eq!(u.usage_of(Dimension::Key, "dup", &r.hour).await.unwrap(), one);
    assert_eq!(
        u.usage_by(Dimension::Model, &r.day).await.unwrap(),
        vec![("dup-model".to_owned(), one)]
    );
    // The same deltas under a new id are a new batch.
    u.add_usage(&fresh(&batch.deltas)).await.unwrap();
    assert_eq!(
        u.usage_of(Dimension::Key, "dup", "total").await.unwrap(),
        times(one, 2)
    );
}

/// `raise_counters` (a restored backup): an empty key takes the given counters whole; the same
/// values again change nothing; a lower value never lowers, a later window replaces an earlier
/// one, the same window is raised; exact beyond double precision; the restored counters go on
/// counting and refusing as if they had been counted here.
pub async fn raising_counters_restores_them_and_never_lowers(b: Backends) {
    let l = &*b.limits;
    let big = Money::from_picos(9_007_199_254_740_993);
    let backup = KeyCounters {
        window_start: Some(T0),
        window_requests: 4,
        window_tokens: 40,
        window_cost: usd(1),
        daily_cost: usd(2),
        weekly_cost: usd(3),
        total_cost: big,
    };
    assert!(l.raise_counters("rz", DAY, WEEK, &backup).await.unwrap());
    assert_eq!(counters(l, "rz", T0 + 1, 60_000).await, backup);
    assert!(
        !l.raise_counters("rz", DAY, WEEK, &backup).await.unwrap(),
        "a second restore changes nothing"
    );
    let lower = KeyCounters {
        window_start: Some(T0 - 1),
        window_requests: 1,
        total_cost: usd(1),
        ..KeyCounters::default()
    };
    assert!(!l.raise_counters("rz", DAY, WEEK, &lower).await.unwrap());
    assert_eq!(counters(l, "rz", T0 + 1, 60_000).await, backup, "never lowered");
    let same_window_more = KeyCounters {
        window_requests: 5,
        ..backup.clone()
    };
    assert!(
        l.raise_counters("rz", DAY, WEEK, &same_window_more)
            .await
            .unwrap()
    );
    assert_eq!(counters(l, "rz", T0 + 1, 60_000).await.window_requests, 5);
    let later = KeyCounters {
        window_start: Some(T0 + 10),
        window_requests: 1,
        ..backup.clone()
    };
    assert!(l.raise_counters("rz", DAY, WEEK, &later).await.unwrap());
    let c = counters(l, "rz", T0 + 11, 60_000).await;
    assert_eq!((c.window_start, c.window_requests), (Some(T0 + 10), 1));

    // What was restored counts like what was counted here.
    l.settle(&settlement("rz", Some(T0 + 10), 2, Money::from_picos(1)))
        .await
        .unwrap();
    let c = counters(l, "rz", T0 + 11, 60_000).await;
    assert_eq!(c.total_cost, Money::from_picos(9_007_199_254_740_994));
    assert_eq!(
        (c.window_tokens, c.daily_cost),
        (42, usd(2) + Money::from_picos(1))
    );
    let capped = Admission {
        max_total: Money::from_picos(9_007_199_254_740_994),
        ..adm("rz", T0 + 12, None)
    };
    assert!(matches!(admit(l, &capped).await, Err(Refusal::Total { .. })));
}
