//! Remediation (CONTRACT section 10): closing a signed-off review by changing the access it
//! decided to revoke or change, with a plan a person reads first, a cap, a rehearsal, a record
//! of every request, and a later run as proof.
//!
//! `plan` is `RUN_DIR/remediation/plan.json` and its digest; `build` turns the review's
//! decisions into checked changes and refusals; `channel` is one source's write connection
//! (evidence kept); `apply` makes one change, never resending on an unclear answer, and keeps
//! `applied-<plan_id>.json`; `verify` checks the changes against a later run; `html` is
//! `plan.html`. The requests themselves are each source's (`sources::remediate`).

pub(crate) mod apply;
pub(crate) mod build;
pub(crate) mod channel;
pub(crate) mod html;
pub(crate) mod plan;
pub(crate) mod trust;
pub(crate) mod verify;

/// The folder of remediation inside a run folder.
pub(crate) const REMEDIATION_DIR: &str = "remediation";
pub(crate) const PLAN_JSON: &str = "plan.json";
pub(crate) const PLAN_HTML: &str = "plan.html";
pub(crate) const VERIFICATION_JSON: &str = "verification.json";
pub(crate) const EVIDENCE_DIR: &str = "evidence";

/// `applied-<plan_id>.json`: the attempts at one plan's changes.
pub(crate) fn apply_log_name(plan_id: &str) -> String {
    format!("applied-{plan_id}.json")
}

#[cfg(test)]
mod tests;
