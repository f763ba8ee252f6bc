//! Account groups: a key bound to `group:<id>` is served only by the group's members.
use super::{AccountId, Platform};
use serde::{Deserialize, Serialize};

pub type GroupId = String;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub platform: Platform,
    #[serde(default)]
    pub members: Vec<AccountId>,
}
