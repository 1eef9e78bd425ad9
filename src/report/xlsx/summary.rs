//! The Summary sheet: the verdict and counts, the run's provenance, notes on sheets that did not
//! fit, then one row per rule.

use rust_xlsxwriter::{Worksheet, XlsxError};

use super::sheets::{RuleRow, rule_columns};
use super::table::{Cell, Formats, Limits, Sheet};
use crate::report::Report;

/// The Summary sheet: what the run found, where its inputs came from, which sheets did not fit,
/// then one row per rule (its columns: `sheets::rule_columns`).
pub(super) fn write(
    ws: &mut Worksheet,
    formats: &Formats,
    limits: Limits,
    report: &Report,
    overflow: &[(&str, usize, &str)],
) -> Result<u64, XlsxError> {
    let mut sheet = Sheet::new(ws, formats, limits);
    let s = &report.summary;
    let run = &report.run;
    sheet.header(&["item", "value"])?;
    let mut items: Vec<(&str, Cell<'_>)> = vec![
        ("title", Cell::text(&report.title)),
        ("as of (UTC)", Cell::Time(Some(report.as_of))),
        ("generated (UTC)", Cell::Time(Some(report.generated_at))),
        ("verdict", Cell::owned(report.verdict())),
        ("complete", Cell::yes_no(report.complete)),
    ];
    if let Some(reason) = &run.stopped {
        items.push(("stopped early", Cell::text(reason)));
    }
    items.extend([
        ("accounts", Cell::Number(s.accounts)),
        ("findings", Cell::Number(s.findings)),
        ("failing", Cell::Number(s.failing)),
        ("manual", Cell::Number(s.manual)),
        ("suppressed", Cell::Number(s.suppressed)),
        ("scopes", Cell::Number(s.scopes)),
        ("scopes failed", Cell::Number(s.scopes_failed)),
    ]);
    let by_severity: Vec<(String, usize)> = crate::report::view::severity_counts(report)
        .into_iter()
        .map(|(sev, n)| (format!("failing {}", sev.as_str()), n))
        .collect();
    for (label, n) in &by_severity {
        items.push((label, Cell::Number(*n)));
    }
    let suppression_line = crate::report::view::suppression_line(report);
    if !suppression_line.is_empty() {
        items.push(("suppressions", Cell::owned(suppression_line)));
    }
    if let Some(c) = &report.changes {
        items.extend([
            (
                "baseline as of (UTC)",
                Cell::DateText(Some(&c.baseline_as_of)),
            ),
            ("new since baseline", Cell::Number(c.new)),
            ("persisting", Cell::Number(c.persisting)),
            ("resolved", Cell::Number(c.resolved.len())),
            ("not rechecked", Cell::Number(c.not_rechecked)),
        ]);
    }
    if !report.people.is_empty() {
        items.push(("people", Cell::Number(report.people.len())));
    }
    items.extend([
        (
            "tool",
            Cell::owned(format!("{} {}", report.tool.name, report.tool.version)),
        ),
        ("tool commit", Cell::text(&report.tool.commit)),
        ("tool built", Cell::text(&report.tool.built)),
        ("run id", Cell::text(&run.run_id)),
        ("fail on", Cell::text(&run.fail_on)),
        ("retries", Cell::Number(run.retries as usize)),
        ("config SHA-256", Cell::opt(run.config_sha256.as_deref())),
        (
            "evidence manifest SHA-256",
            Cell::opt(run.evidence_manifest_sha256.as_deref()),
        ),
        ("evidence directory", Cell::opt(run.evidence_dir.as_deref())),
        ("replayed", Cell::yes_no(run.replayed)),
        ("framework", Cell::opt(run.framework.as_deref())),
        (
            "shard",
            match run.shard {
                Some(shard) => Cell::owned(shard.to_string()),
                None => Cell::Empty,
            },
        ),
    ]);
    let notes: Vec<(String, String)> = overflow
        .iter()
        .filter(|(_, total, _)| limits.shown(*total) < *total)
        .map(|(name, total, elsewhere)| {
            (
                format!("{name} sheet"),
                format!(
                    "{} of {total} rows: Excel holds {} rows a sheet; {elsewhere} every one",
                    limits.shown(*total),
                    limits.max_rows
                ),
            )
        })
        .collect();
    for (label, note) in &notes {
        items.push((label, Cell::text(note)));
    }
    for (label, value) in items {
        sheet.cells([Cell::text(label), value])?;
    }
    let last_item = sheet.last_row();

    sheet.skip();
    let rules: Vec<RuleRow<'_>> = run
        .rules
        .iter()
        .map(|meta| RuleRow {
            meta,
            failing: s.by_rule.get(meta.id.as_str()),
        })
        .collect();
    let columns = rule_columns();
    sheet.table(rules.iter(), rules.len(), &columns, "report.json has")?;
    sheet.finish(0, last_item, 2)
}
