//! The privileged access listing: every owner, manager and admin across sources with their
//! two-factor state, whether or not a rule fired — the list auditors ask for first.

use std::collections::HashMap;

use serde::Serialize;

use super::Report;
use super::view::{ScopeNames, display_name};
use crate::model::{Account, Finding, Outcome};
use crate::timestamp::date;

/// One privileged account.
#[derive(Debug, Serialize)]
pub(crate) struct PrivilegedRow<'a> {
    /// The name, when it adds to the email.
    pub name: &'a str,
    pub email: &'a str,
    pub account_id: &'a str,
    pub source_name: &'a str,
    pub scope: &'a str,
    pub scope_name: &'a str,
    pub role: &'a str,
    pub status: String,
    /// "yes", "no" or "not exposed" (the source does not say).
    pub mfa: &'static str,
    /// Without two-factor authentication: the row is highlighted.
    pub mfa_off: bool,
    /// `YYYY-MM-DD`, or "never".
    pub last_seen: String,
    /// Unsuppressed failing findings on this account.
    pub failing: usize,
}

/// Privileged accounts, those without 2FA first, then those whose 2FA is not exposed, then
/// the rest, each in report order (by place); at most `max_rows`, and how many there are.
pub(crate) fn privileged_rows<'a>(
    report: &'a Report,
    names: &ScopeNames<'a>,
    max_rows: usize,
) -> (Vec<PrivilegedRow<'a>>, usize) {
    let failing = failing_per_account(&report.findings);
    let mut accounts: Vec<&Account> = report.accounts.iter().filter(|a| a.privileged).collect();
    accounts.sort_by_key(|a| match a.mfa {
        Some(false) => 0,
        None => 1,
        Some(true) => 2,
    });
    let total = accounts.len();
    let rows = accounts
        .into_iter()
        .take(max_rows)
        .map(|a| PrivilegedRow {
            name: display_name(a.name.as_deref(), a.email.as_deref()),
            email: a.email.as_deref().unwrap_or(""),
            account_id: &a.account_id,
            source_name: &a.source_name,
            scope: &a.scope,
            scope_name: names.get(&a.source_name, &a.scope),
            role: a.role.as_deref().unwrap_or(""),
            status: a.status.to_string(),
            mfa: match a.mfa {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not exposed",
            },
            mfa_off: a.mfa == Some(false),
            last_seen: a.last_seen_at.map_or_else(|| "never".into(), date),
            failing: failing
                .get(&(&*a.source_name, &*a.scope, &*a.account_id))
                .copied()
                .unwrap_or(0),
        })
        .collect();
    (rows, total)
}

/// Unsuppressed failing findings per account (source name, scope, account id).
pub(crate) fn failing_per_account(findings: &[Finding]) -> HashMap<(&str, &str, &str), usize> {
    let mut out = HashMap::new();
    for f in findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
    {
        if let Some(a) = f.subject.account() {
            *out.entry((&*f.source_name, &*f.scope, &*a.account_id))
                .or_default() += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_privileged_account_is_listed_those_without_2fa_first() {
        let report = crate::deliver::sample::report();
        let names = ScopeNames::of(&report);
        let (rows, total) = privileged_rows(&report, &names, 10);
        let privileged = report.accounts.iter().filter(|a| a.privileged).count();
        assert_eq!(total, privileged);
        assert_eq!(rows.len(), privileged);
        assert_eq!(rows[0].mfa, "no");
        assert!(rows[0].mfa_off);
        assert_eq!(rows[0].failing, 1, "admin_without_2fa fired");
        assert_eq!(rows.last().map(|r| r.mfa), Some("not exposed"));
        let (capped, total) = privileged_rows(&report, &names, 1);
        assert_eq!((capped.len(), total), (1, privileged));
    }
}
