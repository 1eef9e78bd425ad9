//! Sentry: `GET /api/0/organizations/{slug}/members/` (cursor-paginated; joined members and
//! pending invites) per organization, `/users/?project=…` when the audit is limited to projects,
//! and `GET /api/0/organizations/` to discover organizations for `organizations = "all"`.
//!
//! `config.rs` reads its keys, `fetch.rs` walks the pages, `members.rs` turns them into
//! accounts, `errors.rs` reads Sentry's error bodies.

mod config;
mod errors;
mod fetch;
mod members;
mod remediate;

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde::{Deserialize, Serialize};

use super::config::{SourceTable, keys_of};
use super::spec::{Selection, manifest_entries, settings_from_manifest};
use super::{Endpoint, Probe, SecretKeys, Source, SourceContext, SourceSettings};
use crate::cfg::ConfigError;
use crate::http::FetchSettings;
use crate::model::{ScopeResult, SourceKind};

pub use errors::error_from_answer;
pub use fetch::{members_url, page_url};
pub use members::ORG_AUTH_PROVIDER;

/// Scope name under which organization discovery is recorded and, when it fails, reported.
pub const DISCOVERY_SCOPE: &str = "_organizations";

const ORGANIZATIONS: Endpoint = Endpoint::new("sentry.organizations");
const MEMBERS: Endpoint = Endpoint::new("sentry.members");
const USERS: Endpoint = Endpoint::new("sentry.users");
/// `GET /api/0/organizations/{slug}/`: only when a rule needs the organization's settings.
const ORGANIZATION: Endpoint = Endpoint::new("sentry.organization");

/// The Sentry API (sentry.io, its regions, or a self-hosted server).
pub struct Sentry;

impl Source for Sentry {
    fn kind(&self) -> SourceKind {
        SourceKind::Sentry
    }

    fn default_base_url(&self) -> &'static str {
        "https://sentry.io"
    }

    fn secret_keys(&self) -> SecretKeys {
        SecretKeys {
            env: "token_env",
            file: "token_file",
            what: "Sentry auth token",
        }
    }

    fn fetch_defaults(&self) -> FetchSettings {
        // Sentry's limits are per caller and endpoint and announced in headers; a few
        // organizations at a time, paced by those headers, is polite and fast.
        FetchSettings::default()
    }

    fn config_keys(&self) -> &'static [&'static str] {
        keys_of::<config::RawSentry>()
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
        (AUTHORIZATION, format!("Bearer {secret}"))
    }

    fn discovery_scope(&self) -> &'static str {
        DISCOVERY_SCOPE
    }

    fn owner_role(&self) -> Option<&'static str> {
        // An organization's owners are members with `orgRole` owner (lower-cased in members.rs).
        Some("owner")
    }

    #[allow(private_interfaces)]
    fn remediator(&self) -> Option<&'static dyn crate::sources::remediate::Remediator> {
        Some(&remediate::SentryRemediator)
    }

    fn refusal(&self, status: u16) -> Option<&'static str> {
        (status == 403)
            .then_some("missing scope member:read (or the token's user is not in the organization)")
    }
}

/// What one Sentry source audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The organizations to audit; "all" = every one the token can see (discovered). A manifest
    /// without the key means all.
    #[serde(default)]
    pub organizations: Selection,
    /// Only members with access to these projects (`/users/?project=…`); empty = every member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
}

impl SourceSettings for Settings {
    fn source(&self) -> &'static dyn Source {
        &Sentry
    }

    fn fetch<'a>(&'a self, ctx: &'a SourceContext<'a>) -> BoxFuture<'a, Vec<ScopeResult>> {
        Box::pin(fetch::fetch(ctx, self))
    }

    fn probe(&self, base_url: &str) -> Result<Probe, String> {
        let (endpoint, url) = match &self.organizations {
            Selection::List(orgs) if !orgs.is_empty() => (
                MEMBERS,
                format!(
                    "{base_url}/api/0/organizations/{}/members/?per_page=1",
                    orgs[0]
                ),
            ),
            _ => (
                ORGANIZATIONS,
                format!("{base_url}/api/0/organizations/?per_page=1"),
            ),
        };
        let url = url::Url::parse(&url).map_err(|e| format!("bad URL {url}: {e}"))?;
        Ok(Probe { endpoint, url })
    }

    fn describe(&self) -> Vec<String> {
        let orgs = match &self.organizations {
            Selection::All => "all the token can see (discovered at run time)".to_string(),
            list => list.to_string(),
        };
        let mut lines = vec![format!("organizations: {orgs}")];
        if !self.projects.is_empty() {
            lines.push(format!(
                "only members with access to projects: {}",
                self.projects.join(", ")
            ));
        }
        lines
    }

    fn manifest(&self) -> Result<Vec<(String, serde_json::Value)>, String> {
        manifest_entries(self)
    }
}
