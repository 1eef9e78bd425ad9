//! `report.html`: one self-contained file (inline CSS and SVG, no scripts, fonts or images) that
//! reads the same in a browser, an email client and on paper. Every value from an API is escaped
//! by handlebars' `{{…}}`; the template never uses the raw `{{{…}}}` form. The one value that
//! goes into CSS (the printed running header) is escaped for CSS by [`css_string`].

mod charts;
mod review;

use serde::Serialize;

use super::coverage::{Coverage, coverage};
use super::privileged::{PrivilegedRow, privileged_rows};
use super::view::{
    ChangeRows, RuleGroup, ScopeNames, ScopeRow, rule_groups, scope_rows, severity_counts,
};
use super::{Report, RuleMeta, counted, plural};
use crate::model::{Outcome, Severity, format_human};
use crate::templates::{REPORT_HTML, Templates};
use charts::{Chart, charts};
use review::{PersonView, ReviewRow, SuppressedRow};

/// Rows shown per rule; the rest are in findings.csv. Keeps the file small enough to open at
/// any scale.
pub(super) const MAX_ROWS_PER_RULE: usize = 1_000;

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    /// The running header of printed pages, as a CSS string literal.
    print_header: String,
    as_of: String,
    generated_at: String,
    verdict: String,
    complete: bool,
    /// "2 scopes could not be audited", or why the run did not finish.
    incomplete: String,
    stopped: &'a str,
    contents: Vec<Contents>,
    cards: Vec<Card>,
    charts: Vec<Chart>,
    rules: Vec<RuleRow<'a>>,
    coverage: Coverage<'a>,
    /// The scopes without their provenance, and how many failed, as templates written before
    /// the coverage statement use them (`report.template_dir`).
    scopes: Vec<ScopeRow<'a>>,
    scopes_failed: usize,
    privileged: Vec<PrivilegedRow<'a>>,
    privileged_total: usize,
    /// "22 accounts", or "1,200 accounts; the first 1000 are listed, …".
    privileged_note: String,
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

/// One line of the table of contents: a section, or a rule's findings under it.
#[derive(Serialize)]
struct Contents {
    anchor: String,
    label: String,
    count: String,
    /// A rule's line, indented under its section.
    sub: bool,
}

#[derive(Serialize)]
struct Card {
    label: String,
    count: usize,
    class: &'static str,
}

/// A rule's findings as the page lists them.
#[derive(Serialize)]
struct Group<'a> {
    #[serde(flatten)]
    group: RuleGroup<'a>,
    more_text: String,
}

/// A rule as it ran: its criteria in force, and what it made of its population.
#[derive(Serialize)]
struct RuleRow<'a> {
    #[serde(flatten)]
    meta: &'a RuleMeta,
    /// "7 of 22 active privileged accounts failed".
    sentence: String,
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

fn groups<'a>(report: &'a Report, names: &ScopeNames<'a>, outcome: Outcome) -> Vec<Group<'a>> {
    rule_groups(report, names, outcome, MAX_ROWS_PER_RULE)
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

fn rule_rows(report: &Report) -> Vec<RuleRow<'_>> {
    report
        .run
        .rules
        .iter()
        .map(|meta| {
            let p = &meta.population;
            let mut sentence = format!("{} of {} {} failed", p.failed, p.evaluated, p.of);
            if p.manual > 0 {
                sentence.push_str(&format!(", {} to verify by hand", p.manual));
            }
            if p.suppressed > 0 {
                sentence.push_str(&format!(", {} suppressed", p.suppressed));
            }
            RuleRow { meta, sentence }
        })
        .collect()
}

/// The table of contents: every section the page has, and each rule with failing findings
/// under "Findings", with their counts.
fn contents(view: &View) -> Vec<Contents> {
    let line = |anchor: &str, label: &str, count: String| Contents {
        anchor: anchor.to_string(),
        label: label.to_string(),
        count,
        sub: false,
    };
    let mut out = Vec::new();
    if view.changes.is_some() {
        out.push(line("changes", "What changed", String::new()));
    }
    out.push(line(
        "criteria",
        "Criteria and population",
        view.rules.len().to_string(),
    ));
    out.push(line(
        "coverage",
        "Coverage",
        view.coverage.rows.len().to_string(),
    ));
    out.push(line(
        "privileged",
        "Privileged access",
        view.privileged_total.to_string(),
    ));
    let failing: usize = view.failing.iter().map(|g| g.group.count).sum();
    out.push(line("findings", "Findings", failing.to_string()));
    for g in &view.failing {
        out.push(Contents {
            anchor: format!("rule-{}", g.group.rule),
            label: g.group.rule.to_string(),
            count: g.group.count.to_string(),
            sub: true,
        });
    }
    if !view.manual.is_empty() {
        let manual: usize = view.manual.iter().map(|g| g.group.count).sum();
        out.push(line("manual", "Needs manual review", manual.to_string()));
    }
    if !view.people.is_empty() {
        out.push(line("people", "People", view.people.len().to_string()));
    }
    if !view.suppressed.is_empty() {
        out.push(line(
            "suppressed",
            "Accepted risk",
            view.suppressed.len().to_string(),
        ));
    }
    if !view.suppressions_to_review.is_empty() {
        let n = view.suppressions_to_review.len().to_string();
        out.push(line("suppressions", "Suppressions to review", n));
    }
    out.push(line("run", "Run", String::new()));
    out
}

