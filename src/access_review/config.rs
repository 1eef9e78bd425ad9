//! `[review]` of the config file: who reviews which scopes, how long they have, how soon a
//! revocation must follow, how often a review is due, and where the ledger is kept.

use std::path::PathBuf;

use serde::Deserialize;

/// `[review]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReview {
    default_reviewer: Option<String>,
    due_days: Option<u32>,
    revoke_within_days: Option<u32>,
    cadence_days: Option<u32>,
    ledger_dir: Option<PathBuf>,
    #[serde(default)]
    reviewers: Vec<RawReviewer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReviewer {
    email: String,
    scopes: Vec<String>,
}

/// `[review]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReviewSettings {
    /// Reviews every account no `[[review.reviewers]]` entry covers.
    pub(crate) default_reviewer: String,
    /// Days from `review start` until the decisions are due.
    pub(crate) due_days: u32,
    /// Days from sign-off within which a revocation must be done.
    pub(crate) revoke_within_days: u32,
    /// A review is expected at least this often; the ledger report calls out gaps.
    pub(crate) cadence_days: u32,
    /// The append-only ledger of runs and reviews.
    pub(crate) ledger_dir: PathBuf,
    /// In file order: the first whose globs match a scope reviews it.
    pub(crate) reviewers: Vec<Reviewer>,
}

/// One `[[review.reviewers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reviewer {
    pub(crate) email: String,
    /// Globs over `source_name/scope` (`*` any run of characters, `?` one).
    pub(crate) scopes: Vec<String>,
}

pub(crate) const DEFAULT_DUE_DAYS: u32 = 14;
pub(crate) const DEFAULT_REVOKE_WITHIN_DAYS: u32 = 7;
/// A quarter and a day.
pub(crate) const DEFAULT_CADENCE_DAYS: u32 = 92;
pub(crate) const DEFAULT_LEDGER_DIR: &str = "access-audit-ledger";
/// Longer than any review cycle: ten years.
const MAX_DAYS: u32 = 3650;

/// Check `[review]` as a whole: an error names the key within the section.
pub(crate) fn validate(raw: RawReview) -> Result<ReviewSettings, (&'static str, String)> {
    let default_reviewer = match raw.default_reviewer {
        Some(e) => address(&e).map_err(|m| ("default_reviewer", m))?,
        None => {
            return Err((
                "default_reviewer",
                "[review] needs `default_reviewer`: the address that reviews every account no \
                 [[review.reviewers]] entry covers"
                    .into(),
            ));
        }
    };
    let days = |key: &'static str, value: Option<u32>, default: u32| match value {
        None => Ok(default),
        Some(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
        Some(d) => Err((
            key,
            format!("{d}: expected a number of days from 1 to {MAX_DAYS}"),
        )),
    };
    let mut reviewers = Vec::with_capacity(raw.reviewers.len());
    for (i, r) in raw.reviewers.into_iter().enumerate() {
        let n = i + 1;
        let email = address(&r.email).map_err(|m| ("reviewers", format!("reviewer {n}: {m}")))?;
        if r.scopes.is_empty() {
            return Err((
                "reviewers",
                format!(
                    "reviewer {n} ({email}) lists no scopes: give globs such as \"sentry/acme*\""
                ),
            ));
        }
        for glob in &r.scopes {
            scope_glob(glob).map_err(|m| ("reviewers", format!("reviewer {n} ({email}): {m}")))?;
        }
        reviewers.push(Reviewer {
            email,
            scopes: r.scopes,
        });
    }
    let ledger_dir = raw
        .ledger_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LEDGER_DIR));
    if ledger_dir.as_os_str().is_empty() {
        return Err(("ledger_dir", "the ledger directory is empty".into()));
    }
    Ok(ReviewSettings {
        default_reviewer,
        due_days: days("due_days", raw.due_days, DEFAULT_DUE_DAYS)?,
        revoke_within_days: days(
            "revoke_within_days",
            raw.revoke_within_days,
            DEFAULT_REVOKE_WITHIN_DAYS,
        )?,
        cadence_days: days("cadence_days", raw.cadence_days, DEFAULT_CADENCE_DAYS)?,
        ledger_dir,
        reviewers,
    })
}

/// A reviewer's address, as a mail server would take it; lower-cased.
fn address(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    trimmed
        .parse::<lettre::Address>()
        .map(|a| a.to_string().to_ascii_lowercase())
        .map_err(|e| format!("`{trimmed}` is not an email address ({e})"))
}

