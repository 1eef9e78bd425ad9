//! One worksheet as a table: a bold header row, then one row per item, each cell typed (text,
//! date, number, boolean). Every text cell is written as a string cell, so a value such as
//! `=HYPERLINK(…)` stays text; values longer than a cell holds are cut with a marker; a table
//! longer than a sheet holds ends with a note row that names the file with the rest.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use rust_xlsxwriter::{ColNum, Format, RowNum, Worksheet, XlsxError};

/// Excel's rows per sheet.
pub(super) const EXCEL_MAX_ROWS: u32 = 1_048_576;
/// Excel's longest cell text, in UTF-16 code units.
const MAX_CELL_UNITS: usize = 32_767;
/// Column widths, in characters: wide enough for a header and its filter button, never so wide
/// that one long detail hides the rest of the sheet.
const MIN_WIDTH: usize = 6;
const MAX_WIDTH: usize = 60;
/// `yyyy-mm-dd hh:mm:ss` and a little room.
const DATE_TIME_WIDTH: usize = 20;
const DATE_WIDTH: usize = 11;

/// One cell's value. Text is always written as text.
#[derive(Debug, Clone)]
pub(super) enum Cell<'a> {
    Text(Cow<'a, str>),
    /// A UTC instant, written as an Excel date-time; empty when `None`.
    Time(Option<DateTime<Utc>>),
    /// A date or instant that arrives as text (a suppression's expiry, a roster end date, a
    /// finding's first_seen): an Excel date when it reads as one, else the text as it is.
    DateText(Option<&'a str>),
    Bool(bool),
    /// Empty when unknown.
    OptBool(Option<bool>),
    Number(usize),
    Empty,
}

impl<'a> Cell<'a> {
    pub(super) fn text(s: &'a str) -> Cell<'a> {
        Cell::Text(Cow::Borrowed(s))
    }

    pub(super) fn opt(s: Option<&'a str>) -> Cell<'a> {
        s.map_or(Cell::Empty, Cell::text)
    }

    pub(super) fn owned(s: String) -> Cell<'a> {
        Cell::Text(Cow::Owned(s))
    }

    pub(super) fn yes_no(b: bool) -> Cell<'a> {
        Cell::text(if b { "yes" } else { "no" })
    }
}

/// One column of a table: its header and how to get its cell from a row. Sheets are lists of
/// these, so a column is added in one place.
pub(super) struct Column<T: ?Sized> {
    pub header: &'static str,
    pub cell: for<'a> fn(&'a T) -> Cell<'a>,
}

/// The formats cells are written with, made once per workbook.
pub(super) struct Formats {
    header: Format,
    date_time: Format,
    date: Format,
    note: Format,
}

impl Formats {
    pub(super) fn new() -> Formats {
        Formats {
            header: Format::new().set_bold(),
            date_time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            note: Format::new().set_italic(),
        }
    }
}

/// How much a sheet may hold. Tests lower `max_rows` to see a sheet overflow.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_rows: u32,
}

impl Limits {
    /// How many of `total` items a table whose header is the sheet's first row shows: all of
    /// them if they fit, else as many as leave room for the note row.
    pub(super) fn shown(self, total: usize) -> usize {
        let room = self.max_rows.saturating_sub(1) as usize;
        if total <= room {
            total
        } else {
            room.saturating_sub(1)
        }
    }
}

/// A worksheet being written top to bottom (as constant-memory sheets must be).
pub(super) struct Sheet<'w> {
    ws: &'w mut Worksheet,
    formats: &'w Formats,
    limits: Limits,
    next_row: RowNum,
    widths: Vec<usize>,
    /// Roughly how many bytes of XML the sheet takes, to know when the zip needs ZIP64.
    bytes: u64,
}

pub(super) type Result<T> = std::result::Result<T, XlsxError>;

