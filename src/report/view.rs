//! What people read of a report, whatever the medium: findings grouped by rule, rows that say
//! who and where, the scopes that could not be audited, what changed since the baseline and what
//! is suppressed. `report.html` ([`super::html`]) and the email (`deliver::compose`) lay these
//! out each in their own way; neither walks the report's findings itself, so the page and the
//! message cannot disagree about what a finding is or which ones count.

use std::collections::HashMap;

use serde::Serialize;

use super::{Report, plural};
use crate::model::{Change, Finding, Outcome, ScopeStatus, Severity};
use crate::review::baseline::BaselineFinding;
use crate::review::suppressions::State;
use crate::rules::rule_info;

/// One finding as a row: who, where, what.
#[derive(Debug, Serialize)]
pub(crate) struct FindingRow<'a> {
    pub rule: &'a str,
    /// The name, when it adds to the email: Sentry invitations carry the email as the name.
    pub name: &'a str,
    pub email: &'a str,
    /// "Name <email>", or whichever of them there is, or the account id.
    pub who: String,
    pub role: &'a str,
    pub status: &'a str,
    pub source_name: &'a str,
    pub scope: &'a str,
    /// The scope's name for people where discovery gave one (a Sent.dm profile's), or empty.
    pub scope_name: &'a str,
    /// `source_name / scope`, the scope by its name where it has one.
    pub place: String,
    pub detail: &'a str,
}

/// Scope names for people (a Sent.dm profile's, a Sentry organization's), by source name and
/// scope id, as discovery listed them.
pub(crate) struct ScopeNames<'a>(HashMap<(&'a str, &'a str), &'a str>);

impl<'a> ScopeNames<'a> {
    pub(crate) fn of(report: &'a Report) -> ScopeNames<'a> {
        ScopeNames::of_scopes(&report.scopes)
    }

    /// From a report's scopes (as written, or read back from report.json).
    pub(crate) fn of_scopes(scopes: &'a [super::ScopeEntry]) -> ScopeNames<'a> {
        ScopeNames(
            scopes
                .iter()
                .filter_map(|s| {
                    let name = s.provenance.display_name.as_deref()?;
                    Some(((s.source_name.as_str(), s.scope.as_str()), name))
                })
                .collect(),
        )
    }

    /// The scope's name, or empty.
    pub(crate) fn get(&self, source_name: &'a str, scope: &'a str) -> &'a str {
        self.0.get(&(source_name, scope)).copied().unwrap_or("")
    }

    /// `Name (id)` where the scope has a name other than its id, else `None`.
    pub(crate) fn labelled(&self, source_name: &'a str, scope: &'a str) -> Option<String> {
        match self.get(source_name, scope) {
            "" => None,
            name if name == scope => None,
            name => Some(format!("{name} ({scope})")),
        }
    }

    /// `source_name / name` where the scope has a name, else `source_name / scope`.
    pub(crate) fn place(&self, source_name: &'a str, scope: &'a str) -> String {
        match self.get(source_name, scope) {
            "" => format!("{source_name} / {scope}"),
            name => format!("{source_name} / {name}"),
        }
    }
}

impl<'a> FindingRow<'a> {
    pub(crate) fn of(f: &'a Finding, names: &ScopeNames<'a>) -> FindingRow<'a> {
        let s = &f.subject;
        FindingRow {
            rule: f.rule.as_str(),
            name: display_name(s.name(), s.email()),
            email: s.email().unwrap_or(""),
            who: who(s.name(), s.email(), s.account_id()),
            role: s.role().unwrap_or(""),
            status: s.status(),
            source_name: &f.source_name,
            scope: &f.scope,
            scope_name: names.get(&f.source_name, &f.scope),
            place: names.place(&f.source_name, &f.scope),
            detail: &f.detail,
        }
    }

    /// A finding of the baseline that this run no longer reports.
    pub(crate) fn resolved(b: &'a BaselineFinding) -> FindingRow<'a> {
        FindingRow {
            rule: &b.rule,
            name: display_name(b.name.as_deref(), b.email.as_deref()),
            email: b.email.as_deref().unwrap_or(""),
            who: who(b.name.as_deref(), b.email.as_deref(), &b.account_id),
            role: "",
            status: "",
            source_name: &b.source_name,
            scope: &b.scope,
            scope_name: "",
            place: format!("{} / {}", b.source_name, b.scope),
            detail: &b.detail,
        }
    }
}

/// Sentry invitations carry the email as the name; show it once.
pub(crate) fn display_name<'a>(name: Option<&'a str>, email: Option<&str>) -> &'a str {
    match name {
        Some(n) if Some(n) != email => n,
        _ => "",
    }
}

/// "Name <email>", or whichever of them there is.
fn who(name: Option<&str>, email: Option<&str>, account_id: &str) -> String {
    match (name, email) {
        (Some(n), Some(e)) if n != e => format!("{n} <{e}>"),
        (_, Some(e)) => e.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => account_id.to_string(),
    }
}

