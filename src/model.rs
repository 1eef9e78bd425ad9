//! The data that flows between the stages: accounts (CONTRACT section 4), scopes, findings.
//!
//! Everything here is plain data. Sources produce [`Account`]s and [`ScopeResult`]s, rules turn
//! accounts into [`Finding`]s, and the report stage renders all of it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// Which API an account or scope comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Sentry,
    Sentdm,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Sentry => "sentry",
            SourceKind::Sentdm => "sentdm",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialise a timestamp as RFC 3339 in UTC, the format every report uses.
pub fn serialize_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(t)),
        None => s.serialize_none(),
    }
}

/// RFC 3339, UTC, `Z`, with as many fractional digits as the value needs.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// One account with access to one scope, normalised from either API (CONTRACT section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub account_id: String,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Lower-case role as the API names it; `None` when the API gave none.
    pub role: Option<String>,
    pub privileged: bool,
    /// `active`, `invited`, `expired`, or whatever other status the API reports (lower-case).
    pub status: String,
    pub mfa: Option<bool>,
    #[serde(serialize_with = "serialize_time")]
    pub last_login_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_time")]
    pub last_active_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_time")]
    pub last_seen_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_time")]
    pub invited_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Account statuses the rules care about. Any other value is kept as the API sent it.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const INVITED: &str = "invited";
    pub const EXPIRED: &str = "expired";
}

/// The later of two optional instants; `last_seen_at` in CONTRACT section 4.
pub fn later_of(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Finding severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity `{s}`: expected one of info, low, medium, high, critical")
            })
    }
}

impl<'de> Deserialize<'de> for Severity {
    /// Case-insensitive, like `fail_on`: `"High"` and `"high"` are the same severity.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `report.fail_on`: the lowest severity that makes a run fail, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Severity(Severity),
    None,
}

impl FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(FailOn::None);
        }
        s.parse::<Severity>().map(FailOn::Severity).map_err(|_| {
            format!("unknown value `{s}`: expected one of info, low, medium, high, critical, none")
        })
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailOn::Severity(s) => s.fmt(f),
            FailOn::None => f.write_str("none"),
        }
    }
}

/// Whether a finding is a failure or needs a person to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Fail,
    Manual,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Fail => "fail",
            Outcome::Manual => "manual",
        }
    }
}

/// One rule firing on one account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable fingerprint of rule + source_name + scope + account_id.
    pub id: String,
    pub rule: &'static str,
    pub severity: Severity,
    pub outcome: Outcome,
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub account_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub status: String,
    #[serde(serialize_with = "serialize_time")]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub detail: String,
    pub suppressed: bool,
}

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
}

impl ScopeResult {
    pub fn status(&self) -> ScopeStatus {
        match self.outcome {
            Ok(_) => ScopeStatus::Ok,
            Err(_) => ScopeStatus::Failed,
        }
    }
}
