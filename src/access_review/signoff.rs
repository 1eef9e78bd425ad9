//! `review sign-off`: who signed the review, when, and the digests of what they signed — the
//! report under review, the evidence manifest its run recorded, and the decisions. The checks
//! that come before it (every row decided, one sign-off only, a `Name <email>` signer) live
//! here too; the command wires them to the run folder.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::state::{DecisionRecord, State};
use crate::model::format_human;

/// At most this many missing row keys are listed per reviewer; the rest are counted.
pub(crate) const MAX_MISSING_LISTED: usize = 20;

/// The file, in the review folder, that holds the decisions as their digest was taken.
pub(crate) const DECISIONS_JSON: &str = "decisions.json";
pub(crate) const DECISIONS_CSV: &str = "decisions.csv";
pub(crate) const REVIEW_HTML: &str = "review.html";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignOff {
    /// `Name <email>`, as given.
    pub(crate) by: String,
    /// To the second.
    pub(crate) at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) statement: Option<String>,
    pub(crate) report_sha256: String,
    /// As the run recorded it in report.json (`run.evidence_manifest_sha256`); none when the
    /// run kept no evidence archive.
    #[serde(default)]
    pub(crate) evidence_manifest_sha256: Option<String>,
    /// SHA-256 of [`decisions_json`] — the bytes of `review/decisions.json`.
    pub(crate) decisions_sha256: String,
}

/// `Name <email>`: an address alone is not a signature.
pub(crate) fn check_signer(by: &str) -> Result<String, String> {
    let mailbox: lettre::message::Mailbox = by
        .trim()
        .parse()
        .map_err(|e| format!("--by `{by}` is not `Name <email>`: {e}"))?;
    match mailbox.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(mailbox.to_string()),
        _ => Err(format!(
            "--by `{by}` has no name: give it as \"Full Name <{}>\"",
            mailbox.email
        )),
    }
}

/// The refusal of a second sign-off.
pub(crate) fn already_signed(state: &State) -> Option<String> {
    state.signed_off.as_ref().map(|s| {
        format!(
            "review {} was already signed off by {} at {}: a review is signed once; start a new review of a new run",
            state.review_id,
            s.by,
            format_human(&s.at)
        )
    })
}

/// Every row not yet decided, per reviewer (the first [`MAX_MISSING_LISTED`] keys, then a
/// count); `None` when every row is decided.
pub(crate) fn outstanding(state: &State) -> Option<String> {
    let mut text = String::new();
    let mut total = 0;
    for (who, rows) in &state.reviewers {
        let missing: Vec<_> = rows
            .iter()
            .filter(|r| !state.decisions.contains_key(&r.key))
            .collect();
        if missing.is_empty() {
            continue;
        }
        total += missing.len();
        let _ = write!(text, "\n  {who}: {} undecided", missing.len());
        for r in missing.iter().take(MAX_MISSING_LISTED) {
            let own = if !r.email.is_empty() && r.email.eq_ignore_ascii_case(who) {
                " (their own account: a second reviewer must decide it)"
            } else {
                ""
            };
            let _ = write!(text, "\n    {}{own}", r.key);
        }
        if missing.len() > MAX_MISSING_LISTED {
            let _ = write!(
                text,
                "\n    … and {} more",
                missing.len() - MAX_MISSING_LISTED
            );
        }
    }
    (total > 0).then(|| {
        format!(
            "review {} cannot be signed off: {total} row{} not decided yet (collect the worksheets, see `review status`):{text}",
            state.review_id,
            crate::report::plural(total)
        )
    })
}

/// The decisions in their canonical form: compact JSON of the map, keys sorted (a `BTreeMap`),
/// fields in declaration order, times in RFC 3339 — the same bytes for the same decisions.
pub(crate) fn decisions_json(
    decisions: &std::collections::BTreeMap<String, DecisionRecord>,
) -> Result<Vec<u8>, String> {
    let mut bytes = serde_json::to_vec(decisions)
        .map_err(|e| format!("cannot serialise the decisions: {e}"))?;
    bytes.push(b'\n');
    Ok(bytes)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests;
