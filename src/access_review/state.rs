//! `RUN_DIR/review/state.json`: what a review is (its id, the report it reviews, who reviews
//! which rows, the due date) and the decisions collected so far. Written atomically, whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::campaign::{Decision, Row};
use super::{REVIEW_DIR, STATE_JSON};
use crate::files::{Bound, Symlinks};

/// The version of state.json this build writes and reads.
pub(crate) const STATE_VERSION: u32 = 1;

/// Hundreds of thousands of rows at ~600 bytes each.
const STATE_FILE: Bound = Bound {
    what: "review state",
    limit: 1 << 30,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) state_version: u32,
    pub(crate) review_id: String,
    /// The run under review (its report's `run.run_id`; empty for reports made before run ids).
    #[serde(default)]
    pub(crate) run_id: String,
    /// SHA-256 (hex) of the report.json under review.
    pub(crate) report_sha256: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) due_at: DateTime<Utc>,
    /// Scopes that failed in the run, `source_name/scope`: not covered by this review.
    pub(crate) missing_scopes: Vec<String>,
    /// By reviewer address, their rows in worksheet order.
    pub(crate) reviewers: BTreeMap<String, Vec<Row>>,
    /// By row key: the decision in force.
    #[serde(default)]
    pub(crate) decisions: BTreeMap<String, DecisionRecord>,
    /// Decisions replaced by a later collect, oldest first.
    #[serde(default)]
    pub(crate) superseded: Vec<(String, DecisionRecord)>,
    /// Set once, by `review sign-off`; the review takes no more decisions after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) signed_off: Option<super::signoff::SignOff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DecisionRecord {
    pub(crate) decision: Decision,
    #[serde(default)]
    pub(crate) new_role: Option<String>,
    #[serde(default)]
    pub(crate) justification: Option<String>,
    pub(crate) decided_by: String,
    pub(crate) collected_at: DateTime<Utc>,
    /// The returned worksheet it came from (its file name).
    pub(crate) file: String,
}

pub(crate) fn review_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(REVIEW_DIR)
}

pub(crate) fn state_path(run_dir: &Path) -> PathBuf {
    review_dir(run_dir).join(STATE_JSON)
}

impl State {
    /// The owner of a row key and the row.
    pub(crate) fn row(&self, key: &str) -> Option<(&str, &Row)> {
        self.reviewers.iter().find_map(|(who, rows)| {
            rows.iter()
                .find(|r| r.key == key)
                .map(|r| (who.as_str(), r))
        })
    }

    /// Record `record` for `key`; the decision it replaces, if any. The same decision returned
    /// again (same decision, new role and justification) changes nothing.
    pub(crate) fn decide(&mut self, key: &str, record: DecisionRecord) -> Option<DecisionRecord> {
        let same = |old: &DecisionRecord| {
            (old.decision, &old.new_role, &old.justification)
                == (record.decision, &record.new_role, &record.justification)
        };
        if self.decisions.get(key).is_some_and(same) {
            return None;
        }
        let old = self.decisions.insert(key.to_string(), record);
        if let Some(old) = &old {
            self.superseded.push((key.to_string(), old.clone()));
        }
        old
    }
}

pub(crate) fn read(run_dir: &Path) -> Result<State, String> {
    let path = state_path(run_dir);
    let bytes = crate::files::read_bounded(&path, STATE_FILE, Symlinks::Refuse).map_err(|e| {
        if e.is_not_found() {
            format!(
                "{} has no review: start one with `access-audit review start {}`",
                run_dir.display(),
                run_dir.display()
            )
        } else {
            e.to_string()
        }
    })?;
    let state: State = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a review state: {e}", path.display()))?;
    if state.state_version != STATE_VERSION {
        return Err(format!(
            "{} has state_version {}; this version of access-audit reads {STATE_VERSION}",
            path.display(),
            state.state_version
        ));
    }
    Ok(state)
}

pub(crate) fn write(run_dir: &Path, state: &State) -> Result<(), String> {
    let path = state_path(run_dir);
    crate::output::write_atomically(&path, |out| {
        serde_json::to_writer_pretty(&mut *out, state)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        out.write_all(b"\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}
