//! The one list of upstream kinds. `AccountKind` (actors crate) is each kind's identity: its
//! stored name and platform, which the scheduler needs without this crate. Every question about
//! what a kind can do comes here, and the match below is exhaustive, so a new `AccountKind`
//! does not compile until it is registered.
use super::kinds::{
    azure_openai::AzureOpenAi, bedrock::Bedrock, ccr::Ccr, claude_console::ClaudeConsole,
    claude_oauth::ClaudeOAuth, codex_oauth::CodexOAuth, gemini_api::GeminiApi,
    gemini_code_assist::GeminiCodeAssist, openai_responses::OpenAiResponses,
};
use super::{ClientCall, CredentialForm, Kind, Profile};
use switchyard_actors::{AccountKind, Platform};

/// The kind that serves accounts of `id`.
pub fn kind(id: AccountKind) -> &'static dyn Kind {
    match id {
        AccountKind::ClaudeOfficial => &ClaudeOAuth,
        AccountKind::ClaudeConsole => &ClaudeConsole,
        AccountKind::GeminiApi => &GeminiApi,
        AccountKind::GeminiOAuth => &GeminiCodeAssist,
        AccountKind::OpenAiResponses => &OpenAiResponses,
        AccountKind::OpenAiOAuth => &CodexOAuth,
        AccountKind::Ccr => &Ccr,
        AccountKind::AzureOpenAi => &AzureOpenAi,
        AccountKind::Bedrock => &Bedrock,
    }
}

pub fn profile(id: AccountKind) -> &'static Profile {
    kind(id).profile()
}

/// Every kind's profile, in `AccountKind::ALL` order.
pub fn profiles() -> impl Iterator<Item = &'static Profile> {
    AccountKind::ALL.into_iter().map(profile)
}

/// The kinds an operator adds with an API key (`accounts add --kind`).
pub fn api_key_kinds() -> impl Iterator<Item = &'static Profile> {
    profiles().filter(|p| p.credential == CredentialForm::ApiKey)
}

/// The kinds able to serve `call`, as the scheduler takes them: `None` when every kind of the
/// call's platform can (then the scheduler's "no account" answer names the platform only).
pub fn kinds_serving(call: ClientCall) -> Option<Vec<AccountKind>> {
    let platform = call.platform();
    let of_platform = || profiles().filter(move |p| p.id.platform() == platform);
    if of_platform().all(|p| p.serves.contains(&call)) {
        return None;
    }
    Some(
        of_platform()
            .filter(|p| p.serves.contains(&call))
            .map(|p| p.id)
            .collect(),
    )
}

/// Whether any kind of `platform` bills an answer whose client left (then the relay reads on).
pub fn bills_after_disconnect(platform: Platform) -> bool {
    AccountKind::ALL
        .into_iter()
        .filter(|k| k.platform() == platform)
        .any(|k| kind(k).bills_after_disconnect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_under_its_own_identity() {
        for id in AccountKind::ALL {
            assert_eq!(profile(id).id, id);
            assert!(!profile(id).serves.is_empty(), "{id} serves nothing");
        }
    }

    #[test]
    fn route_families_get_the_kinds_they_had() {
        assert_eq!(kinds_serving(ClientCall::ClaudeMessages), None);
        assert_eq!(kinds_serving(ClientCall::GeminiGenerate), None);
        assert_eq!(
            kinds_serving(ClientCall::GeminiCodeAssist),
            Some(vec![AccountKind::GeminiOAuth])
        );
        assert_eq!(kinds_serving(ClientCall::OpenAiResponses), None);
        assert_eq!(
            kinds_serving(ClientCall::OpenAiChat),
            Some(vec![AccountKind::OpenAiResponses, AccountKind::AzureOpenAi])
        );
        let names: Vec<_> = api_key_kinds().map(|p| p.id.as_str()).collect();
        assert_eq!(
            names,
            [
                "claude-console",
                "gemini-api",
                "openai-responses",
                "ccr",
                "azure-openai",
                "bedrock"
            ]
        );
    }
}
