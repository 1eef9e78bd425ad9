//! A returned worksheet read back, xlsx (calamine) or CSV, into plain cells with the place each
//! came from (sheet, 1-based row as a spreadsheet shows it). Nothing is judged here: `validate`
//! does that. Reads are bounded: the file's size and its number of rows.

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Range, Reader, Xlsx};

use super::worksheet::META_LABELS;
use super::{CSV_MARK, META_SHEET, SHEET};
use crate::files::{Bound, Symlinks};

/// A returned worksheet: a few thousand rows are well under 1 MiB; 64 MiB is plenty.
pub(crate) const WORKSHEET_FILE: Bound = Bound {
    what: "returned worksheet",
    limit: 64 << 20,
};
/// More rows than any reviewer's share of a review; a sheet with more is refused.
pub(crate) const MAX_ROWS: usize = 200_000;

/// A value the worksheet states about itself, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) value: Option<String>,
    pub(crate) sheet: String,
    pub(crate) row: usize,
    pub(crate) col: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Returned {
    /// The file as named on the command line.
    pub(crate) file: String,
    /// The sheet of the rows: `Review`, or for a CSV what a spreadsheet calls it (its stem).
    pub(crate) sheet: String,
    /// review_id, report_sha256, reviewer.
    pub(crate) meta: [Field; 3],
    /// The row keys of the hidden sheet (xlsx only).
    pub(crate) meta_keys: Option<Vec<String>>,
    pub(crate) header: Vec<String>,
    /// The header's row number; data rows follow.
    pub(crate) header_row: usize,
    /// (row number, cells) of every row after the header that is not wholly empty.
    pub(crate) rows: Vec<(usize, Vec<String>)>,
}

pub(crate) fn read(path: &Path) -> Result<Returned, String> {
    let bytes = crate::files::read_bounded(path, WORKSHEET_FILE, Symlinks::Follow)
        .map_err(|e| e.to_string())?;
    let file = path.display().to_string();
    if bytes.starts_with(b"PK") {
        read_xlsx(file, bytes)
    } else {
        let sheet = path
            .file_stem()
            .map_or_else(|| file.clone(), |s| s.to_string_lossy().into_owned());
        read_csv(file, sheet, &bytes)
    }
}

fn read_xlsx(file: String, bytes: Vec<u8>) -> Result<Returned, String> {
    let mut book = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("{file}: not a readable xlsx workbook: {e}"))?;
    let mut range = |name: &str| {
        book.worksheet_range(name)
            .map_err(|e| format!("{file}: sheet {name}: cannot be read ({e}): is this a worksheet of `access-audit review start`?"))
    };
    let main = range(SHEET)?;
    let meta = range(META_SHEET)?;
    let grid = grid(&file, SHEET, &main)?;
    let meta_grid = grid_of(&meta);
    let cell = |r: usize, c: usize| meta_grid.get(r).and_then(|row| row.get(c)).cloned();
    let field = |r: usize| Field {
        value: cell(r, 1).filter(|v| !v.is_empty()),
        sheet: META_SHEET.into(),
        row: r + 1,
        col: 1,
    };
    let keys = meta_grid
        .iter()
        .skip(META_LABELS.len())
        .map(|row| row.first().cloned().unwrap_or_default())
        .collect();
    let mut rows = grid.into_iter();
    let header = rows.next().map(|(_, cells)| cells).unwrap_or_default();
    Ok(Returned {
        file,
        sheet: SHEET.into(),
        meta: [field(0), field(1), field(2)],
        meta_keys: Some(keys),
        header,
        header_row: 1,
        rows: rows.filter(|(_, cells)| !blank(cells)).collect(),
    })
}

/// The sheet's cells from A1, each row with its 1-based number; refused past [`MAX_ROWS`].
fn grid(file: &str, sheet: &str, range: &Range<Data>) -> Result<Vec<(usize, Vec<String>)>, String> {
    let (height, _) = range.get_size();
    if height > MAX_ROWS + 1 {
        return Err(format!(
            "{file}: sheet {sheet} has {height} rows, more than the {MAX_ROWS} a worksheet may hold"
        ));
    }
    Ok(grid_of(range)
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect())
}

/// Every row from row 1 and every cell from column A as text (absent cells empty).
fn grid_of(range: &Range<Data>) -> Vec<Vec<String>> {
    let Some((end_row, end_col)) = range.end() else {
        return Vec::new();
    };
    let rows = (end_row as usize + 1).min(MAX_ROWS + 2);
    (0..rows)
        .map(|r| {
            (0..=end_col)
                .map(|c| range.get_value((r as u32, c)).map(text).unwrap_or_default())
                .collect()
        })
        .collect()
}

/// A cell as text: strings as they are, numbers and others as a spreadsheet shows them.
fn text(data: &Data) -> String {
    match data {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

fn read_csv(file: String, sheet: String, bytes: &[u8]) -> Result<Returned, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i > MAX_ROWS + 2 {
            return Err(format!(
                "{file}: more than the {MAX_ROWS} rows a worksheet may hold"
            ));
        }
        let record = record.map_err(|e| format!("{file}: row {}: not CSV: {e}", i + 1))?;
        records.push(record.iter().map(unescape).collect::<Vec<String>>());
    }
    let first = records.first().cloned().unwrap_or_default();
    if first.first().map(String::as_str) != Some(CSV_MARK) {
        return Err(format!(
            "{file}: sheet {sheet}, row 1, column A: expected `{CSV_MARK}`: a returned CSV worksheet keeps the first line `review start` wrote"
        ));
    }
    let field = |c: usize, label: &str| Field {
        value: first
            .get(c)
            .and_then(|v| v.strip_prefix(&format!("{label}=")).map(str::to_string))
            .filter(|v| !v.is_empty()),
        sheet: sheet.clone(),
        row: 1,
        col: c,
    };
    let meta = [
        field(1, META_LABELS[0]),
        field(2, META_LABELS[1]),
        field(3, META_LABELS[2]),
    ];
    let mut rest = records
        .into_iter()
        .enumerate()
        .skip(1)
        .map(|(i, r)| (i + 1, r));
    let header = rest.next().map(|(_, r)| r).unwrap_or_default();
    Ok(Returned {
        file,
        sheet,
        meta,
        meta_keys: None,
        header,
        header_row: 2,
        rows: rest.filter(|(_, cells)| !blank(cells)).collect(),
    })
}

/// A CSV cell without the `'` that `worksheet::csv_safe` put before it.
fn unescape(text: &str) -> String {
    text.strip_prefix('\'').unwrap_or(text).to_string()
}
