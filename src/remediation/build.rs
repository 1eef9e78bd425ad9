//! From a signed-off review to a plan: every `revoke` and `change_role` decision with its
//! account, then the checks that decide whether the plan acts on it — the source can change
//! access and has a write credential, the account has an API id, the role exists, the account
//! is not the write credential's own, it still looks as reviewed, and no organization is left
//! without an owner. Every decision not acted on is kept with its reason.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::channel::Channel;
use super::plan::{ActionRecord, Change, Refused, Target, is_invitation};
use crate::access_review::campaign::Decision;
use crate::access_review::state::State;
use crate::model::Account;
use crate::sources::remediate::{Identity, Read};
use crate::sources::spec::SourceConfig;

/// A decision that asks for a change, with the account it is about.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) target: Target,
    pub(crate) decision: Decision,
    pub(crate) new_role: Option<String>,
    pub(crate) reviewer: String,
    pub(crate) justification: Option<String>,
    pub(crate) decided_at: DateTime<Utc>,
}

impl Candidate {
    fn refused(&self, reason: impl Into<String>) -> Refused {
        Refused {
            target: self.target.clone(),
            decision: self.decision,
            new_role: self.new_role.clone(),
            reviewer: self.reviewer.clone(),
            reason: reason.into(),
        }
    }

    fn action(&self) -> ActionRecord {
        match (&self.decision, &self.new_role) {
            (Decision::ChangeRole, Some(role)) => ActionRecord::ChangeRole {
                to_role: role.trim().to_lowercase(),
            },
            _ => ActionRecord::Remove,
        }
    }
}

pub(crate) fn target_of(key: &str, a: &Account) -> Target {
    Target {
        row_key: key.to_string(),
        source_name: a.source_name.to_string(),
        source_type: a.source.as_str().to_string(),
        scope: a.scope.to_string(),
        account_id: a.account_id.to_string(),
        email: a.email.as_deref().map(str::to_string),
        name: a.name.as_deref().map(str::to_string),
        role: a.role.as_deref().map(str::to_string),
        status: a.status.as_str().to_string(),
    }
}

/// Every decision of the review that asks for a change, in row-key order. A decided row whose
/// account the report does not hold cannot be acted on (it cannot happen with an unchanged
/// report, which the caller has checked).
pub(crate) fn candidates(state: &State, accounts: &[Account]) -> (Vec<Candidate>, Vec<String>) {
    let by_key: HashMap<String, &Account> = accounts
        .iter()
        .map(|a| {
            let key =
                crate::access_review::campaign::row_key(&a.source_name, &a.scope, &a.account_id);
            (key, a)
        })
        .collect();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (key, d) in &state.decisions {
        if d.decision == Decision::Keep {
            continue;
        }
        let Some(account) = by_key.get(key) else {
            missing.push(key.clone());
            continue;
        };
        let reviewer = state
            .row(key)
            .map_or_else(|| d.decided_by.clone(), |(who, _)| who.to_string());
        found.push(Candidate {
            target: target_of(key, account),
            decision: d.decision,
            new_role: d.new_role.clone(),
            reviewer,
            justification: d.justification.clone(),
            decided_at: d.collected_at,
        });
    }
    (found, missing)
}

