//! The API key record and the operator's create / update payloads.
use serde::{Deserialize, Serialize};
use switchyard_actors::clock::Millis;
use switchyard_actors::{KeyBindings, Platform};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// SHA-256 hex of the plaintext key.
    pub hash: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Millis>,
    /// Platforms the key may use; empty = all.
    #[serde(default)]
    pub permissions: Vec<Platform>,
    /// Concurrent requests allowed; 0 = unlimited.
    #[serde(default)]
    pub concurrency_limit: u32,
    #[serde(default)]
    pub bindings: KeyBindings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

fn yes() -> bool {
    true
}

impl ApiKey {
    pub fn allows(&self, platform: Platform) -> bool {
        self.permissions.is_empty() || self.permissions.contains(&platform)
    }
}

/// `POST /admin/keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<Platform>,
    #[serde(default)]
    pub concurrency_limit: u32,
    #[serde(default)]
    pub bindings: KeyBindings,
    #[serde(default)]
    pub expires_at: Option<Millis>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `PATCH /admin/keys/{id}`: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub permissions: Option<Vec<Platform>>,
    pub concurrency_limit: Option<u32>,
    pub bindings: Option<KeyBindings>,
    /// `Some(None)` clears the expiry.
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<Millis>>,
    pub tags: Option<Vec<String>>,
}

impl KeyPatch {
    pub fn apply(&self, k: &mut ApiKey) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { k.$f = v.clone(); } )* };
        }
        set!(
            name,
            active,
            permissions,
            concurrency_limit,
            bindings,
            expires_at,
            tags
        );
    }
}

/// Distinguishes an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
