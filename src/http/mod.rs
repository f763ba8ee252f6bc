//! HTTP plumbing shared by the routes.
pub mod body;
pub mod body_memory;
