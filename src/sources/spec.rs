//! What a configured source audits, and with which credentials and limits: the part of the
//! config a source owns. The spec is also what the evidence manifest records, so that a replay
//! needs no config.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cfg::SecretRef;
use crate::http::FetchSettings;
use crate::model::SourceKind;

/// "all", or an explicit list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    List(Vec<String>),
}

impl Serialize for Selection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Selection::All => s.serialize_str("all"),
            Selection::List(items) => items.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Selection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Selection::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "`{w}`: expected \"all\" or a list"
            ))),
            Raw::List(items) => Ok(Selection::List(items)),
        }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::All => f.write_str("all"),
            Selection::List(items) if items.is_empty() => f.write_str("none"),
            Selection::List(items) => f.write_str(&items.join(", ")),
        }
    }
}

/// What a source audits. Also what the evidence manifest records, so replay needs no config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    #[serde(rename = "type")]
    pub kind: SourceKind,
    pub name: String,
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Selection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Selection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_ttl_days: Option<u32>,
}

impl SourceSpec {
    /// Sentry: the organizations to audit (`"all"` = discover). Missing means all.
    pub fn organizations(&self) -> &Selection {
        self.organizations.as_ref().unwrap_or(&Selection::All)
    }

    /// Sent.dm: the profiles to audit besides the organization. Missing means all.
    pub fn profiles(&self) -> &Selection {
        self.profiles.as_ref().unwrap_or(&Selection::All)
    }

    /// Sent.dm: days after which an invitation has expired.
    pub fn invite_ttl_days(&self) -> u32 {
        self.invite_ttl_days.unwrap_or(DEFAULT_INVITE_TTL_DAYS)
    }
}

pub const DEFAULT_INVITE_TTL_DAYS: u32 = 7;

/// A configured source: what it audits, where its secret is, how hard it may be pushed.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub spec: SourceSpec,
    /// `None` only when replaying, where no request is made.
    pub secret: Option<SecretRef>,
    /// The config key that names the secret, for error messages.
    pub secret_key: String,
    pub index: usize,
    pub fetch: FetchSettings,
}
