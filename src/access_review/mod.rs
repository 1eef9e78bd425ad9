//! The access review around a run's output folder: reviewers decide keep / revoke / change_role
//! for every account, management signs off, and a ledger proves it happened on schedule
//! (CONTRACT section 9). `config` is the `[review]` section.
//!
//! `campaign` turns a report into rows and assigns them to reviewers; `state` is
//! `RUN_DIR/review/state.json`; `worksheet` writes each reviewer's xlsx and CSV; `returned`
//! reads them back; `validate` checks a returned worksheet against the state; `status` counts
//! what is decided; `mail` composes each reviewer's worksheet email and reminder; at sign-off,
//! `signoff` checks and signs, `page` writes review.html and decisions.csv, `decisions_xlsx` the
//! same decisions as a workbook with the sign-off.

pub(crate) mod campaign;
pub(crate) mod config;
pub(crate) mod decisions_xlsx;
pub(crate) mod mail;
pub(crate) mod page;
pub(crate) mod returned;
pub(crate) mod signoff;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod suppress;
pub(crate) mod validate;
pub(crate) mod worksheet;

/// The folder of a review inside its run folder.
pub(crate) const REVIEW_DIR: &str = "review";
pub(crate) const STATE_JSON: &str = "state.json";
pub(crate) const WORKSHEETS_DIR: &str = "worksheets";

/// The name of the visible sheet of a worksheet workbook, and of the hidden one.
pub(crate) const SHEET: &str = "Review";
pub(crate) const META_SHEET: &str = "_review";
/// The first cell of a CSV worksheet's first line: the line that carries its identity.
pub(crate) const CSV_MARK: &str = "#access-audit review worksheet";

/// The columns of a worksheet, in order. The first [`IDENTITY_COLUMNS`] are the account as the
/// review started (a reviewer must not change them); the last three are the reviewer's.
pub(crate) const COLUMNS: [&str; 15] = [
    "row_key",
    "name",
    "email",
    "source_name",
    "scope",
    "role",
    "status",
    "last_seen",
    "2fa",
    "privileged",
    "findings",
    "recommended",
    "decision",
    "new_role",
    "justification",
];
pub(crate) const IDENTITY_COLUMNS: usize = 12;
pub(crate) const DECISION_COL: usize = 12;
pub(crate) const NEW_ROLE_COL: usize = 13;
pub(crate) const JUSTIFICATION_COL: usize = 14;

/// Excel's column letter for a 0-based column index (A, B, …, Z, AA, …).
pub(crate) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_letters_are_excels() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(14), "O");
        assert_eq!(super::column_letter(26), "AA");
    }
}
