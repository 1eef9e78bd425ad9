//! A Sentry source's own keys of its `[[sources]]` table: `organizations` (slugs, or "all")
//! and `projects` (numeric ids). The secret keys (`token_env`, `token_file`) and the keys every
//! source shares are read by `sources::config`.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::Settings;
use crate::cfg::ConfigError;
use crate::cfg::values::AllOr;
use crate::sources::config::SourceTable;
use crate::sources::spec::Selection;

/// The keys as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawSentry {
    organizations: Option<AllOr<Slug>>,
    projects: Option<Vec<ProjectId>>,
}

/// The settings of one table, checked: organizations required (a list must name one), projects
/// optional (but not an empty list), both without repeats.
pub(super) fn read(table: &SourceTable<'_>) -> Result<Settings, ConfigError> {
    let raw: RawSentry = table.read()?;
    let organizations = match raw.organizations {
        None => {
            return Err(table.error(
                None,
                "missing `organizations`: expected a list of organization slugs, or \"all\" for \
                 every organization the token can see"
                    .into(),
            ));
        }
        Some(AllOr::All) => Selection::All,
        Some(AllOr::List(list)) if list.is_empty() => {
            return Err(table.error(
                Some("organizations"),
                "the list is empty: name at least one organization slug, or use \"all\"".into(),
            ));
        }
        Some(AllOr::List(list)) => Selection::List(dedup(list.into_iter().map(|s| s.0))),
    };
    let projects = match raw.projects {
        None => Vec::new(),
        Some(projects) if projects.is_empty() => {
            return Err(table.error(
                Some("projects"),
                "the list is empty: remove the key to audit every member, or name project ids"
                    .into(),
            ));
        }
        Some(projects) => dedup(projects.into_iter().map(|p| p.0)),
    };
    Ok(Settings {
        organizations,
        projects,
    })
}

/// The items in their first order, each once.
fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A Sentry organization slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slug(pub String);

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let valid = !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && !s.starts_with('_');
        if !valid {
            return Err(de::Error::custom(format!(
                "`{s}` is not a Sentry organization slug: expected lower-case letters, digits and `-`, as in the org's URL"
            )));
        }
        Ok(Slug(s))
    }
}

impl<'de> Deserialize<'de> for AllOr<Slug> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AllOr::deserialize_naming(d, "organization slugs")
    }
}

/// A Sentry project id: digits, written as a string or an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProjectId(pub String);

impl<'de> Deserialize<'de> for ProjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        let s = match Raw::deserialize(d)? {
            Raw::Int(n) => n.to_string(),
            Raw::Str(s) => s,
        };
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(de::Error::custom(format!(
                "`{s}` is not a Sentry project id: expected the numeric id, such as \"123456\""
            )));
        }
        Ok(ProjectId(s))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
