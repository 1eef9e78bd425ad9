//! Each reviewer's worksheet, as `worksheets/<reviewer>.xlsx` and `.csv`.
//!
//! The workbook: sheet `Review` (header frozen, the sheet protected with only `decision`,
//! `new_role` and `justification` unlocked, a keep/revoke/change_role list on `decision`), a
//! sheet `Missing scopes` when the run was incomplete, and a hidden sheet `_review` that says
//! which review, report and reviewer the worksheet belongs to and lists the row keys in order.
//! Every text cell is written as a string, never a formula: names come from the audited APIs.
//!
//! The CSV: a first line `#access-audit review worksheet,review_id=…,report_sha256=…,reviewer=…`
//! (then `missing_scopes=…` when the run was incomplete), the header, one line per row.

use rust_xlsxwriter::{DataValidation, Format, Workbook, Worksheet, XlsxError};

use super::campaign::{Decision, Row};
use super::{COLUMNS, CSV_MARK, DECISION_COL, JUSTIFICATION_COL, META_SHEET, NEW_ROLE_COL, SHEET};

/// What a worksheet says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) review_id: String,
    pub(crate) report_sha256: String,
    pub(crate) reviewer: String,
}

/// The labels of the hidden sheet's first column; the row keys follow from row 5.
pub(crate) const META_LABELS: [&str; 4] = ["review_id", "report_sha256", "reviewer", "row_keys"];

/// A file name for a reviewer's address: letters, digits, `@._+-`, anything else `_`.
pub(crate) fn file_stem(reviewer: &str) -> String {
    reviewer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) fn xlsx(meta: &Meta, rows: &[Row], missing: &[String]) -> Result<Vec<u8>, String> {
    let err = |e: XlsxError| format!("cannot build the worksheet of {}: {e}", meta.reviewer);
    let mut book = Workbook::new();
    review_sheet(book.add_worksheet(), rows).map_err(err)?;
    if !missing.is_empty() {
        missing_sheet(book.add_worksheet(), missing).map_err(err)?;
    }
    meta_sheet(book.add_worksheet(), meta, rows).map_err(err)?;
    book.save_to_buffer().map_err(err)
}

fn review_sheet(sheet: &mut Worksheet, rows: &[Row]) -> Result<(), XlsxError> {
    sheet.set_name(SHEET)?;
    let bold = Format::new().set_bold();
    let open = Format::new().set_unlocked();
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (c, text) in row.identity().iter().enumerate() {
            sheet.write_string(r, c as u16, *text)?;
        }
        for c in [DECISION_COL, NEW_ROLE_COL, JUSTIFICATION_COL] {
            sheet.write_blank(r, c as u16, &open)?;
        }
    }
    if !rows.is_empty() {
        let choices: Vec<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
        let list = DataValidation::new().allow_list_strings(&choices)?;
        let last = rows.len() as u32;
        sheet.add_data_validation(1, DECISION_COL as u16, last, DECISION_COL as u16, &list)?;
    }
    for (c, width) in [(0, 40), (1, 24), (2, 32), (10, 50), (14, 40)] {
        sheet.set_column_width(c, width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.protect();
    Ok(())
}

fn missing_sheet(sheet: &mut Worksheet, missing: &[String]) -> Result<(), XlsxError> {
    sheet.set_name("Missing scopes")?;
    sheet.write_string(
        0,
        0,
        "These scopes failed in the run: their accounts are not in this review.",
    )?;
    for (i, scope) in missing.iter().enumerate() {
        sheet.write_string(i as u32 + 1, 0, scope)?;
    }
    Ok(())
}

fn meta_sheet(sheet: &mut Worksheet, meta: &Meta, rows: &[Row]) -> Result<(), XlsxError> {
    sheet.set_name(META_SHEET)?;
    let values = [&meta.review_id, &meta.report_sha256, &meta.reviewer];
    for (r, label) in META_LABELS.iter().enumerate() {
        sheet.write_string(r as u32, 0, *label)?;
    }
    for (r, value) in values.iter().enumerate() {
        sheet.write_string(r as u32, 1, value.as_str())?;
    }
    for (i, row) in rows.iter().enumerate() {
        sheet.write_string(META_LABELS.len() as u32 + i as u32, 0, &row.key)?;
    }
    sheet.set_hidden(true);
    sheet.protect();
    Ok(())
}

/// The first line of a CSV worksheet: its identity.
pub(crate) fn csv_meta_line(meta: &Meta, missing: &[String]) -> Vec<String> {
    let mut line = vec![
        CSV_MARK.to_string(),
        format!("review_id={}", meta.review_id),
        format!("report_sha256={}", meta.report_sha256),
        format!("reviewer={}", meta.reviewer),
    ];
    if !missing.is_empty() {
        line.push(format!("missing_scopes={}", missing.join(" ")));
    }
    line
}

pub(crate) fn csv(meta: &Meta, rows: &[Row], missing: &[String]) -> Result<Vec<u8>, String> {
    let err = |e: csv::Error| format!("cannot build the CSV worksheet of {}: {e}", meta.reviewer);
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    out.write_record(csv_meta_line(meta, missing))
        .map_err(err)?;
    out.write_record(COLUMNS).map_err(err)?;
    for row in rows {
        let mut record: Vec<&str> = row.identity().to_vec();
        record.extend(["", "", ""]);
        out.write_record(record.iter().map(|t| csv_safe(t)))
            .map_err(err)?;
    }
    out.into_inner()
        .map_err(|e| format!("cannot build the CSV worksheet of {}: {e}", meta.reviewer))
}

/// CSV cells are text; a spreadsheet opening one would run `=…`, so such a cell (and one that
/// starts with `'` itself) is written with a leading `'`, which `returned` takes off again.
pub(crate) fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}
