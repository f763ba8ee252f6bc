//! Operators' dashboard sessions, with no state on the server: the cookie carries its expiry and
//! a random id, signed (HMAC-SHA256) with a key derived from the admin token, so any instance
//! sharing the token accepts it and a new token ends every session. Each session's CSRF token is
//! a MAC of its id; every POST must carry it and come from this origin.
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const COOKIE: &str = "switchyard_session";
pub const PATH: &str = "/dashboard";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
const PURPOSE: &str = "switchyard dashboard session v1";

/// A signed-in operator's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Seconds since the epoch after which the cookie is refused.
    pub expires: i64,
    id: String,
    csrf: String,
}

/// Why a dashboard request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not signed in, or the session has ended")]
    NoSession,
    #[error("the form's CSRF token is missing or wrong")]
    BadCsrf,
    #[error("the request does not come from this site")]
    ForeignOrigin,
}

fn mac(state: &AppState, parts: &[&str]) -> String {
    let key = state.admin.derive_key(PURPOSE);
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"|");
    }
    hex::encode(m.finalize().into_bytes())
}

fn now_secs(state: &AppState) -> i64 {
    state.clock.now_ms() / 1_000
}

impl Session {
    /// A new session lasting `admin.session_hours`.
    pub fn start(state: &AppState) -> Self {
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        let id = hex::encode(b);
        let hours = state.settings.admin.session_hours.max(1) as i64;
        let expires = now_secs(state) + hours * 3_600;
        Session::with(state, expires, id)
    }

    fn with(state: &AppState, expires: i64, id: String) -> Self {
        let csrf = mac(state, &["csrf", &id]);
        Session { expires, id, csrf }
    }

    /// The session the request's cookie proves, if its signature holds and it has not expired.
    pub fn of(req: &HttpRequest, state: &AppState) -> Option<Self> {
        let value = req.cookie(COOKIE)?.value().to_owned();
        let mut parts = value.splitn(3, '.');
        let (expires, id, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let expected = mac(state, &["session", expires, id]);
        // Compare in constant time: a timing oracle on the MAC would help forge one.
        let same = sig.len() == expected.len()
            && sig
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        let expires: i64 = expires.parse().ok()?;
        (same && expires > now_secs(state)).then(|| Session::with(state, expires, id.to_owned()))
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The cookie that carries this session: `Secure` when the request came over https.
    pub fn cookie(&self, req: &HttpRequest, state: &AppState) -> Cookie<'static> {
        let value = format!(
            "{}.{}.{}",
            self.expires,
            self.id,
            mac(state, &["session", &self.expires.to_string(), &self.id])
        );
        let max_age = (self.expires - now_secs(state)).max(0);
        Cookie::build(COOKIE, value)
            .path(PATH)
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(is_https(req))
            .max_age(time::Duration::seconds(max_age))
            .finish()
    }

    /// A cookie that removes the session's.
    pub fn ended(req: &HttpRequest) -> Cookie<'static> {
        let mut c = Cookie::build(COOKIE, "")
            .path(PATH)
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(is_https(req))
            .finish();
        c.make_removal();
        c
    }

    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| {
            p.len() == self.csrf.len()
                && p.bytes()
                    .zip(self.csrf.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }
}

fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A POST must name this site as its origin: `Origin`, or failing that `Referer`. Browsers send
/// one of them on every form POST; a request with neither is refused too.
pub fn same_origin(req: &HttpRequest) -> Result<(), Refusal> {
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    let header_of = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let ok = match (header_of(header::ORIGIN), header_of(header::REFERER)) {
        (Some(origin), _) => origin == own,
        (None, Some(referer)) => referer == own || referer.starts_with(&format!("{own}/")),
        (None, None) => false,
    };
    if ok { Ok(()) } else { Err(Refusal::ForeignOrigin) }
}

/// A checked POST: signed in, same origin, the session's CSRF token in the form.
pub fn check_post(
    req: &HttpRequest,
    state: &AppState,
    form: &super::form::FormData,
) -> Result<Session, Refusal> {
    same_origin(req)?;
    let session = Session::of(req, state).ok_or(Refusal::NoSession)?;
    if !session.csrf_matches(form.get(CSRF_FIELD)) {
        return Err(Refusal::BadCsrf);
    }
    Ok(session)
}

/// A refused dashboard request as an actix error: pages send the browser to sign in, forms
/// get a 403 page.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub Refusal, pub bool);

impl actix_web::ResponseError for Denied {
    fn status_code(&self) -> actix_web::http::StatusCode {
        if self.1 {
            actix_web::http::StatusCode::SEE_OTHER
        } else {
            actix_web::http::StatusCode::FORBIDDEN
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.1 {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/dashboard/login"))
                .finish();
        }
        super::layout::message_page(
            actix_web::http::StatusCode::FORBIDDEN,
            "Refused",
            &format!("Refused: {}. Go back, reload the page and try again.", self.0),
        )
    }
}

/// The answer to a refused request: sign-in for a page, 403 for a forged or stale form.
pub fn refused(req: &HttpRequest, why: Refusal) -> HttpResponse {
    let to_sign_in = why == Refusal::NoSession && req.method() == actix_web::http::Method::GET;
    if !to_sign_in {
        tracing::warn!(reason = %why, path = %req.path(), "dashboard request refused");
    }
    actix_web::ResponseError::error_response(&Denied(why, to_sign_in))
}

fn state_of(req: &HttpRequest) -> Result<&web::Data<AppState>, actix_web::Error> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no app state"))
}

/// A signed-in operator reading a page; without a session the browser is sent to sign in.
pub struct Operator(pub Session);

impl actix_web::FromRequest for Operator {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(state_of(req).and_then(|state| {
            Session::of(req, state)
                .map(Operator)
                .ok_or_else(|| Denied(Refusal::NoSession, true).into())
        }))
    }
}

/// A dashboard form POST that passed [`check_post`]: the session and the fields.
pub struct CheckedForm {
    pub session: Session,
    pub form: super::form::FormData,
}

impl actix_web::FromRequest for CheckedForm {
    type Error = actix_web::Error;
    type Future = futures::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await?;
            let state = state_of(&req)?;
            let form = super::form::FormData::parse(&body);
            match check_post(&req, state, &form) {
                Ok(session) => Ok(CheckedForm { session, form }),
                Err(why) => {
                    tracing::warn!(reason = %why, path = %req.path(), "dashboard form refused");
                    Err(Denied(why, false).into())
                }
            }
        })
    }
}