impl<'w> Sheet<'w> {
    pub(super) fn new(ws: &'w mut Worksheet, formats: &'w Formats, limits: Limits) -> Sheet<'w> {
        Sheet {
            ws,
            formats,
            limits,
            next_row: 0,
            widths: Vec::new(),
            bytes: 0,
        }
    }

    /// A bold header row.
    pub(super) fn header(&mut self, headers: &[&str]) -> Result<()> {
        let row = self.next_row;
        for (col, h) in headers.iter().enumerate() {
            let col = col as ColNum;
            self.ws
                .write_string_with_format(row, col, *h, &self.formats.header)?;
            // Room for the filter button.
            self.widen(col, h.chars().count() + 3);
        }
        self.next_row += 1;
        Ok(())
    }

    /// One row of cells.
    pub(super) fn cells<'c>(&mut self, cells: impl IntoIterator<Item = Cell<'c>>) -> Result<()> {
        let row = self.next_row;
        for (col, cell) in cells.into_iter().enumerate() {
            self.cell(row, col as ColNum, cell)?;
        }
        self.next_row += 1;
        Ok(())
    }

    /// A blank row.
    pub(super) fn skip(&mut self) {
        self.next_row += 1;
    }

    /// A line of text in italics, outside any table.
    pub(super) fn note(&mut self, text: &str) -> Result<()> {
        self.bytes += text.len() as u64 + 64;
        self.ws
            .write_string_with_format(self.next_row, 0, fit(text), &self.formats.note)?;
        self.next_row += 1;
        Ok(())
    }

    /// A header row and then a row per item, as many as the sheet holds: past that, a note row
    /// that says how many are left out and where they are. Returns how many were written.
    pub(super) fn table<'i, T: 'i>(
        &mut self,
        items: impl Iterator<Item = &'i T>,
        total: usize,
        columns: &[Column<T>],
        elsewhere: &str,
    ) -> Result<usize> {
        let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
        self.header(&headers)?;
        self.rows(items, total, columns, elsewhere)
    }

    /// Rows for `total` items (the header already written), as many as the sheet holds.
    pub(super) fn rows<'i, T: 'i>(
        &mut self,
        items: impl Iterator<Item = &'i T>,
        total: usize,
        columns: &[Column<T>],
        elsewhere: &str,
    ) -> Result<usize> {
        let shown = self.limits.shown(total);
        for item in items.take(shown) {
            let row = self.next_row;
            for (col, c) in columns.iter().enumerate() {
                self.cell(row, col as ColNum, (c.cell)(item))?;
            }
            self.next_row += 1;
        }
        if shown < total {
            self.note(&format!(
                "{} more rows are not in this sheet: Excel holds {} rows a sheet. {elsewhere} \
                 has every one.",
                total - shown,
                self.limits.max_rows
            ))?;
        }
        Ok(shown)
    }

    /// Freeze the rows above `first_data_row` and put a filter over `header_row` to `last_row`
    /// and the columns that have a header; set every column's width.
    pub(super) fn finish(
        self,
        header_row: RowNum,
        last_row: RowNum,
        columns: usize,
    ) -> Result<u64> {
        self.ws.set_freeze_panes(header_row + 1, 0)?;
        if columns > 0 {
            self.ws.autofilter(
                header_row,
                0,
                last_row.max(header_row),
                (columns - 1) as ColNum,
            )?;
        }
        for (col, width) in self.widths.iter().enumerate() {
            let width = (*width).clamp(MIN_WIDTH, MAX_WIDTH) + 1;
            self.ws.set_column_width(col as ColNum, width as f64)?;
        }
        Ok(self.bytes)
    }

    /// The last row written so far (the header row if no data).
    pub(super) fn last_row(&self) -> RowNum {
        self.next_row.saturating_sub(1)
    }

    fn widen(&mut self, col: ColNum, width: usize) {
        let col = col as usize;
        if self.widths.len() <= col {
            self.widths.resize(col + 1, 0);
        }
        if self.widths[col] < width {
            self.widths[col] = width;
        }
    }

    fn cell(&mut self, row: RowNum, col: ColNum, cell: Cell<'_>) -> Result<()> {
        self.bytes += 64;
        match cell {
            Cell::Text(s) => self.text(row, col, &s)?,
            Cell::Time(Some(t)) => self.time(row, col, &t)?,
            Cell::Time(None) | Cell::DateText(None) | Cell::Empty | Cell::OptBool(None) => {}
            Cell::DateText(Some(s)) => {
                if let Some(day) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .ok()
                    .and_then(|d| excel_serial(&d.and_time(chrono::NaiveTime::MIN).and_utc()))
                {
                    self.ws
                        .write_number_with_format(row, col, day, &self.formats.date)?;
                    self.widen(col, DATE_WIDTH);
                } else if let Some(t) = crate::timestamp::parse_timestamp(s) {
                    self.time(row, col, &t)?;
                } else {
                    self.text(row, col, s)?;
                }
            }
            Cell::Bool(b) | Cell::OptBool(Some(b)) => {
                self.ws.write_boolean(row, col, b)?;
                self.widen(col, 5);
            }
            Cell::Number(n) => {
                self.ws.write_number(row, col, n as f64)?;
                self.widen(col, decimal_digits(n));
            }
        }
        Ok(())
    }

    /// A string cell: never a formula, whatever it starts with.
    fn text(&mut self, row: RowNum, col: ColNum, s: &str) -> Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        self.bytes += s.len() as u64;
        // Bytes are at least characters: count characters only when the bytes could widen.
        let current = self.widths.get(col as usize).copied().unwrap_or(0);
        if s.len() > current && current < MAX_WIDTH {
            let chars = s.chars().take(MAX_WIDTH).count();
            self.widen(col, chars);
        }
        self.ws.write_string(row, col, fit(s))?;
        Ok(())
    }

    fn time(&mut self, row: RowNum, col: ColNum, t: &DateTime<Utc>) -> Result<()> {
        match excel_serial(t) {
            Some(serial) => {
                self.ws
                    .write_number_with_format(row, col, serial, &self.formats.date_time)?;
                self.widen(col, DATE_TIME_WIDTH);
                Ok(())
            }
            // Before 1 March 1900 or after 9999: Excel has no date for it; keep the text.
            None => self.text(row, col, crate::model::TimeText::new(t).as_str()),
        }
    }
}

