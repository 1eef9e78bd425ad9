//! `report.html`: one self-contained file (inline CSS and SVG, no scripts, fonts or images) that
//! reads the same in a browser, an email client and on paper. Every value from an API is escaped
//! by handlebars' `{{…}}`; the template never uses the raw `{{{…}}}` form.

use serde::Serialize;

use super::view::{
    ChangeRows, FindingRow, RuleGroup, ScopeRow, change_rows, rule_groups, scope_rows,
    severity_counts,
};
use super::{Report, plural};
use crate::model::{Finding, Outcome, Severity, format_time};
use crate::templates::{REPORT_HTML, Templates};

/// Rows shown per rule; the rest are in findings.csv. Keeps the file small enough to open at
/// any scale.
pub(super) const MAX_ROWS_PER_RULE: usize = 1_000;
/// Bars in the "by scope" chart.
const MAX_SCOPE_BARS: usize = 12;

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    as_of: String,
    generated_at: String,
    verdict: String,
    complete: bool,
    stopped: &'a str,
    cards: Vec<Card>,
    charts: Vec<Chart>,
    scopes: Vec<ScopeRow<'a>>,
    scopes_failed: usize,
    failing: Vec<Group<'a>>,
    manual: Vec<Group<'a>>,
    changes: Option<ChangeRows<'a>>,
    people: Vec<PersonView<'a>>,
    people_more: usize,
    suppressed: Vec<SuppressedRow<'a>>,
    suppressions_to_review: Vec<ReviewRow<'a>>,
    tool_version: &'a str,
    framework: &'a str,
    fail_on: &'a str,
    config_sha256: &'a str,
    evidence: String,
    accounts: usize,
}

#[derive(Serialize)]
struct PersonView<'a> {
    email: &'a str,
    name: &'a str,
    status: &'a str,
    flagged: bool,
    end_date: &'a str,
    manager: &'a str,
    accounts: String,
    findings: usize,
}

fn people_rows(report: &Report) -> Vec<PersonView<'_>> {
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
struct SuppressedRow<'a> {
    #[serde(flatten)]
    row: FindingRow<'a>,
    reason: &'a str,
    owner: &'a str,
    expires: &'a str,
}

#[derive(Serialize)]
struct ReviewRow<'a> {
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

fn changes_view(report: &Report) -> Option<ChangeRows<'_>> {
    let mut changes = change_rows(report, MAX_CHANGE_ROWS)?;
    if changes.not_rechecked > 0 {
        changes.summary.push_str(&format!(
            "; {} earlier finding{} not re-checked (scope failed this time)",
            changes.not_rechecked,
            plural(changes.not_rechecked)
        ));
    }
    Some(changes)
}

fn suppressed_rows(report: &Report) -> Vec<SuppressedRow<'_>> {
    report
        .findings
        .iter()
        .filter_map(|f| {
            let s = f.suppression.as_ref()?;
            Some(SuppressedRow {
                row: FindingRow::of(f),
                reason: &s.reason,
                owner: &s.owner,
                expires: &s.expires,
            })
        })
        .take(MAX_ROWS_PER_RULE)
        .collect()
}

fn review_rows(report: &Report) -> Vec<ReviewRow<'_>> {
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

#[derive(Serialize)]
struct Card {
    label: String,
    count: usize,
    class: &'static str,
}

#[derive(Serialize)]
struct Chart {
    title: &'static str,
    height: usize,
    bars: Vec<Bar>,
    note: String,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    value: usize,
    y: usize,
    text_y: usize,
    width: usize,
    value_x: usize,
}

/// A rule's findings as the page lists them.
#[derive(Serialize)]
struct Group<'a> {
    #[serde(flatten)]
    group: RuleGroup<'a>,
    more_text: String,
}

pub(super) fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "sev-critical",
        Severity::High => "sev-high",
        Severity::Medium => "sev-medium",
        Severity::Low => "sev-low",
        Severity::Info => "sev-info",
    }
}

fn groups(findings: &[Finding], outcome: Outcome) -> Vec<Group<'_>> {
    rule_groups(findings, outcome, MAX_ROWS_PER_RULE)
        .into_iter()
        .map(|group| Group {
            more_text: if group.more > 0 {
                format!(
                    "{} more finding{} of this rule are listed in findings.csv",
                    group.more,
                    plural(group.more)
                )
            } else {
                String::new()
            },
            group,
        })
        .collect()
}

/// A horizontal bar chart's geometry: 180 px of labels, bars scaled to the largest value.
fn chart(title: &'static str, values: Vec<(String, usize)>, note: String) -> Chart {
    const ROW: usize = 24;
    const LABEL_W: usize = 180;
    const BAR_W: usize = 300;
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = values
        .into_iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let width = if value == 0 {
                0
            } else {
                (value * BAR_W / max).max(2)
            };
            let label: String = if label.chars().count() > 26 {
                label.chars().take(25).chain(std::iter::once('…')).collect()
            } else {
                label
            };
            Bar {
                label,
                value,
                y: i * ROW + 4,
                text_y: i * ROW + 18,
                width,
                value_x: LABEL_W + width + 6,
            }
        })
        .collect();
    Chart {
        title,
        height: bars.len() * ROW + 8,
        bars,
        note,
    }
}

