//! Suppressions: accepted risk, written down with a reason, an owner and an expiry date.
//! A suppressed finding is still reported (in its own section and column), never hidden; an
//! expired entry stops suppressing and is listed as expired; an entry that matched nothing is
//! listed as unused, so the file does not silently rot.
//!
//! ```toml
//! [[suppress]]
//! rule = "stale_login"
//! email = "breakglass-*@acme.example"    # any of source_name, scope, account_id, email (globs)
//! reason = "Break-glass account, sealed credentials, reviewed quarterly"
//! owner = "security@acme.example"
//! expires = 2027-03-31                   # at most 365 days ahead
//! ```

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::cfg::ConfigError;
use crate::cfg::locate::{KeySegment, line_of_offset, line_of_path, render_path};
use crate::model::{Finding, RuleId, SuppressionNote};
use crate::rules::rule_info;

/// How far ahead an entry may expire: accepted risk is reviewed at least yearly.
pub(crate) const MAX_DAYS_AHEAD: i64 = 365;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    suppress: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: String,
    source_name: Option<String>,
    scope: Option<String>,
    account_id: Option<String>,
    email: Option<String>,
    reason: String,
    owner: String,
    expires: toml::value::Datetime,
}

/// One entry, validated.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub rule: RuleId,
    pub source_name: Option<String>,
    pub scope: Option<String>,
    pub account_id: Option<String>,
    pub email: Option<String>,
    pub reason: String,
    pub owner: String,
    /// The last day the entry applies.
    pub expires: NaiveDate,
}

impl Entry {
    /// One `[[suppress]]` entry checked: a known rule, a reason and an owner, something to match
    /// besides the rule, a date within [`MAX_DAYS_AHEAD`] of `today`. An error names the key it
    /// is about (`None`: the entry as a whole).
    fn check(r: RawEntry, today: NaiveDate) -> Result<Entry, (Option<&'static str>, String)> {
        let rule = rule_info(&r.rule).map(|info| info.id).ok_or_else(|| {
            (
                Some("rule"),
                format!("unknown rule `{}`: `access-audit rules` lists them", r.rule),
            )
        })?;
        for (key, value) in [("reason", &r.reason), ("owner", &r.owner)] {
            if value.trim().is_empty() {
                return Err((
                    Some(key),
                    format!("`{key}` is empty: every suppression needs a reason and an owner"),
                ));
            }
        }
        if r.source_name.is_none()
            && r.scope.is_none()
            && r.account_id.is_none()
            && r.email.is_none()
        {
            return Err((
                None,
                "the entry matches every finding of the rule: name at least one of source_name, scope, account_id, email \
                 (to switch a rule off, set `enabled = false` in the config)"
                    .into(),
            ));
        }
        let expires = expiry(&r.expires, today).map_err(|m| (Some("expires"), m))?;
        Ok(Entry {
            rule,
            source_name: r.source_name,
            scope: r.scope,
            account_id: r.account_id,
            email: r.email,
            reason: r.reason,
            owner: r.owner,
            expires,
        })
    }

    fn matches(&self, f: &Finding) -> bool {
        let field = |pattern: &Option<String>, value: Option<&str>| match pattern {
            None => true,
            Some(p) => value.is_some_and(|v| glob_match(p, v)),
        };
        self.rule == f.rule
            && field(&self.source_name, Some(&f.source_name))
            && field(&self.scope, Some(&f.scope))
            && field(&self.account_id, Some(f.subject.account_id()))
            && field(&self.email, f.subject.email())
    }
}

/// `expires` as a date (no time of day), at most [`MAX_DAYS_AHEAD`] after `today`.
fn expiry(expires: &toml::value::Datetime, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = match (expires.date, expires.time) {
        (Some(d), None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        }
        _ => None,
    }
    .ok_or_else(|| format!("`{expires}` is not a date: expected a date such as 2027-03-31"))?;
    if date - today > TimeDelta::days(MAX_DAYS_AHEAD) {
        return Err(format!(
            "{date} is more than {MAX_DAYS_AHEAD} days after {today}: accepted risk must be reviewed at least yearly"
        ));
    }
    Ok(date)
}

/// An entry's state in this run, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Active,
    Expired,
    Unused,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    pub index: usize,
    pub rule: RuleId,
    pub source_name: Option<String>,
    pub scope: Option<String>,
    pub account_id: Option<String>,
    pub email: Option<String>,
    pub reason: String,
    pub owner: String,
    pub expires: String,
    pub state: State,
    /// Findings it suppressed (active) or would have suppressed (expired).
    pub matched: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Suppressions {
    pub entries: Vec<Entry>,
}

