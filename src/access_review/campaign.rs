//! From a report to review rows: one row per account, assigned to the reviewer of its scope,
//! with the findings on it and a recommended decision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::ReviewSettings;
use crate::model::{Account, Outcome, format_time};
use crate::report::schema::FindingRecord;
use crate::report::view::ScopeNames;

/// Excel holds at most this many characters in a cell; longer text is cut with a marker, the
/// same text in the worksheet and in the state.
const MAX_CELL_CHARS: usize = 32_767;
const CUT: &str = " [cut]";

/// One account under review, as its worksheet row shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Row {
    /// `source_name/scope/account_id`: stable across the review.
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) source_name: String,
    /// The scope's id, as the key and the suppressions use it.
    pub(crate) scope: String,
    /// `Name (id)` where the run knew the scope's name (a Sent.dm profile's, a Sentry
    /// organization's), else empty: what people read in the worksheet's `scope` column and on
    /// the page. Empty in the states of reviews started before names were shown.
    #[serde(default)]
    pub(crate) scope_label: String,
    pub(crate) role: String,
    pub(crate) status: String,
    pub(crate) last_seen: String,
    pub(crate) mfa: String,
    pub(crate) privileged: String,
    /// `rule: evidence` per finding on the account, one per line.
    pub(crate) findings: String,
    pub(crate) recommended: Decision,
    /// An unsuppressed failing finding applies: a `keep` needs a justification.
    pub(crate) failing: bool,
}

impl Row {
    /// The identity cells, in column order: what the reviewer must return unchanged.
    pub(crate) fn identity(&self) -> [&str; super::IDENTITY_COLUMNS] {
        [
            &self.key,
            &self.name,
            &self.email,
            &self.source_name,
            self.scope_shown(),
            &self.role,
            &self.status,
            &self.last_seen,
            &self.mfa,
            &self.privileged,
            &self.findings,
            self.recommended.as_str(),
        ]
    }

    /// The scope as people read it: its label, else its id.
    pub(crate) fn scope_shown(&self) -> &str {
        if self.scope_label.is_empty() {
            &self.scope
        } else {
            &self.scope_label
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Decision {
    Keep,
    Revoke,
    ChangeRole,
}

impl Decision {
    pub(crate) const ALL: [Decision; 3] = [Decision::Keep, Decision::Revoke, Decision::ChangeRole];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
            Decision::ChangeRole => "change_role",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Decision> {
        let t = text.trim();
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(t))
    }
}

/// The stable key of an account's row.
pub(crate) fn row_key(source_name: &str, scope: &str, account_id: &str) -> String {
    format!("{source_name}/{scope}/{account_id}")
}

/// Who reviews `account`: the reviewer its scope's glob names — unless that is the account's
/// own holder, who must not review their own access: then the default reviewer, or the first
/// other configured reviewer. With nobody else configured the row stays with its holder, and
/// `collect` refuses their decision on it (`status` shows it as their own account).
fn reviewer_for<'s>(review: &'s ReviewSettings, a: &Account) -> &'s str {
    let assigned = review.reviewer_of(&a.source_name, &a.scope);
    let own = |reviewer: &str| {
        a.email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(reviewer))
    };
    if !own(assigned) {
        return assigned;
    }
    std::iter::once(review.default_reviewer.as_str())
        .chain(review.reviewers.iter().map(|r| r.email.as_str()))
        .find(|r| !own(r))
        .unwrap_or(assigned)
}

/// Every account as a row, grouped by reviewer (by address), rows in report order.
pub(crate) fn assign(
    review: &ReviewSettings,
    accounts: &[Account],
    findings: &[FindingRecord],
) -> BTreeMap<String, Vec<Row>> {
    let mut on: BTreeMap<String, Vec<&FindingRecord>> = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.account_id.is_empty()) {
        on.entry(row_key(&f.source_name, &f.scope, &f.account_id))
            .or_default()
            .push(f);
    }
    let mut by_reviewer: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for a in accounts {
        let key = row_key(&a.source_name, &a.scope, &a.account_id);
        let row = row_of(a, key.clone(), on.get(&key).map_or(&[][..], |v| v));
        by_reviewer
            .entry(reviewer_for(review, a).to_string())
            .or_default()
            .push(row);
    }
    by_reviewer
}

fn row_of(a: &Account, key: String, findings: &[&FindingRecord]) -> Row {
    let failing = findings
        .iter()
        .any(|f| f.outcome == Outcome::Fail && !f.suppressed);
    let lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let mark = if f.suppressed { " (suppressed)" } else { "" };
            format!("{}{mark}: {}", f.rule, f.detail)
        })
        .collect();
    let text = |v: &Option<std::sync::Arc<str>>| cell(v.as_deref().unwrap_or(""));
    Row {
        key: cell(&key),
        name: text(&a.name),
        email: text(&a.email),
        source_name: cell(&a.source_name),
        scope: cell(&a.scope),
        scope_label: String::new(),
        role: text(&a.role),
        status: cell(a.status.as_str()),
        last_seen: a.last_seen_at.as_ref().map(format_time).unwrap_or_default(),
        mfa: match a.mfa {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
        .into(),
        privileged: if a.privileged { "yes" } else { "no" }.into(),
        findings: cell(&lines.join("\n")),
        recommended: if failing {
            Decision::Revoke
        } else {
            Decision::Keep
        },
        failing,
    }
}

/// Name each row's scope `Name (id)` where the report's scopes name it (a worksheet, unlike the
/// API, should not make a reviewer look up which profile `8f3a…` is). The key keeps the id.
pub(crate) fn label_scopes(by_reviewer: &mut BTreeMap<String, Vec<Row>>, names: &ScopeNames<'_>) {
    for row in by_reviewer.values_mut().flatten() {
        if let Some(label) = names.labelled(&row.source_name, &row.scope) {
            row.scope_label = cell(&label);
        }
    }
}

/// Text as a cell holds it: at most [`MAX_CELL_CHARS`] characters.
pub(crate) fn cell(text: &str) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text.to_string();
    }
    let keep = MAX_CELL_CHARS - CUT.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(CUT);
    out
}

#[cfg(test)]
pub(crate) mod tests;
