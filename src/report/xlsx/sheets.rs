//! What each sheet holds: its columns, as lists, so that a column is added in one place.
//!
//! Findings and Accounts carry the columns of findings.csv and accounts.csv, in the same order
//! (times as Excel date-times, their headers marked `(UTC)`), then the columns the CSV leaves out.

use super::table::{Cell, Column};
use crate::model::{Account, Accounts, Change, Finding};
use crate::report::{RuleMeta, ScopeEntry};
use crate::review::baseline::BaselineFinding;
use crate::review::roster::PersonRow;
use crate::review::suppressions::{EntryStatus, State};

/// Sheet names: ours, never from data.
pub(super) const SUMMARY: &str = "Summary";
pub(super) const FINDINGS: &str = "Findings";
pub(super) const ACCOUNTS: &str = "Accounts";
pub(super) const PRIVILEGED: &str = "Privileged";
pub(super) const COVERAGE: &str = "Coverage";
pub(super) const PEOPLE: &str = "People";
pub(super) const SUPPRESSIONS: &str = "Suppressions";
pub(super) const CHANGES: &str = "Changes";

pub(super) const FINDING_COLUMNS: &[Column<Finding>] = &[
    Column {
        header: "id",
        cell: |f| Cell::text(&f.id),
    },
    Column {
        header: "rule",
        cell: |f| Cell::text(f.rule.as_str()),
    },
    Column {
        header: "severity",
        cell: |f| Cell::text(f.severity.as_str()),
    },
    Column {
        header: "outcome",
        cell: |f| Cell::text(f.outcome.as_str()),
    },
    Column {
        header: "source",
        cell: |f| Cell::text(f.source.as_str()),
    },
    Column {
        header: "source_name",
        cell: |f| Cell::text(&f.source_name),
    },
    Column {
        header: "scope",
        cell: |f| Cell::text(&f.scope),
    },
    Column {
        header: "account_id",
        cell: |f| Cell::text(f.subject.account_id()),
    },
    Column {
        header: "email",
        cell: |f| Cell::opt(f.subject.email()),
    },
    Column {
        header: "name",
        cell: |f| Cell::opt(f.subject.name()),
    },
    Column {
        header: "role",
        cell: |f| Cell::opt(f.subject.role()),
    },
    Column {
        header: "status",
        cell: |f| Cell::text(f.subject.status()),
    },
    Column {
        header: "last_seen_at (UTC)",
        cell: |f| Cell::Time(f.subject.last_seen_at()),
    },
    Column {
        header: "detail",
        cell: |f| Cell::text(&f.detail),
    },
    Column {
        header: "suppressed",
        cell: |f| Cell::Bool(f.suppressed),
    },
    // Beyond findings.csv.
    Column {
        header: "suppression_reason",
        cell: |f| Cell::opt(f.suppression.as_ref().map(|s| s.reason.as_str())),
    },
    Column {
        header: "suppression_owner",
        cell: |f| Cell::opt(f.suppression.as_ref().map(|s| s.owner.as_str())),
    },
    Column {
        header: "suppression_expires",
        cell: |f| Cell::DateText(f.suppression.as_ref().map(|s| s.expires.as_str())),
    },
    Column {
        header: "change",
        cell: |f| Cell::opt(f.change.map(Change::as_str)),
    },
    Column {
        header: "first_seen (UTC)",
        cell: |f| Cell::DateText(f.first_seen.as_deref()),
    },
    Column {
        header: "references",
        cell: |f| {
            Cell::owned(
                crate::rules::rule_info(f.rule.as_str())
                    .map(|i| i.references.join("; "))
                    .unwrap_or_default(),
            )
        },
    },
];

