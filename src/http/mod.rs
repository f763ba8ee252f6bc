//! HTTP plumbing shared by the routes.
pub mod body;
