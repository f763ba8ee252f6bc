//! `ccr`: an Anthropic-compatible endpoint of the operator's choosing (a Claude Code Router
//! deployment) with its own key and model mapping. Reuses `claude_console`'s addressing and
//! authentication and the Anthropic wire format; it only reads the client's model differently.
use super::claude_console::{ClaudeConsole, ConsoleKey};
use crate::settings::UpstreamSettings;
use crate::upstream::wire::anthropic;
use crate::upstream::{
    BaseUrl, BuildError, ClientCall, CredentialForm, Inbound, Profile, UpstreamCall, UpstreamKind,
};
use switchyard_actors::{Account, AccountKind};

pub struct Ccr;

static PROFILE: Profile = Profile {
    id: AccountKind::Ccr,
    credential: CredentialForm::ApiKey,
    wire: &anthropic::FORMAT,
    base_url: BaseUrl::Required,
    required_extra: &[],
    // count_tokens goes through as well: an endpoint without it answers its own 404, which
    // reaches the client as is (the reference answers 501 without asking).
    serves: &[ClientCall::ClaudeMessages, ClientCall::ClaudeCountTokens],
    summary: "CCR: Anthropic-compatible endpoint plus key, model mapping (--model-map)",
};

/// The reference's clients write `ccr,<model>` to reach CCR accounts: the prefix is dropped
/// before the account's model mapping applies (it does not steer account selection here).
pub fn without_vendor_prefix(model: &str) -> &str {
    match model.split_once(',') {
        Some((vendor, rest)) if vendor.eq_ignore_ascii_case("ccr") => rest,
        _ => model,
    }
}

impl UpstreamKind for Ccr {
    type Credential = ConsoleKey;

    fn profile(&self) -> &'static Profile {
        &PROFILE
    }

    fn credential(&self, account: &Account, secret: &str) -> Result<ConsoleKey, BuildError> {
        ClaudeConsole.credential(account, secret)
    }

    fn request(
        &self,
        settings: &UpstreamSettings,
        account: &Account,
        key: &ConsoleKey,
        inbound: &Inbound,
    ) -> Result<UpstreamCall, BuildError> {
        let mut call = ClaudeConsole.request(settings, account, key, inbound)?;
        call.body = anthropic::request_body_for(account, without_vendor_prefix(&inbound.model), inbound)?;
        Ok(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use switchyard_actors::ModelSupport;

    fn inbound(model: &str) -> Inbound {
        Inbound {
            upstream_path: "/v1/messages".into(),
            query: String::new(),
            headers: vec![("x-api-key".into(), "client-secret".into())],
            body: Bytes::from(format!(r#"{{"model":"{model}","max_tokens":5}}"#)),
            model: model.into(),
            stream: false,
            session: None,
            hide_usage_chunk: false,
            user_turn: false,
        }
    }

    fn account() -> Account {
        let mut a = Account::new("ccr-1", AccountKind::Ccr, 0);
        a.base_url = Some("http://ccr.example:3456".into());
        a.models = ModelSupport::Map(
            [(
                "claude-sonnet-4-5".to_owned(),
                "deepseek,deepseek-chat".to_owned(),
            )]
            .into_iter()
            .collect(),
        );
        a
    }

    fn call(model: &str) -> UpstreamCall {
        let settings = UpstreamSettings::default();
        let key = Ccr.credential(&account(), "ccr-key").unwrap();
        Ccr.request(&settings, &account(), &key, &inbound(model)).unwrap()
    }

    #[test]
    fn maps_the_model_and_sends_its_own_key_to_its_endpoint() {
        let c = call("claude-sonnet-4-5");
        assert_eq!(c.url, "http://ccr.example:3456/v1/messages");
        assert_eq!(c.headers["authorization"], "Bearer ccr-key");
        assert!(
            !c.headers.contains_key("x-api-key"),
            "the client's key stays here"
        );
        assert_eq!(
            &c.body[..],
            br#"{"max_tokens":5,"model":"deepseek,deepseek-chat"}"#
        );
    }

    #[test]
    fn drops_the_reference_vendor_prefix_before_mapping() {
        let c = call("CCR,claude-sonnet-4-5");
        assert_eq!(
            &c.body[..],
            br#"{"max_tokens":5,"model":"deepseek,deepseek-chat"}"#
        );
        let c = call("ccr,claude-haiku-4-5");
        assert_eq!(&c.body[..], br#"{"max_tokens":5,"model":"claude-haiku-4-5"}"#);
        let c = call("claude-haiku-4-5");
        assert_eq!(&c.body[..], br#"{"model":"claude-haiku-4-5","max_tokens":5}"#);
    }
}