/// `source_name/scope` with `*` and `?`: both halves present, nothing else special.
fn scope_glob(glob: &str) -> Result<(), String> {
    match glob.split_once('/') {
        Some((source, scope)) if !source.is_empty() && !scope.is_empty() => Ok(()),
        _ => Err(format!(
            "scope `{glob}` is not `source_name/scope` (globs allowed, such as \"sentry/acme*\" or \"sentdm/*\")"
        )),
    }
}

/// Whether `glob` (`*` any run, `?` one character) matches all of `text`.
pub(crate) fn glob_matches(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    // Iterative wildcard matching with one backtrack point: linear in practice, never
    // exponential whatever the pattern.
    let (mut gi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

impl ReviewSettings {
    /// Who reviews `source_name/scope`: the first reviewer whose glob matches, or the default.
    pub(crate) fn reviewer_of(&self, source_name: &str, scope: &str) -> &str {
        let place = format!("{source_name}/{scope}");
        self.reviewers
            .iter()
            .find(|r| r.scopes.iter().any(|g| glob_matches(g, &place)))
            .map_or(self.default_reviewer.as_str(), |r| r.email.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<ReviewSettings, (&'static str, String)> {
        validate(toml::from_str(toml).map_err(|e| ("toml", e.to_string()))?)
    }

    #[test]
    fn reviewers_are_matched_in_file_order_with_a_default() {
        let s = parse(
            "default_reviewer = \"Security@Acme.example\"\n\
             [[reviewers]]\nemail = \"eng@acme.example\"\nscopes = [\"sentry/acme*\"]\n\
             [[reviewers]]\nemail = \"ops@acme.example\"\nscopes = [\"sentry/*\", \"sentdm/*\"]\n",
        )
        .unwrap();
        assert_eq!(s.reviewer_of("sentry", "acme-labs"), "eng@acme.example");
        assert_eq!(s.reviewer_of("sentry", "other"), "ops@acme.example");
        assert_eq!(s.reviewer_of("sentdm", "organization"), "ops@acme.example");
        assert_eq!(s.reviewer_of("gitlab", "x"), "security@acme.example");
        assert_eq!(
            (s.due_days, s.revoke_within_days, s.cadence_days),
            (14, 7, 92)
        );
        assert_eq!(s.ledger_dir, PathBuf::from("access-audit-ledger"));
    }

    #[test]
    fn every_mistake_names_its_key() {
        for (toml, key, says) in [
            (
                "due_days = 3",
                "default_reviewer",
                "needs `default_reviewer`",
            ),
            (
                "default_reviewer = \"nobody\"",
                "default_reviewer",
                "not an email address",
            ),
            (
                "default_reviewer = \"a@b.example\"\ndue_days = 0",
                "due_days",
                "from 1 to 3650",
            ),
            (
                "default_reviewer = \"a@b.example\"\ncadence_days = 99999",
                "cadence_days",
                "from 1 to 3650",
            ),
            (
                "default_reviewer = \"a@b.example\"\n[[reviewers]]\nemail = \"x@y.example\"\nscopes = [\"acme\"]",
                "reviewers",
                "reviewer 1 (x@y.example): scope `acme` is not `source_name/scope`",
            ),
            (
                "default_reviewer = \"a@b.example\"\n[[reviewers]]\nemail = \"x@y.example\"\nscopes = []",
                "reviewers",
                "lists no scopes",
            ),
            (
                "default_reviewer = \"a@b.example\"\nledger_dir = \"\"",
                "ledger_dir",
                "empty",
            ),
        ] {
            let (k, m) = parse(toml).unwrap_err();
            assert_eq!(k, key, "{toml}");
            assert!(m.contains(says), "{toml}: {m}");
        }
    }

    #[test]
    fn globs_match_whole_names_without_blowing_up() {
        assert!(glob_matches("sentry/acme*", "sentry/acme-labs"));
        assert!(glob_matches("sentry/acme*", "sentry/acme"));
        assert!(!glob_matches("sentry/acme*", "sentry/labs-acme"));
        assert!(glob_matches("*/organization", "sentdm/organization"));
        assert!(glob_matches("sentry/acm?", "sentry/acme"));
        assert!(!glob_matches("sentry/acm?", "sentry/acmes"));
        let hostile = format!("{}b", "a*".repeat(50));
        assert!(!glob_matches(&hostile, &"a".repeat(5000)));
    }
}