/// What can be refused without asking the API: the source, its write credential, the
/// account's id, the role.
pub(crate) fn refusal_before_reading(
    c: &Candidate,
    source: Option<&SourceConfig>,
) -> Option<String> {
    let Some(source) = source else {
        return Some(format!(
            "source `{}` is not in the config: add its [[sources]] table to act on it",
            c.target.source_name
        ));
    };
    let Some(remediator) = source.spec.source().remediator() else {
        return Some(format!(
            "access-audit cannot change access in {}",
            source.spec.kind()
        ));
    };
    match &source.remediate {
        Some(r) if r.secret.is_some() => {}
        _ => {
            let keys = remediator.secret_keys();
            return Some(format!(
                "source `{}` has no write credential: set `{}` (or `{}`) in sources[{}] — the {}",
                source.spec.name, keys.env, keys.file, source.index, keys.what
            ));
        }
    }
    if c.target.account_id.contains(':') || c.target.account_id == "unknown" {
        return Some(format!(
            "the API gave this account no id (access-audit calls it `{}`): change it in the {} console",
            c.target.account_id,
            source.spec.kind()
        ));
    }
    if c.decision == Decision::ChangeRole {
        let role = c
            .new_role
            .as_deref()
            .map(|r| r.trim().to_lowercase())
            .unwrap_or_default();
        let roles = remediator.assignable_roles();
        if role.is_empty() {
            return Some("change_role without a new_role".into());
        }
        if !roles.contains(&role.as_str()) {
            return Some(format!(
                "`{role}` is not a role {} assigns: expected one of {}",
                source.spec.kind(),
                roles.join(", ")
            ));
        }
        if c.target.role.as_deref() == Some(role.as_str()) {
            return Some(format!("the account already has role `{role}`"));
        }
        if is_invitation(&c.target.status) {
            return Some(
                "a pending invitation has no role to change: revoke it and invite again".into(),
            );
        }
    }
    None
}

/// The account is the write credential's own user.
pub(crate) fn is_own(identity: &Identity, account: &Account) -> bool {
    let same_id =
        identity.user_id.is_some() && identity.user_id.as_deref() == account.user_id.as_deref();
    let same_email = match (identity.email.as_deref(), account.email.as_deref()) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        _ => false,
    };
    same_id || same_email
}

/// How the account differs from what the review saw, if it does: its role, its email, whether
/// it is a member or an invitation.
pub(crate) fn changed_since(target: &Target, now: &Account) -> Option<String> {
    let mut differences = Vec::new();
    if *target.account_id != *now.account_id || *target.scope != *now.scope {
        differences.push(format!(
            "the API answered for {}/{} instead of {}/{}",
            now.scope, now.account_id, target.scope, target.account_id
        ));
    }
    if target.role.as_deref() != now.role.as_deref() {
        differences.push(format!(
            "role {} → {}",
            target.role.as_deref().unwrap_or("(none)"),
            now.role.as_deref().unwrap_or("(none)")
        ));
    }
    let email = |e: Option<&str>| e.map(|e| e.trim().to_lowercase());
    if email(target.email.as_deref()) != email(now.email.as_deref()) {
        differences.push(format!(
            "email {} → {}",
            target.email.as_deref().unwrap_or("(none)"),
            now.email.as_deref().unwrap_or("(none)")
        ));
    }
    if is_invitation(&target.status) != is_invitation(now.status.as_str()) {
        differences.push(format!(
            "status {} → {}",
            target.status,
            now.status.as_str()
        ));
    }
    (!differences.is_empty()).then(|| {
        format!(
            "the account changed since the review ({}): it is not what the reviewer decided on; review it again",
            differences.join(", ")
        )
    })
}

/// Why the API's view of the account now stops a change, if it does.
pub(crate) fn refusal_after_reading(
    target: &Target,
    action: &ActionRecord,
    read: &Read,
    identity: &Identity,
) -> Option<String> {
    match read {
        Read::Gone => Some("the account no longer exists: there is nothing to change".into()),
        Read::Failed(e) => Some(format!("the account could not be read again: {e}")),
        Read::Found(current) => {
            if is_own(identity, &current.account) {
                return Some(
                    "this is the account the write credential acts as: a change must be made by someone else".into(),
                );
            }
            let demotes = match action {
                ActionRecord::Remove => true,
                ActionRecord::ChangeRole { to_role } => {
                    current.account.role.as_deref() != Some(to_role)
                }
            };
            if current.only_owner && demotes {
                return Some("the API says this is the organization's only owner".into());
            }
            changed_since(target, &current.account)
        }
    }
}

