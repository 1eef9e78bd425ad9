//! `review/decisions.xlsx`, written at sign-off: the rows of `decisions.csv` for people who file
//! spreadsheets, and the sign-off itself.
//!
//! Sheet `Decisions`: the columns of the CSV ([`DECISION_COLUMNS`]), bold header frozen, an
//! autofilter over the rows, `decided_at` as a real Excel date-time (UTC). Every other cell is
//! written as a string, never a formula — names and justifications come from the audited APIs
//! and the reviewers — and cut to Excel's cell limit with a marker (`report::fit`), as the
//! run's workbook does. Sheet `Sign-off`: who, when, the statement and the three digests.

use chrono::{DateTime, Utc};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::page::{DECISION_COLUMNS, DecisionLine};
use super::signoff::SignOff;
use crate::report::{excel_serial, fit};

pub(crate) const DECISIONS_XLSX: &str = "decisions.xlsx";
pub(crate) const DECISIONS_SHEET: &str = "Decisions";
pub(crate) const SIGN_OFF_SHEET: &str = "Sign-off";

/// The formats, made once per workbook.
struct Formats {
    bold: Format,
    date_time: Format,
}

pub(crate) fn render(lines: &[DecisionLine], sign: &SignOff) -> Result<Vec<u8>, String> {
    let err = |e: XlsxError| format!("cannot build {DECISIONS_XLSX}: {e}");
    let formats = Formats {
        bold: Format::new().set_bold(),
        date_time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
    };
    let mut book = Workbook::new();
    decisions_sheet(book.add_worksheet(), lines, &formats).map_err(err)?;
    sign_off_sheet(book.add_worksheet(), sign, &formats).map_err(err)?;
    book.save_to_buffer().map_err(err)
}

fn decisions_sheet(
    ws: &mut Worksheet,
    lines: &[DecisionLine],
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(DECISIONS_SHEET)?;
    for (c, name) in DECISION_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, &f.bold)?;
    }
    for (i, line) in lines.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, text) in line.text.iter().enumerate() {
            if !text.is_empty() {
                ws.write_string(r, c as u16, fit(text))?;
            }
        }
        if let Some(t) = &line.decided_at {
            time(ws, r, 7, t, f)?;
        }
    }
    ws.autofilter(0, 0, lines.len() as u32, DECISION_COLUMNS.len() as u16 - 1)?;
    ws.set_freeze_panes(1, 0)?;
    for (c, width) in [
        (0, 40),
        (1, 32),
        (2, 28),
        (3, 12),
        (5, 50),
        (6, 28),
        (7, 20),
    ] {
        ws.set_column_width(c, width)?;
    }
    Ok(())
}

/// A date-time cell, or its text where Excel has no date for it (before March 1900).
fn time(
    ws: &mut Worksheet,
    r: u32,
    c: u16,
    t: &DateTime<Utc>,
    f: &Formats,
) -> Result<(), XlsxError> {
    match excel_serial(t) {
        Some(serial) => ws.write_number_with_format(r, c, serial, &f.date_time)?,
        None => ws.write_string(r, c, crate::model::format_time(t))?,
    };
    Ok(())
}

fn sign_off_sheet(ws: &mut Worksheet, s: &SignOff, f: &Formats) -> Result<(), XlsxError> {
    ws.set_name(SIGN_OFF_SHEET)?;
    let manifest = s
        .evidence_manifest_sha256
        .as_deref()
        .unwrap_or("none: the run kept no evidence archive");
    let rows = [
        ("Statement", s.statement.as_deref().unwrap_or("(none)")),
        ("SHA-256 of report.json", s.report_sha256.as_str()),
        ("SHA-256 of the evidence manifest", manifest),
        (
            "SHA-256 of the decisions (review/decisions.json)",
            s.decisions_sha256.as_str(),
        ),
    ];
    ws.write_string_with_format(0, 0, "Signed off by", &f.bold)?;
    ws.write_string(0, 1, fit(&s.by))?;
    ws.write_string_with_format(1, 0, "At (UTC)", &f.bold)?;
    time(ws, 1, 1, &s.at, f)?;
    for (i, (label, value)) in rows.iter().enumerate() {
        let r = i as u32 + 2;
        ws.write_string_with_format(r, 0, *label, &f.bold)?;
        ws.write_string(r, 1, fit(value))?;
    }
    ws.set_column_width(0, 48)?;
    ws.set_column_width(1, 70)?;
    Ok(())
}
