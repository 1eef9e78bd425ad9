//! What a plan and a review must prove before anything is changed: the review's sign-off and
//! the plan are the ones the ledger recorded (a file in the run folder alone can be forged), and
//! the plan accounts for every `revoke` and `change_role` decision exactly once, under ids and
//! keys `remediate plan` gives.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::build::Candidate;
use super::plan::Plan;
use crate::files::{Bound, Symlinks};
use crate::ledger::Kind;

/// The SHA-256s the ledger recorded: of each review's state at sign-off, of each plan.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    sign_offs: BTreeMap<String, BTreeSet<String>>,
    plans: BTreeMap<String, BTreeSet<String>>,
}

/// Read the ledger (it must verify): what it recorded of sign-offs and plans.
pub(crate) fn recorded(ledger_dir: &Path) -> Result<Recorded, String> {
    let mut found = Recorded::default();
    let visit = |_: u64, r: &crate::ledger::Record| {
        let map = match r.kind {
            Kind::ReviewSignOff => &mut found.sign_offs,
            Kind::RemediationPlan => &mut found.plans,
            _ => return,
        };
        let key = if r.kind == Kind::ReviewSignOff {
            "review_id"
        } else {
            "plan_id"
        };
        if let Some(id) = r.summary.get(key).and_then(Value::as_str) {
            let shas = r.refs.iter().map(|x| x.sha256.clone());
            map.entry(id.to_string()).or_default().extend(shas);
        }
    };
    let v = crate::ledger::verify(ledger_dir, visit).map_err(|e| {
        format!("remediation trusts a review's sign-off only as the ledger recorded it: {e}")
    })?;
    if !v.ok() {
        let shown: Vec<String> = v.problems.iter().take(3).map(ToString::to_string).collect();
        return Err(format!(
            "the ledger {} does not verify — {}{} — so nothing is changed on a record that may have been \
             altered (see `access-audit ledger verify`)",
            v.path.display(),
            shown.join("; "),
            if v.problems.len() > 3 { "; …" } else { "" }
        ));
    }
    Ok(found)
}

const SMALL_FILE: Bound = Bound {
    what: "review state or plan",
    limit: 1 << 30,
};

pub(crate) fn sha256_of(path: &Path) -> Result<String, String> {
    let bytes = crate::files::read_bounded(path, SMALL_FILE, Symlinks::Refuse)
        .map_err(|e| e.to_string())?;
    Ok(crate::access_review::signoff::sha256_hex(&bytes))
}

impl Recorded {
    /// The review's state is the one its sign-off record vouches for.
    pub(crate) fn check_sign_off(&self, review_id: &str, state_path: &Path) -> Result<(), String> {
        let sha = sha256_of(state_path)?;
        match self.sign_offs.get(review_id) {
            Some(shas) if shas.contains(&sha) => Ok(()),
            Some(_) => Err(format!(
                "{} (SHA-256 {sha}) is not the review state the ledger recorded at the sign-off of review \
                 {review_id}: it was changed afterwards; nothing is changed on it",
                state_path.display()
            )),
            None => Err(format!(
                "the ledger has no sign-off of review {review_id}: a sign-off counts only as `review sign-off` \
                 recorded it"
            )),
        }
    }

    /// The plan file is the one `remediate plan` recorded.
    pub(crate) fn check_plan(&self, plan_id: &str, plan_path: &Path) -> Result<(), String> {
        let sha = sha256_of(plan_path)?;
        match self.plans.get(plan_id) {
            Some(shas) if shas.contains(&sha) => Ok(()),
            _ => Err(format!(
                "{} (SHA-256 {sha}) is not a plan the ledger recorded under id {plan_id}: a plan is used as \
                 `remediate plan` wrote it, or not at all",
                plan_path.display()
            )),
        }
    }
}

/// `plan_id` is ours (16 hex digits: it names a file), change ids are `c0001`… and unique,
/// each idempotency key is the plan's, and every decision that asks for a change is in the
/// plan once — as a change or as a refusal.
pub(crate) fn check_plan_shape(plan: &Plan, candidates: &[Candidate]) -> Result<(), String> {
    let hex = plan.plan_id.len() == 16 && plan.plan_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Err(format!(
            "plan id `{}` is not one remediate plan gives",
            plan.plan_id
        ));
    }
    let mut ids = BTreeSet::new();
    for c in &plan.changes {
        let id_ok = c.id.len() == 5
            && c.id.starts_with('c')
            && c.id[1..].bytes().all(|b| b.is_ascii_digit());
        let key_ok = c.idempotency_key == format!("access-audit-{}-{}", plan.plan_id, c.id);
        if !id_ok || !key_ok || !ids.insert(c.id.as_str()) {
            return Err(format!(
                "plan change `{}` has an id or key remediate plan does not give",
                c.id
            ));
        }
    }
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    let keys = plan
        .changes
        .iter()
        .map(|c| c.target.row_key.as_str())
        .chain(plan.refused.iter().map(|r| r.target.row_key.as_str()));
    for key in keys {
        *listed.entry(key).or_default() += 1;
    }
    let decided: BTreeSet<&str> = candidates
        .iter()
        .map(|c| c.target.row_key.as_str())
        .collect();
    for key in &decided {
        match listed.get(key) {
            Some(1) => {}
            Some(n) => return Err(format!("the plan lists `{key}` {n} times")),
            None => {
                return Err(format!(
                    "the review decided to revoke or change `{key}`, and the plan does not say so: it was altered"
                ));
            }
        }
    }
    if let Some(extra) = listed.keys().find(|k| !decided.contains(*k)) {
        return Err(format!(
            "the plan lists `{extra}`, which the review did not decide to change"
        ));
    }
    Ok(())
}
