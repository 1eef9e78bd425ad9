//! The period pack's findings and leavers sections (`history.rs`), escaped like the rest of the
//! page. Tables stop at [`MAX_ROWS`] rows, saying how many more: the JSON has them all, and a
//! page of tens of thousands of rows helps nobody who prints it.

use std::fmt::Write;

use super::history::{FindingChanges, FindingRow, Leavers};
use super::period_html::{esc, human, report_json};

/// The most rows of each table on the page.
pub(super) const MAX_ROWS: usize = 500;

pub(super) fn findings(h: &mut String, f: &FindingChanges) {
    let _ = write!(
        h,
        "<h2>Findings opened and resolved</h2><p>{} compared. {} opened in the period ({} still open at its end), {} resolved.</p>",
        crate::report::counted(f.runs_compared, "run"),
        crate::report::counted(f.opened_count, "failing finding"),
        f.still_open_count,
        f.resolved_count
    );
    if let Some(b) = &f.baseline_run {
        let _ = write!(
            h,
            "<p>Compared from the last run before the period: <code>{}</code> as of {} ({}).</p>",
            esc(&b.run_id),
            human(b.as_of.as_deref().unwrap_or("?")),
            report_json(&b.report_json)
        );
    } else {
        h.push_str("<p>No run was recorded before the period: every failing finding of its first compared run counts as opened in it, unless its first_seen is earlier.</p>");
    }
    table(h, "Opened", &f.opened);
    table(h, "Resolved", &f.resolved);
}

fn table(h: &mut String, title: &str, rows: &[FindingRow]) {
    let _ = write!(h, "<h3>{title} ({})</h3>", rows.len());
    if rows.is_empty() {
        return;
    }
    h.push_str("<table><tr><th>Rule</th><th>Where</th><th>Account</th><th>First seen</th><th>Resolved</th><th>Age (days)</th></tr>");
    for r in rows.iter().take(MAX_ROWS) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}/{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.rule),
            esc(&r.source_name),
            esc(&r.scope),
            esc(&r.account_id),
            esc(r.email.as_deref().unwrap_or("")),
            human(&r.first_seen),
            r.resolved_at
                .as_deref()
                .map_or("still open".to_string(), human),
            r.age_days
        );
    }
    h.push_str("</table>");
    more(h, rows.len());
}

fn more(h: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = write!(
            h,
            "<p>and {} more (all of them are in ledger-report.json).</p>",
            total - MAX_ROWS
        );
    }
}

pub(super) fn leavers(h: &mut String, l: &Leavers) {
    h.push_str("<h2>Leavers</h2>");
    if !l.roster_configured {
        h.push_str("<p class=\"bad\">No roster is configured ([roster]): leavers cannot be told from the accounts.</p>");
        return;
    }
    let _ = write!(
        h,
        "<p>People the roster marks as left or with an end date who had an account in a compared run: {}.</p>",
        l.rows.len()
    );
    if l.rows.is_empty() {
        return;
    }
    h.push_str("<table><tr><th>Person</th><th>Status</th><th>End date</th><th>Last run with an account</th><th>Last account gone (first run without)</th><th>Days after end date</th></tr>");
    for r in l.rows.iter().take(MAX_ROWS) {
        let gone = match &r.gone_at {
            Some(t) => human(t),
            None => "<span class=\"bad\">still has an account</span>".to_string(),
        };
        let _ = write!(
            h,
            "<tr><td>{} &lt;{}&gt;</td><td>{}</td><td>{}</td><td>{}<br>{}</td><td>{gone}</td><td>{}</td></tr>",
            esc(&r.name),
            esc(&r.email),
            r.status,
            esc(r.end_date.as_deref().unwrap_or("-")),
            human(&r.last_with_account),
            esc(&r.scopes.join(", ")),
            r.days_after_end_date
                .map_or("-".to_string(), |d| d.to_string())
        );
    }
    h.push_str("</table>");
    more(h, l.rows.len());
}
