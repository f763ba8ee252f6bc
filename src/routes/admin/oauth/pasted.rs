//! What the operator pastes back after signing in: the whole redirect URL from the address bar
//! (`…?code=…&state=…`; OpenAI's localhost redirect does not load, so that is all there is),
//! `code#state` (Claude's callback page) or a bare code (Google's page).
use super::LoginError;

/// The most of a provider's `error` parameter echoed back.
const MAX_ERROR_LEN: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct Pasted {
    pub code: String,
    /// The state that came with the code, if any.
    pub state: Option<String>,
}

impl Pasted {
    /// Reads `input`; `state` is one the caller split off itself, used when the paste has none.
    pub fn parse(input: &str, state: Option<&str>) -> Result<Self, LoginError> {
        let input = input.trim();
        let given = state.map(|s| s.trim().to_owned());
        // A code never holds a `?`: anything that does is a redirect URL, with or without its
        // scheme and host.
        let (code, state) = if let Some((_, query)) = input.split_once('?') {
            let (code, state) = from_query(query)?;
            (code, state.or(given))
        } else {
            match input.split_once('#') {
                Some((code, state)) => (code.trim().to_owned(), Some(state.trim().to_owned())),
                None => (input.to_owned(), given),
            }
        };
        if code.is_empty() {
            return Err(LoginError::EmptyCode);
        }
        Ok(Pasted { code, state })
    }
}

/// `code` and `state` of a redirect URL's query, percent-decoded (Google's codes hold a `/`).
fn from_query(query: &str) -> Result<(String, Option<String>), LoginError> {
    let url =
        reqwest::Url::parse(&format!("http://localhost/?{query}")).map_err(|_| LoginError::NoCodeInUrl)?;
    let (mut code, mut state, mut error) = (None, None, None);
    for (k, v) in url.query_pairs() {
        match &*k {
            "code" => code = Some(v.trim().to_owned()),
            "state" => state = Some(v.trim().to_owned()),
            "error" => error = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(e) = error {
        // The provider's error name (`access_denied`…), trimmed to something printable.
        let e: String = e
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(MAX_ERROR_LEN)
            .collect();
        return Err(LoginError::Denied(e));
    }
    let code = code.ok_or(LoginError::NoCodeInUrl)?;
    Ok((code, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, state: Option<&str>) -> (String, Option<String>) {
        let p = Pasted::parse(input, state).unwrap();
        (p.code, p.state)
    }

    fn pair(code: &str, state: Option<&str>) -> (String, Option<String>) {
        (code.into(), state.map(str::to_owned))
    }

    #[test]
    fn codes_may_carry_their_state() {
        assert_eq!(ok(" abc#xyz ", None), pair("abc", Some("xyz")));
        assert_eq!(ok("abc#xyz", Some("given")), pair("abc", Some("xyz")));
        assert_eq!(ok("abc", Some(" s ")), pair("abc", Some("s")));
        assert_eq!(ok("4/0AbC-d_e", None), pair("4/0AbC-d_e", None));
    }

    #[test]
    fn a_whole_redirect_url_gives_its_code_and_state() {
        let url = "http://localhost:1455/auth/callback?code=ac_1.x-y&scope=openid+email&state=S%2Bt";
        assert_eq!(ok(url, None), pair("ac_1.x-y", Some("S+t")));
        assert_eq!(
            ok(
                "  localhost:1455/auth/callback?state=st&code=4%2F0Ab#frag\n",
                None
            ),
            pair("4/0Ab", Some("st"))
        );
        assert_eq!(ok("?code=c", Some("given")), pair("c", Some("given")));
    }

    #[test]
    fn empty_codes_urls_without_one_and_refusals_are_errors() {
        assert!(matches!(Pasted::parse("  ", None), Err(LoginError::EmptyCode)));
        assert!(matches!(Pasted::parse("#st", None), Err(LoginError::EmptyCode)));
        assert!(matches!(
            Pasted::parse("https://x/cb?code=&state=s", None),
            Err(LoginError::EmptyCode)
        ));
        assert!(matches!(
            Pasted::parse("https://x/cb?state=s", None),
            Err(LoginError::NoCodeInUrl)
        ));
        let denied = Pasted::parse(
            "http://localhost:1455/auth/callback?error=access_denied&state=s",
            None,
        );
        assert!(matches!(denied, Err(LoginError::Denied(e)) if e == "access_denied"));
    }
}
