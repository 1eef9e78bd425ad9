//! Accounts: every source's members and users, normalised to one model.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::{SourceKind, serialize_time};

/// One account with access to one scope, normalised from whichever API it came from: the same
/// fields, with the same meaning, whatever the source (the README's account model table).
///
/// Text is held as `Arc<str>`: a run holds a million accounts, and their source name, scope and
/// role are shared by every account of a scope (one allocation per scope, not per account),
/// while findings and views share an account's text instead of copying it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub source: SourceKind,
    pub source_name: Arc<str>,
    pub scope: Arc<str>,
    pub account_id: Arc<str>,
    pub user_id: Option<Arc<str>>,
    pub email: Option<Arc<str>>,
    pub name: Option<Arc<str>>,
    /// Lower-case role as the API names it; `None` when the API gave none.
    pub role: Option<Arc<str>>,
    pub privileged: bool,
    pub status: AccountStatus,
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
    /// Sentry member flags that are set (`sso:invalid`, `member-limit:restricted`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Arc<str>>,
}

/// Where an account stands with its scope. The statuses rules act on are variants; any other the
/// API reports is kept as it sent it, lower-case, so nothing is lost and nothing is guessed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// A member who can use the scope.
    Active,
    /// Invited, the invitation not yet accepted or expired.
    Invited,
    /// An invitation that expired (Sentry says so; Sent.dm's older than `invite_ttl_days`).
    Expired,
    /// Suspended by an administrator, still listed.
    Suspended,
    /// A rejected invitation or membership, still listed.
    Rejected,
    /// Any other status, as the API spelt it (lower-case); `unknown` when it sent none.
    Other(Arc<str>),
}

impl AccountStatus {
    /// The status an API names, compared without regard to case: the APIs treat statuses as
    /// open strings and do not promise their capitalisation.
    pub fn parse(text: &str) -> AccountStatus {
        let known = [
            AccountStatus::Active,
            AccountStatus::Invited,
            AccountStatus::Expired,
            AccountStatus::Suspended,
            AccountStatus::Rejected,
        ];
        let text = text.trim();
        known
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .unwrap_or_else(|| AccountStatus::Other(text.to_lowercase().into()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Invited => "invited",
            AccountStatus::Expired => "expired",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Rejected => "rejected",
            AccountStatus::Other(text) => text,
        }
    }

    /// Active or invited: the account holds access or can take it up.
    pub fn grants_access(&self) -> bool {
        matches!(self, AccountStatus::Active | AccountStatus::Invited)
    }
}

impl From<&str> for AccountStatus {
    fn from(text: &str) -> AccountStatus {
        AccountStatus::parse(text)
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for AccountStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AccountStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(AccountStatus::parse(&text))
    }
}

/// The later of two optional instants: `last_seen_at` is the later of the last login and the
/// last activity.
pub fn later_of(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_without_regard_to_case_and_keep_unknown_ones() {
        assert_eq!(AccountStatus::parse("ACTIVE"), AccountStatus::Active);
        assert_eq!(
            AccountStatus::parse(" Suspended "),
            AccountStatus::Suspended
        );
        assert_eq!(
            AccountStatus::parse("Pending_Review"),
            AccountStatus::Other("pending_review".into())
        );
        let written = serde_json::to_string(&AccountStatus::parse("Invited")).unwrap();
        assert_eq!(written, "\"invited\"");
        let read: AccountStatus = serde_json::from_str("\"deactivated\"").unwrap();
        assert_eq!(read.as_str(), "deactivated");
        assert!(AccountStatus::Invited.grants_access());
        assert!(!AccountStatus::Expired.grants_access());
    }
}
