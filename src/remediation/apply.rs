//! Applying one planned change: the account is read again (it must still look as reviewed and
//! not be the only owner), then the change is sent once. An answer that leaves it unclear
//! whether the change was made — a timeout after sending, a broken connection, a 5xx — is
//! settled by reading the account again, never by sending the change again. A rehearsal
//! (`--dry-run`) sends the change in the API's sandbox where it has one, and otherwise stops
//! after the checks.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::build::refusal_after_reading;
use super::channel::Channel;
use super::plan::{ActionRecord, Change};
use crate::files::{Bound, Symlinks};
use crate::http::MutationAnswer;
use crate::sources::remediate::{Identity, Outcome, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// The API answered that the change was made (or a read afterwards showed it).
    Applied,
    /// The account was already gone: nothing was left to remove.
    AlreadyGone,
    /// Not sent, or refused by the API: the reason says which.
    Refused,
    /// Not made: no answer, or an answer that is not a success.
    Failed,
    /// Sent, no clear answer, and a read afterwards did not show it made.
    NotConfirmed,
    /// `--dry-run`: the API's sandbox accepted the change.
    Rehearsed,
    /// `--dry-run` on an API without a sandbox: the checks passed; nothing was sent.
    Checked,
    /// Logged before a change is attempted; the latest entry only if the process ended before
    /// its outcome was recorded (the next apply reads the account first).
    InFlight,
}

impl Status {
    /// The access is as the review decided: nothing more to send.
    pub(crate) fn is_done(self) -> bool {
        matches!(self, Status::Applied | Status::AlreadyGone)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::AlreadyGone => "already gone",
            Status::Refused => "refused",
            Status::Failed => "failed",
            Status::NotConfirmed => "not confirmed",
            Status::Rehearsed => "rehearsed",
            Status::Checked => "checked",
            Status::InFlight => "in flight",
        }
    }
}

/// What happened to one change in one `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attempt {
    pub(crate) change_id: String,
    pub(crate) status: Status,
    pub(crate) at: DateTime<Utc>,
    pub(crate) message: String,
    pub(crate) http_status: Option<u16>,
    pub(crate) request_id: Option<String>,
    pub(crate) dry_run: bool,
}

/// `remediation/applied-<plan_id>.json`: every attempt at the plan's changes, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ApplyLog {
    pub(crate) plan_id: String,
    pub(crate) plan_digest: String,
    pub(crate) attempts: Vec<Attempt>,
}

const APPLY_LOG: Bound = Bound {
    what: "remediation log",
    limit: 256 << 20,
};

impl ApplyLog {
    /// The latest attempt at each change that was really sent (not rehearsed).
    pub(crate) fn latest(&self) -> BTreeMap<&str, &Attempt> {
        let mut latest = BTreeMap::new();
        for a in self.attempts.iter().filter(|a| !a.dry_run) {
            latest.insert(a.change_id.as_str(), a);
        }
        latest
    }

    pub(crate) fn read(path: &Path) -> Result<Option<ApplyLog>, String> {
        match crate::files::read_bounded(path, APPLY_LOG, Symlinks::Refuse) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not a remediation log: {e}", path.display())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        crate::output::write_atomically(path, |out| {
            serde_json::to_writer_pretty(&mut *out, self)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            out.write_all(b"\n")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        })
    }
}

fn attempt(change: &Change, status: Status, message: String, dry_run: bool) -> Attempt {
    Attempt {
        change_id: change.id.clone(),
        status,
        at: Utc::now(),
        message,
        http_status: None,
        request_id: None,
        dry_run,
    }
}

fn answered(mut a: Attempt, answer: &MutationAnswer) -> Attempt {
    a.http_status = Some(answer.status);
    a.request_id.clone_from(&answer.request_id);
    a
}

/// Check, then make (or rehearse) one change.
pub(crate) async fn apply_one(
    channel: &Channel,
    change: &Change,
    identity: &Identity,
    dry_run: bool,
) -> Attempt {
    let t = &change.target;
    let read = channel.read(&t.scope, &t.account_id, Utc::now()).await;
    if let Some(done) = already_done(change, &read, dry_run) {
        return done;
    }
    if let Some(reason) = refusal_after_reading(t, &change.action, &read, identity) {
        return attempt(change, Status::Refused, reason, dry_run);
    }
    let sandbox = channel.remediator.has_sandbox();
    if dry_run && !sandbox {
        let message = format!(
            "checks passed; {} has no sandbox, so nothing was sent",
            channel.spec.kind()
        );
        return attempt(change, Status::Checked, message, true);
    }
    // A rehearsal has a key of its own: an API that remembers a key's first answer must not
    // answer the real change with the rehearsal's.
    let key = if dry_run {
        format!(
            "{}-rehearsal-{}",
            change.idempotency_key,
            Utc::now().timestamp_millis()
        )
    } else {
        change.idempotency_key.clone()
    };
    let action = change.action.action();
    let sent = channel
        .change(&t.scope, &t.account_id, &action, dry_run, &key)
        .await;
    match sent {
        Ok(answer) if dry_run => rehearsal(channel, change, &answer).await,
        Ok(answer) => made(channel, change, &answer).await,
        Err(e) if e.ambiguous => {
            settle(
                channel,
                change,
                &format!("no answer after sending ({})", e.message),
            )
            .await
        }
        Err(e) => attempt(
            change,
            Status::Failed,
            format!("not sent: {}", e.message),
            false,
        ),
    }
}

