//! Sent.dm v3: `GET /v3/users` once per scope — the organization itself, and each child profile
//! through the organization key plus `x-profile-id`. Profiles come from `GET /v3/sender-profiles`
//! (page-numbered), or `GET /v3/profiles` where that endpoint is not there yet.
//!
//! `config.rs` reads its keys, `fetch.rs` walks the pages, `users.rs` turns them into accounts,
//! `envelope.rs` opens Sent.dm's answer envelope and its errors.

mod config;
mod envelope;
mod fetch;
mod remediate;
mod users;

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};

use super::config::{SourceTable, keys_of};
use super::spec::{Selection, manifest_entries, settings_from_manifest};
use super::{Endpoint, Probe, SecretKeys, Source, SourceContext, SourceSettings};
use crate::cfg::ConfigError;
use crate::http::FetchSettings;
use crate::model::{ScopeResult, SourceKind};

pub use config::{DEFAULT_INVITE_TTL_DAYS, is_hyphenated_uuid};
pub use fetch::{ORGANIZATION_SCOPE, sender_profiles_url, users_url};

/// Scope name under which profile discovery is recorded and, when it fails, reported.
pub const DISCOVERY_SCOPE: &str = "_profiles";

const ME: Endpoint = Endpoint::new("sentdm.me");
const SENDER_PROFILES: Endpoint = Endpoint::new("sentdm.sender_profiles");
const PROFILES: Endpoint = Endpoint::new("sentdm.profiles");
const USERS: Endpoint = Endpoint::new("sentdm.users");

/// The Sent.dm API.
pub struct Sentdm;

impl Source for Sentdm {
    fn kind(&self) -> SourceKind {
        SourceKind::Sentdm
    }

    fn default_base_url(&self) -> &'static str {
        "https://api.sent.dm"
    }

    fn secret_keys(&self) -> SecretKeys {
        SecretKeys {
            env: "api_key_env",
            file: "api_key_file",
            what: "Sent.dm API key",
        }
    }

    fn fetch_defaults(&self) -> FetchSettings {
        // Sent.dm: 200 requests/minute with a burst of 50, shared by the organization's profiles.
        FetchSettings {
            requests_per_minute: Some(200),
            burst: 50,
            ..FetchSettings::default()
        }
    }

    fn config_keys(&self) -> &'static [&'static str] {
        keys_of::<config::RawSentdm>()
    }

    fn configure(&self, table: &SourceTable<'_>) -> Result<Arc<dyn SourceSettings>, ConfigError> {
        Ok(Arc::new(config::read(table)?))
    }

    fn read_manifest(
        &self,
        entries: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<dyn SourceSettings>, String> {
        Ok(Arc::new(settings_from_manifest::<Settings>(entries)?))
    }

    fn auth_header(&self, secret: &str) -> (HeaderName, String) {
        (HeaderName::from_static("x-api-key"), secret.to_string())
    }

    fn discovery_scope(&self) -> &'static str {
        DISCOVERY_SCOPE
    }

    fn owner_role(&self) -> Option<&'static str> {
        // An organization's owner is implicit: `/v3/users` never lists them.
        None
    }

    #[allow(private_interfaces)]
    fn remediator(&self) -> Option<&'static dyn crate::sources::remediate::Remediator> {
        Some(&remediate::SentdmRemediator)
    }

    fn refusal(&self, status: u16) -> Option<&'static str> {
        (status == 403).then_some("the key's owner lacks the developer role")
    }
}

/// What one Sent.dm source audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The profiles to audit besides the organization; "all" = every child profile
    /// (discovered), `[]` = the organization only. A manifest without the key means all.
    #[serde(default)]
    pub profiles: Selection,
    /// Days after which an invitation has expired.
    #[serde(default = "default_invite_ttl_days")]
    pub invite_ttl_days: u32,
}

fn default_invite_ttl_days() -> u32 {
    DEFAULT_INVITE_TTL_DAYS
}

impl SourceSettings for Settings {
    fn source(&self) -> &'static dyn Source {
        &Sentdm
    }

    fn fetch<'a>(&'a self, ctx: &'a SourceContext<'a>) -> BoxFuture<'a, Vec<ScopeResult>> {
        Box::pin(fetch::fetch(ctx, self))
    }

    fn probe(&self, base_url: &str) -> Result<Probe, String> {
        let url = format!("{base_url}/v3/me");
        let url = url::Url::parse(&url).map_err(|e| format!("bad URL {url}: {e}"))?;
        Ok(Probe { endpoint: ME, url })
    }

    fn describe(&self) -> Vec<String> {
        let profiles = match &self.profiles {
            Selection::All => {
                "the organization and every child profile (discovered at run time)".to_string()
            }
            Selection::List(l) if l.is_empty() => "the organization only".to_string(),
            list => format!("the organization and profiles {list}"),
        };
        vec![
            format!("scopes: {profiles}"),
            format!("invitations expire after {} days", self.invite_ttl_days),
        ]
    }

    fn manifest(&self) -> Result<Vec<(String, serde_json::Value)>, String> {
        manifest_entries(self)
    }
}
