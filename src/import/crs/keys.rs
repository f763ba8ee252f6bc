//! The reference's API keys (`apikey:<id>`), mapped to switchyard's [`ApiKey`] with their
//! state: the stored hash stays (a legacy verifier reproduces it), disabled, expired,
//! activation-mode and deleted keys keep what makes the reference refuse or accept them.
use super::fields::{Fields, iso_ms};
use crate::keys::{ApiKey, ClientKind, KeyLimits, UNIT_MULTIPLIER};
use crate::money::Money;
use std::collections::BTreeSet;
use switchyard_actors::clock::Millis;
use switchyard_actors::{Binding, KeyBindings, Platform};

/// What the key's bindings may point at: the ids (of accounts and groups) being imported,
/// with their platform.
pub struct Targets {
    pub accounts: Vec<(String, Platform)>,
    pub groups: Vec<(String, Platform)>,
}

/// The key and the source settings it could not carry (`name: why`).
pub fn map_key(f: &Fields<'_>, id: &str, targets: &Targets, now: Millis) -> (ApiKey, Vec<String>) {
    let mut notes = Vec::new();
    let created_at = iso_ms(f.text("createdAt")).unwrap_or(now);
    let mut key = ApiKey {
        id: id.to_owned(),
        name: f.name(),
        hash: f.text("apiKey").trim().to_ascii_lowercase(),
        active: f.flag("isActive").unwrap_or(true),
        created_at,
        last_used_at: iso_ms(f.text("lastUsedAt")),
        permissions: Vec::new(),
        concurrency_limit: f.number("concurrencyLimit").unwrap_or(0),
        bindings: KeyBindings::default(),
        expires_at: None,
        tags: f.list("tags"),
        limits: limits(f, &mut notes),
        blocked_models: Vec::new(),
        allowed_clients: Vec::new(),
        activation_days: None,
        activated_at: None,
        cost_multiplier_ppm: UNIT_MULTIPLIER,
        legacy_verifier: None,
        deleted_at: None,
    };
    if f.flag("isDeleted") == Some(true) {
        key.active = false;
        key.deleted_at = Some(iso_ms(f.text("deletedAt")).unwrap_or(now));
    }
    expiry(f, &mut key, &mut notes);
    permissions(f, &mut key, &mut notes);
    if f.flag("enableModelRestriction") == Some(true) {
        key.blocked_models = f.list("restrictedModels");
    }
    clients(f, &mut key, &mut notes);
    key.bindings = bindings(f, targets, &mut notes);
    for (field, quiet) in [
        ("description", ""),
        ("serviceRates", "{}"),
        ("userId", ""),
        ("icon", ""),
        ("enableOpenAIResponsesPayloadRules", "false"),
    ] {
        let v = f.text(field).trim();
        if !v.is_empty() && v != quiet {
            notes.push(format!("{field}: no equivalent here"));
        }
    }
    (key, notes)
}

fn usd(f: &Fields<'_>, field: &str) -> Money {
    Money::from_usd_f64(f.decimal(field)).unwrap_or(Money::ZERO)
}

fn limits(f: &Fields<'_>, notes: &mut Vec<String>) -> KeyLimits {
    let mut l = KeyLimits {
        window_minutes: f.number("rateLimitWindow").unwrap_or(0),
        window_requests: f.number("rateLimitRequests").unwrap_or(0),
        window_tokens: f.number("tokenLimit").unwrap_or(0),
        window_cost_usd: usd(f, "rateLimitCost"),
        daily_cost_usd: usd(f, "dailyCostLimit"),
        weekly_cost_usd: usd(f, "weeklyOpusCostLimit"),
        total_cost_usd: usd(f, "totalCostLimit"),
        // The reference counts 0 as Sunday too.
        weekly_reset_day: match f.number::<u8>("weeklyResetDay").unwrap_or(1) {
            0 => 7,
            d @ 1..=7 => d,
            _ => 1,
        },
        weekly_reset_hour: f.number::<u8>("weeklyResetHour").filter(|h| *h < 24).unwrap_or(0),
    };
    if l.weekly_cost_usd > Money::ZERO {
        notes.push(
            "weeklyOpusCostLimit: counted over every model here (the reference counts Claude \
             Opus only)"
                .into(),
        );
    }
    if l.window_minutes == 0
        && (l.window_requests > 0 || l.window_tokens > 0 || l.window_cost_usd > Money::ZERO)
    {
        notes.push("tokenLimit/rateLimitRequests/rateLimitCost: no rateLimitWindow, not enforced".into());
        l.window_requests = 0;
        l.window_tokens = 0;
        l.window_cost_usd = Money::ZERO;
    }
    l
}