pub(super) const ACCOUNT_COLUMNS: &[Column<Account>] = &[
    Column {
        header: "source",
        cell: |a| Cell::text(a.source.as_str()),
    },
    Column {
        header: "source_name",
        cell: |a| Cell::text(&a.source_name),
    },
    Column {
        header: "scope",
        cell: |a| Cell::text(&a.scope),
    },
    Column {
        header: "account_id",
        cell: |a| Cell::text(&a.account_id),
    },
    Column {
        header: "user_id",
        cell: |a| Cell::opt(a.user_id.as_deref()),
    },
    Column {
        header: "email",
        cell: |a| Cell::opt(a.email.as_deref()),
    },
    Column {
        header: "name",
        cell: |a| Cell::opt(a.name.as_deref()),
    },
    Column {
        header: "role",
        cell: |a| Cell::opt(a.role.as_deref()),
    },
    Column {
        header: "privileged",
        cell: |a| Cell::Bool(a.privileged),
    },
    Column {
        header: "status",
        cell: |a| Cell::text(a.status.as_str()),
    },
    Column {
        header: "mfa",
        cell: |a| Cell::OptBool(a.mfa),
    },
    Column {
        header: "last_login_at (UTC)",
        cell: |a| Cell::Time(a.last_login_at),
    },
    Column {
        header: "last_active_at (UTC)",
        cell: |a| Cell::Time(a.last_active_at),
    },
    Column {
        header: "last_seen_at (UTC)",
        cell: |a| Cell::Time(a.last_seen_at),
    },
    Column {
        header: "invited_at (UTC)",
        cell: |a| Cell::Time(a.invited_at),
    },
    Column {
        header: "created_at (UTC)",
        cell: |a| Cell::Time(a.created_at),
    },
    // Beyond accounts.csv.
    Column {
        header: "flags",
        cell: |a| Cell::owned(a.flags.join("; ")),
    },
];

/// A privileged account and how many unsuppressed failing findings are about it.
pub(super) struct Privileged<'r> {
    pub account: &'r Account,
    pub failing: usize,
}

pub(super) fn privileged_rows<'r>(
    accounts: &'r Accounts,
    findings: &'r [Finding],
) -> Vec<Privileged<'r>> {
    let failing = crate::report::privileged::failing_per_account(findings);
    accounts
        .iter()
        .filter(|a| a.privileged)
        .map(|a| Privileged {
            account: a,
            failing: failing
                .get(&(&*a.source_name, &*a.scope, &*a.account_id))
                .copied()
                .unwrap_or(0),
        })
        .collect()
}

pub(super) fn privileged_columns<'r>() -> Vec<Column<Privileged<'r>>> {
    vec![
        Column {
            header: "name",
            cell: |p| Cell::opt(p.account.name.as_deref()),
        },
        Column {
            header: "email",
            cell: |p| Cell::opt(p.account.email.as_deref()),
        },
        Column {
            header: "account_id",
            cell: |p| Cell::text(&p.account.account_id),
        },
        Column {
            header: "source_name",
            cell: |p| Cell::text(&p.account.source_name),
        },
        Column {
            header: "scope",
            cell: |p| Cell::text(&p.account.scope),
        },
        Column {
            header: "role",
            cell: |p| Cell::opt(p.account.role.as_deref()),
        },
        Column {
            header: "status",
            cell: |p| Cell::text(p.account.status.as_str()),
        },
        Column {
            header: "2FA",
            cell: |p| {
                Cell::text(match p.account.mfa {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "unknown",
                })
            },
        },
        Column {
            header: "last_seen_at (UTC)",
            cell: |p| Cell::Time(p.account.last_seen_at),
        },
        Column {
            header: "failing findings",
            cell: |p| Cell::Number(p.failing),
        },
    ]
}

