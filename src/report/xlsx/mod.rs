//! `report.xlsx`: one workbook for reviewers and auditors. Sheets: Summary, Findings, Accounts,
//! Privileged, Coverage, and People, Suppressions and Changes when the run has them.
//!
//! Every sheet has a bold header row, frozen, under an autofilter; times are Excel date-times
//! (UTC). Values come from the audited APIs, so every text cell is a string cell (an `=` at the
//! start is text, not a formula), text longer than a cell holds is cut with a marker, and a
//! sheet that would pass Excel's 1,048,576 rows ends with a note that the CSV has the rest —
//! the workbook never fails a run for its size. Control characters are written as Excel's
//! `_xHHHH_` escapes by `rust_xlsxwriter`, so they neither break the XML nor are lost.
//!
//! The zip is written into the file as it is made (`stream`), so the whole file is never in
//! memory; sheets of many rows go through a temporary file first (constant-memory mode).
//!
//! The same report renders to the same bytes (where the temporary directory is as writable as it
//! was): the document's creation time is the report's `generated_at`, and the zip entries carry
//! no time of their own.

mod sheets;
mod stream;
mod summary;
mod table;

// Shared with the review's decisions workbook (`access_review::decisions_xlsx`).
pub(crate) use self::table::{excel_serial, fit};

#[cfg(test)]
mod tests;

use std::panic::{AssertUnwindSafe, catch_unwind};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook, Worksheet, XlsxError};

use self::sheets::*;
use self::stream::SaveError;
use self::table::{Column, Formats, Limits, Sheet};
use super::{REPORT_XLSX, Report};

/// Sheets with at least this many rows are streamed through a temporary file
/// (rust_xlsxwriter's constant-memory mode), when one can be made: a workbook of a million
/// accounts then needs little more memory than the report itself.
const STREAM_FROM_ROWS: usize = 20_000;
/// Past this much XML (estimated), the zip is written with ZIP64 extensions, which any entry of
/// 4 GiB or more needs. The estimate leaves room for escapes that grow text up to 7-fold.
const ZIP64_FROM_BYTES: u64 = 512 << 20;

#[derive(Debug, Clone, Copy)]
struct Options {
    limits: Limits,
    stream_from_rows: usize,
    /// The zip goes to the file in chunks of this many bytes.
    chunk: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            limits: Limits {
                max_rows: table::EXCEL_MAX_ROWS,
            },
            stream_from_rows: STREAM_FROM_ROWS,
            chunk: 1 << 20,
        }
    }
}

pub(super) fn write(report: &Report, out: &mut dyn std::io::Write) -> Result<(), String> {
    write_with(report, out, Options::default())
}

fn write_with(report: &Report, out: &mut dyn std::io::Write, opts: Options) -> Result<(), String> {
    let err =
        |what: &str, e: &dyn std::fmt::Display| format!("cannot write {REPORT_XLSX}: {what}: {e}");
    let temp_failed = "a temporary worksheet file failed (is the temporary directory full?)";
    // rust_xlsxwriter panics when the temporary file of a streamed sheet cannot be written or
    // read back (a full disk): that is this file failing, not the run.
    let mut book = catch_unwind(AssertUnwindSafe(|| build(report, opts)))
        .map_err(|panic| err(temp_failed, &stream::panic_message(panic.as_ref())))?
        .map_err(|e| err("building the workbook", &e))?;
    stream::save(&mut book, out, opts.chunk).map_err(|e| match e {
        SaveError::Workbook(e) => err("assembling the workbook", &e),
        SaveError::Output(e) => err("writing", &e),
        SaveError::Panic(why) => err(temp_failed, &why),
    })
}

