//! Unknown routes: a JSON 404 in the error format of the API family the path belongs to
//! (Anthropic for the root, which most clients of the root speak).
use crate::error::{ApiError, ApiFailure, ApiFormat};
use actix_web::HttpRequest;

pub async fn not_found(req: HttpRequest) -> Result<&'static str, ApiFailure> {
    let format = if req.path().starts_with("/admin") {
        ApiFormat::Admin
    } else {
        ApiFormat::Anthropic
    };
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    }
    .in_format(format))
}