/// The unsuppressed findings of one rule with one outcome: the first `max_rows` as rows, and
/// how many more there are.
#[derive(Debug, Serialize)]
pub(crate) struct RuleGroup<'a> {
    pub rule: &'a str,
    /// Written as its name (`high`), as the templates show it.
    pub severity: Severity,
    /// What the rule checks, in one sentence, with the thresholds in force.
    pub checks: &'a str,
    /// The compliance controls it evidences, joined with ` · `.
    pub references: String,
    pub count: usize,
    pub rows: Vec<FindingRow<'a>>,
    pub more: usize,
}

/// The findings with `outcome`, unsuppressed, grouped by rule in report order (most severe
/// first), at most `max_rows` rows per rule.
pub(crate) fn rule_groups<'a>(
    report: &'a Report,
    names: &ScopeNames<'a>,
    outcome: Outcome,
    max_rows: usize,
) -> Vec<RuleGroup<'a>> {
    let mut out: Vec<RuleGroup<'a>> = Vec::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.outcome == outcome && !f.suppressed)
    {
        let idx = match out.iter().position(|g| g.rule == f.rule.as_str()) {
            Some(i) => i,
            None => {
                let info = rule_info(f.rule.as_str());
                let configured = report.run.rules.iter().find(|r| r.id == f.rule);
                out.push(RuleGroup {
                    rule: f.rule.as_str(),
                    severity: f.severity,
                    checks: configured
                        .map(|r| r.checks.as_str())
                        .or(info.map(|i| i.checks))
                        .unwrap_or(""),
                    references: info.map(|i| i.references.join(" · ")).unwrap_or_default(),
                    count: 0,
                    rows: Vec::new(),
                    more: 0,
                });
                out.len() - 1
            }
        };
        let group = &mut out[idx];
        group.count += 1;
        if group.rows.len() < max_rows {
            group.rows.push(FindingRow::of(f, names));
        } else {
            group.more += 1;
        }
    }
    out
}

/// Failing findings per severity, most severe first (0 included).
pub(crate) fn severity_counts(report: &Report) -> Vec<(Severity, usize)> {
    Severity::ALL
        .iter()
        .rev()
        .map(|s| (*s, report.summary.by_severity.get(s.as_str())))
        .collect()
}

/// One audited scope, and why it failed if it did.
#[derive(Debug, Serialize)]
pub(crate) struct ScopeRow<'a> {
    pub source_name: &'a str,
    pub scope: &'a str,
    /// Its name for people, or empty.
    pub scope_name: &'a str,
    pub ok: bool,
    pub accounts: usize,
    pub error: String,
}

pub(crate) fn scope_rows<'a>(report: &'a Report, names: &ScopeNames<'a>) -> Vec<ScopeRow<'a>> {
    let rows = report.scopes.iter().map(|s| ScopeRow {
        source_name: &s.source_name,
        scope: &s.scope,
        scope_name: names.get(&s.source_name, &s.scope),
        ok: s.status == ScopeStatus::Ok,
        accounts: s.accounts,
        error: s
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    });
    rows.collect()
}

/// What changed since the baseline: new findings (unsuppressed) and resolved ones, the first
/// `max_rows` of each as rows.
#[derive(Debug, Serialize)]
pub(crate) struct ChangeRows<'a> {
    pub since: &'a str,
    /// "3 new, 5 resolved since …".
    pub summary: String,
    /// Baseline findings in scopes that failed this time: neither resolved nor still there.
    pub not_rechecked: usize,
    pub new: usize,
    pub resolved: usize,
    pub new_rows: Vec<FindingRow<'a>>,
    pub new_more: usize,
    pub resolved_rows: Vec<FindingRow<'a>>,
    pub resolved_more: usize,
}

pub(crate) fn change_rows<'a>(
    report: &'a Report,
    names: &ScopeNames<'a>,
    max_rows: usize,
) -> Option<ChangeRows<'a>> {
    let c = report.changes.as_ref()?;
    let new: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.change == Some(Change::New) && !f.suppressed)
        .collect();
    Some(ChangeRows {
        since: &c.baseline_as_of,
        summary: format!(
            "{} new, {} resolved since {}",
            c.new,
            c.resolved.len(),
            c.baseline_as_of
        ),
        not_rechecked: c.not_rechecked,
        new: c.new,
        resolved: c.resolved.len(),
        new_rows: new
            .iter()
            .take(max_rows)
            .map(|f| FindingRow::of(f, names))
            .collect(),
        new_more: new.len().saturating_sub(max_rows),
        resolved_rows: c
            .resolved
            .iter()
            .take(max_rows)
            .map(FindingRow::resolved)
            .collect(),
        resolved_more: c.resolved.len().saturating_sub(max_rows),
    })
}

/// "2 findings suppressed as accepted risk; 1 suppression expired", or empty.
pub(crate) fn suppression_line(report: &Report) -> String {
    let mut parts = Vec::new();
    if report.summary.suppressed > 0 {
        let n = report.summary.suppressed;
        parts.push(format!(
            "{n} finding{} suppressed as accepted risk",
            plural(n)
        ));
    }
    for (state, word) in [(State::Expired, "expired"), (State::Unused, "unused")] {
        let n = report
            .suppressions
            .iter()
            .filter(|s| s.state == state)
            .count();
        if n > 0 {
            parts.push(format!("{n} suppression{} {word}", plural(n)));
        }
    }
    parts.join("; ")
}
