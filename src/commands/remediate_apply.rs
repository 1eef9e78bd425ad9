//! `remediate apply PLAN`: the plan checked against the ledger, the signed-off review and the
//! config, then each change made (or rehearsed) one at a time, logged before it is sent,
//! recorded in the ledger after.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;

use super::remediate::*;
use crate::Error;
use crate::access_review::config::ReviewSettings;
use crate::cli::RemediateApplyArgs;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::model::Account;
use crate::remediation::apply::{ApplyLog, Attempt, apply_one};
use crate::remediation::build::{self, target_of};
use crate::remediation::channel::Channel;
use crate::remediation::plan::{self, Change, Plan};
use crate::remediation::{PLAN_HTML, REMEDIATION_DIR, apply_log_name, trust};
use crate::sources::remediate::Identity;
use crate::stop::StopSignal;

/// Every change goes where the plan said: the config's source of that name is still of the
/// same type at the same base URL.
fn check_destinations(plan: &Plan, config: &Config) -> Result<(), Error> {
    let now = super::remediate_plan::source_refs(config, &plan.changes);
    for c in &plan.changes {
        let planned = plan.sources.iter().find(|s| s.name == c.target.source_name);
        let current = now.iter().find(|s| s.name == c.target.source_name);
        if planned.is_none() || planned != current {
            return Err(Error::Fatal(format!(
                "plan {} sends change {} to source `{}` at {}; the config now has {}: nothing was sent. \
                 Make a new plan with this config",
                plan.plan_id,
                c.id,
                c.target.source_name,
                planned.map_or("(no source)", |s| s.base_url.as_str()),
                current.map_or_else(
                    || "no such source".to_string(),
                    |s| format!("{} at {}", s.source_type, s.base_url)
                ),
            )));
        }
    }
    Ok(())
}

/// Every change of the plan is a decision of the signed-off review, about the account the
/// review listed: a plan whose digest was recomputed after an edit still cannot act on
/// anything nobody signed.
fn check_against_review(plan: &Plan, signed: &Signed) -> Result<(), Error> {
    let (candidates, _) = build::candidates(&signed.state, &signed.accounts);
    trust::check_plan_shape(plan, &candidates).map_err(|e| {
        Error::Fatal(format!(
            "plan {} does not match review {}: {e}; nothing was sent. Make a new plan with `access-audit remediate plan`",
            plan.plan_id, signed.state.review_id
        ))
    })?;
    if plan.review != review_ref(signed) {
        return Err(Error::Fatal(format!(
            "plan {} was made from review {} signed off at {}; the run folder now holds review {} signed off at {}: \
             make a new plan",
            plan.plan_id,
            plan.review.review_id,
            plan.review.signed_off_at,
            signed.state.review_id,
            signed.sign_off.at
        )));
    }
    let accounts: BTreeMap<String, &Account> = signed
        .accounts
        .iter()
        .map(|a| {
            (
                crate::access_review::campaign::row_key(&a.source_name, &a.scope, &a.account_id),
                a,
            )
        })
        .collect();
    for c in &plan.changes {
        let key = &c.target.row_key;
        let decided = signed.state.decisions.get(key);
        let wanted = decided.map(|d| {
            let role = d.new_role.as_deref().map(|r| r.trim().to_lowercase());
            (d.decision, role)
        });
        let planned = match &c.action {
            plan::ActionRecord::Remove => (crate::access_review::campaign::Decision::Revoke, None),
            plan::ActionRecord::ChangeRole { to_role } => (
                crate::access_review::campaign::Decision::ChangeRole,
                Some(to_role.clone()),
            ),
        };
        let target_ok = accounts
            .get(key)
            .is_some_and(|a| target_of(key, a) == c.target);
        if wanted.as_ref() != Some(&planned) || c.decision != planned.0 || !target_ok {
            return Err(Error::Fatal(format!(
                "plan change {} ({}) is not what review {} decided for that account: the plan was altered; \
                 nothing was sent. Make a new plan with `access-audit remediate plan`",
                c.id,
                c.target.describe(),
                signed.state.review_id
            )));
        }
    }
    Ok(())
}

