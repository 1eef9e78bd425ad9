//! What a source must provide: the two halves every API implements, and nothing else the rest of
//! the program needs to know about it.
//!
//! * [`Source`] is the API itself, one value in [`registry::SOURCES`](super::registry::SOURCES):
//!   its `type = "…"`, defaults, secret keys, how it reads its `[[sources]]` table and its
//!   evidence-manifest entry, how it authenticates, what its refusals mean.
//! * [`SourceSettings`] is one configured source of that API: what it audits (organizations,
//!   profiles, …) and what is done with that — fetching every scope, the one-request probe of
//!   `check-config --connect`, the lines `check-config` prints, the manifest entry.
//!
//! Two traits rather than one because the settings are typed by their API: each source keeps
//! its own settings struct and implements [`SourceSettings`] on it, so a fetch loop reads
//! `self.organizations`, not a field of a union every source shares or a downcast.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderName;
use url::Url;

use super::config::SourceTable;
use super::{Endpoint, SourceContext};
use crate::cfg::ConfigError;
use crate::http::FetchSettings;
use crate::model::{ScopeResult, SourceKind};

/// An API whose accounts access-audit audits.
pub trait Source: Sync {
    /// `type = "…"` in the config; the `source` of its accounts in reports and manifests.
    fn kind(&self) -> SourceKind;

    /// The base URL when the config names none.
    fn default_base_url(&self) -> &'static str;

    /// The config keys that name its secret, and what the secret is.
    fn secret_keys(&self) -> SecretKeys;

    /// Pacing, retries and caps unless the config overrides them.
    fn fetch_defaults(&self) -> FetchSettings {
        FetchSettings::default()
    }

    /// The keys of its `[[sources]]` table besides the shared ones (`name`, `base_url`, the
    /// fetch settings) and its secret keys. A key that belongs to another source is refused by
    /// name.
    fn config_keys(&self) -> &'static [&'static str];

    /// Read and check its own keys of one `[[sources]]` table.
    fn configure(&self, table: &SourceTable<'_>) -> Result<Arc<dyn SourceSettings>, ConfigError>;

    /// Its settings as an evidence manifest recorded them (what [`SourceSettings::manifest`]
    /// wrote), so that a replay needs no config.
    fn read_manifest(
        &self,
        entries: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<dyn SourceSettings>, String>;

    /// The header that carries the secret, and its value.
    fn auth_header(&self, secret: &str) -> (HeaderName, String);

    /// The pseudo-scope under which discovery (listing organizations, profiles, …) is recorded
    /// and, when it fails, reported.
    fn discovery_scope(&self) -> &'static str;

    /// The role a scope's owners have among its accounts (`owner_count` counts them); `None`
    /// when the API never lists a scope's owner as an account, where a count would always say
    /// zero.
    fn owner_role(&self) -> Option<&'static str>;

    /// What an HTTP status refusing the probe means for this API, where it means something
    /// more specific than "bad credentials" (401) or "not found" (404).
    fn refusal(&self, status: u16) -> Option<&'static str> {
        let _ = status;
        None
    }

    /// How it changes access, for `remediate`; `None` when access-audit cannot change it.
    #[allow(private_interfaces)]
    fn remediator(&self) -> Option<&'static dyn super::remediate::Remediator> {
        None
    }
}

/// One configured source of an API: what it audits, and what is done with that. (`Any`: code
/// that knows the API, such as its tests, can see the settings as their type:
/// [`SourceSpec::settings_of`](super::spec::SourceSpec::settings_of).)
pub trait SourceSettings: Any + fmt::Debug + Send + Sync {
    /// The API these settings are for.
    fn source(&self) -> &'static dyn Source;

    /// Every scope's accounts (or its error). Never fails as a whole: failures are per scope.
    fn fetch<'a>(&'a self, ctx: &'a SourceContext<'a>) -> BoxFuture<'a, Vec<ScopeResult>>;

    /// The one request `check-config --connect` makes to show the credentials work.
    fn probe(&self, base_url: &str) -> Result<Probe, String>;

    /// What `check-config` says the source audits, one line each.
    fn describe(&self) -> Vec<String>;

    /// The settings as the keys of the source's manifest entry, in order (see
    /// [`spec::manifest_entries`](super::spec::manifest_entries)).
    fn manifest(&self) -> Result<Vec<(String, serde_json::Value)>, String>;
}

/// The config keys that name a source's secret: an environment variable or a file.
#[derive(Debug, Clone, Copy)]
pub struct SecretKeys {
    pub env: &'static str,
    pub file: &'static str,
    /// What the secret is, for messages: "Sentry auth token".
    pub what: &'static str,
}

/// One authenticated request, and the name its answer is known by.
#[derive(Debug, Clone)]
pub struct Probe {
    pub endpoint: Endpoint,
    pub url: Url,
}
