//! The dashboard's stylesheet and scripts, compiled into the binary: nothing is fetched at run
//! time, so an offline machine serves the same pages.
use actix_web::{HttpResponse, web};

pub const CSS_PATH: &str = "/dashboard/assets/switchyard.css";
pub const JS_PATH: &str = "/dashboard/assets/dashboard.js";
pub const STATS_CSS_PATH: &str = "/stats/assets/switchyard.css";
pub const STATS_JS_PATH: &str = "/stats/assets/stats.js";

const CSS: &str = include_str!("assets/switchyard.css");
const JS: &str = include_str!("assets/dashboard.js");
const STATS_JS: &str = include_str!("assets/stats.js");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "public, max-age=3600"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The stylesheet is shared with /stats; served under both prefixes so each page's
    // resources stay under its own path.
    cfg.route(
        CSS_PATH,
        web::get().to(|| async { asset("text/css; charset=utf-8", CSS) }),
    )
    .route(
        STATS_CSS_PATH,
        web::get().to(|| async { asset("text/css; charset=utf-8", CSS) }),
    )
    .route(
        JS_PATH,
        web::get().to(|| async { asset("text/javascript; charset=utf-8", JS) }),
    )
    .route(
        STATS_JS_PATH,
        web::get().to(|| async { asset("text/javascript; charset=utf-8", STATS_JS) }),
    );
}
