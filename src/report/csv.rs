//! `findings.csv` and `accounts.csv`: RFC 4180, UTF-8, header row, and every cell that a
//! spreadsheet would execute as a formula neutralised with a leading `'`.

use std::borrow::Cow;
use std::io::Write;

use chrono::{DateTime, Utc};

use crate::model::{Accounts, Finding, TimeText};

pub(super) const FINDINGS_HEADER: [&str; 21] = [
    "id",
    "rule",
    "severity",
    "outcome",
    "source",
    "source_name",
    "scope",
    "account_id",
    "email",
    "name",
    "role",
    "status",
    "last_seen_at",
    "detail",
    "suppressed",
    "suppression_reason",
    "suppression_owner",
    "suppression_expires",
    "change",
    "first_seen",
    "references",
];

pub(super) const ACCOUNTS_HEADER: [&str; 16] = [
    "source",
    "source_name",
    "scope",
    "account_id",
    "user_id",
    "email",
    "name",
    "role",
    "privileged",
    "status",
    "mfa",
    "last_login_at",
    "last_active_at",
    "last_seen_at",
    "invited_at",
    "created_at",
];

/// Names and emails come from invitees: `=HYPERLINK(…)` must stay text. Spreadsheets decide
/// a cell is a formula after trimming leading blanks (and some ignore invisible characters), and
/// some read the full-width `＝ ＋ － ＠` as their ASCII forms, so the guard looks past those too.
pub(crate) fn neutralise(cell: &str) -> Cow<'_, str> {
    // Nearly every cell starts with a printable ASCII character that cannot start a formula:
    // such a cell is as it is, without looking further.
    if cell
        .as_bytes()
        .first()
        .is_none_or(|&b| b > b' ' && b < 0x7f && !matches!(b, b'=' | b'+' | b'-' | b'@'))
    {
        return Cow::Borrowed(cell);
    }
    let starts_with_blank = cell.chars().next().is_some_and(is_skipped_lead);
    let first = cell.chars().find(|c| !is_skipped_lead(*c));
    let formula = matches!(
        first,
        Some('=' | '+' | '-' | '@' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}')
    );
    let control_lead = matches!(cell.chars().next(), Some('\t' | '\r' | '\n'));
    if formula || (control_lead && starts_with_blank) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// What a spreadsheet passes over before the first character that counts: white space, and
/// the zero-width characters and byte-order mark that do not show.
fn is_skipped_lead(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fn opt(s: Option<&str>) -> &str {
    s.unwrap_or("")
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A CSV writer that neutralises every cell and formats times without allocating, writing
/// exactly what the `csv` crate writes by default (RFC 4180: a cell in quotes, its quotes
/// doubled, only when it holds a comma, a quote or a line break; CRLF after each row; a row
/// with nothing in it as `""`). At a million rows the `csv` crate's per-cell state machine was
/// most of the time spent on these files; a test compares the bytes with its output.
struct Rows<W: Write> {
    out: W,
    /// Whole rows, written out once there are enough of them.
    buf: Vec<u8>,
    /// Where the current row began in `buf`, and whether a cell of it has been written.
    row_begin: usize,
    row_started: bool,
    /// How much it holds before writing it out (small in tests, to write out often).
    write_at: usize,
    name: &'static str,
}

/// How much `Rows` holds before writing it out.
const ROWS_BUFFER: usize = 64 * 1024;

impl<W: Write> Rows<W> {
    fn new(out: W, name: &'static str, header: &[&str]) -> Result<Self, String> {
        let mut rows = Rows {
            out,
            buf: Vec::with_capacity(ROWS_BUFFER + 4096),
            row_begin: 0,
            row_started: false,
            write_at: ROWS_BUFFER,
            name,
        };
        for h in header {
            rows.cell(h);
        }
        rows.end()?;
        Ok(rows)
    }

    fn err(&self, e: &dyn std::fmt::Display) -> String {
        format!("cannot write {}: {e}", self.name)
    }

    fn cell(&mut self, value: &str) {
        if self.row_started {
            self.buf.push(b',');
        }
        self.row_started = true;
        let cell = neutralise(value);
        let bytes = cell.as_bytes();
        if !bytes
            .iter()
            .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        {
            self.buf.extend_from_slice(bytes);
            return;
        }
        self.buf.push(b'"');
        for (i, part) in bytes.split(|&b| b == b'"').enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(b"\"\"");
            }
            self.buf.extend_from_slice(part);
        }
        self.buf.push(b'"');
    }

    fn time(&mut self, t: &Option<DateTime<Utc>>) {
        match t {
            Some(t) => self.cell(TimeText::new(t).as_str()),
            None => self.cell(""),
        }
    }

    fn end(&mut self) -> Result<(), String> {
        // Nothing in the row (no cell, or one empty cell) would read back as no row at all.
        if self.buf.len() == self.row_begin {
            self.buf.extend_from_slice(b"\"\"");
        }
        self.buf.extend_from_slice(b"\r\n");
        self.row_started = false;
        if self.buf.len() >= self.write_at {
            self.write_out()?;
        }
        self.row_begin = self.buf.len();
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), String> {
        let written = self.out.write_all(&self.buf);
        self.buf.clear();
        written.map_err(|e| self.err(&e))
    }

    fn finish(mut self) -> Result<(), String> {
        self.write_out()?;
        self.out.flush().map_err(|e| self.err(&e))
    }
}

