//! `review/review.html`: the signed-off review as one self-contained, printable, script-free
//! page — the page an auditor files — and `review/decisions.csv`, one row per account. Every
//! value is HTML-escaped ([`esc`]) or CSV-neutralised; the page loads nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::campaign::{Decision, Row};
use super::signoff::SignOff;
use super::state::{DecisionRecord, State};
use crate::model::format_human;

pub(crate) const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#eee}td.n{text-align:right}.muted{color:#555}\
code{font-size:12px;word-break:break-all}pre{white-space:pre-wrap;margin:0;font:inherit}\
.signoff{border:2px solid #111;padding:.5em 1em;margin-top:2em}\
@page{margin:16mm 12mm 14mm;\
@bottom-right{content:\"Page \" counter(page) \" of \" counter(pages);font:9px system-ui,sans-serif;color:#555}}\
@media print{body{margin:0;font-size:10.5px}tr,td,th,.signoff{break-inside:avoid;page-break-inside:avoid}\
h2{break-after:avoid;page-break-after:avoid}thead{display:table-header-group}}";

/// What the page says of the run under review (from its report.json).
#[derive(Debug, Clone)]
pub(crate) struct RunHead {
    pub(crate) title: String,
    pub(crate) as_of: DateTime<Utc>,
    pub(crate) run_dir: String,
}

pub(crate) use crate::text::escape_html as esc;

/// One account under review with its reviewer and decision.
struct Item<'a> {
    reviewer: &'a str,
    row: &'a Row,
    decided: Option<&'a DecisionRecord>,
}

impl Item<'_> {
    fn own(&self) -> bool {
        !self.row.email.is_empty() && self.row.email.eq_ignore_ascii_case(self.reviewer)
    }
    fn decision(&self) -> Option<Decision> {
        self.decided.map(|d| d.decision)
    }
    fn who(&self) -> String {
        match (self.row.name.is_empty(), self.row.email.is_empty()) {
            (false, false) => format!("{} <{}>", self.row.name, self.row.email),
            (true, false) => self.row.email.clone(),
            _ => self.row.name.clone(),
        }
    }
    fn place(&self) -> String {
        format!("{}/{}", self.row.source_name, self.row.scope_shown())
    }
}

fn items(state: &State) -> Vec<Item<'_>> {
    state
        .reviewers
        .iter()
        .flat_map(|(who, rows)| {
            rows.iter().map(move |row| Item {
                reviewer: who,
                row,
                decided: state.decisions.get(&row.key),
            })
        })
        .collect()
}

pub(crate) fn render(state: &State, run: &RunHead, sign: &SignOff) -> String {
    let all = items(state);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Access review {id}: {title}</title><style>{STYLE}</style></head><body>\
         <h1>Access review: {title}</h1>\
         <p>Report as of {as_of}; run <code>{run_id}</code> in <code>{dir}</code>. \
         Review <code>{id}</code> started {created}, due {due}.</p>",
        id = esc(&state.review_id),
        title = esc(&run.title),
        as_of = esc(&format_human(&run.as_of)),
        run_id = esc(if state.run_id.is_empty() {
            "(none recorded)"
        } else {
            &state.run_id
        }),
        dir = esc(&run.run_dir),
        created = esc(&format_human(&state.created_at)),
        due = esc(&format_human(&state.due_at)),
    );
    scope(&mut h, state, &all);
    per_reviewer(&mut h, &all);
    revocations(&mut h, &all);
    exceptions(&mut h, &all);
    self_review(&mut h, &all);
    sign_off_block(&mut h, sign);
    h.push_str("</body></html>\n");
    h
}

