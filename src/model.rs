//! The data that flows between the stages: accounts (every source normalised to one model),
//! scopes, findings.
//!
//! Everything here is plain data. Sources produce [`Account`]s and [`ScopeResult`]s, rules turn
//! accounts into [`Finding`]s, and the report stage renders all of it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// The program that wrote a report or an evidence archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Which API an account or scope comes from: the `type` of its source (`"sentry"`, `"sentdm"`,
/// …) as configs, reports and evidence manifests spell it. Only an identifier: what a kind means
/// (its config keys, requests and answers) is known to the sources that `sources::registry`
/// lists, so a new API needs no variant here. Kept inline and `Copy` (no allocation per account)
/// and readable from any report without the registry (the model sits below the sources).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKind {
    len: u8,
    bytes: [u8; SourceKind::MAX_LEN],
}

impl SourceKind {
    /// The longest identifier: room for a descriptive API name, small enough to copy freely.
    pub const MAX_LEN: usize = 16;

    // The two APIs' identifiers keep the names they had as enum variants: rules and fixtures
    // name them directly.
    #[allow(non_upper_case_globals)]
    pub const Sentry: SourceKind = SourceKind::new("sentry");
    #[allow(non_upper_case_globals)]
    pub const Sentdm: SourceKind = SourceKind::new("sentdm");

    /// A kind for a constant. An identifier that [`SourceKind::parse`] refuses does not compile.
    pub const fn new(id: &str) -> SourceKind {
        match SourceKind::checked(id) {
            Some(kind) => kind,
            None => panic!("a source kind is 1 to 16 lower-case ASCII letters, digits or `_`"),
        }
    }

    /// A kind read from outside (a report, a manifest): 1 to 16 lower-case ASCII letters, digits
    /// or `_`, starting with a letter.
    pub fn parse(id: &str) -> Result<SourceKind, String> {
        SourceKind::checked(id).ok_or_else(|| {
            format!(
                "`{}` is not a source type: expected 1 to {} lower-case letters, digits or `_`",
                id.escape_debug(),
                SourceKind::MAX_LEN
            )
        })
    }

    const fn checked(id: &str) -> Option<SourceKind> {
        let src = id.as_bytes();
        if src.is_empty() || src.len() > SourceKind::MAX_LEN || !src[0].is_ascii_lowercase() {
            return None;
        }
        let mut bytes = [0u8; SourceKind::MAX_LEN];
        let mut i = 0;
        while i < src.len() {
            let b = src[i];
            if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return None;
            }
            bytes[i] = b;
            i += 1;
        }
        Some(SourceKind {
            len: src.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only `checked` builds a kind, from ASCII: the bytes are always valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SourceKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SourceKind::parse(&id).map_err(serde::de::Error::custom)
    }
}

/// Serialise a timestamp as RFC 3339 in UTC, the format every report uses.
pub fn serialize_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(TimeText::new(t).as_str()),
        None => s.serialize_none(),
    }
}

/// RFC 3339, UTC, `Z`, with as many fractional digits as the value needs (0, 3, 6 or 9).
pub fn format_time(t: &DateTime<Utc>) -> String {
    TimeText::new(t).as_str().to_string()
}

/// A timestamp formatted on the stack. Reports format millions of them; chrono's formatter
/// allocates a `String` each time, this does not.
pub struct TimeText {
    buf: [u8; 30],
    len: usize,
}

impl TimeText {
    pub fn new(t: &DateTime<Utc>) -> TimeText {
        use chrono::{Datelike, Timelike};
        let year = t.year();
        // Years outside 0..=9999 never come from these APIs; keep chrono's exact output for them.
        if !(0..=9999).contains(&year) {
            let text = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let mut out = TimeText {
                buf: [0; 30],
                len: text.len().min(30),
            };
            out.buf[..out.len].copy_from_slice(&text.as_bytes()[..out.len]);
            return out;
        }
        let mut out = TimeText {
            buf: [0; 30],
            len: 0,
        };
        out.digits(year as u32, 4);
        out.byte(b'-');
        out.digits(t.month(), 2);
        out.byte(b'-');
        out.digits(t.day(), 2);
        out.byte(b'T');
        out.digits(t.hour(), 2);
        out.byte(b':');
        out.digits(t.minute(), 2);
        out.byte(b':');
        // A leap second is carried in the nanoseconds (>= 1e9), as chrono prints it.
        let nanos = t.nanosecond();
        let (secs, frac) = if nanos >= 1_000_000_000 {
            (60, nanos - 1_000_000_000)
        } else {
            (t.second(), nanos)
        };
        out.digits(secs, 2);
        if frac != 0 {
            out.byte(b'.');
            if frac % 1_000_000 == 0 {
                out.digits(frac / 1_000_000, 3);
            } else if frac % 1_000 == 0 {
                out.digits(frac / 1_000, 6);
            } else {
                out.digits(frac, 9);
            }
        }
        out.byte(b'Z');
        out
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `n` in exactly `width` decimal digits, zero-padded.
    fn digits(&mut self, n: u32, width: usize) {
        let mut v = n;
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += width;
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// One account with access to one scope, normalised from whichever API it came from: the same
/// fields, with the same meaning, whatever the source (the README's account model table).
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
    /// Sentry member flags that are set (`sso:invalid`, `member-limit:restricted`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// Account statuses the rules care about. Any other value is kept as the API sent it.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const INVITED: &str = "invited";
    pub const EXPIRED: &str = "expired";
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
    /// The accepted-risk entry that suppresses this finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SuppressionNote>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn source_kinds_read_and_write_as_their_identifier() {
        assert_eq!(SourceKind::Sentry.as_str(), "sentry");
        assert_eq!(
            serde_json::to_string(&SourceKind::Sentdm).unwrap(),
            "\"sentdm\""
        );
        let read: SourceKind = serde_json::from_str("\"sentry\"").unwrap();
        assert_eq!(read, SourceKind::Sentry);
        assert_eq!(
            SourceKind::parse("new_api2"),
            Ok(SourceKind::new("new_api2"))
        );
        for bad in [
            "",
            "Sentry",
            "1api",
            "sent-dm",
            "a_name_of_17_char",
            "sentry\n",
        ] {
            assert!(SourceKind::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<SourceKind>("\"../x\"").is_err());
    }

    proptest! {
        /// The stack formatter writes exactly what chrono's RFC 3339 (AutoSi, Z) writes.
        #[test]
        fn time_text_matches_chrono(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000, round in 0u8..4) {
            let nanos = match round { 0 => 0, 1 => nanos / 1_000_000 * 1_000_000, 2 => nanos / 1_000 * 1_000, _ => nanos };
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let text = TimeText::new(&t);
            prop_assert_eq!(text.as_str(), t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
    }
}