/// Fixed: `expiresAt`. Activation: `activationDays` (or hours) from the first use; a key
/// already activated keeps its dates.
fn expiry(f: &Fields<'_>, key: &mut ApiKey, notes: &mut Vec<String>) {
    key.expires_at = iso_ms(f.text("expiresAt"));
    if f.text("expirationMode") != "activation" {
        return;
    }
    let amount: u32 = f.number("activationDays").unwrap_or(0);
    let days = match f.text("activationUnit") {
        "hours" => {
            if !amount.is_multiple_of(24) {
                notes.push(format!("activationDays: {amount} hours rounded up to whole days"));
            }
            amount.div_ceil(24)
        }
        _ => amount,
    };
    if days > 0 {
        key.activation_days = Some(days);
    }
    if f.flag("isActivated") == Some(true) {
        key.activated_at = iso_ms(f.text("activatedAt")).or(Some(key.created_at));
    }
}

fn permissions(f: &Fields<'_>, key: &mut ApiKey, notes: &mut Vec<String>) {
    // Older versions store one word ("all", "claude") instead of a JSON list.
    let raw = f.text("permissions").trim();
    let named: Vec<String> = if raw.starts_with('[') {
        f.list("permissions")
    } else if raw.is_empty() || raw == "all" {
        Vec::new()
    } else {
        vec![raw.to_owned()]
    };
    let mut served = BTreeSet::new();
    for p in &named {
        match p.parse::<Platform>() {
            Ok(p) => {
                served.insert(p);
            }
            Err(_) => notes.push(format!("permissions: `{p}` not served here")),
        }
    }
    if !named.is_empty() && served.is_empty() {
        // Empty means "every platform" here: a key for other platforms only must not widen.
        notes.push("permissions: none served here, so the key is imported disabled".into());
        key.active = false;
    }
    key.permissions = served.into_iter().collect();
}

fn clients(f: &Fields<'_>, key: &mut ApiKey, notes: &mut Vec<String>) {
    if f.flag("enableClientRestriction") != Some(true) {
        return;
    }
    let named = f.list("allowedClients");
    for c in &named {
        match serde_json::from_value::<ClientKind>(serde_json::Value::String(c.clone())) {
            Ok(k) if !key.allowed_clients.contains(&k) => key.allowed_clients.push(k),
            Ok(_) => {}
            Err(_) => notes.push(format!("allowedClients: `{c}` not known here")),
        }
    }
    if !named.is_empty() && key.allowed_clients.is_empty() {
        notes.push("allowedClients: none known here, so the key is imported disabled".into());
        key.active = false;
    }
}

/// `claudeAccountId` (an account or `group:<id>`) wins over `claudeConsoleAccountId`, as in
/// the reference's scheduler; `api:` and `responses:` prefixes name the account's kind.
fn bindings(f: &Fields<'_>, targets: &Targets, notes: &mut Vec<String>) -> KeyBindings {
    let mut b = KeyBindings::default();
    let official = f.text("claudeAccountId").trim();
    let console = f.text("claudeConsoleAccountId").trim();
    let bedrock = f.text("bedrockAccountId").trim();
    // One Claude binding here: the first of official, console, Bedrock.
    let claude = [official, console, bedrock]
        .into_iter()
        .find(|b| !b.is_empty())
        .unwrap_or("");
    for (field, value) in [("claudeConsoleAccountId", console), ("bedrockAccountId", bedrock)] {
        if !value.is_empty() && value != claude {
            notes.push(format!("{field}: one claude binding here, {claude} kept"));
        }
    }
    b.claude = binding(Platform::Claude, claude, targets, notes);
    b.gemini = binding(Platform::Gemini, f.text("geminiAccountId").trim(), targets, notes);
    b.openai = binding(Platform::OpenAi, f.text("openaiAccountId").trim(), targets, notes);
    if !f.text("droidAccountId").trim().is_empty() {
        notes.push("droidAccountId: kind not served by this switchyard".into());
    }
    // The reference never applies it (its authenticated key lacks the field), so the key has
    // always used the shared Azure pool: keeping it would narrow what the key reaches.
    if !f.text("azureOpenaiAccountId").trim().is_empty() {
        notes.push("azureOpenaiAccountId: never applied by the reference, not kept".into());
    }
    b
}

/// A binding to something not imported is kept (requests on that platform then fail, as
/// they would in the reference with the account gone) rather than dropped, which would open
/// the shared pool to the key.
fn binding(platform: Platform, value: &str, targets: &Targets, notes: &mut Vec<String>) -> Option<Binding> {
    if value.is_empty() {
        return None;
    }
    let parsed: Binding = value.parse().ok()?;
    let (kind, known) = match &parsed {
        Binding::Account(id) => (
            "account",
            targets
                .accounts
                .iter()
                .any(|(a, p)| a == id.as_str() && *p == platform),
        ),
        Binding::Group(g) => (
            "group",
            targets.groups.iter().any(|(id, p)| id == g && *p == platform),
        ),
    };
    if !known {
        notes.push(format!(
            "{platform} binding: {kind} {value} is not imported; requests on {platform} fail until it is"
        ));
    }
    Some(parsed)
}