fn build(report: &Report, opts: Options) -> Result<Workbook, XlsxError> {
    let mut book = Book {
        book: Workbook::new(),
        formats: Formats::new(),
        opts,
        bytes: 0,
        warned: false,
    };
    book.book.set_properties(&properties(report));

    let privileged = privileged_rows(&report.accounts, &report.findings);
    let changes = change_rows(report);
    // Each sheet of rows, and where whoever needs what does not fit finds it.
    let overflow = [
        (
            FINDINGS,
            report.findings.len(),
            "findings.csv and report.json have",
        ),
        (
            ACCOUNTS,
            report.accounts.len(),
            "accounts.csv and report.json have",
        ),
        (
            PRIVILEGED,
            privileged.len(),
            "accounts.csv and report.json have",
        ),
        (COVERAGE, report.scopes.len(), "report.json has"),
        (PEOPLE, report.people.len(), "people.csv has"),
        (SUPPRESSIONS, report.suppressions.len(), "report.json has"),
        (CHANGES, changes.len(), "report.json has"),
    ];
    let elsewhere = |sheet: &str| {
        overflow
            .iter()
            .find(|o| o.0 == sheet)
            .map_or("report.json has", |o| o.2)
    };

    let mut ws = book.sheet(SUMMARY, 0)?;
    book.bytes += summary::write(&mut ws, &book.formats, opts.limits, report, &overflow)?;
    book.book.push_worksheet(ws);
    book.table(
        FINDINGS,
        &report.findings,
        FINDING_COLUMNS,
        elsewhere(FINDINGS),
    )?;
    book.table_of(
        ACCOUNTS,
        report.accounts.iter(),
        report.accounts.len(),
        ACCOUNT_COLUMNS,
        elsewhere(ACCOUNTS),
    )?;
    book.table(
        PRIVILEGED,
        &privileged,
        &privileged_columns(),
        elsewhere(PRIVILEGED),
    )?;
    book.table(
        COVERAGE,
        &report.scopes,
        COVERAGE_COLUMNS,
        elsewhere(COVERAGE),
    )?;
    if !report.people.is_empty() {
        book.table(PEOPLE, &report.people, PEOPLE_COLUMNS, elsewhere(PEOPLE))?;
    }
    if !report.suppressions.is_empty() {
        let entries = &report.suppressions;
        book.table(
            SUPPRESSIONS,
            entries,
            SUPPRESSION_COLUMNS,
            elsewhere(SUPPRESSIONS),
        )?;
    }
    if report.changes.is_some() {
        book.table(CHANGES, &changes, &change_columns(), elsewhere(CHANGES))?;
    }

    let zip64 = book.bytes >= ZIP64_FROM_BYTES;
    book.book.use_zip_large_file(zip64);
    Ok(book.book)
}

/// The workbook being built, and what its sheets share.
struct Book {
    book: Workbook,
    formats: Formats,
    opts: Options,
    /// Roughly how many bytes of XML the sheets take.
    bytes: u64,
    /// Whether it was said that long sheets are built in memory.
    warned: bool,
}

impl Book {
    /// A sheet whose first row is the header of one table of `items`: frozen, filtered.
    fn table<T>(
        &mut self,
        name: &'static str,
        items: &[T],
        columns: &[Column<T>],
        elsewhere: &str,
    ) -> Result<(), XlsxError> {
        self.table_of(name, items.iter(), items.len(), columns, elsewhere)
    }

    /// [`table`](Self::table) of `total` items read in order (the accounts, kept per scope).
    fn table_of<'i, T: 'i>(
        &mut self,
        name: &'static str,
        items: impl Iterator<Item = &'i T>,
        total: usize,
        columns: &[Column<T>],
        elsewhere: &str,
    ) -> Result<(), XlsxError> {
        let mut ws = self.sheet(name, total)?;
        let mut sheet = Sheet::new(&mut ws, &self.formats, self.opts.limits);
        sheet.table(items, total, columns, elsewhere)?;
        let last = sheet.last_row();
        self.bytes += sheet.finish(0, last, columns.len())?;
        self.book.push_worksheet(ws);
        Ok(())
    }

    /// A sheet named `name`, streamed through a temporary file when it is long and one can be
    /// made; else built in memory, which is said once.
    fn sheet(&mut self, name: &str, rows: usize) -> Result<Worksheet, XlsxError> {
        let mut ws = if rows >= self.opts.stream_from_rows {
            self.book
                .new_worksheet_with_constant_memory()
                .unwrap_or_else(|e| {
                    if !std::mem::replace(&mut self.warned, true) {
                        tracing::warn!(
                            sheet = name,
                            rows,
                            error = %e,
                            "{REPORT_XLSX}: no temporary file to stream long sheets through; \
                             building them in memory (set TMPDIR to a writable directory to \
                             save memory)"
                        );
                    }
                    Worksheet::new()
                })
        } else {
            Worksheet::new()
        };
        ws.set_name(name)?;
        Ok(ws)
    }
}

/// Title, subject and creation time from the report, so the same report gives the same file.
fn properties(report: &Report) -> DocProperties {
    let mut props = DocProperties::new()
        .set_title(plain(&report.title))
        .set_subject(format!(
            "Access review as of {}",
            crate::model::TimeText::new(&report.as_of).as_str()
        ))
        .set_author(format!("{} {}", report.tool.name, report.tool.version))
        .set_comment(report.verdict());
    if let Ok(created) = ExcelDateTime::from_timestamp(report.generated_at.timestamp()) {
        props = props.set_creation_datetime(&created);
    }
    props
}

/// Document properties are plain XML, without the cells' escapes: leave control characters out.
fn plain(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}
