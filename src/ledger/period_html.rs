//! `ledger-report.html`: the period evidence pack as one self-contained, printable page. Every
//! value from the ledger is HTML-escaped ([`esc`]); the page loads nothing.

use std::fmt::Write;

use super::period::{Gap, PeriodReport, RunRow};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#eee}.bad{color:#a00;font-weight:bold}.ok{color:#060;font-weight:bold}\
code{font-size:12px;word-break:break-all}@media print{body{margin:0}}";

pub(super) use crate::text::escape_html as esc;

/// An RFC 3339 instant as people read it (`2026-11-20 06:00:02 UTC`), escaped; anything else
/// escaped as it is.
pub(super) fn human(text: &str) -> String {
    match crate::timestamp::parse_timestamp(text) {
        Some(t) => esc(&crate::model::format_human(&t)),
        None => esc(text),
    }
}

pub(super) fn render(r: &PeriodReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Access review evidence {} to {}</title>\
         <style>{STYLE}</style></head><body><h1>Access review evidence</h1>\
         <p>Period {} to {} (end exclusive). Generated {}. Ledger <code>{}</code>, head seq {} SHA-256 <code>{}</code>.</p>",
        human(&r.from),
        human(&r.to),
        human(&r.from),
        human(&r.to),
        human(&r.generated_at),
        esc(&r.ledger),
        r.head_seq.map_or("none".into(), |s| s.to_string()),
        esc(r.head_sha256.as_deref().unwrap_or("none")),
    );
    chain(&mut h, r);
    runs(&mut h, &r.runs);
    reviews(&mut h, r);
    super::history_html::findings(&mut h, &r.findings);
    super::history_html::leavers(&mut h, &r.leavers);
    super::revocations::html(&mut h, &r.revocations);
    if !r.not_covered.is_empty() {
        let _ = write!(h, "<h2>Not covered by this pack</h2><ul>");
        for n in &r.not_covered {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    h
}

fn chain(h: &mut String, r: &PeriodReport) {
    let c = &r.chain;
    let verdict = if c.ok {
        "<span class=\"ok\">the chain verifies</span>"
    } else {
        "<span class=\"bad\">the chain does NOT verify</span>"
    };
    let _ = write!(
        h,
        "<h2>Ledger</h2><p>{verdict}: {} lines; {} referenced files match their recorded SHA-256, {} are no longer available.</p>",
        c.lines, c.files_verified, c.files_unavailable
    );
    if !c.problems.is_empty() {
        h.push_str("<ul class=\"bad\">");
        for p in &c.problems {
            let _ = write!(h, "<li>{}</li>", esc(p));
        }
        h.push_str("</ul>");
    }
}

fn runs(h: &mut String, runs: &[RunRow]) {
    let _ = write!(h, "<h2>Runs ({})</h2>", runs.len());
    if runs.is_empty() {
        h.push_str("<p class=\"bad\">No run was recorded in the period.</p>");
        return;
    }
    h.push_str(
        "<table><tr><th>Recorded</th><th>As of</th><th>Complete</th><th>Accounts</th><th>Failing</th>\
         <th>Scopes</th><th>Failed scopes</th><th>report.json</th><th>Run</th></tr>",
    );
    let opt = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    for run in runs {
        let complete = match run.complete {
            Some(true) => "yes",
            Some(false) => "<span class=\"bad\">no</span>",
            None => "?",
        };
        let failed: Vec<String> = run.failed_scopes.iter().map(|s| esc(s)).collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{complete}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td>\
             <td>{}</td><td><code>{}</code><br><code>{}</code></td></tr>",
            human(&run.at),
            human(run.as_of.as_deref().unwrap_or("?")),
            opt(run.accounts),
            opt(run.failing),
            opt(run.scopes),
            opt(run.scopes_failed),
            failed.join(", "),
            report_json(&run.report_json),
            esc(&run.run_id),
            esc(&run.run_dir),
        );
    }
    h.push_str("</table>");
}

fn reviews(h: &mut String, r: &PeriodReport) {
    let _ = write!(h, "<h2>Reviews ({})</h2>", r.reviews.len());
    if !r.reviews.is_empty() {
        h.push_str(
            "<table><tr><th>Started</th><th>Collected</th><th>Signed off</th><th>Run</th></tr>",
        );
        for rv in &r.reviews {
            let collected: Vec<String> = rv.collected.iter().map(|s| human(s)).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code><br><code>{}</code></td></tr>",
                human(rv.started.as_deref().unwrap_or("-")),
                collected.join("<br>"),
                rv.signed_off.as_deref().map_or(
                    "<span class=\"bad\">not signed off</span>".to_string(),
                    human
                ),
                esc(&rv.run_id),
                esc(&rv.run_dir),
            );
        }
        h.push_str("</table>");
    }
    let c = &r.cadence;
    let _ = write!(h, "<h2>Review cadence (every {} days)</h2>", c.cadence_days);
    if c.met {
        h.push_str("<p class=\"ok\">Every review was signed off within the cadence.</p>");
    }
    if c.sign_offs_in_period.is_empty() {
        h.push_str("<p class=\"bad\">No review was signed off in the period.</p>");
    }
    if !c.gaps.is_empty() {
        h.push_str("<table><tr><th>No sign-off since</th><th>Until</th><th>Days</th><th>Due</th><th>Missed cycles</th></tr>");
        for g in &c.gaps {
            gap(h, g);
        }
        h.push_str("</table>");
    }
}

fn gap(h: &mut String, g: &Gap) {
    let _ = write!(
        h,
        "<tr class=\"bad\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        human(&g.since),
        human(g.until.as_deref().unwrap_or("end of period, still none")),
        g.days,
        human(&g.due),
        g.missed_cycles
    );
}

/// Whether a run's report.json was compared: `used`, or (flagged) why not.
pub(super) fn report_json(status: &str) -> String {
    if status == super::history::USED {
        "compared".to_string()
    } else {
        format!("<span class=\"bad\">{}</span>", esc(status))
    }
}
