//! The ledger (CONTRACT section 9): an append-only, hash-chained record of every run and every
//! step of an access review, kept as `ledger.jsonl` in `[review] ledger_dir`.
//!
//! # The file
//!
//! One [`Record`] per line, compact JSON, UTF-8, each line ending in `\n`. A record carries:
//!
//! * `seq`: 1 for the first line, then each line one more than the line before;
//! * `at`: when it was appended (RFC 3339, UTC);
//! * `kind`: `run`, `review_start`, `review_collect` or `review_sign_off`;
//! * `run_id`, `run_dir`: the run (or the run folder a review works in) the record is about;
//! * `refs`: the files it refers to (report.json, the evidence manifest, review files), each
//!   with its SHA-256 when the record was appended. Paths are **absolute** (the file's folder
//!   canonicalized, then its name): run folders live anywhere (`--out`), and an absolute path
//!   still names the same file when the ledger folder is moved or read from elsewhere;
//! * `summary`: a small object of facts for the period report (for a run: `as_of`, `complete`,
//!   `accounts`, `failing`, `scopes`, `scopes_failed`, and every scope with its status);
//! * `prev_sha256`: the SHA-256 of the previous line's exact bytes (without its `\n`). The first
//!   line has the SHA-256 of the empty string ([`GENESIS`]): every line has the same shape, and
//!   "the bytes before this line" hash the same way for the first line as for the others.
//!
//! # Appending
//!
//! [`append`] takes an exclusive lock on the ledger folder (`.ledger.lock`, waited for up to
//! [`LOCK_WAIT`]), reads only the last line (at most [`MAX_LINE`] bytes), checks that it is a
//! whole record, and appends the new line with `O_APPEND` in one write, then `fsync`s it.
//!
//! **A torn last line** (no `\n` at the end: a crash mid-write) or a last line that does not
//! parse is never extended: appending after it would chain the next record to bytes nobody
//! wrote on purpose, and cutting it off automatically would rewrite evidence without a person
//! deciding to. [`append`] refuses, naming the byte offset to truncate to; the operator keeps a
//! copy and truncates (README: "Repairing the ledger"). A run whose append fails keeps its reports
//! and exits 5, like any failed delivery.
//!
//! # Verifying
//!
//! [`verify`] streams the file line by line (each at most [`MAX_LINE`] bytes) and checks that
//! every line parses, `seq` increments by one, and each `prev_sha256` is the SHA-256 of the
//! line before; then that every referenced file still on disk has its recorded SHA-256. When
//! several records refer to one path (an output folder reused by a later run, reports rewritten
//! to record a late stop) only the latest is checked against the file: the earlier ones are
//! *superseded*. A file no longer on disk is reported as no longer available, not as a problem.
//! The chain cannot tell an edit of the last line's values: compare the head (its `seq` and
//! SHA-256, which `ledger verify` prints) with the mirrored copy in `[store]`.

mod append;
mod history;
mod history_html;
pub(crate) mod period;
mod period_html;
mod revocations;
mod verify;

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::ScopeStatus;

#[cfg(test)]
pub(crate) use append::append_at;
pub(crate) use append::{append, check_tail};
pub(crate) use verify::{Verification, verify};

/// The ledger's file in its folder.
pub(crate) const LEDGER_FILE: &str = "ledger.jsonl";
/// Held while appending; never removed (see `output::LOCK_FILE`).
pub(crate) const LOCK_FILE: &str = ".ledger.lock";
/// The `schema_version` this build writes and reads.
pub(crate) const SCHEMA_VERSION: u32 = 1;
/// The longest line read or written: a record is well under 64 KiB.
pub(crate) const MAX_LINE: usize = 1 << 20;
/// `prev_sha256` of the first record: the SHA-256 of the empty string.
pub(crate) const GENESIS: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// How long [`append`] waits for another process that is appending.
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// Where the mirrored copy goes in a run's stored folder.
pub(crate) const STORED_AS: &str = "ledger/ledger.jsonl";

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Run,
    ReviewStart,
    ReviewCollect,
    ReviewSignOff,
    /// `remediate plan`: the plan made from a signed-off review.
    RemediationPlan,
    /// `remediate apply`: one change sent (applied, refused or failed).
    RemediationChange,
    /// `remediate verify`: the planned changes checked against a later run.
    RemediationVerify,
}

/// A file a record refers to, with its SHA-256 when the record was appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ref {
    /// Absolute.
    pub(crate) path: String,
    pub(crate) sha256: String,
}

/// One line of `ledger.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) schema_version: u32,
    pub(crate) seq: u64,
    /// RFC 3339, UTC.
    pub(crate) at: String,
    pub(crate) kind: Kind,
    pub(crate) run_id: String,
    /// Absolute.
    pub(crate) run_dir: String,
    pub(crate) refs: Vec<Ref>,
    pub(crate) summary: Map<String, Value>,
    pub(crate) prev_sha256: String,
}

/// What a caller records; [`append`] adds the sequence number, the time, the digests of the
/// files and the chain.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    pub(crate) run_id: String,
    /// The run folder (made absolute).
    pub(crate) run_dir: PathBuf,
    /// Files to hash now and refer to (made absolute); each must exist.
    pub(crate) refs: Vec<PathBuf>,
    /// Facts for the period report; keep it small (a line is at most [`MAX_LINE`]).
    pub(crate) summary: Map<String, Value>,
}

/// The ledger file in `dir`.
pub(crate) fn ledger_path(dir: &Path) -> PathBuf {
    dir.join(LEDGER_FILE)
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The most scopes a `run` record lists one by one (each ~100 bytes).
const MAX_SCOPES: usize = 2000;

/// The summary of a `run` record, from the report as written.
pub(crate) fn run_summary(report: &crate::report::Report) -> Map<String, Value> {
    // Every scope fits a line up to a few thousand scopes; beyond that, the failed ones.
    let listed = report
        .scopes
        .iter()
        .filter(|s| report.scopes.len() <= MAX_SCOPES || s.status == ScopeStatus::Failed)
        .take(MAX_SCOPES);
    let scopes: Vec<Value> = listed
        .map(|s| {
            serde_json::json!({
                "source_name": s.source_name,
                "scope": s.scope,
                "status": s.status,
                "accounts": s.accounts,
            })
        })
        .collect();
    let value = serde_json::json!({
        "title": report.title,
        "as_of": crate::model::format_time(&report.as_of),
        "complete": report.complete,
        "stopped": report.run.stopped,
        "accounts": report.summary.accounts,
        "findings": report.summary.findings,
        "failing": report.summary.failing,
        "scopes": report.summary.scopes,
        "scopes_failed": report.summary.scopes_failed,
        "scope_status": scopes,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
