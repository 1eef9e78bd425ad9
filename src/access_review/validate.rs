//! A returned worksheet checked against the review's state: it belongs to this review and this
//! reviewer, its account cells are as `review start` wrote them (no row added, removed or
//! altered; sorting is fine), and every decision is valid and justified where it must be.
//! Every problem is found, each at its file, sheet, row and column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

use super::campaign::{Decision, Row};
use super::returned::{Field, Returned};
use super::state::{DecisionRecord, State};
use super::worksheet::META_LABELS;
use super::{
    COLUMNS, DECISION_COL, IDENTITY_COLUMNS, JUSTIFICATION_COL, NEW_ROLE_COL, column_letter,
};

/// One thing wrong with a returned worksheet, where a spreadsheet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) file: String,
    pub(crate) sheet: String,
    pub(crate) row: usize,
    /// 0-based index and name.
    pub(crate) col: (usize, String),
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: sheet {}, row {}, column {} ({}): {}",
            self.file,
            self.sheet,
            self.row,
            column_letter(self.col.0),
            self.col.1,
            self.message
        )
    }
}

/// What one returned worksheet gives: the decisions it makes and its problems.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    pub(crate) decisions: Vec<(String, DecisionRecord)>,
    pub(crate) problems: Vec<Problem>,
}

struct Ctx<'a> {
    sheet: &'a Returned,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn at(&mut self, row: usize, col: usize, message: String) {
        self.problems.push(Problem {
            file: self.sheet.file.clone(),
            sheet: self.sheet.sheet.clone(),
            row,
            col: (col, COLUMNS.get(col).copied().unwrap_or("").to_string()),
            message,
        });
    }

    fn field(&mut self, field: &Field, label: &str, message: String) {
        self.problems.push(Problem {
            file: self.sheet.file.clone(),
            sheet: field.sheet.clone(),
            row: field.row,
            col: (field.col, label.to_string()),
            message,
        });
    }
}

pub(crate) fn check(state: &State, sheet: &Returned, now: DateTime<Utc>) -> Checked {
    let mut ctx = Ctx {
        sheet,
        problems: Vec::new(),
    };
    let Some(reviewer) = identity(&mut ctx, state) else {
        return Checked {
            problems: ctx.problems,
            ..Checked::default()
        };
    };
    let expected = &state.reviewers[&reviewer];
    if !header(&mut ctx) {
        return Checked {
            problems: ctx.problems,
            ..Checked::default()
        };
    }
    meta_keys(&mut ctx, expected);
    let decisions = rows(&mut ctx, state, &reviewer, expected, now);
    Checked {
        decisions,
        problems: ctx.problems,
    }
}

/// The worksheet's review, report and reviewer: the reviewer when they are this review's.
fn identity(ctx: &mut Ctx<'_>, state: &State) -> Option<String> {
    let [id, sha, who] = ctx.sheet.meta.clone();
    let mut ok = true;
    for (field, label, want, what) in [
        (&id, META_LABELS[0], &state.review_id, "review"),
        (&sha, META_LABELS[1], &state.report_sha256, "report.json"),
    ] {
        if field.value.as_deref() != Some(want.as_str()) {
            let found = field.value.as_deref().unwrap_or("nothing");
            ctx.field(
                field,
                label,
                format!("this worksheet belongs to another {what} (`{found}`; this review's is `{want}`): return the worksheet `review start` wrote for this run"),
            );
            ok = false;
        }
    }
    let reviewer = who.value.clone().map(|w| w.to_ascii_lowercase());
    match reviewer.filter(|w| state.reviewers.contains_key(w)) {
        Some(w) if ok => Some(w),
        Some(_) => None,
        None => {
            let found = who.value.as_deref().unwrap_or("nothing");
            ctx.field(
                &who,
                META_LABELS[2],
                format!("`{found}` is not a reviewer of this review"),
            );
            None
        }
    }
}

/// Whether the header is the one written; each wrong column is a problem.
fn header(ctx: &mut Ctx<'_>) -> bool {
    let row = ctx.sheet.header_row;
    let found = ctx.sheet.header.clone();
    let mut ok = true;
    for (c, want) in COLUMNS.iter().enumerate() {
        let got = found.get(c).map_or("", String::as_str);
        if got != *want {
            ctx.at(row, c, format!("the header reads `{got}`, expected `{want}`: columns must not be added, removed or moved"));
            ok = false;
        }
    }
    ok
}

