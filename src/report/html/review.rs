//! The sections that show the review's own inputs: people (the roster), what changed since
//! the baseline, the suppressed findings and the suppressions to review.

use serde::Serialize;

use super::super::view::{ChangeRows, FindingRow, ScopeNames, change_rows};
use super::super::{Report, plural};
use super::MAX_ROWS_PER_RULE;

#[derive(Serialize)]
pub(super) struct PersonView<'a> {
    email: &'a str,
    name: &'a str,
    status: &'a str,
    flagged: bool,
    end_date: &'a str,
    manager: &'a str,
    accounts: String,
    findings: usize,
}

pub(super) fn people_rows(report: &Report) -> Vec<PersonView<'_>> {
    report
        .people
        .iter()
        .filter(|p| !p.accounts.is_empty())
        .take(MAX_ROWS_PER_RULE)
        .map(|p| PersonView {
            email: &p.email,
            name: &p.name,
            status: &p.status,
            flagged: p.status != "active" || p.findings > 0,
            end_date: p.end_date.as_deref().unwrap_or(""),
            manager: &p.manager,
            accounts: p.accounts.join(", "),
            findings: p.findings,
        })
        .collect()
}

#[derive(Serialize)]
pub(super) struct SuppressedRow<'a> {
    #[serde(flatten)]
    row: FindingRow<'a>,
    reason: &'a str,
    owner: &'a str,
    expires: &'a str,
}

#[derive(Serialize)]
pub(super) struct ReviewRow<'a> {
    state: &'static str,
    rule: &'a str,
    matcher: String,
    reason: &'a str,
    owner: &'a str,
    expires: &'a str,
    matched: usize,
}

/// Rows listed in the "what changed" tables before pointing at the CSV.
const MAX_CHANGE_ROWS: usize = 200;

pub(super) fn changes_view<'a>(
    report: &'a Report,
    names: &ScopeNames<'a>,
) -> Option<ChangeRows<'a>> {
    let mut changes = change_rows(report, names, MAX_CHANGE_ROWS)?;
    if changes.not_rechecked > 0 {
        changes.summary.push_str(&format!(
            "; {} earlier finding{} not re-checked (scope failed this time)",
            changes.not_rechecked,
            plural(changes.not_rechecked)
        ));
    }
    Some(changes)
}

pub(super) fn suppressed_rows<'a>(
    report: &'a Report,
    names: &ScopeNames<'a>,
) -> Vec<SuppressedRow<'a>> {
    report
        .findings
        .iter()
        .filter_map(|f| {
            let s = f.suppression.as_ref()?;
            Some(SuppressedRow {
                row: FindingRow::of(f, names),
                reason: &s.reason,
                owner: &s.owner,
                expires: &s.expires,
            })
        })
        .take(MAX_ROWS_PER_RULE)
        .collect()
}

pub(super) fn review_rows(report: &Report) -> Vec<ReviewRow<'_>> {
    use crate::review::suppressions::State;
    report
        .suppressions
        .iter()
        .filter(|s| s.state != State::Active)
        .map(|s| {
            let matcher = [
                ("source", &s.source_name),
                ("scope", &s.scope),
                ("account", &s.account_id),
                ("email", &s.email),
            ]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
            .collect::<Vec<_>>()
            .join(", ");
            ReviewRow {
                state: match s.state {
                    State::Expired => "expired — no longer suppresses",
                    _ => "unused — matched nothing",
                },
                rule: s.rule.as_str(),
                matcher,
                reason: &s.reason,
                owner: &s.owner,
                expires: &s.expires,
                matched: s.matched,
            }
        })
        .collect()
}