pub(super) const COVERAGE_COLUMNS: &[Column<ScopeEntry>] = &[
    Column {
        header: "source",
        cell: |s| Cell::text(s.source.as_str()),
    },
    Column {
        header: "source_name",
        cell: |s| Cell::text(&s.source_name),
    },
    Column {
        header: "scope",
        cell: |s| Cell::text(&s.scope),
    },
    Column {
        header: "scope_name",
        cell: |s| Cell::opt(s.provenance.display_name.as_deref()),
    },
    Column {
        header: "status",
        cell: |s| {
            Cell::text(match s.status {
                crate::model::ScopeStatus::Ok => "ok",
                crate::model::ScopeStatus::Failed => "FAILED",
            })
        },
    },
    Column {
        header: "accounts",
        cell: |s| Cell::Number(s.accounts),
    },
    Column {
        header: "error_http_status",
        cell: |s| match s.error.as_ref().and_then(|e| e.http_status) {
            Some(status) => Cell::Number(status.into()),
            None => Cell::Empty,
        },
    },
    Column {
        header: "error_code",
        cell: |s| Cell::opt(s.error.as_ref().and_then(|e| e.code.as_deref())),
    },
    Column {
        header: "error_message",
        cell: |s| Cell::opt(s.error.as_ref().map(|e| e.message.as_str())),
    },
    Column {
        header: "error_request_id",
        cell: |s| Cell::opt(s.error.as_ref().and_then(|e| e.request_id.as_deref())),
    },
    Column {
        header: "api_reported_total",
        cell: |s| match s.provenance.reported_total {
            Some(t) => Cell::Number(usize::try_from(t).unwrap_or(usize::MAX)),
            None => Cell::Empty,
        },
    },
    Column {
        header: "pages",
        cell: |s| Cell::Number(s.provenance.pages.len()),
    },
    Column {
        header: "endpoints",
        cell: |s| Cell::owned(s.provenance.endpoints().join("; ")),
    },
    Column {
        header: "first_fetched_at (UTC)",
        cell: |s| Cell::Time(s.provenance.pages.iter().map(|p| p.fetched_at).min()),
    },
    Column {
        header: "last_fetched_at (UTC)",
        cell: |s| Cell::Time(s.provenance.pages.iter().map(|p| p.fetched_at).max()),
    },
    Column {
        header: "request_ids",
        cell: |s| {
            let ids = s
                .provenance
                .pages
                .iter()
                .filter_map(|p| p.request_id.as_deref());
            Cell::owned(ids.collect::<Vec<_>>().join("; "))
        },
    },
    Column {
        header: "evidence_sha256",
        cell: |s| {
            let digests = s
                .provenance
                .pages
                .iter()
                .filter_map(|p| p.sha256.as_deref());
            Cell::owned(digests.collect::<Vec<_>>().join("; "))
        },
    },
];

pub(super) const PEOPLE_COLUMNS: &[Column<PersonRow>] = &[
    Column {
        header: "email",
        cell: |p| Cell::text(&p.email),
    },
    Column {
        header: "name",
        cell: |p| Cell::text(&p.name),
    },
    Column {
        header: "status",
        cell: |p| Cell::text(&p.status),
    },
    Column {
        header: "end_date",
        cell: |p| Cell::DateText(p.end_date.as_deref()),
    },
    Column {
        header: "manager",
        cell: |p| Cell::text(&p.manager),
    },
    Column {
        header: "accounts",
        cell: |p| Cell::owned(p.accounts.join("; ")),
    },
    Column {
        header: "findings",
        cell: |p| Cell::Number(p.findings),
    },
];

pub(super) const SUPPRESSION_COLUMNS: &[Column<EntryStatus>] = &[
    Column {
        header: "entry",
        cell: |s| Cell::Number(s.index),
    },
    Column {
        header: "rule",
        cell: |s| Cell::text(s.rule.as_str()),
    },
    Column {
        header: "source_name",
        cell: |s| Cell::opt(s.source_name.as_deref()),
    },
    Column {
        header: "scope",
        cell: |s| Cell::opt(s.scope.as_deref()),
    },
    Column {
        header: "account_id",
        cell: |s| Cell::opt(s.account_id.as_deref()),
    },
    Column {
        header: "email",
        cell: |s| Cell::opt(s.email.as_deref()),
    },
    Column {
        header: "reason",
        cell: |s| Cell::text(&s.reason),
    },
    Column {
        header: "owner",
        cell: |s| Cell::text(&s.owner),
    },
    Column {
        header: "expires",
        cell: |s| Cell::DateText(Some(&s.expires)),
    },
    Column {
        header: "state",
        cell: |s| {
            Cell::text(match s.state {
                State::Active => "active",
                State::Expired => "expired",
                State::Unused => "unused",
            })
        },
    },
    Column {
        header: "matched",
        cell: |s| Cell::Number(s.matched),
    },
];