pub(super) async fn apply(
    args: &RemediateApplyArgs,
    config: &Config,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let run_dir = run_dir_of(&args.plan)?;
    let _lock = crate::output::lock_dir(&run_dir).map_err(Error::Fatal)?;
    let plan = checked_plan(args, config, review, &run_dir)?;
    let log_path = run_dir
        .join(REMEDIATION_DIR)
        .join(apply_log_name(&plan.plan_id));
    let mut log = open_log(&log_path, &plan)?;
    let latest = log.latest();
    let pending: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| {
            !latest
                .get(c.id.as_str())
                .is_some_and(|a| a.status.is_done())
        })
        .collect();
    if !args.yes {
        return unconfirmed(&plan, pending.len(), args.dry_run, &run_dir);
    }
    if pending.len() > args.max {
        return Err(Error::Fatal(format!(
            "plan {} has {} changes still to make, more than --max {}: nothing was sent. Check the plan, then \
             pass --max {} to make them all in one run",
            plan.plan_id,
            pending.len(),
            args.max,
            pending.len()
        )));
    }
    let names: Vec<&str> = pending
        .iter()
        .map(|c| c.target.source_name.as_str())
        .collect();
    let what = if args.dry_run { "dry-run" } else { "apply" };
    let (recorder, channels) = channels(config, &names, &run_dir, what)?;
    let mut session = Session {
        review,
        plan: &plan,
        run_dir: &run_dir,
        log_path: &log_path,
        log: &mut log,
        dry_run: args.dry_run,
        identities: BTreeMap::new(),
    };
    let (mut status, out) = session.make_all(&pending, &channels).await;
    if let Err(e) = finish_evidence(&recorder, &channels) {
        tracing::error!(error = %e, "the requests could not be kept as evidence");
        status = status.worse(ExitStatus::EmailFailed);
    }
    if channels.values().any(Channel::lost_evidence) {
        status = status.worse(ExitStatus::EmailFailed);
    }
    let head = if args.dry_run {
        "Rehearsal (--dry-run): nothing was changed. Sent.dm changes went to its sandbox; Sentry has none, so its \
         accounts were only read and checked."
    } else {
        "Applied:"
    };
    crate::output::to_stdout(format!("{head}\n{out}").as_bytes()).map_err(Error::Fatal)?;
    Ok(status)
}

/// The plan at `args.plan`, once the ledger, the signed-off review and the config vouch for it.
fn checked_plan(
    args: &RemediateApplyArgs,
    config: &Config,
    review: &ReviewSettings,
    run_dir: &Path,
) -> Result<Plan, Error> {
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let plan = plan::read(&args.plan).map_err(Error::Fatal)?;
    recorded
        .check_plan(&plan.plan_id, &args.plan)
        .map_err(Error::Fatal)?;
    let signed = signed_review(run_dir, &recorded)?;
    check_against_review(&plan, &signed)?;
    check_destinations(&plan, config)?;
    Ok(plan)
}

/// The plan's log, new or as earlier applies left it (it must be this plan's).
fn open_log(log_path: &Path, plan: &Plan) -> Result<ApplyLog, Error> {
    let log = ApplyLog::read(log_path)
        .map_err(Error::Fatal)?
        .unwrap_or_else(|| ApplyLog {
            plan_id: plan.plan_id.clone(),
            plan_digest: plan.digest.clone(),
            attempts: Vec::new(),
        });
    if log.plan_id != plan.plan_id || log.plan_digest != plan.digest {
        return Err(Error::Fatal(format!(
            "{} is not the log of plan {} (it names plan {} with SHA-256 {}): it was altered",
            log_path.display(),
            plan.plan_id,
            log.plan_id,
            log.plan_digest
        )));
    }
    Ok(log)
}

/// Without `--yes`: what would be done, and nothing sent (exit 2).
fn unconfirmed(
    plan: &Plan,
    pending: usize,
    dry_run: bool,
    run_dir: &Path,
) -> Result<ExitStatus, Error> {
    let what = if dry_run { "rehearse" } else { "make" };
    let done = plan.changes.len() - pending;
    let text = format!(
        "Nothing was sent. Plan {} has {pending} change{} to {what} ({done} already done). Read {} and, to go \
         ahead, run the same command with --yes.\n",
        plan.plan_id,
        crate::report::plural(pending),
        run_dir.join(REMEDIATION_DIR).join(PLAN_HTML).display()
    );
    crate::output::to_stdout(text.as_bytes()).map_err(Error::Fatal)?;
    Ok(ExitStatus::Usage)
}

/// One `apply` under way: the plan, its log, where things are recorded.
struct Session<'a> {
    review: &'a ReviewSettings,
    plan: &'a Plan,
    run_dir: &'a Path,
    log_path: &'a Path,
    log: &'a mut ApplyLog,
    dry_run: bool,
    /// Each source's write credential's identity, asked once.
    identities: BTreeMap<String, Result<Identity, String>>,
}

