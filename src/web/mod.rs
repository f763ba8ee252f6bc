//! The web dashboard, served by the same binary: operators at `/dashboard` (signed in with the
//! admin token), key holders at `/stats` (`/` leads there). Pages are rendered on the server
//! (maud templates, checked at compile time) with a little plain script; stylesheet and scripts
//! are compiled in. Every change goes through the admin API's own handlers, called in-process.
mod accounts;
mod admin_call;
mod alerts;
pub mod assets;
mod chart;
mod form;
mod groups;
mod keys;
mod layout;
mod login;
mod oauth;
mod overview;
mod paging;
pub mod session;
mod stats;
mod text;
mod usage;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    cfg.route("/", web::get().to(stats::root))
        .route("/stats", web::get().to(stats::page))
        .route("/stats/api/requests", web::get().to(stats::requests))
        .service(
            web::scope("/dashboard")
                .app_data(web::PayloadConfig::new(form::MAX_FORM_BYTES))
                .route("", web::get().to(overview::show))
                .route("/", web::get().to(overview::show))
                .route("/live", web::get().to(overview::fragment))
                .route("/alerts/test", web::post().to(alerts::send_test))
                .route("/login", web::get().to(login::show))
                .route("/login", web::post().to(login::sign_in))
                .route("/logout", web::post().to(login::sign_out))
                .route("/accounts", web::get().to(accounts::list))
                .route("/accounts", web::post().to(accounts::create))
                .route("/accounts/{id}", web::get().to(accounts::show))
                .route("/accounts/{id}", web::post().to(accounts::update))
                .route("/accounts/{id}/reset", web::post().to(accounts::reset))
                .route("/accounts/{id}/delete", web::post().to(accounts::remove))
                .route("/oauth/{provider}/start", web::post().to(oauth::start))
                .route("/oauth/{provider}/exchange", web::post().to(oauth::exchange))
                .route("/keys", web::get().to(keys::list))
                .route("/keys", web::post().to(keys::create))
                .route("/keys/{id}", web::get().to(keys::show))
                .route("/keys/{id}", web::post().to(keys::update))
                .route("/keys/{id}/active", web::post().to(keys::set_active))
                .route("/keys/{id}/delete", web::post().to(keys::remove))
                .route("/groups", web::get().to(groups::list))
                .route("/groups", web::post().to(groups::create))
                .route("/groups/{id}/members", web::post().to(groups::add_member))
                .route(
                    "/groups/{id}/members/{account}/remove",
                    web::post().to(groups::remove_member),
                )
                .route("/groups/{id}/delete", web::post().to(groups::remove))
                .route("/usage", web::get().to(usage::show))
                .route("/usage.csv", web::get().to(usage::csv)),
        );
}
