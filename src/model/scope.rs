//! Scopes (an organization, a profile): what fetching one produced, or why it could not be.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Account, SourceKind, serialize_time_value};

/// Why a scope could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeError {
    /// The HTTP status of the final answer; `None` when no answer came (connection, timeout).
    pub http_status: Option<u16>,
    /// The API's own error code (`AUTH_004`, `sso-required`, …) when it sent one.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(status) = self.http_status {
            write!(f, "HTTP {status}")?;
            if let Some(code) = &self.code {
                write!(f, " {code}")?;
            }
            write!(f, ": ")?;
        } else if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeStatus {
    Ok,
    Failed,
}

/// What fetching one scope produced: every account, or an error and none.
#[derive(Debug, Clone)]
pub struct ScopeResult {
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub outcome: Result<Vec<Account>, ScopeError>,
    /// How the accounts were obtained: what an auditor checks to trust the population.
    pub provenance: Provenance,
}

/// How one scope's population was obtained: its name for people, every page of its list as
/// received, and the total the API claimed, if it claims one. The report's completeness and
/// accuracy statement is made of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// The scope's name where discovery gave one (a Sent.dm profile's name; the scope itself is
    /// its id).
    pub display_name: Option<String>,
    /// The number of accounts the API said the list holds (Sent.dm's `total_count`); a scope
    /// whose count differs is failed, so a complete scope's count equals it.
    pub reported_total: Option<u64>,
    /// Every answer the scope's accounts were read from, in the order received.
    pub pages: Vec<PageRecord>,
}

impl Provenance {
    /// The endpoints the pages came from, each once, in the order first used.
    pub fn endpoints(&self) -> Vec<&str> {
        let mut endpoints: Vec<&str> = Vec::new();
        for p in &self.pages {
            if !endpoints.contains(&p.endpoint.as_str()) {
                endpoints.push(&p.endpoint);
            }
        }
        endpoints
    }
}

/// One answer a scope was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRecord {
    /// As in the evidence manifest: `sentry.members`, `sentdm.users`.
    pub endpoint: String,
    pub url: String,
    pub status: u16,
    #[serde(serialize_with = "serialize_time_value")]
    pub fetched_at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub bytes: u64,
    /// SHA-256 of the body as received, when it is kept as evidence (`--evidence`) or was
    /// replayed from it: the link from this report to the archive.
    pub sha256: Option<String>,
}

impl ScopeResult {
    pub fn status(&self) -> ScopeStatus {
        match self.outcome {
            Ok(_) => ScopeStatus::Ok,
            Err(_) => ScopeStatus::Failed,
        }
    }
}
