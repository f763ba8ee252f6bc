//! Unknown routes: a JSON 404 (Anthropic shape, the API most clients of the root speak).
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
