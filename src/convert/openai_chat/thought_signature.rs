//! Gemini 3 signs each turn's function calls (`thoughtSignature`) and refuses a history whose
//! calls come back unsigned. An OpenAI client keeps nothing but the tool call's id, so the
//! signature rides in the id (`<id>.sig.<signature>`) and is put back on the way in; a call
//! with no signature (made elsewhere, or by an older model) gets Google's documented
//! sentinel that skips the check.
const MARK: &str = ".sig.";

/// Google's documented value for a function call whose signature is not known.
pub const SKIP_VALIDATOR: &str = "skip_thought_signature_validator";

/// The id the client sees for a call Gemini signed.
pub fn carry(id: String, signature: Option<&str>) -> String {
    match signature {
        Some(sig) => format!("{id}{MARK}{sig}"),
        None => id,
    }
}

/// The signature a client-held id carries, if any.
pub fn signature_in(id: &str) -> Option<&str> {
    id.split_once(MARK).map(|(_, sig)| sig)
}

/// Whether the model checks signatures: the Gemini models after 2.x.
pub fn checked_by(model: &str) -> bool {
    let version = model.strip_prefix("models/").unwrap_or(model);
    match version.strip_prefix("gemini-") {
        Some(rest) => {
            !(rest.starts_with("1.")
                || rest.starts_with("2.")
                || rest.starts_with("pro")
                || rest.starts_with("exp"))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_survives_the_trip_through_an_id() {
        let id = carry("call_r_0".into(), Some("CiQB0e2Kb+/x=="));
        assert_eq!(id, "call_r_0.sig.CiQB0e2Kb+/x==");
        assert_eq!(signature_in(&id), Some("CiQB0e2Kb+/x=="));
        assert_eq!(signature_in("call_r_1"), None);
        assert_eq!(carry("call_r_1".into(), None), "call_r_1");
    }

    #[test]
    fn only_models_after_gemini_2_check_signatures() {
        assert!(checked_by("gemini-3-pro-preview"));
        assert!(checked_by("gemini-3.8-flash"));
        assert!(checked_by("models/gemini-3.1-pro-preview"));
        assert!(!checked_by("gemini-2.5-flash"));
        assert!(!checked_by("gemini-1.5-pro"));
        assert!(!checked_by("some-model"));
    }
}
