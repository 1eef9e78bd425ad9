//! A Sent.dm source's own keys of its `[[sources]]` table: `profiles` (UUIDs, "all", or `[]`
//! for the organization only) and `invite_ttl_days`. The secret keys (`api_key_env`,
//! `api_key_file`) and the keys every source shares are read by `sources::config`.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::Settings;
use crate::cfg::ConfigError;
use crate::cfg::values::{AllOr, Days};
use crate::sources::config::SourceTable;
use crate::sources::spec::Selection;

/// Days after which a Sent.dm invitation has expired (the API keeps saying `invited`).
pub const DEFAULT_INVITE_TTL_DAYS: u32 = 7;

/// The keys as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawSentdm {
    profiles: Option<AllOr<ProfileId>>,
    invite_ttl_days: Option<Days>,
}

/// The settings of one table: profiles default to all, listed ones are kept once each.
pub(super) fn read(table: &SourceTable<'_>) -> Result<Settings, ConfigError> {
    let raw: RawSentdm = table.read()?;
    let profiles = match raw.profiles {
        None | Some(AllOr::All) => Selection::All,
        Some(AllOr::List(list)) => {
            let mut ids: Vec<String> = Vec::new();
            for ProfileId(id) in list {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Selection::List(ids)
        }
    };
    Ok(Settings {
        profiles,
        invite_ttl_days: raw.invite_ttl_days.map_or(DEFAULT_INVITE_TTL_DAYS, |d| d.0),
    })
}

/// A Sent.dm profile UUID in its hyphenated form, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfileId(pub String);

pub fn is_hyphenated_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl<'de> Deserialize<'de> for ProfileId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !is_hyphenated_uuid(&s) {
            return Err(de::Error::custom(format!(
                "`{s}` is not a profile UUID: expected the form 660e8400-e29b-41d4-a716-446655440001"
            )));
        }
        Ok(ProfileId(s.to_ascii_lowercase()))
    }
}

impl<'de> Deserialize<'de> for AllOr<ProfileId> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AllOr::deserialize_naming(d, "profile UUIDs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert!(is_hyphenated_uuid("660e8400-e29b-41d4-a716-446655440001"));
        assert!(!is_hyphenated_uuid("660e8400e29b41d4a716446655440001"));
        assert!(!is_hyphenated_uuid("660e8400-e29b-41d4-a716-44665544000g"));
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod config_tests;