impl Session<'_> {
    /// Every pending change in order, until a signal or a failure to record stops the rest.
    async fn make_all(
        &mut self,
        pending: &[&Change],
        channels: &BTreeMap<String, Channel>,
    ) -> (ExitStatus, String) {
        let stop = StopSignal::new();
        let _armed = stop.arm(None);
        let mut status = ExitStatus::Clean;
        let mut out = String::new();
        let mut halted: Option<String> = None;
        for change in pending {
            let why_not = halted.clone().or_else(|| {
                stop.is_stopped()
                    .then(|| format!("stopped ({})", stop.reason().unwrap_or_default()))
            });
            if let Some(why) = why_not {
                let _ = writeln!(out, "  {}: not attempted: {why}", change.id);
                status = status.worse(ExitStatus::Incomplete);
                continue;
            }
            match self.make_one(change, channels).await {
                Ok((attempt, ok)) => {
                    let _ = writeln!(out, "{}", shown_attempt(change, &attempt));
                    if !ok {
                        status = status.worse(ExitStatus::Incomplete);
                    }
                }
                Err((why, recorded)) => {
                    let _ = writeln!(
                        out,
                        "{}",
                        recorded.map_or_else(
                            || format!("  {}: not attempted: {why}", change.id),
                            |a| shown_attempt(change, &a),
                        )
                    );
                    status = status.worse(ExitStatus::EmailFailed);
                    halted = Some(why);
                }
            }
        }
        (status, out)
    }

    /// One change: logged in flight before anything is sent, then made, logged and ledgered.
    /// `Err`: the record could not be kept (and the attempt, if one was made) — the rest stop.
    async fn make_one(
        &mut self,
        change: &Change,
        channels: &BTreeMap<String, Channel>,
    ) -> Result<(Attempt, bool), (String, Option<Attempt>)> {
        if !self.dry_run {
            self.log.attempts.push(in_flight(change));
            // Nothing is sent that could not be logged first.
            self.log
                .write(self.log_path)
                .map_err(|e| (format!("the apply log could not be written: {e}"), None))?;
        }
        let attempt = attempt_change(change, channels, &mut self.identities, self.dry_run).await;
        let ok = attempt_ok(&attempt, self.dry_run);
        self.log.attempts.push(attempt.clone());
        let logged = self.log.write(self.log_path);
        // A rehearsal that turned out real (no sandbox) is recorded like any change.
        if !attempt.dry_run {
            let ledgered = record_change(
                self.review,
                self.plan,
                change,
                &attempt,
                self.run_dir,
                self.log_path,
            );
            if ledgered != ExitStatus::Clean {
                let why = "the ledger could not record the change before it".to_string();
                return Err((why, Some(attempt)));
            }
        }
        if let Err(e) = logged {
            tracing::error!(error = %e, "the apply log could not be written");
            return Err((
                format!("the apply log could not be written: {e}"),
                Some(attempt),
            ));
        }
        Ok((attempt, ok))
    }
}

/// Set before a change is attempted; replaced by its outcome.
fn in_flight(change: &Change) -> Attempt {
    Attempt {
        change_id: change.id.clone(),
        status: crate::remediation::apply::Status::InFlight,
        at: Utc::now(),
        message: "being applied: if this is the latest entry, the process ended before the answer was recorded".into(),
        http_status: None,
        request_id: None,
        dry_run: false,
    }
}

fn attempt_ok(attempt: &Attempt, dry_run: bool) -> bool {
    use crate::remediation::apply::Status;
    attempt.status.is_done()
        || (dry_run && matches!(attempt.status, Status::Rehearsed | Status::Checked))
}

/// One line of the apply's output, with what came from outside escaped (one line stays one).
fn shown_attempt(change: &Change, attempt: &Attempt) -> String {
    let message = if attempt.message.is_empty() {
        String::new()
    } else {
        format!(" — {}", attempt.message)
    };
    let line = format!(
        "  {} {} {}: {}{message}",
        change.id,
        change.action.describe(&change.target),
        change.target.describe(),
        attempt.status.as_str()
    );
    crate::text::escape_controls(&line).into_owned()
}

/// One change through its source's channel (its write credential's identity asked once).
async fn attempt_change(
    change: &Change,
    channels: &BTreeMap<String, Channel>,
    identities: &mut BTreeMap<String, Result<Identity, String>>,
    dry_run: bool,
) -> Attempt {
    let name = &change.target.source_name;
    let refuse = |message: String| Attempt {
        change_id: change.id.clone(),
        status: crate::remediation::apply::Status::Refused,
        at: Utc::now(),
        message,
        http_status: None,
        request_id: None,
        dry_run,
    };
    let Some(channel) = channels.get(name) else {
        return refuse(format!(
            "source `{name}` has no write credential in the config"
        ));
    };
    if !identities.contains_key(name) {
        identities.insert(name.clone(), channel.identity().await);
    }
    match identities.get(name) {
        Some(Ok(identity)) => apply_one(channel, change, identity, dry_run).await,
        Some(Err(e)) => refuse(format!(
            "the write credential's user could not be identified: {e}"
        )),
        None => apply_one(channel, change, &Identity::default(), dry_run).await,
    }
}

fn record_change(
    review: &ReviewSettings,
    plan: &Plan,
    change: &Change,
    attempt: &Attempt,
    run_dir: &Path,
    log_path: &Path,
) -> ExitStatus {
    ledger_record(
        review,
        crate::ledger::Kind::RemediationChange,
        &plan.run_id,
        run_dir,
        vec![log_path.to_path_buf()],
        serde_json::json!({
            "plan_id": plan.plan_id,
            "review_id": plan.review.review_id,
            "change_id": change.id,
            "row_key": change.target.row_key,
            "action": change.action,
            "status": attempt.status,
            "message": attempt.message,
            "http_status": attempt.http_status,
            "request_id": attempt.request_id,
            "decided_at": crate::model::format_time(&change.decided_at),
            "signed_off_at": crate::model::format_time(&plan.review.signed_off_at),
        }),
    )
}
