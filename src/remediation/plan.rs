//! `RUN_DIR/remediation/plan.json`: the changes a signed-off review asked for, each checked
//! against the account as the API showed it when the plan was made, and every decision that
//! will not be acted on with the reason. The plan names the review it came from by its digests
//! and carries its own: a plan edited after it was made is refused.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access_review::campaign::Decision;
use crate::files::{Bound, Symlinks};
use crate::sources::remediate::Action;

/// The version of plan.json this build writes and reads.
pub(crate) const PLAN_VERSION: u32 = 1;

/// A plan of tens of thousands of changes at ~1 KB each.
const PLAN_FILE: Bound = Bound {
    what: "remediation plan",
    limit: 256 << 20,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Plan {
    pub(crate) plan_version: u32,
    pub(crate) plan_id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) run_id: String,
    pub(crate) review: ReviewRef,
    /// Where the changes go: each source's type and base URL when the plan was made. `apply`
    /// refuses a config that now sends them elsewhere.
    pub(crate) sources: Vec<SourceRef>,
    pub(crate) changes: Vec<Change>,
    pub(crate) refused: Vec<Refused>,
    /// SHA-256 of the plan's compact JSON with this field empty.
    pub(crate) digest: String,
}

/// The signed-off review a plan acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewRef {
    pub(crate) review_id: String,
    pub(crate) report_sha256: String,
    pub(crate) decisions_sha256: String,
    pub(crate) evidence_manifest_sha256: Option<String>,
    pub(crate) signed_off_by: String,
    pub(crate) signed_off_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceRef {
    pub(crate) name: String,
    pub(crate) source_type: String,
    pub(crate) base_url: String,
}

/// The account a decision is about, as the review saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    pub(crate) row_key: String,
    pub(crate) source_name: String,
    pub(crate) source_type: String,
    pub(crate) scope: String,
    pub(crate) account_id: String,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) status: String,
}

impl Target {
    /// "alice@acme.example (sentry/acme, member 42)".
    pub(crate) fn describe(&self) -> String {
        let who = self
            .email
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(self.account_id.as_str());
        format!(
            "{who} ({}/{}, account {})",
            self.source_name, self.scope, self.account_id
        )
    }
}

/// What a change does, as plan.json writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ActionRecord {
    Remove,
    ChangeRole { to_role: String },
}

impl ActionRecord {
    pub(crate) fn action(&self) -> Action {
        match self {
            ActionRecord::Remove => Action::Remove,
            ActionRecord::ChangeRole { to_role } => Action::ChangeRole(to_role.clone()),
        }
    }

    pub(crate) fn describe(&self, target: &Target) -> String {
        match self {
            ActionRecord::Remove if is_invitation(&target.status) => "cancel invitation".into(),
            ActionRecord::Remove => "remove".into(),
            ActionRecord::ChangeRole { to_role } => format!(
                "change role {} → {to_role}",
                target.role.as_deref().unwrap_or("(none)")
            ),
        }
    }
}

pub(crate) fn is_invitation(status: &str) -> bool {
    matches!(status, "invited" | "expired")
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    /// `c0001`, …: stable within the plan.
    pub(crate) id: String,
    pub(crate) target: Target,
    pub(crate) action: ActionRecord,
    pub(crate) decision: Decision,
    pub(crate) reviewer: String,
    pub(crate) justification: Option<String>,
    pub(crate) decided_at: DateTime<Utc>,
    /// When the account was re-read and still looked as reviewed.
    pub(crate) checked_at: DateTime<Utc>,
    /// Sent with the change where the API takes one, the same on every attempt.
    pub(crate) idempotency_key: String,
}

/// A decision the plan does not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refused {
    pub(crate) target: Target,
    pub(crate) decision: Decision,
    pub(crate) new_role: Option<String>,
    pub(crate) reviewer: String,
    pub(crate) reason: String,
}

impl Plan {
    /// The digest of the plan as it now is (its `digest` field left out).
    pub(crate) fn compute_digest(&self) -> Result<String, String> {
        let mut unsealed = self.clone();
        unsealed.digest = String::new();
        let bytes =
            serde_json::to_vec(&unsealed).map_err(|e| format!("cannot serialise the plan: {e}"))?;
        Ok(crate::access_review::signoff::sha256_hex(&bytes))
    }

    pub(crate) fn seal(mut self) -> Result<Plan, String> {
        self.digest = self.compute_digest()?;
        Ok(self)
    }
}

/// Read a plan and check that it is whole: its version, and its digest against its content.
pub(crate) fn read(path: &Path) -> Result<Plan, String> {
    let bytes =
        crate::files::read_bounded(path, PLAN_FILE, Symlinks::Refuse).map_err(|e| e.to_string())?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is not a remediation plan access-audit wrote (or it was edited): {e}",
            path.display()
        )
    })?;
    if plan.plan_version != PLAN_VERSION {
        return Err(format!(
            "{} has plan_version {}; this version of access-audit reads {PLAN_VERSION}",
            path.display(),
            plan.plan_version
        ));
    }
    let digest = plan.compute_digest()?;
    if digest != plan.digest {
        return Err(format!(
            "{} was edited after it was made (its content's SHA-256 is {digest}, the plan says {}): \
             a plan is used as written or not at all; make a new one with `access-audit remediate plan`",
            path.display(),
            plan.digest
        ));
    }
    Ok(plan)
}

/// plan.json as written: pretty, so that a reviewer can read it; sealed.
pub(crate) fn to_json(plan: &Plan) -> Result<Vec<u8>, String> {
    let mut bytes =
        serde_json::to_vec_pretty(plan).map_err(|e| format!("cannot serialise the plan: {e}"))?;
    bytes.push(b'\n');
    Ok(bytes)
}