pub(super) fn write_findings(findings: &[Finding], out: &mut dyn Write) -> Result<(), String> {
    let mut rows = Rows::new(out, super::FINDINGS_CSV, &FINDINGS_HEADER)?;
    for f in findings {
        for cell in [
            &f.id,
            f.rule.as_str(),
            f.severity.as_str(),
            f.outcome.as_str(),
            f.source.as_str(),
            &f.source_name,
            &f.scope,
            f.subject.account_id(),
        ] {
            rows.cell(cell);
        }
        let s = &f.subject;
        for cell in [s.email(), s.name(), s.role()] {
            rows.cell(cell.unwrap_or(""));
        }
        rows.cell(s.status());
        rows.time(&s.last_seen_at());
        rows.cell(&f.detail);
        rows.cell(flag(f.suppressed));
        let note = f.suppression.as_ref();
        for cell in [
            note.map(|n| n.reason.as_str()),
            note.map(|n| n.owner.as_str()),
            note.map(|n| n.expires.as_str()),
            f.change.map(|c| c.as_str()),
            f.first_seen.as_deref(),
        ] {
            rows.cell(cell.unwrap_or(""));
        }
        rows.cell(&references(f));
        rows.end()?;
    }
    rows.finish()
}

/// The compliance controls the finding's rule evidences, joined with `; `.
fn references(f: &Finding) -> String {
    crate::rules::rule_info(f.rule.as_str()).map_or_else(String::new, |i| i.references.join("; "))
}

pub(super) fn write_accounts(accounts: &Accounts, out: &mut dyn Write) -> Result<(), String> {
    let mut rows = Rows::new(out, super::ACCOUNTS_CSV, &ACCOUNTS_HEADER)?;
    for a in accounts {
        for cell in [
            a.source.as_str(),
            &a.source_name,
            &a.scope,
            &a.account_id,
            opt(a.user_id.as_deref()),
            opt(a.email.as_deref()),
            opt(a.name.as_deref()),
        ] {
            rows.cell(cell);
        }
        rows.cell(opt(a.role.as_deref()));
        rows.cell(flag(a.privileged));
        rows.cell(a.status.as_str());
        rows.cell(match a.mfa {
            Some(true) => "true",
            Some(false) => "false",
            None => "",
        });
        for t in [
            &a.last_login_at,
            &a.last_active_at,
            &a.last_seen_at,
            &a.invited_at,
            &a.created_at,
        ] {
            rows.time(t);
        }
        rows.end()?;
    }
    rows.finish()
}