/// A finding that is new since the baseline, or a baseline finding this run no longer reports.
pub(super) enum ChangeRow<'r> {
    New(&'r Finding),
    Resolved(&'r BaselineFinding),
}

impl ChangeRow<'_> {
    fn pick<'a, T>(
        &'a self,
        new: impl Fn(&'a Finding) -> T,
        old: impl Fn(&'a BaselineFinding) -> T,
    ) -> T {
        match self {
            ChangeRow::New(f) => new(f),
            ChangeRow::Resolved(b) => old(b),
        }
    }
}

pub(super) fn change_rows(report: &crate::report::Report) -> Vec<ChangeRow<'_>> {
    let Some(changes) = &report.changes else {
        return Vec::new();
    };
    report
        .findings
        .iter()
        .filter(|f| f.change == Some(Change::New))
        .map(ChangeRow::New)
        .chain(changes.resolved.iter().map(ChangeRow::Resolved))
        .collect()
}

pub(super) fn change_columns<'r>() -> Vec<Column<ChangeRow<'r>>> {
    vec![
        Column {
            header: "change",
            cell: |c| Cell::text(c.pick(|_| "new", |_| "resolved")),
        },
        Column {
            header: "id",
            cell: |c| Cell::text(c.pick(|f| &f.id, |b| &b.id)),
        },
        Column {
            header: "rule",
            cell: |c| Cell::text(c.pick(|f| f.rule.as_str(), |b| &b.rule)),
        },
        Column {
            header: "severity",
            cell: |c| Cell::text(c.pick(|f| f.severity.as_str(), |b| b.severity.as_str())),
        },
        Column {
            header: "outcome",
            cell: |c| Cell::text(c.pick(|f| f.outcome.as_str(), |b| b.outcome.as_str())),
        },
        Column {
            header: "source_name",
            cell: |c| Cell::text(c.pick(|f| &*f.source_name, |b| &b.source_name)),
        },
        Column {
            header: "scope",
            cell: |c| Cell::text(c.pick(|f| &*f.scope, |b| &b.scope)),
        },
        Column {
            header: "account_id",
            cell: |c| Cell::text(c.pick(|f| f.subject.account_id(), |b| &b.account_id)),
        },
        Column {
            header: "email",
            cell: |c| Cell::opt(c.pick(|f| f.subject.email(), |b| b.email.as_deref())),
        },
        Column {
            header: "name",
            cell: |c| Cell::opt(c.pick(|f| f.subject.name(), |b| b.name.as_deref())),
        },
        Column {
            header: "detail",
            cell: |c| Cell::text(c.pick(|f| &*f.detail, |b| &b.detail)),
        },
        Column {
            header: "first_seen (UTC)",
            cell: |c| {
                Cell::DateText(c.pick(|f| f.first_seen.as_deref(), |b| b.first_seen.as_deref()))
            },
        },
        Column {
            header: "suppressed",
            cell: |c| match c {
                ChangeRow::New(f) => Cell::Bool(f.suppressed),
                ChangeRow::Resolved(_) => Cell::Empty,
            },
        },
    ]
}

/// One row of the Summary's rule table.
pub(super) struct RuleRow<'r> {
    pub meta: &'r RuleMeta,
    pub failing: usize,
}

/// The rule table: one row per rule this run evaluated.
pub(super) fn rule_columns<'r>() -> Vec<Column<RuleRow<'r>>> {
    vec![
        Column {
            header: "rule",
            cell: |r| Cell::text(r.meta.id.as_str()),
        },
        Column {
            header: "severity",
            cell: |r| Cell::text(r.meta.severity.as_str()),
        },
        Column {
            header: "criteria in force",
            cell: |r| Cell::text(&r.meta.checks),
        },
        Column {
            header: "references",
            cell: |r| Cell::owned(r.meta.references.join("; ")),
        },
        Column {
            header: "population",
            cell: |r| Cell::text(r.meta.population.of),
        },
        Column {
            header: "evaluated",
            cell: |r| Cell::Number(r.meta.population.evaluated),
        },
        Column {
            header: "failing",
            cell: |r| Cell::Number(r.failing),
        },
        Column {
            header: "manual",
            cell: |r| Cell::Number(r.meta.population.manual),
        },
        Column {
            header: "suppressed",
            cell: |r| Cell::Number(r.meta.population.suppressed),
        },
        Column {
            header: "passed",
            cell: |r| Cell::Number(r.meta.population.passed),
        },
    ]
}
