//! Route table: every path switchyard answers, mapped to its handler family.
pub mod admin;
pub mod azure;
pub mod chat_front;
pub mod claude;
mod fallback;
pub mod forward;
pub mod gemini;
pub mod health;
mod messages_front;
pub mod openai;
pub mod usage;

use actix_web::web;

pub use fallback::not_found as fallback_not_found;
pub use fallback::route_methods;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    claude::configure(cfg);
    usage::configure(cfg);
    gemini::configure(cfg);
    openai::configure(cfg);
    azure::configure(cfg);
    chat_front::configure(cfg);
    admin::configure(cfg);
    crate::web::configure(cfg);
    cfg.default_service(web::to(fallback::not_found));
}