/// Stream people.csv (one row per person and their accounts) into `out`.
pub(super) fn write_people_to(
    rows: &[crate::review::roster::PersonRow],
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write people.csv: {e}");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record([
        "email", "name", "status", "end_date", "manager", "accounts", "findings",
    ])
    .map_err(|e| err(&e))?;
    for r in rows {
        let cells = [
            r.email.clone(),
            r.name.clone(),
            r.status.clone(),
            r.end_date.clone().unwrap_or_default(),
            r.manager.clone(),
            r.accounts.join("; "),
            r.findings.to_string(),
        ];
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `rows` (the first one the header) as the `csv` crate writes them, each cell neutralised.
    fn by_the_csv_crate(rows: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(Vec::new());
        for row in rows {
            w.write_record(row.iter().map(|c| neutralise(c).into_owned()))
                .unwrap();
        }
        w.into_inner().unwrap()
    }

    fn by_rows(rows: &[Vec<String>], write_at: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let header: Vec<&str> = rows[0].iter().map(String::as_str).collect();
        let mut w = Rows::new(&mut out, "test.csv", &header).unwrap();
        w.write_at = write_at;
        for row in &rows[1..] {
            for c in row {
                w.cell(c);
            }
            w.end().unwrap();
        }
        w.finish().unwrap();
        out
    }

    fn cell_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z ,#\"\r\n=+@\t-]{0,8}",
            prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        ]
    }

    proptest! {
        /// Quoting, doubled quotes, empty rows and neutralised formulas: the `csv` crate's bytes.
        #[test]
        fn rows_are_written_as_the_csv_crate_writes_them(
            rows in prop::collection::vec(prop::collection::vec(cell_text(), 0..6), 1..8),
            write_at in prop_oneof![Just(ROWS_BUFFER), 1usize..24],
        ) {
            prop_assert_eq!(by_rows(&rows, write_at), by_the_csv_crate(&rows));
        }
    }

    /// A file that stops taking bytes: the error names the file, and nothing is written after it.
    #[test]
    fn a_failed_write_names_the_file() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("No space left on device"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut rows = Rows::new(Full, "accounts.csv", &["a"]).unwrap();
        rows.write_at = 1;
        rows.cell("x");
        assert_eq!(
            rows.end().unwrap_err(),
            "cannot write accounts.csv: No space left on device"
        );
        let rows = Rows::new(Full, "findings.csv", &["a"]).unwrap();
        assert_eq!(
            rows.finish().unwrap_err(),
            "cannot write findings.csv: No space left on device"
        );
    }

    /// Empty rows, each right after the rows before it were written out: each still `""`.
    #[test]
    fn an_empty_row_after_a_write_out_is_still_written_as_one() {
        let rows = vec![Vec::new(), Vec::new(), Vec::new()];
        assert_eq!(by_rows(&rows, 1), by_the_csv_crate(&rows));
        assert_eq!(by_rows(&rows, 1), b"\"\"\r\n\"\"\r\n\"\"\r\n");
    }

    #[test]
    fn rows_past_the_buffer_are_written_whole_and_in_order() {
        let rows: Vec<Vec<String>> = (0..20_000)
            .map(|i| {
                vec![
                    format!("row {i}"),
                    "a,\"b\"".into(),
                    String::new(),
                    "=1".into(),
                ]
            })
            .collect();
        let written = by_rows(&rows, ROWS_BUFFER);
        assert!(written.len() > 4 * ROWS_BUFFER);
        assert_eq!(written, by_the_csv_crate(&rows));
    }

    #[test]
    fn formulas_are_neutralised() {
        for (input, expected) in [
            (
                "=HYPERLINK(\"http://evil\",\"x\")",
                "'=HYPERLINK(\"http://evil\",\"x\")",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("\nx", "'\nx"),
            (" =1+1", "' =1+1"),
            ("\n=cmd", "'\n=cmd"),
            ("\u{200b}=1", "'\u{200b}=1"),
            ("\u{feff}@x", "'\u{feff}@x"),
            ("\u{ff1d}SUM(A1)", "'\u{ff1d}SUM(A1)"),
            ("\u{a0}+1", "'\u{a0}+1"),
            (" Alice", " Alice"),
            ("Alice", "Alice"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(input), expected);
        }
    }
}