/// `text` as a CSS string literal: every character but letters, digits and spaces written as
/// a CSS escape, so that a title can neither end the string nor the style element.
fn css_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    out.push('"');
    out
}

fn privileged_note(shown: usize, total: usize) -> String {
    let mut note = counted(total, "account");
    if shown < total {
        note.push_str(&format!(
            "; the first {shown} are listed here, accounts.csv has every account"
        ));
    }
    note
}

/// Why the run is incomplete, in a sentence: "1 scope could not be audited".
fn incomplete(report: &Report) -> String {
    match report.summary.scopes_failed {
        0 => "the run did not finish".into(),
        n => format!("{} could not be audited", counted(n, "scope")),
    }
}

fn cards(report: &Report) -> Vec<Card> {
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
    cards
}

fn evidence_line(report: &Report) -> String {
    match (&report.run.evidence_manifest_sha256, report.run.replayed) {
        (Some(sha), true) => format!("replayed from an archive whose manifest has SHA-256 {sha}"),
        (Some(sha), false) => format!("archive written; manifest SHA-256 {sha}"),
        (None, _) => "not kept (run with --evidence DIR to keep every API answer)".into(),
    }
}

pub(super) fn render(report: &Report, templates: &Templates) -> Result<String, String> {
    let names = ScopeNames::of(report);
    let as_of = format_human(&report.as_of);
    let (privileged, privileged_total) = privileged_rows(report, &names, MAX_ROWS_PER_RULE);
    let people_with_accounts = report.people.iter().filter(|p| !p.accounts.is_empty());
    let mut view = View {
        title: &report.title,
        print_header: css_string(&format!("{} — access review as of {as_of}", report.title)),
        as_of,
        generated_at: format_human(&report.generated_at),
        verdict: report.verdict(),
        complete: report.complete,
        incomplete: incomplete(report),
        stopped: report.run.stopped.as_deref().unwrap_or(""),
        contents: Vec::new(),
        cards: cards(report),
        charts: charts(report, &names),
        rules: rule_rows(report),
        coverage: coverage(report, &names),
        scopes: scope_rows(report, &names),
        scopes_failed: report.summary.scopes_failed,
        privileged_note: privileged_note(privileged.len(), privileged_total),
        privileged,
        privileged_total,
        failing: groups(report, &names, Outcome::Fail),
        manual: groups(report, &names, Outcome::Manual),
        changes: review::changes_view(report, &names),
        people: review::people_rows(report),
        people_more: people_with_accounts
            .count()
            .saturating_sub(MAX_ROWS_PER_RULE),
        suppressed: review::suppressed_rows(report, &names),
        suppressions_to_review: review::review_rows(report),
        tool_version: &report.tool.version,
        framework: report.run.framework.as_deref().unwrap_or(""),
        fail_on: &report.run.fail_on,
        config_sha256: report
            .run
            .config_sha256
            .as_deref()
            .unwrap_or("none (no config file)"),
        evidence: evidence_line(report),
        accounts: report.summary.accounts,
    };
    view.contents = contents(&view);
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
            scope: format!("org-{}", i % 50).into(),
            account_id: i.to_string().into(),
            user_id: Some(i.to_string().into()),
            email: Some(format!("user{i}@acme.example").into()),
            name: Some(if i == 0 {
                "<script>alert(1)</script>".into()
            } else {
                format!("User {i}").into()
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

    /// The title goes into the printed running header, inside the style element: whatever it
    /// holds can neither end the CSS string nor the element.
    #[test]
    fn the_print_header_cannot_break_out_of_its_css_string() {
        let hostile = "Q4 \"; } body { display: none } </style><script>x</script> \\ é";
        let css = css_string(hostile);
        assert!(css.starts_with('"') && css.ends_with('"'));
        let inner = &css[1..css.len() - 1];
        assert!(
            inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '\\'),
            "{css}"
        );
        assert_eq!(css_string("a-b"), "\"a\\2d b\"");
        let mut report = crate::deliver::sample::report();
        report.title = hostile.into();
        let html = render(&report, &Templates::load(None).unwrap()).unwrap();
        let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
        assert!(!style.contains("<script") && !style.contains("display: none"));
        assert_eq!(html.matches("</style>").count(), 1);
        assert!(
            style.contains(
                "@bottom-right { content: \"Page \" counter(page) \" of \" counter(pages)"
            )
        );
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
                provenance: Default::default(),
                outcome: Ok(accounts),
            }],
            findings,
            rules: RuleSettings::default().active(),
            evaluated: Vec::new(),
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
        for external in ["src=", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
        // Links only within the page (the table of contents).
        for (at, _) in html.match_indices("href=") {
            assert!(html[at..].starts_with("href=\"#"), "{}", &html[at..at + 40]);
        }
        assert!(html.contains("20000 accounts; the first 1000 are listed here"));
    }
}