/// The account already is as the review decided: gone, or holding the new role (a change an
/// earlier apply made without a clear answer), and otherwise as reviewed.
fn already_done(change: &Change, read: &Read, dry_run: bool) -> Option<Attempt> {
    match (&change.action, read) {
        (ActionRecord::Remove, Read::Gone) => Some(attempt(
            change,
            Status::AlreadyGone,
            "the account was already gone when apply read it: nothing to remove".into(),
            dry_run,
        )),
        (ActionRecord::ChangeRole { to_role }, Read::Found(current))
            if current.account.role.as_deref() == Some(to_role.as_str()) =>
        {
            let mut as_reviewed = change.target.clone();
            as_reviewed.role = Some(to_role.clone());
            super::build::changed_since(&as_reviewed, &current.account)
                .is_none()
                .then(|| {
                    attempt(
                        change,
                        Status::Applied,
                        format!("the account already has role {to_role}: nothing to send"),
                        dry_run,
                    )
                })
        }
        _ => None,
    }
}

/// The answer to a real change.
async fn made(channel: &Channel, change: &Change, answer: &MutationAnswer) -> Attempt {
    let action = change.action.action();
    let outcome = channel.remediator.outcome(answer, &action);
    let settled = match outcome {
        // Sent for real, answered as a rehearsal: nothing says the change was made.
        Outcome::Applied if answer.sandbox => {
            settle(
                channel,
                change,
                "the API answered as its sandbox (X-Sandbox: true)",
            )
            .await
        }
        // An earlier attempt with this key was applied; reading says what holds now.
        Outcome::Applied if answer.replayed => {
            settle(
                channel,
                change,
                "the API replayed an earlier answer to this change",
            )
            .await
        }
        Outcome::Applied => attempt(change, Status::Applied, "applied".into(), false),
        Outcome::Gone if change.action == ActionRecord::Remove => attempt(
            change,
            Status::AlreadyGone,
            "the API says the account is not there (any more)".into(),
            false,
        ),
        Outcome::Gone => attempt(
            change,
            Status::Failed,
            "the API says the account is not there: its role cannot be changed".into(),
            false,
        ),
        Outcome::Refused(why) => attempt(change, Status::Refused, why, false),
        Outcome::Uncertain(why) => {
            settle(
                channel,
                change,
                &format!("the answer leaves it unclear ({why})"),
            )
            .await
        }
    };
    answered(settled, answer)
}

/// A sandboxed change: accepted only when the server says it ran as a rehearsal. One that
/// was accepted without saying so may have been made: reading settles it, as a real attempt.
async fn rehearsal(channel: &Channel, change: &Change, answer: &MutationAnswer) -> Attempt {
    let action = change.action.action();
    let (status, message) = match channel.remediator.outcome(answer, &action) {
        Outcome::Applied if answer.sandbox => (
            Status::Rehearsed,
            "the API's sandbox accepted the change; nothing was changed".to_string(),
        ),
        Outcome::Applied => {
            let why =
                "the rehearsal was answered without `X-Sandbox: true`, so it may have been made";
            return answered(settle(channel, change, why).await, answer);
        }
        Outcome::Gone => (
            Status::AlreadyGone,
            "the API says the account is not there".to_string(),
        ),
        Outcome::Refused(why) => (Status::Refused, why),
        Outcome::Uncertain(why) => (Status::Failed, why),
    };
    answered(attempt(change, status, message, true), answer)
}

/// After an unclear answer: read the account and see whether the change was made.
async fn settle(channel: &Channel, change: &Change, what_happened: &str) -> Attempt {
    let t = &change.target;
    let read = channel.read(&t.scope, &t.account_id, Utc::now()).await;
    let made = match (&change.action, &read) {
        (ActionRecord::Remove, Read::Gone) => Some(true),
        (ActionRecord::ChangeRole { to_role }, Read::Found(c)) => {
            Some(c.account.role.as_deref() == Some(to_role.as_str()))
        }
        (_, Read::Failed(_)) => None,
        _ => Some(false),
    };
    match made {
        Some(true) => attempt(
            change,
            Status::Applied,
            format!("{what_happened}; reading the account afterwards shows the change made"),
            false,
        ),
        Some(false) => attempt(
            change,
            Status::NotConfirmed,
            format!(
                "{what_happened}; reading the account afterwards shows it unchanged. It was not sent again: \
                 run apply again to retry"
            ),
            false,
        ),
        None => attempt(
            change,
            Status::NotConfirmed,
            format!(
                "{what_happened}; the account could not be read afterwards either. It was not sent again: \
                 check it, then run apply again"
            ),
            false,
        ),
    }
}
