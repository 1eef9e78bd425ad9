//! `report.html`: one self-contained file (inline CSS, no scripts, fonts or images) that reads
//! the same in a browser, an email client and on paper. Every value from an API is escaped by
//! handlebars' `{{…}}`; the template never uses the raw `{{{…}}}` form.

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

use super::{Report, plural, write_atomically};
use crate::model::{Finding, Outcome, ScopeStatus};
use crate::rules::rule_info;

const TEMPLATE: &str = include_str!("../../templates/report.html.hbs");
/// Rows shown per rule; the rest are in findings.csv. Keeps the file small enough to open at
/// any scale.
pub const MAX_ROWS_PER_RULE: usize = 1_000;

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    as_of: &'a str,
    generated_at: &'a str,
    verdict: String,
    complete: bool,
    cards: Vec<Card>,
    scopes: Vec<ScopeRow<'a>>,
    failing: Vec<Group<'a>>,
    manual: Vec<Group<'a>>,
    tool_version: &'a str,
    fail_on: &'a str,
    config_sha256: &'a str,
    evidence: String,
    accounts: usize,
}

#[derive(Serialize)]
struct Card {
    label: String,
    count: usize,
    class: &'static str,
}

#[derive(Serialize)]
struct ScopeRow<'a> {
    source_name: &'a str,
    scope: &'a str,
    ok: bool,
    accounts: usize,
    error: String,
}

#[derive(Serialize)]
struct Group<'a> {
    rule: &'a str,
    severity: &'static str,
    checks: &'static str,
    references: String,
    count: usize,
    rows: Vec<Row<'a>>,
    more: usize,
    more_text: String,
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    email: &'a str,
    role: &'a str,
    status: &'a str,
    source_name: &'a str,
    scope: &'a str,
    detail: &'a str,
}

fn groups<'a>(findings: &'a [Finding], outcome: Outcome) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.outcome == outcome && !f.suppressed)
    {
        let idx = match out.iter().position(|g| g.rule == f.rule) {
            Some(i) => i,
            None => {
                let info = rule_info(f.rule);
                out.push(Group {
                    rule: f.rule,
                    severity: f.severity.as_str(),
                    checks: info.map_or("", |i| i.checks),
                    references: info.map(|i| i.references.join(" · ")).unwrap_or_default(),
                    count: 0,
                    rows: Vec::new(),
                    more: 0,
                    more_text: String::new(),
                });
                out.len() - 1
            }
        };
        let g = &mut out[idx];
        g.count += 1;
        if g.rows.len() < MAX_ROWS_PER_RULE {
            g.rows.push(Row {
                name: f.name.as_deref().unwrap_or(""),
                email: f.email.as_deref().unwrap_or(""),
                role: f.role.as_deref().unwrap_or(""),
                status: &f.status,
                source_name: &f.source_name,
                scope: &f.scope,
                detail: &f.detail,
            });
        } else {
            g.more += 1;
        }
    }
    for g in &mut out {
        if g.more > 0 {
            g.more_text = format!(
                "{} more finding{} of this rule are listed in findings.csv",
                g.more,
                plural(g.more)
            );
        }
    }
    out
}

pub fn render(report: &Report) -> Result<String, String> {
    let mut cards: Vec<Card> = report
        .summary
        .by_severity
        .0
        .iter()
        .map(|(sev, n)| Card {
            label: sev.clone(),
            count: *n,
            class: match sev.as_str() {
                "critical" => "sev-critical",
                "high" => "sev-high",
                "medium" => "sev-medium",
                "low" => "sev-low",
                _ => "sev-info",
            },
        })
        .collect();
    cards.push(Card {
        label: "manual".into(),
        count: report.summary.manual,
        class: "sev-manual",
    });
    let scopes = report
        .scopes
        .iter()
        .map(|s| ScopeRow {
            source_name: &s.source_name,
            scope: &s.scope,
            ok: s.status == ScopeStatus::Ok,
            accounts: s.accounts,
            error: s
                .error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        })
        .collect();
    let view = View {
        title: &report.title,
        as_of: &report.as_of,
        generated_at: &report.generated_at,
        verdict: report.verdict(),
        complete: report.complete,
        cards,
        scopes,
        failing: groups(&report.findings, Outcome::Fail),
        manual: groups(&report.findings, Outcome::Manual),
        tool_version: &report.tool.version,
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
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("report", TEMPLATE)
        .map_err(|e| format!("the report template is invalid: {e}"))?;
    hb.render("report", &view)
        .map_err(|e| format!("cannot render report.html: {e}"))
}

pub fn write(report: &Report, path: &Path) -> Result<(), String> {
    let html = render(report)?;
    write_atomically(path, |out| {
        out.write_all(html.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}