/// Refuse, in order, each change that would leave a scope without an owner: the owners the
/// report lists, less those removed or demoted by earlier changes of the plan.
pub(crate) fn keep_an_owner(
    changes: Vec<Change>,
    accounts: &[Account],
    owner_role: impl Fn(&str) -> Option<&'static str>,
) -> (Vec<Change>, Vec<(Change, String)>) {
    let mut owners: BTreeMap<(String, String), usize> = BTreeMap::new();
    for a in accounts.iter().filter(|a| a.status.grants_access()) {
        if owner_role(&a.source_name).is_some_and(|r| a.role.as_deref() == Some(r)) {
            *owners
                .entry((a.source_name.to_string(), a.scope.to_string()))
                .or_default() += 1;
        }
    }
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for change in changes {
        let t = &change.target;
        let owner = owner_role(&t.source_name);
        let is_owner = owner.is_some() && t.role.as_deref() == owner && !is_invitation(&t.status);
        let stays_owner = matches!(&change.action, ActionRecord::ChangeRole { to_role } if Some(to_role.as_str()) == owner);
        if !is_owner || stays_owner {
            kept.push(change);
            continue;
        }
        let left = owners
            .entry((t.source_name.clone(), t.scope.clone()))
            .or_default();
        if *left <= 1 {
            let reason = format!(
                "{}/{} would be left without an owner: keep one owner, or add another before this change",
                t.source_name, t.scope
            );
            refused.push((change, reason));
        } else {
            *left -= 1;
            kept.push(change);
        }
    }
    (kept, refused)
}

/// Check every candidate, asking each source's API for the account as it is now, and split
/// them into changes and refusals.
pub(crate) async fn check_all(
    candidates: Vec<Candidate>,
    sources: &[SourceConfig],
    channels: &BTreeMap<String, Channel>,
    plan_id: &str,
    now: DateTime<Utc>,
) -> (Vec<Change>, Vec<Refused>) {
    let mut identities: BTreeMap<String, Result<Identity, String>> = BTreeMap::new();
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    for c in candidates {
        let source = sources.iter().find(|s| s.spec.name == c.target.source_name);
        if let Some(reason) = refusal_before_reading(&c, source) {
            refused.push(c.refused(reason));
            continue;
        }
        let Some(channel) = channels.get(&c.target.source_name) else {
            refused.push(c.refused("the source's write credential could not be used"));
            continue;
        };
        if !identities.contains_key(&c.target.source_name) {
            identities.insert(c.target.source_name.clone(), channel.identity().await);
        }
        let identity = match identities.get(&c.target.source_name) {
            Some(Ok(identity)) => identity.clone(),
            Some(Err(e)) => {
                refused.push(c.refused(format!(
                    "the write credential's user could not be identified, so it cannot be told apart from this account: {e}"
                )));
                continue;
            }
            None => Identity::default(),
        };
        let action = c.action();
        let read = channel
            .read(&c.target.scope, &c.target.account_id, now)
            .await;
        if let Some(reason) = refusal_after_reading(&c.target, &action, &read, &identity) {
            refused.push(c.refused(reason));
            continue;
        }
        let id = format!("c{:04}", changes.len() + 1);
        changes.push(Change {
            idempotency_key: format!("access-audit-{plan_id}-{id}"),
            id,
            target: c.target,
            action,
            decision: c.decision,
            reviewer: c.reviewer,
            justification: c.justification,
            decided_at: c.decided_at,
            checked_at: Utc::now(),
        });
    }
    (changes, refused)
}

/// A refused change, as a refusal.
pub(crate) fn refused_change(change: Change, reason: String) -> Refused {
    let new_role = match &change.action {
        ActionRecord::ChangeRole { to_role } => Some(to_role.clone()),
        ActionRecord::Remove => None,
    };
    Refused {
        target: change.target,
        decision: change.decision,
        new_role,
        reviewer: change.reviewer,
        reason,
    }
}