/// The hidden sheet's row keys, as written (xlsx only).
fn meta_keys(ctx: &mut Ctx<'_>, expected: &[Row]) {
    let Some(keys) = ctx.sheet.meta_keys.clone() else {
        return;
    };
    let want: Vec<&str> = expected.iter().map(|r| r.key.as_str()).collect();
    if keys.iter().map(String::as_str).eq(want.iter().copied()) {
        return;
    }
    let at = keys.iter().zip(&want).take_while(|(a, b)| a == b).count();
    ctx.problems.push(Problem {
        file: ctx.sheet.file.clone(),
        sheet: super::META_SHEET.into(),
        row: META_LABELS.len() + at + 1,
        col: (0, META_LABELS[3].into()),
        message: "the row keys of this sheet were changed".into(),
    });
}

fn rows(
    ctx: &mut Ctx<'_>,
    state: &State,
    reviewer: &str,
    expected: &[Row],
    now: DateTime<Utc>,
) -> Vec<(String, DecisionRecord)> {
    let index: BTreeMap<&str, (usize, &Row)> = expected
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.as_str(), (i, r)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut decisions = Vec::new();
    for (n, cells) in ctx.sheet.rows.clone() {
        let key = cells.first().cloned().unwrap_or_default();
        let Some((_, want)) = index.get(key.as_str()) else {
            let message = match state.row(&key) {
                Some((owner, _)) => format!(
                    "row `{key}` is assigned to {owner}, not to {reviewer}: only its assigned reviewer decides it"
                ),
                None => format!(
                    "row `{key}` is not in this review: rows must not be added and row keys not changed"
                ),
            };
            ctx.at(n, 0, message);
            continue;
        };
        if !seen.insert(key.clone()) {
            ctx.at(n, 0, format!("row `{key}` appears twice"));
            continue;
        }
        if unchanged(ctx, n, &cells, want) {
            let record = decision(ctx, n, &cells, want, reviewer, now);
            decisions.extend(record.map(|r| (key, r)));
        }
    }
    let header_row = ctx.sheet.header_row;
    for (key, (i, _)) in &index {
        if !seen.contains(*key) {
            ctx.at(
                header_row + i + 1,
                0,
                format!("row `{key}` was removed: every row of the worksheet must come back"),
            );
        }
    }
    decisions
}

/// Whether the account cells are as written; each changed cell is a problem.
fn unchanged(ctx: &mut Ctx<'_>, n: usize, cells: &[String], want: &Row) -> bool {
    let mut ok = true;
    for (c, written) in want.identity().iter().enumerate().take(IDENTITY_COLUMNS) {
        let got = cells.get(c).map_or("", String::as_str);
        if got != *written {
            ctx.at(n, c, format!("changed from `{written}` to `{got}`: only decision, new_role and justification may be filled in"));
            ok = false;
        }
    }
    ok
}

fn decision(
    ctx: &mut Ctx<'_>,
    n: usize,
    cells: &[String],
    row: &Row,
    reviewer: &str,
    now: DateTime<Utc>,
) -> Option<DecisionRecord> {
    let cell = |c: usize| cells.get(c).map(|t| t.trim()).filter(|t| !t.is_empty());
    let (text, new_role, why) = (
        cell(DECISION_COL)?,
        cell(NEW_ROLE_COL),
        cell(JUSTIFICATION_COL),
    );
    let Some(decision) = Decision::parse(text) else {
        ctx.at(
            n,
            DECISION_COL,
            format!("`{text}` is not a decision: expected keep, revoke or change_role"),
        );
        return None;
    };
    let before = ctx.problems.len();
    if !row.email.is_empty() && row.email.eq_ignore_ascii_case(reviewer) {
        ctx.at(n, DECISION_COL, format!("this is {reviewer}'s own account: a reviewer may not decide their own access; leave it blank, a second reviewer must decide it"));
    }
    match decision {
        Decision::Keep if row.failing && why.is_none() => ctx.at(
            n,
            JUSTIFICATION_COL,
            "a keep of an account with a failing finding needs a justification".into(),
        ),
        Decision::ChangeRole if why.is_none() => ctx.at(
            n,
            JUSTIFICATION_COL,
            "change_role needs a justification".into(),
        ),
        _ => {}
    }
    match (decision, new_role) {
        (Decision::ChangeRole, None) => {
            ctx.at(n, NEW_ROLE_COL, "change_role needs the new role".into())
        }
        (Decision::Keep | Decision::Revoke, Some(_)) => ctx.at(
            n,
            NEW_ROLE_COL,
            format!(
                "a new role is only for change_role, not {}",
                decision.as_str()
            ),
        ),
        _ => {}
    }
    (ctx.problems.len() == before).then(|| DecisionRecord {
        decision,
        new_role: new_role.map(str::to_string),
        justification: why.map(str::to_string),
        decided_by: reviewer.to_string(),
        collected_at: now,
        file: ctx.sheet.file.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests;