/// Scope, population and coverage: per reviewer the scopes their rows come from.
fn scope(h: &mut String, state: &State, all: &[Item<'_>]) {
    let decided = all.iter().filter(|i| i.decided.is_some()).count();
    let _ = write!(
        h,
        "<h2>Scope of the review</h2><p>{} account{} under review, {decided} decided ({}).</p>\
         <table><thead><tr><th>Reviewer</th><th>Scopes (source/scope)</th><th>Accounts</th></tr></thead><tbody>",
        all.len(),
        crate::report::plural(all.len()),
        if decided == all.len() {
            "complete coverage"
        } else {
            "incomplete"
        }
    );
    for (who, rows) in &state.reviewers {
        let mut scopes: BTreeMap<String, usize> = BTreeMap::new();
        for r in rows {
            *scopes
                .entry(format!("{}/{}", r.source_name, r.scope_shown()))
                .or_default() += 1;
        }
        let list: Vec<String> = scopes
            .iter()
            .map(|(s, n)| format!("{} ({n})", esc(s)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(who),
            list.join(", "),
            rows.len()
        );
    }
    h.push_str("</tbody></table>");
    if state.missing_scopes.is_empty() {
        h.push_str("<p>Every scope of the run succeeded: no scope is missing from the review.</p>");
    } else {
        h.push_str("<p><strong>Not covered</strong> (failed in the run, so not reviewed):</p><ul>");
        for m in &state.missing_scopes {
            let _ = write!(h, "<li>{}</li>", esc(m));
        }
        h.push_str("</ul>");
    }
}

fn per_reviewer(h: &mut String, all: &[Item<'_>]) {
    h.push_str(
        "<h2>Decisions per reviewer</h2><table><thead><tr><th>Reviewer</th><th>Accounts</th>\
         <th>Keep</th><th>Revoke</th><th>Change role</th></tr></thead><tbody>",
    );
    let mut by: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for i in all {
        let c = by.entry(i.reviewer).or_default();
        c[0] += 1;
        match i.decision() {
            Some(Decision::Keep) => c[1] += 1,
            Some(Decision::Revoke) => c[2] += 1,
            Some(Decision::ChangeRole) => c[3] += 1,
            None => {}
        }
    }
    for (who, c) in by {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(who),
            c[0],
            c[1],
            c[2],
            c[3]
        );
    }
    h.push_str("</tbody></table>");
}

fn revocations(h: &mut String, all: &[Item<'_>]) {
    let asked: Vec<_> = all
        .iter()
        .filter(|i| matches!(i.decision(), Some(Decision::Revoke | Decision::ChangeRole)))
        .collect();
    let _ = write!(
        h,
        "<h2>Revocations requested</h2><p>{} change{} of access requested.</p>",
        asked.len(),
        crate::report::plural(asked.len())
    );
    if asked.is_empty() {
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Who</th><th>Where</th><th>Role</th><th>Decision</th><th>New role</th>\
         <th>Justification</th><th>Decided by</th></tr></thead><tbody>",
    );
    for i in asked {
        let d = i.decided;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            esc(&i.who()),
            esc(&i.place()),
            esc(&i.row.role),
            esc(i.decision().map_or("", Decision::as_str)),
            esc(d.and_then(|d| d.new_role.as_deref()).unwrap_or("")),
            esc(d.and_then(|d| d.justification.as_deref()).unwrap_or("")),
            esc(d.map_or("", |d| d.decided_by.as_str())),
        );
    }
    h.push_str("</tbody></table>");
}

/// Accounts kept although a failing finding applies: accepted risk, with its justification.
fn exceptions(h: &mut String, all: &[Item<'_>]) {
    let kept: Vec<_> = all
        .iter()
        .filter(|i| i.row.failing && i.decision() == Some(Decision::Keep))
        .collect();
    let _ = write!(
        h,
        "<h2>Exceptions</h2><p>{} account{} kept although a failing finding applies.</p>",
        kept.len(),
        crate::report::plural(kept.len())
    );
    if kept.is_empty() {
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Who</th><th>Where</th><th>Role</th><th>Findings</th>\
         <th>Justification</th><th>Decided by</th></tr></thead><tbody>",
    );
    for i in kept {
        let d = i.decided;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td><td>{}</td></tr>",
            esc(&i.who()),
            esc(&i.place()),
            esc(&i.row.role),
            esc(&i.row.findings),
            esc(d.and_then(|d| d.justification.as_deref()).unwrap_or("")),
            esc(d.map_or("", |d| d.decided_by.as_str())),
        );
    }
    h.push_str("</tbody></table>");
}

/// Rows that were their reviewer's own account: no reviewer may decide their own access.
fn self_review(h: &mut String, all: &[Item<'_>]) {
    let own: Vec<_> = all.iter().filter(|i| i.own()).collect();
    h.push_str(
        "<h2>Self-review</h2><p>A reviewer may not decide their own account: such a row is refused \
         from its reviewer's worksheet and must be decided by a second reviewer.</p>",
    );
    if own.is_empty() {
        h.push_str("<p>No reviewer had their own account among their rows.</p>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Account</th><th>Where</th><th>Reviewer</th><th>Decision</th>\
         <th>Decided by</th></tr></thead><tbody>",
    );
    for i in own {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.who()),
            esc(&i.place()),
            esc(i.reviewer),
            esc(i.decision().map_or("undecided", Decision::as_str)),
            esc(i.decided.map_or("", |d| d.decided_by.as_str())),
        );
    }
    h.push_str("</tbody></table>");
}

fn sign_off_block(h: &mut String, s: &SignOff) {
    let _ = write!(
        h,
        "<section class=\"signoff\"><h2>Sign-off</h2><table><tbody>\
         <tr><th>Signed off by</th><td>{by}</td></tr>\
         <tr><th>At</th><td>{at}</td></tr>\
         <tr><th>Statement</th><td><pre>{statement}</pre></td></tr>\
         <tr><th>SHA-256 of report.json</th><td><code>{report}</code></td></tr>\
         <tr><th>SHA-256 of the evidence manifest</th><td><code>{manifest}</code></td></tr>\
         <tr><th>SHA-256 of the decisions (review/decisions.json)</th><td><code>{decisions}</code></td></tr>\
         </tbody></table></section>",
        by = esc(&s.by),
        at = esc(&format_human(&s.at)),
        statement = esc(s.statement.as_deref().unwrap_or("(none)")),
        report = esc(&s.report_sha256),
        manifest = esc(s
            .evidence_manifest_sha256
            .as_deref()
            .unwrap_or("none: the run kept no evidence archive")),
        decisions = esc(&s.decisions_sha256),
    );
}

/// The columns of `decisions.csv` and of the `Decisions` sheet of `decisions.xlsx`.
pub(crate) const DECISION_COLUMNS: [&str; 8] = [
    "key",
    "who",
    "where",
    "decision",
    "new_role",
    "justification",
    "reviewer",
    "decided_at",
];

/// One account's row of the decisions files, in [`DECISION_COLUMNS`] order.
pub(crate) struct DecisionLine {
    /// The first seven columns, as text.
    pub(crate) text: [String; 7],
    pub(crate) decided_at: Option<DateTime<Utc>>,
}

/// Every account under review, reviewer by reviewer, with its decision.
pub(crate) fn decision_lines(state: &State) -> Vec<DecisionLine> {
    items(state)
        .into_iter()
        .map(|i| {
            let d = i.decided;
            DecisionLine {
                text: [
                    i.row.key.clone(),
                    i.who(),
                    i.place(),
                    i.decision().map_or("", Decision::as_str).to_string(),
                    d.and_then(|d| d.new_role.clone()).unwrap_or_default(),
                    d.and_then(|d| d.justification.clone()).unwrap_or_default(),
                    d.map(|d| d.decided_by.clone()).unwrap_or_default(),
                ],
                decided_at: d.map(|d| d.collected_at),
            }
        })
        .collect()
}

/// `review/decisions.csv`: one row per account, every cell neutralised.
pub(crate) fn decisions_csv(state: &State) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| format!("cannot write decisions.csv: {e}");
    out.write_record(DECISION_COLUMNS).map_err(err)?;
    for line in decision_lines(state) {
        let at = line
            .decided_at
            .map(|t| crate::model::format_time(&t))
            .unwrap_or_default();
        let cells = line.text.iter().chain(std::iter::once(&at));
        out.write_record(cells.map(|c| crate::report::neutralise(c).into_owned()))
            .map_err(err)?;
    }
    out.into_inner()
        .map_err(|e| format!("cannot write decisions.csv: {e}"))
}

#[cfg(test)]
mod tests;
