//! How far a review is: per reviewer, decided of total, and whether the due date has passed.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::state::State;
use crate::model::format_human;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) reviewer: String,
    pub(crate) decided: usize,
    pub(crate) total: usize,
    /// Rows that are the reviewer's own account: a second reviewer must decide them.
    pub(crate) own: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) lines: Vec<Line>,
    pub(crate) overdue: bool,
}

impl Status {
    pub(crate) fn outstanding(&self) -> usize {
        self.lines.iter().map(|l| l.total - l.decided).sum()
    }
}

pub(crate) fn of(state: &State, now: DateTime<Utc>) -> Status {
    let lines: Vec<Line> = state
        .reviewers
        .iter()
        .map(|(who, rows)| Line {
            reviewer: who.clone(),
            decided: rows
                .iter()
                .filter(|r| state.decisions.contains_key(&r.key))
                .count(),
            total: rows.len(),
            own: rows
                .iter()
                .filter(|r| !r.email.is_empty() && r.email.eq_ignore_ascii_case(who))
                .count(),
        })
        .collect();
    let outstanding = lines.iter().any(|l| l.decided < l.total);
    Status {
        lines,
        overdue: outstanding && now > state.due_at,
    }
}

/// The table `review status` prints.
pub(crate) fn render(state: &State, status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Review {} (due {}{})",
        state.review_id,
        format_human(&state.due_at),
        if status.overdue { ", OVERDUE" } else { "" }
    );
    let width = status
        .lines
        .iter()
        .map(|l| l.reviewer.chars().count())
        .max()
        .unwrap_or(0)
        .max("reviewer".len());
    let _ = writeln!(
        out,
        "{:<width$}  {:>8}  {:>8}  state",
        "reviewer", "decided", "total"
    );
    for l in &status.lines {
        let state = match (l.decided == l.total, status.overdue) {
            (true, _) => "done".to_string(),
            (false, true) => format!("{} outstanding, overdue", l.total - l.decided),
            (false, false) => format!("{} outstanding", l.total - l.decided),
        };
        let own = if l.own > 0 {
            format!(
                " ({} own account{}: a second reviewer must decide {})",
                l.own,
                crate::report::plural(l.own),
                if l.own == 1 { "it" } else { "them" }
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>8}  {:>8}  {state}{own}",
            l.reviewer, l.decided, l.total
        );
    }
    if !state.missing_scopes.is_empty() {
        let _ = writeln!(
            out,
            "Not covered (failed in the run): {}",
            state.missing_scopes.join(", ")
        );
    }
    out
}