/// The Excel serial date-time (days since 1899-12-30, UTC) of `t` to the millisecond, Excel's
/// precision; `None` outside the dates Excel shows correctly (1900-03-01 to 9999-12-31).
pub(crate) fn excel_serial(t: &DateTime<Utc>) -> Option<f64> {
    const FIRST_MS: i64 = -2_203_891_200_000; // 1900-03-01T00:00:00Z
    const END_MS: i64 = 253_402_300_800_000; // 10000-01-01T00:00:00Z
    const UNIX_EPOCH_SERIAL: f64 = 25_569.0; // 1970-01-01
    let ms = t.timestamp_millis();
    (FIRST_MS..END_MS)
        .contains(&ms)
        .then(|| ms as f64 / 86_400_000.0 + UNIX_EPOCH_SERIAL)
}

/// `s`, cut to Excel's cell limit with a marker that says so.
pub(crate) fn fit(s: &str) -> Cow<'_, str> {
    // A character takes at least as many UTF-8 bytes as UTF-16 units.
    if s.len() <= MAX_CELL_UNITS || s.encode_utf16().count() <= MAX_CELL_UNITS {
        return Cow::Borrowed(s);
    }
    let marker = format!(
        "… [cut to Excel's cell limit of {MAX_CELL_UNITS} characters; {} in all]",
        s.chars().count()
    );
    let budget = MAX_CELL_UNITS - marker.encode_utf16().count();
    let mut units = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > budget {
            break;
        }
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}{marker}", &s[..end]))
}

fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}
