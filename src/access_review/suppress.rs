//! `review sign-off --suppress-kept-until DATE` (opt-in): every justified `keep` of an account
//! with a failing finding becomes a `[[suppress]]` entry for the next runs — its rule, the
//! account, the justification as the reason, the reviewer as the owner, DATE as the expiry —
//! in the format `review::suppressions` loads, so accepted access stops re-alerting.

use chrono::NaiveDate;
use serde::Serialize;

use super::campaign::{Decision, row_key};
use super::state::State;
use crate::model::Outcome;
use crate::report::schema::FindingRecord;
use crate::review::suppressions::MAX_DAYS_AHEAD;

pub(crate) const SUPPRESSIONS_TOML: &str = "suppressions.toml";

#[derive(Serialize)]
struct File {
    suppress: Vec<Entry>,
}

#[derive(Debug, Serialize)]
struct Entry {
    rule: String,
    source_name: String,
    scope: String,
    account_id: String,
    reason: String,
    owner: String,
    expires: toml::value::Datetime,
}

/// DATE after `today` and at most [`MAX_DAYS_AHEAD`] days ahead: what the loader accepts.
pub(crate) fn check_until(until: NaiveDate, today: NaiveDate) -> Result<(), String> {
    let days = (until - today).num_days();
    if days <= 0 {
        return Err(format!(
            "--suppress-kept-until {until} is not after today ({today})"
        ));
    }
    if days > MAX_DAYS_AHEAD {
        return Err(format!(
            "--suppress-kept-until {until} is more than {MAX_DAYS_AHEAD} days after {today}: accepted risk is reviewed at least yearly"
        ));
    }
    Ok(())
}

/// The suppressions file's text, and the row keys that could not become an entry (an id with
/// `*` or `?` would match more than its account).
pub(crate) fn file(
    state: &State,
    findings: &[FindingRecord],
    until: NaiveDate,
) -> Result<(String, Vec<String>), String> {
    let expires = toml_date(until)?;
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed && !f.account_id.is_empty())
    {
        let key = row_key(&f.source_name, &f.scope, &f.account_id);
        let Some(d) = state.decisions.get(&key) else {
            continue;
        };
        let Some(reason) = d.justification.as_deref().filter(|j| !j.trim().is_empty()) else {
            continue;
        };
        if d.decision != Decision::Keep {
            continue;
        }
        let fields = [&f.source_name, &f.scope, &f.account_id];
        if fields.iter().any(|v| v.contains(['*', '?'])) {
            skipped.push(key);
            continue;
        }
        entries.push(Entry {
            rule: f.rule.clone(),
            source_name: f.source_name.clone(),
            scope: f.scope.clone(),
            account_id: f.account_id.clone(),
            reason: reason.to_string(),
            owner: d.decided_by.clone(),
            expires,
        });
    }
    let body = toml::to_string(&File { suppress: entries })
        .map_err(|e| format!("cannot write {SUPPRESSIONS_TOML}: {e}"))?;
    let head = format!(
        "# Accepted access from review {} (signed off): each account was kept with a justification\n\
         # although a failing finding applied. Use with `access-audit run --suppressions <this file>`.\n\n",
        state.review_id
    );
    Ok((format!("{head}{body}"), skipped))
}

fn toml_date(d: NaiveDate) -> Result<toml::value::Datetime, String> {
    use chrono::Datelike as _;
    let part = |v: u32| u8::try_from(v).map_err(|_| format!("{d} is not a date"));
    Ok(toml::value::Datetime {
        date: Some(toml::value::Date {
            year: u16::try_from(d.year()).map_err(|_| format!("{d} is out of range"))?,
            month: part(d.month())?,
            day: part(d.day())?,
        }),
        time: None,
        offset: None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::access_review::campaign::tests::finding;
    use crate::access_review::state::DecisionRecord;
    use crate::access_review::validate::tests::state;

    #[test]
    fn a_justified_keep_of_a_failing_account_loads_as_a_suppression() {
        let mut s = state();
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap();
        s.decisions.insert(
            "sentry/acme/1".into(),
            DecisionRecord {
                decision: Decision::Keep,
                new_role: None,
                justification: Some("break-glass \"admin\"\nsealed".into()),
                decided_by: "eng@acme.example".into(),
                collected_at: t,
                file: "w.xlsx".into(),
            },
        );
        let findings = [
            finding("acme", "1", "fail", false),
            finding("acme", "2", "fail", false),
        ];
        let until = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
        let (text, skipped) = file(&s, &findings, until).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(text.matches("[[suppress]]").count(), 1, "{text}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUPPRESSIONS_TOML);
        std::fs::write(&path, &text).unwrap();
        crate::review::suppressions::Suppressions::load(&path, t).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert!(check_until(until, today).is_ok());
        assert!(check_until(today, today).is_err());
        assert!(check_until(NaiveDate::from_ymd_opt(2028, 1, 1).unwrap(), today).is_err());
    }
}
