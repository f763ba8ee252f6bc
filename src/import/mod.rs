//! Bringing another installation's state into switchyard. An importer maps its source to an
//! [`bundle::ImportBundle`] (the CLI does that for claude-relay-service, [`crs`]); the admin
//! API writes a bundle through the store contracts ([`apply`]), on any backend, while serving.
pub mod apply;
pub mod bundle;
pub mod crs;
