//! The client's address during a request, for the failed-authentication limit. The key
//! look-up's callers pass only the presented key, so a middleware around every route scopes
//! the peer address as a task-local for the request's handler; look-ups outside a request (no
//! scope) are simply not limited per address.
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::net::IpAddr;

tokio::task_local! {
    static PEER: IpAddr;
}

/// Middleware: runs the rest of the request with its TCP peer's address in scope.
pub async fn scope_peer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    match req.peer_addr().map(|a| a.ip()) {
        Some(ip) => PEER.scope(ip, next.call(req)).await,
        None => next.call(req).await,
    }
}

/// The current request's peer address, if the request runs inside [`scope_peer`].
pub fn current() -> Option<IpAddr> {
    PEER.try_with(|p| *p).ok()
}