impl Suppressions {
    /// Read and validate a suppressions file. `as_of` bounds how far ahead an entry may expire.
    pub(crate) fn load(path: &Path, as_of: DateTime<Utc>) -> Result<Suppressions, ConfigError> {
        let err = |key: Option<String>, line: Option<usize>, message: String| ConfigError {
            file: Some(path.to_path_buf()),
            key,
            line,
            message,
        };
        let text = crate::files::read_bounded_text(
            path,
            crate::files::SUPPRESSIONS_FILE,
            crate::files::Symlinks::Follow,
        )
        .map_err(|e| {
            err(
                None,
                None,
                format!("cannot read the suppressions file: {}", e.reason()),
            )
        })?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            err(
                None,
                e.span().map(|s| line_of_offset(&text, s.start)),
                e.message().trim().to_string(),
            )
        })?;
        let today = as_of.date_naive();
        let entries = raw
            .suppress
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Entry::check(r, today).map_err(|(key, message)| {
                    let mut path = vec![KeySegment::Key("suppress".into()), KeySegment::Index(i)];
                    path.extend(key.map(|k| KeySegment::Key(k.into())));
                    err(
                        Some(render_path(&path)),
                        line_of_path(&text, &path),
                        message,
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Suppressions { entries })
    }

    /// Mark the findings that active entries match; report every entry's state.
    pub(crate) fn apply(&self, findings: &mut [Finding], as_of: DateTime<Utc>) -> Vec<EntryStatus> {
        let today = as_of.date_naive();
        let mut matched = vec![0usize; self.entries.len()];
        for f in findings.iter_mut() {
            let mut suppressed_by = None;
            for (i, e) in self.entries.iter().enumerate() {
                if e.matches(f) {
                    matched[i] += 1;
                    if e.expires >= today && suppressed_by.is_none() {
                        suppressed_by = Some(e);
                    }
                }
            }
            if let Some(e) = suppressed_by {
                f.suppressed = true;
                f.suppression = Some(Box::new(SuppressionNote {
                    reason: e.reason.clone(),
                    owner: e.owner.clone(),
                    expires: e.expires.to_string(),
                }));
            }
        }
        self.entries
            .iter()
            .zip(matched)
            .enumerate()
            .map(|(index, (e, matched))| EntryStatus {
                index,
                rule: e.rule,
                source_name: e.source_name.clone(),
                scope: e.scope.clone(),
                account_id: e.account_id.clone(),
                email: e.email.clone(),
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expires: e.expires.to_string(),
                state: if e.expires < today {
                    State::Expired
                } else if matched == 0 {
                    State::Unused
                } else {
                    State::Active
                },
                matched,
            })
            .collect()
    }
}

/// `*` (any run of characters) and `?` (one character), case-insensitive.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountStatus, AccountSubject, Outcome, Severity, SourceKind, Subject};
    use chrono::TimeZone;

    #[test]
    fn globs() {
        assert!(glob_match("*@contractor.example", "Ann@Contractor.example"));
        assert!(glob_match(
            "breakglass-?@acme.example",
            "breakglass-1@acme.example"
        ));
        assert!(!glob_match(
            "breakglass-?@acme.example",
            "breakglass-12@acme.example"
        ));
        assert!(glob_match("acme*", "acme-labs"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("acme", "acme-labs"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }

    fn finding(email: &str) -> Finding {
        Finding {
            id: "x".into(),
            rule: RuleId::new("stale_login"),
            severity: Severity::Medium,
            outcome: Outcome::Fail,
            source: SourceKind::Sentry,
            source_name: "sentry".into(),
            scope: "acme".into(),
            subject: Subject::Account(AccountSubject {
                account_id: "1".into(),
                email: Some(email.into()),
                name: None,
                role: None,
                status: AccountStatus::Active,
                last_seen_at: None,
            }),
            detail: "".into(),
            suppressed: false,
            suppression: None,
            change: None,
            first_seen: None,
        }
    }

    fn load(text: &str) -> Result<Suppressions, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppressions.toml");
        std::fs::write(&path, text).unwrap();
        Suppressions::load(&path, Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap())
    }

    const ENTRY: &str = "[[suppress]]\nrule = \"stale_login\"\nemail = \"*@contractor.example\"\nreason = \"r\"\nowner = \"o\"\n";

    #[test]
    fn active_expired_and_unused() {
        let s = load(&format!(
            "{ENTRY}expires = 2026-12-31\n{}expires = 2026-11-19\n[[suppress]]\nrule = \"pending_invite\"\nscope = \"acme\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\n",
            ENTRY.replace("*@contractor", "x*@contractor")
        ))
        .unwrap();
        let mut findings = vec![
            finding("ann@contractor.example"),
            finding("xo@contractor.example"),
            finding("bob@acme.example"),
        ];
        let status = s.apply(
            &mut findings,
            Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        );
        assert_eq!(
            findings.iter().map(|f| f.suppressed).collect::<Vec<_>>(),
            vec![true, true, false]
        );
        assert_eq!(
            findings[0].suppression.as_ref().unwrap().expires,
            "2026-12-31"
        );
        assert_eq!(
            status
                .iter()
                .map(|s| (s.state, s.matched))
                .collect::<Vec<_>>(),
            vec![(State::Active, 2), (State::Expired, 1), (State::Unused, 0)]
        );
        // The expiry day itself still applies.
        let mut again = vec![finding("ann@contractor.example")];
        s.apply(
            &mut again,
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap(),
        );
        assert!(again[0].suppressed);
    }

    #[test]
    fn bad_entries_are_refused_with_their_key_and_line() {
        let e = load(&format!("{ENTRY}expires = 2028-01-01\n")).unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("suppress[0].expires"), Some(6))
        );
        assert!(e.message.contains("more than 365 days"));
        let e = load(
            &ENTRY
                .replace("reason = \"r\"", "reason = \" \"")
                .replace("owner = \"o\"\n", "owner = \"o\"\nexpires = 2027-01-01\n"),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("suppress[0].reason"));
        let e = load("[[suppress]]\nrule = \"stale_login\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\n").unwrap_err();
        assert!(e.message.contains("matches every finding"));
        let e = load(&format!(
            "{}expires = 2027-01-01\n",
            ENTRY.replace("stale_login", "stale_logins")
        ))
        .unwrap_err();
        assert!(e.message.contains("unknown rule `stale_logins`"));
        let e = load(ENTRY).unwrap_err();
        assert!(e.message.contains("expires"), "{e}");
        let e = load(&format!("{ENTRY}expires = 2027-01-01T00:00:00Z\n")).unwrap_err();
        assert!(e.message.contains("not a date"));
        let e = load(&format!(
            "{ENTRY}expires = 2027-01-01\nticket = \"SEC-1\"\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("unknown field `ticket`"));
    }
}
