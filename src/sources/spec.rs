//! What a configured source audits, and with which credentials and limits: the part of the
//! config a source owns. The spec is also what the evidence manifest records, so that a replay
//! needs no config.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::registry;
use super::source::{Source, SourceSettings};
use crate::cfg::SecretRef;
use crate::http::FetchSettings;
use crate::model::SourceKind;

/// "all", or an explicit list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Selection {
    #[default]
    All,
    List(Vec<String>),
}

impl Serialize for Selection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Selection::All => s.serialize_str("all"),
            Selection::List(items) => items.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Selection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Selection::All),
            Raw::Word(w) => Err(de::Error::custom(format!(
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

/// What a source audits. Also what the evidence manifest records, so replay needs no config:
/// `{"type", "name", "base_url", …}` and then the source's own settings.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub base_url: String,
    /// The source's own settings (organizations, profiles, …), typed by its API, which they
    /// also name.
    pub settings: Arc<dyn SourceSettings>,
}

impl SourceSpec {
    /// The API this source is.
    pub fn source(&self) -> &'static dyn Source {
        self.settings.source()
    }

    pub fn kind(&self) -> SourceKind {
        self.source().kind()
    }

    /// One scope of this source, fetched (`Ok`) or failed.
    pub fn scope_result(
        &self,
        scope: &str,
        outcome: Result<Vec<crate::model::Account>, crate::model::ScopeError>,
    ) -> crate::model::ScopeResult {
        crate::model::ScopeResult {
            source: self.kind(),
            source_name: self.name.clone(),
            scope: scope.to_string(),
            outcome,
            // Filled in by `fetch_source` from what the fetcher saw.
            provenance: Default::default(),
        }
    }

    /// The settings as their API's type `T`, if they are of that API.
    pub fn settings_of<T: SourceSettings>(&self) -> Option<&T> {
        let settings: &dyn std::any::Any = self.settings.as_ref();
        settings.downcast_ref()
    }
}

impl Serialize for SourceSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let own = self.settings.manifest().map_err(S::Error::custom)?;
        let mut map = s.serialize_map(Some(3 + own.len()))?;
        map.serialize_entry("type", &self.kind())?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("base_url", &self.base_url)?;
        for (key, value) in &own {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SourceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut entries = serde_json::Map::deserialize(d)?;
        let mut take_string = |key: &'static str| match entries.remove(key) {
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
            None => Err(de::Error::missing_field(key)),
        };
        let kind = take_string("type")?;
        let name = take_string("name")?;
        let base_url = take_string("base_url")?;
        let source = registry::find(&kind)
            .ok_or_else(|| de::Error::custom(registry::unknown_type(&kind)))?;
        let settings = source
            .read_manifest(entries)
            .map_err(|e| de::Error::custom(format!("source `{name}`: {e}")))?;
        Ok(SourceSpec {
            name,
            base_url,
            settings,
        })
    }
}

fn unexpected(value: &serde_json::Value) -> de::Unexpected<'_> {
    match value {
        serde_json::Value::Null => de::Unexpected::Unit,
        serde_json::Value::Bool(b) => de::Unexpected::Bool(*b),
        serde_json::Value::Number(_) => de::Unexpected::Other("a number"),
        serde_json::Value::String(s) => de::Unexpected::Str(s),
        serde_json::Value::Array(_) => de::Unexpected::Seq,
        serde_json::Value::Object(_) => de::Unexpected::Map,
    }
}

/// A source's settings as the keys of its manifest entry, in the order its struct declares
/// them (a `serde_json::Map` would sort them).
pub(crate) fn manifest_entries<T: Serialize>(
    settings: &T,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    let text = serde_json::to_string(settings).map_err(|e| e.to_string())?;
    let entries: Entries = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(entries.0)
}

/// A source's settings from its manifest entry (the keys besides type, name and base_url).
pub(crate) fn settings_from_manifest<T: de::DeserializeOwned>(
    entries: serde_json::Map<String, serde_json::Value>,
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(entries)).map_err(|e| e.to_string())
}

/// A JSON object's entries in the order they were written.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

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
    /// What `remediate` uses; `None` for an API access-audit cannot change, or a replay.
    pub remediate: Option<RemediateConfig>,
}

/// A source's write credential and the pace of its changes (`remediate` only).
#[derive(Debug, Clone)]
pub struct RemediateConfig {
    /// `None`: not configured; `remediate` refuses to plan for the source and says which key
    /// to set.
    pub secret: Option<SecretRef>,
    /// The key that names it (or would), for messages.
    pub secret_key: String,
    pub requests_per_minute: u32,
}

impl SourceConfig {
    /// A source of an evidence archive: no secret (no request is made), its API's defaults.
    pub fn replayed(index: usize, spec: SourceSpec) -> SourceConfig {
        SourceConfig {
            fetch: spec.source().fetch_defaults(),
            spec,
            secret: None,
            secret_key: String::new(),
            index,
            remediate: None,
        }
    }
}