fn charts(report: &Report) -> Vec<Chart> {
    let by_rule: Vec<(String, usize)> = report
        .summary
        .by_rule
        .0
        .iter()
        .map(|(r, n)| (r.clone(), *n))
        .collect();
    // One pass over the findings, not one per scope: reports can hold thousands of scopes.
    let mut counts: std::collections::HashMap<(&str, &str), usize> =
        std::collections::HashMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
    {
        *counts
            .entry((f.source_name.as_str(), f.scope.as_str()))
            .or_default() += 1;
    }
    let mut per_scope: Vec<(String, usize)> = report
        .scopes
        .iter()
        .filter_map(|s| {
            let n = counts
                .get(&(s.source_name.as_str(), s.scope.as_str()))
                .copied()
                .unwrap_or(0);
            (n > 0).then(|| (format!("{} / {}", s.source_name, s.scope), n))
        })
        .collect();
    per_scope.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let hidden = per_scope.len().saturating_sub(MAX_SCOPE_BARS);
    per_scope.truncate(MAX_SCOPE_BARS);
    let note = if hidden > 0 {
        format!("and {hidden} more scope{} with findings", plural(hidden))
    } else {
        String::new()
    };
    let mut out = vec![chart("Failing findings by rule", by_rule, String::new())];
    if !per_scope.is_empty() {
        out.push(chart("Failing findings by scope", per_scope, note));
    }
    out
}

pub(super) fn render(report: &Report, templates: &Templates) -> Result<String, String> {
    let mut cards: Vec<Card> = severity_counts(report)
        .into_iter()
        .map(|(s, count)| Card {
            label: s.as_str().to_string(),
            count,
            class: severity_class(s),
        })
        .collect();
    cards.push(Card {
        label: "to verify by hand".into(),
        count: report.summary.manual,
        class: "sev-manual",
    });
    let scopes = scope_rows(report).collect();
    let view = View {
        title: &report.title,
        as_of: format_time(&report.as_of),
        generated_at: format_time(&report.generated_at),
        verdict: report.verdict(),
        complete: report.complete,
        stopped: report.run.stopped.as_deref().unwrap_or(""),
        cards,
        charts: charts(report),
        scopes,
        scopes_failed: report.summary.scopes_failed,
        failing: groups(&report.findings, Outcome::Fail),
        manual: groups(&report.findings, Outcome::Manual),
        changes: changes_view(report),
        people: people_rows(report),
        people_more: report
            .people
            .iter()
            .filter(|p| !p.accounts.is_empty())
            .count()
            .saturating_sub(MAX_ROWS_PER_RULE),
        suppressed: suppressed_rows(report),
        suppressions_to_review: review_rows(report),
        tool_version: &report.tool.version,
        framework: report.run.framework.as_deref().unwrap_or(""),
        fail_on: &report.run.fail_on,
        config_sha256: report
            .run
            .config_sha256
            .as_deref()
            .unwrap_or("none (no config file)"),
        evidence: match (&report.run.evidence_manifest_sha256, report.run.replayed) {
            (Some(sha), true) => {
                format!("replayed from an archive whose manifest has SHA-256 {sha}")
            }
            (Some(sha), false) => format!("archive written; manifest SHA-256 {sha}"),
            (None, _) => "not kept (run with --evidence DIR to keep every API answer)".into(),
        },
        accounts: report.summary.accounts,
    };
    templates.render(REPORT_HTML, &view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Account, FailOn, ScopeResult, SourceKind};
    use crate::report::ReportInput;
    use crate::rules::{RuleSettings, evaluate};
    use chrono::{TimeZone, Utc};

    fn account(i: usize) -> Account {
        Account {
            source: SourceKind::Sentry,
            source_name: "sentry".into(),
            scope: format!("org-{}", i % 50),
            account_id: i.to_string(),
            user_id: Some(i.to_string()),
            email: Some(format!("user{i}@acme.example")),
            name: Some(if i == 0 {
                "<script>alert(1)</script>".into()
            } else {
                format!("User {i}")
            }),
            role: Some(if i.is_multiple_of(10) {
                "owner".into()
            } else {
                "member".into()
            }),
            privileged: i.is_multiple_of(10),
            status: "active".into(),
            mfa: Some(false),
            last_login_at: None,
            last_active_at: None,
            last_seen_at: None,
            invited_at: None,
            created_at: None,
            flags: Vec::new(),
        }
    }

    /// 200,000 accounts, every one failing: the page stays small, lists the first rows of each
    /// rule, and says where the rest are.
    #[test]
    fn stays_small_at_scale_and_escapes_values() {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let accounts: Vec<Account> = (0..200_000).map(account).collect();
        let findings = evaluate(&accounts, as_of, &RuleSettings::default());
        let report = Report::build(ReportInput {
            run_id: "0123456789abcdef".into(),
            retries: 0,
            title: "Scale".into(),
            as_of,
            generated_at: as_of,
            results: vec![ScopeResult {
                source: SourceKind::Sentry,
                source_name: "sentry".into(),
                scope: "all".into(),
                outcome: Ok(accounts),
            }],
            findings,
            rules: RuleSettings::default().active(),
            fail_on: FailOn::None,
            stopped: None,
            config_sha256: None,
            evidence_manifest_sha256: None,
            evidence_dir: None,
            replayed: false,
            suppressions: Vec::new(),
            changes: None,
            shard: None,
            framework: None,
        });
        let html = render(&report, &Templates::load(None).unwrap()).unwrap();
        assert!(html.len() < 3 * 1024 * 1024, "{} bytes", html.len());
        assert!(html.contains("199000 more findings of this rule are listed in findings.csv"));
        assert!(html.contains("19000 more findings of this rule are listed in findings.csv"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"), "no scripts at all");
        // Self-contained: nothing is loaded from elsewhere.
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
