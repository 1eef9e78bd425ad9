//! `remediate verify`: each planned change checked against a later run's report — the account
//! gone from its scope, or holding its new role — with the time from sign-off to the change
//! and to the run that shows it, against `review.revoke_within_days`. A scope the later run
//! could not fetch proves nothing either way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::apply::ApplyLog;
use super::plan::{ActionRecord, Plan, Target};
use crate::model::{Account, ScopeStatus};
use crate::report::ScopeEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Verified,
    NotVerified,
    Unverifiable,
}

impl Verdict {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::NotVerified => "NOT verified",
            Verdict::Unverifiable => "unverifiable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) change_id: String,
    pub(crate) target: Target,
    pub(crate) action: ActionRecord,
    pub(crate) result: Verdict,
    pub(crate) detail: String,
    pub(crate) decided_at: DateTime<Utc>,
    pub(crate) signed_off_at: DateTime<Utc>,
    /// When `apply` last made it (or found it already done); `None`: never applied.
    pub(crate) applied_at: Option<DateTime<Utc>>,
    pub(crate) apply_status: Option<String>,
    /// The later run's as-of.
    pub(crate) seen_at: DateTime<Utc>,
    /// Whole days from sign-off to the change being made.
    pub(crate) days_to_apply: Option<i64>,
    /// Applied within `review.revoke_within_days` of sign-off.
    pub(crate) within_deadline: Option<bool>,
}

impl Row {
    pub(crate) fn action_describe(&self) -> String {
        self.action.describe(&self.target)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verification {
    pub(crate) plan_id: String,
    pub(crate) review_id: String,
    pub(crate) generated_at: DateTime<Utc>,
    /// The later run: its folder, run id and as-of.
    pub(crate) against: String,
    pub(crate) against_run_id: String,
    pub(crate) against_as_of: DateTime<Utc>,
    pub(crate) revoke_within_days: u32,
    pub(crate) verified: usize,
    pub(crate) not_verified: usize,
    pub(crate) unverifiable: usize,
    pub(crate) rows: Vec<Row>,
}

/// What the later run says of every planned change.
pub(crate) struct Later<'a> {
    pub(crate) dir: String,
    pub(crate) run_id: String,
    pub(crate) as_of: DateTime<Utc>,
    pub(crate) scopes: &'a [ScopeEntry],
    pub(crate) accounts: &'a [Account],
}

pub(crate) fn verify(
    plan: &Plan,
    log: Option<&ApplyLog>,
    later: &Later<'_>,
    revoke_within_days: u32,
) -> Verification {
    let failed: HashMap<(&str, &str), bool> = later
        .scopes
        .iter()
        .map(|s| {
            (
                (s.source_name.as_str(), s.scope.as_str()),
                s.status == ScopeStatus::Failed,
            )
        })
        .collect();
    let accounts: HashMap<(&str, &str, &str), &Account> = later
        .accounts
        .iter()
        .map(|a| ((&*a.source_name, &*a.scope, &*a.account_id), a))
        .collect();
    let latest = log.map(ApplyLog::latest).unwrap_or_default();
    let rows: Vec<Row> = plan
        .changes
        .iter()
        .map(|c| {
            let t = &c.target;
            let applied = latest.get(c.id.as_str()).copied();
            let applied_at = applied.filter(|a| a.status.is_done()).map(|a| a.at);
            let scope_failed = failed
                .get(&(t.source_name.as_str(), t.scope.as_str()))
                .copied();
            let now = accounts.get(&(
                t.source_name.as_str(),
                t.scope.as_str(),
                t.account_id.as_str(),
            ));
            let (result, detail) = judge(
                &c.action,
                scope_failed,
                now.copied(),
                applied_at,
                later.as_of,
            );
            let signed = plan.review.signed_off_at;
            let deadline = signed + chrono::Duration::days(i64::from(revoke_within_days));
            let days = applied_at.map(|at| (at - signed).num_days());
            // Late: made after the deadline, or not made and the deadline has passed.
            let within = match applied_at {
                Some(at) => Some(at <= deadline),
                None if later.as_of > deadline => Some(false),
                None => None,
            };
            Row {
                change_id: c.id.clone(),
                target: t.clone(),
                action: c.action.clone(),
                result,
                detail,
                decided_at: c.decided_at,
                signed_off_at: plan.review.signed_off_at,
                applied_at,
                apply_status: applied.map(|a| a.status.as_str().to_string()),
                seen_at: later.as_of,
                days_to_apply: days,
                within_deadline: within,
            }
        })
        .collect();
    let count = |r: Verdict| rows.iter().filter(|row| row.result == r).count();
    Verification {
        plan_id: plan.plan_id.clone(),
        review_id: plan.review.review_id.clone(),
        generated_at: Utc::now(),
        against: later.dir.clone(),
        against_run_id: later.run_id.clone(),
        against_as_of: later.as_of,
        revoke_within_days,
        verified: count(Verdict::Verified),
        not_verified: count(Verdict::NotVerified),
        unverifiable: count(Verdict::Unverifiable),
        rows,
    }
}

/// One change against the later run's view of its account.
fn judge(
    action: &ActionRecord,
    scope_failed: Option<bool>,
    now: Option<&Account>,
    applied_at: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
) -> (Verdict, String) {
    match scope_failed {
        None => {
            return (
                Verdict::Unverifiable,
                "the later run did not audit this scope".into(),
            );
        }
        Some(true) => {
            return (
                Verdict::Unverifiable,
                "the later run could not fetch this scope completely".into(),
            );
        }
        Some(false) => {}
    }
    if let Some(at) = applied_at.filter(|at| *at > as_of) {
        return (
            Verdict::Unverifiable,
            format!(
                "the later run's as-of is before the change was made ({}): run again",
                crate::model::format_time(&at)
            ),
        );
    }
    match (action, now) {
        (ActionRecord::Remove, None) => (Verdict::Verified, "the account is gone".into()),
        (ActionRecord::Remove, Some(a)) => (
            Verdict::NotVerified,
            format!(
                "the account is still listed (status {}, role {})",
                a.status.as_str(),
                a.role.as_deref().unwrap_or("none")
            ),
        ),
        (ActionRecord::ChangeRole { to_role }, Some(a))
            if a.role.as_deref() == Some(to_role.as_str()) =>
        {
            (Verdict::Verified, format!("the account has role {to_role}"))
        }
        (ActionRecord::ChangeRole { .. }, Some(a)) => (
            Verdict::NotVerified,
            format!(
                "the account has role {}",
                a.role.as_deref().unwrap_or("none")
            ),
        ),
        (ActionRecord::ChangeRole { to_role }, None) => (
            Verdict::NotVerified,
            format!("the account is gone rather than holding role {to_role}"),
        ),
    }
}
