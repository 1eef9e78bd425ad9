//! Findings: a rule firing on an account or a scope, with its severity and outcome.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::{Account, AccountStatus, SourceKind, TimeText};

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

/// A rule's identifier (`stale_login`, `owner_count`). Rules declare theirs as constants; ids
/// read from outside (a report, a suppression file) become one only through the rule registry, so
/// every `RuleId` in a run names a rule this build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(&'static str);

impl RuleId {
    pub const fn new(id: &'static str) -> RuleId {
        RuleId(id)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that tables can align ids with `{:<20}`.
        f.pad(self.0)
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// What a finding is about: one account, or a whole scope (too many owners, too many admins).
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Account(AccountSubject),
    Scope,
}

/// The account a finding is about, as the report shows it: its text shared with the account,
/// not copied.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSubject {
    pub account_id: Arc<str>,
    pub email: Option<Arc<str>>,
    pub name: Option<Arc<str>>,
    pub role: Option<Arc<str>>,
    pub status: AccountStatus,
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl AccountSubject {
    pub fn of(account: &Account) -> AccountSubject {
        AccountSubject {
            account_id: account.account_id.clone(),
            email: account.email.clone(),
            name: account.name.clone(),
            role: account.role.clone(),
            status: account.status.clone(),
            last_seen_at: account.last_seen_at,
        }
    }
}

impl Subject {
    pub fn account(&self) -> Option<&AccountSubject> {
        match self {
            Subject::Account(a) => Some(a),
            Subject::Scope => None,
        }
    }

    /// The account's id; empty for a whole scope (what report.json and the CSV write).
    pub fn account_id(&self) -> &str {
        self.account().map_or("", |a| &a.account_id)
    }

    pub fn email(&self) -> Option<&str> {
        self.account().and_then(|a| a.email.as_deref())
    }

    /// The account's name, or `(whole scope)`: what every view of the finding shows.
    pub fn name(&self) -> Option<&str> {
        match self {
            Subject::Account(a) => a.name.as_deref(),
            Subject::Scope => Some(WHOLE_SCOPE_NAME),
        }
    }

    pub fn role(&self) -> Option<&str> {
        self.account().and_then(|a| a.role.as_deref())
    }

    /// The account's status; empty for a whole scope.
    pub fn status(&self) -> &str {
        self.account().map_or("", |a| a.status.as_str())
    }

    pub fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        self.account().and_then(|a| a.last_seen_at)
    }
}

/// The name report.json (schema 1) gives a whole-scope finding's subject.
pub const WHOLE_SCOPE_NAME: &str = "(whole scope)";

/// report.json keeps schema 1's flat subject fields: a whole scope is written with an empty
/// `account_id` and the name `(whole scope)`.
impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("account_id", self.account_id())?;
        map.serialize_entry("email", &self.email())?;
        map.serialize_entry("name", &self.name())?;
        map.serialize_entry("role", &self.role())?;
        map.serialize_entry("status", self.status())?;
        let seen = self.last_seen_at();
        map.serialize_entry(
            "last_seen_at",
            &seen
                .as_ref()
                .map(TimeText::new)
                .as_ref()
                .map(TimeText::as_str),
        )?;
        map.end()
    }
}

/// One rule firing on one account or one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable fingerprint of rule + source_name + scope + account_id.
    pub id: String,
    pub rule: RuleId,
    pub severity: Severity,
    pub outcome: Outcome,
    pub source: SourceKind,
    pub source_name: Arc<str>,
    pub scope: Arc<str>,
    #[serde(flatten)]
    pub subject: Subject,
    /// What the rule saw, in words. Shared: many findings say the same (one rule, one date).
    pub detail: Arc<str>,
    pub suppressed: bool,
    /// The accepted-risk entry that suppresses this finding (boxed: most findings have none,
    /// and a large run holds hundreds of thousands of findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Box<SuppressionNote>>,
    /// Against a baseline (`--baseline`): `new` or `persisting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// Against a baseline: when this finding was first reported (carried forward run to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

/// Why a finding is suppressed, copied from its suppression entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionNote {
    pub reason: String,
    pub owner: String,
    pub expires: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Persisting,
}

impl Change {
    /// As report.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Persisting => "persisting",
        }
    }
}
