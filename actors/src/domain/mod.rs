//! The scheduling domain: platforms, accounts, groups, key bindings, model families and health.
mod account;
mod binding;
mod group;
mod health;
mod model;
mod platform;
mod secret;

pub use account::{
    Account, AccountId, AccountStatus, Credentials, ModelSupport, OAuthTokens, Pacing, Sharing,
};
pub use binding::{Binding, BindingParseError, KeyBindings};
pub use group::{Group, GroupId};
pub use health::{Cooldown, CooldownReason, FamilyLimit, Health};
pub use model::ModelFamily;
pub use platform::{AccountKind, Platform, UnknownName};
pub use secret::Secret;
