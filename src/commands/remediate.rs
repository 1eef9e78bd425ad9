//! `access-audit remediate plan|apply|verify` (CONTRACT section 10): wiring the remediation
//! domain (`remediation/`) to the run folder, its signed-off review, the config's sources and
//! write credentials, the ledger and the exit status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::access_review::config::ReviewSettings;
use crate::access_review::signoff::{SignOff, decisions_json, sha256_hex};
use crate::access_review::state::{self, State};
use crate::cli::{RemediateApplyArgs, RemediateCommand, RemediatePlanArgs, RemediateVerifyArgs};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::model::Account;
use crate::remediation::apply::{ApplyLog, Attempt, apply_one};
use crate::remediation::build::{self, target_of};
use crate::remediation::channel::Channel;
use crate::remediation::plan::{self, Change, Plan, ReviewRef};
use crate::remediation::{
    EVIDENCE_DIR, PLAN_HTML, PLAN_JSON, REMEDIATION_DIR, VERIFICATION_JSON, apply_log_name, html,
    trust, verify,
};
use crate::sources::evidence::EvidenceRecorder;
use crate::sources::remediate::Identity;
use crate::stop::StopSignal;
use crate::{ConfigPath, Error};

pub(crate) async fn remediate(
    command: &RemediateCommand,
    config_path: &ConfigPath,
) -> Result<ExitStatus, Error> {
    let config = Config::load(config_path.path())?;
    let review = super::review::settings(&config, config_path)?;
    let run_dir = match command {
        RemediateCommand::Plan(args) => args.run_dir.clone(),
        RemediateCommand::Apply(args) => run_dir_of(&args.plan)?,
        RemediateCommand::Verify(args) => args.run_dir.clone(),
    };
    // Mirrored to [store] with the review (connected before any work, as the review does).
    let store = super::review_store::connect(&config, &run_dir)?;
    let done = match command {
        RemediateCommand::Plan(args) => make_plan(args, &config, &review).await,
        RemediateCommand::Apply(args) => apply(args, &config, &review).await,
        RemediateCommand::Verify(args) => verify_against(args, &review),
    }?;
    match store {
        Some(store) if done != ExitStatus::Usage => {
            let stored = super::review_store::mirror(&store, &review, &run_dir).await;
            Ok(worse(done, stored))
        }
        _ => Ok(done),
    }
}

/// The review of `run_dir`, signed off, with the report and decisions it signed unchanged.
struct Signed {
    state: State,
    sign_off: SignOff,
    title: String,
    accounts: Vec<Account>,
}

fn signed_review(run_dir: &Path, recorded: &trust::Recorded) -> Result<Signed, Error> {
    let state = state::read(run_dir).map_err(Error::Fatal)?;
    let Some(sign_off) = state.signed_off.clone() else {
        return Err(Error::Fatal(format!(
            "review {} of {} is not signed off: nothing is changed on decisions nobody signed; sign it off with \
             `access-audit review sign-off {} --by \"Name <email>\"`",
            state.review_id,
            run_dir.display(),
            run_dir.display()
        )));
    };
    let (sha, report) = super::review::read_report(run_dir)?;
    if sha != sign_off.report_sha256 || sha != state.report_sha256 {
        return Err(Error::Fatal(format!(
            "{} changed since review {} was signed off (its SHA-256 is {sha}, the sign-off says {}): \
             nothing is changed on a report that is not the one reviewed",
            run_dir.join(crate::report::REPORT_JSON).display(),
            state.review_id,
            sign_off.report_sha256
        )));
    }
    let decisions = decisions_json(&state.decisions).map_err(Error::Fatal)?;
    let decisions_sha = sha256_hex(&decisions);
    if decisions_sha != sign_off.decisions_sha256 {
        return Err(Error::Fatal(format!(
            "the decisions in {} are not the ones signed off (SHA-256 {decisions_sha}, signed {}): \
             nothing is changed on decisions nobody signed",
            state::state_path(run_dir).display(),
            sign_off.decisions_sha256
        )));
    }
    recorded
        .check_sign_off(&state.review_id, &state::state_path(run_dir))
        .map_err(Error::Fatal)?;
    let accounts = report.accounts().map_err(Error::Fatal)?;
    Ok(Signed {
        state,
        sign_off,
        title: report.title,
        accounts,
    })
}

fn review_ref(s: &Signed) -> ReviewRef {
    ReviewRef {
        review_id: s.state.review_id.clone(),
        report_sha256: s.sign_off.report_sha256.clone(),
        decisions_sha256: s.sign_off.decisions_sha256.clone(),
        evidence_manifest_sha256: s.sign_off.evidence_manifest_sha256.clone(),
        signed_off_by: s.sign_off.by.clone(),
        signed_off_at: s.sign_off.at,
    }
}

/// A write connection to every source named in `names` that has a write credential, and the
/// evidence archive they record into. The credentials are read (and registered for redaction)
/// before the archive is created, so that a missing secret leaves no empty archive behind.
fn channels(
    config: &Config,
    names: &[&str],
    run_dir: &Path,
    what: &str,
) -> Result<(Arc<EvidenceRecorder>, BTreeMap<String, Channel>), Error> {
    let mut secrets = Vec::new();
    for source in config
        .sources
        .iter()
        .filter(|s| names.contains(&s.spec.name.as_str()))
    {
        let Some(remediate) = &source.remediate else {
            continue;
        };
        let Some(secret) = &remediate.secret else {
            continue;
        };
        let value = secret.resolve().map_err(|m| {
            Error::Config(config.error_at(
                &["sources", &source.index.to_string(), &remediate.secret_key],
                m,
            ))
        })?;
        {
            use secrecy::ExposeSecret;
            crate::redact::register(value.expose_secret());
        }
        secrets.push((source, value));
    }
    let recorder = recorder(run_dir, what)?;
    let mut out = BTreeMap::new();
    for (source, value) in secrets {
        match Channel::open(source, &value, Some(recorder.clone())) {
            Ok(channel) => {
                out.insert(source.spec.name.clone(), channel);
            }
            Err(e) => {
                // The archive is closed with what it has (nothing), never left without a manifest.
                let _ = finish_evidence(&recorder, &out);
                return Err(Error::Fatal(e));
            }
        }
    }
    Ok((recorder, out))
}

/// `remediation/evidence/<what>-<UTC time>/`: one archive per command, never mixed.
fn recorder(run_dir: &Path, what: &str) -> Result<Arc<EvidenceRecorder>, Error> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let dir = run_dir
        .join(REMEDIATION_DIR)
        .join(EVIDENCE_DIR)
        .join(format!("{what}-{stamp}"));
    EvidenceRecorder::create(&dir)
        .map(Arc::new)
        .map_err(Error::Fatal)
}

fn finish_evidence(
    recorder: &EvidenceRecorder,
    channels: &BTreeMap<String, Channel>,
) -> Result<(), String> {
    let specs = channels.values().map(|c| c.spec.clone()).collect();
    recorder.finish(specs).map(|_| ())
}

fn ledger_record(
    review: &ReviewSettings,
    kind: crate::ledger::Kind,
    run_id: &str,
    run_dir: &Path,
    refs: Vec<PathBuf>,
    summary: serde_json::Value,
) -> ExitStatus {
    let entry = crate::ledger::Entry {
        kind,
        run_id: run_id.to_string(),
        run_dir: run_dir.to_path_buf(),
        refs,
        summary: summary.as_object().cloned().unwrap_or_default(),
    };
    match crate::ledger::append(&review.ledger_dir, entry) {
        Ok(_) => ExitStatus::Clean,
        Err(e) => {
            tracing::error!(error = %e, "the ledger could not record it");
            ExitStatus::EmailFailed
        }
    }
}

async fn make_plan(
    args: &RemediatePlanArgs,
    config: &Config,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let run_dir = &args.run_dir;
    let _lock = crate::output::lock_dir(run_dir).map_err(Error::Fatal)?;
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let signed = signed_review(run_dir, &recorded)?;
    keep_earlier_plan(run_dir, args.replace)?;
    let (candidates, missing) = build::candidates(&signed.state, &signed.accounts);
    if !missing.is_empty() {
        return Err(Error::Fatal(format!(
            "decisions of review {} name accounts report.json does not hold: {}",
            signed.state.review_id,
            missing.join(", ")
        )));
    }
    let names: Vec<&str> = candidates
        .iter()
        .map(|c| c.target.source_name.as_str())
        .collect();
    let (recorder, channels) = channels(config, &names, run_dir, "plan")?;
    let plan_id = format!("{:016x}", rand::random::<u64>());
    let now = Utc::now();
    let (changes, mut refused) =
        build::check_all(candidates, &config.sources, &channels, &plan_id, now).await;
    let owner_role = |name: &str| {
        config
            .sources
            .iter()
            .find(|s| s.spec.name == name)
            .and_then(|s| s.spec.source().owner_role())
    };
    let (changes, no_owner) = build::keep_an_owner(changes, &signed.accounts, owner_role);
    refused.extend(
        no_owner
            .into_iter()
            .map(|(c, why)| build::refused_change(c, why)),
    );
    let plan = Plan {
        plan_version: plan::PLAN_VERSION,
        plan_id,
        created_at: now,
        run_id: signed.state.run_id.clone(),
        review: review_ref(&signed),
        sources: source_refs(config, &changes),
        changes,
        refused,
        digest: String::new(),
    }
    .seal()
    .map_err(Error::Fatal)?;
    let evidence = finish_evidence(&recorder, &channels);
    let dir = run_dir.join(REMEDIATION_DIR);
    write_plan(&dir, &plan, &signed.title)?;
    let recorded = ledger_record(
        review,
        crate::ledger::Kind::RemediationPlan,
        &plan.run_id,
        run_dir,
        vec![dir.join(PLAN_JSON)],
        serde_json::json!({
            "plan_id": plan.plan_id,
            "review_id": plan.review.review_id,
            "changes": plan.changes.len(),
            "refused": plan.refused.len(),
            "plan_sha256": plan.digest,
        }),
    );
    print_plan(&plan, &dir)?;
    if let Err(e) = evidence {
        tracing::error!(error = %e, "the plan's reads could not be kept as evidence");
        return Ok(ExitStatus::EmailFailed);
    }
    let lost = channels.values().any(Channel::lost_evidence);
    Ok(if lost {
        ExitStatus::EmailFailed
    } else {
        recorded
    })
}

fn source_refs(config: &Config, changes: &[Change]) -> Vec<plan::SourceRef> {
    config
        .sources
        .iter()
        .filter(|s| changes.iter().any(|c| c.target.source_name == s.spec.name))
        .map(|s| plan::SourceRef {
            name: s.spec.name.clone(),
            source_type: s.spec.kind().as_str().to_string(),
            base_url: s.spec.base_url.clone(),
        })
        .collect()
}

/// Every change goes where the plan said: the config's source of that name is still of the
/// same type at the same base URL.
fn check_destinations(plan: &Plan, config: &Config) -> Result<(), Error> {
    let now = source_refs(config, &plan.changes);
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

/// A plan whose changes were sent is not replaced silently: its log would no longer be
/// verified. With `--replace` the earlier plan is kept as `plan-<id>.json` beside its log.
fn keep_earlier_plan(run_dir: &Path, replace: bool) -> Result<(), Error> {
    let dir = run_dir.join(REMEDIATION_DIR);
    let Ok(earlier) = plan::read(&dir.join(PLAN_JSON)) else {
        return Ok(());
    };
    let log = ApplyLog::read(&dir.join(apply_log_name(&earlier.plan_id))).map_err(Error::Fatal)?;
    let sent = log.is_some_and(|l| l.attempts.iter().any(|a| !a.dry_run));
    if !sent {
        return Ok(());
    }
    if !replace {
        return Err(Error::Fatal(format!(
            "plan {} of {} has changes that were already sent: a new plan would replace it and its record. \
             Verify it first (`remediate verify`), or pass --replace to keep it as plan-{}.json and make a new one",
            earlier.plan_id,
            run_dir.display(),
            earlier.plan_id
        )));
    }
    let kept = dir.join(format!("plan-{}.json", earlier.plan_id));
    std::fs::rename(dir.join(PLAN_JSON), &kept).map_err(|e| {
        Error::Fatal(format!(
            "cannot keep the earlier plan as {}: {e}",
            kept.display()
        ))
    })
}

fn write_plan(dir: &Path, plan: &Plan, title: &str) -> Result<(), Error> {
    let json = plan::to_json(plan).map_err(Error::Fatal)?;
    let page = html::render(plan, title);
    let mut set = crate::output::FileSet::new(dir).map_err(Error::Fatal)?;
    let put = |out: &mut dyn std::io::Write, bytes: &[u8], name: &str| {
        out.write_all(bytes)
            .map_err(|e| format!("cannot write {name}: {e}"))
    };
    set.stage(PLAN_JSON, |out| put(out, &json, PLAN_JSON))
        .map_err(Error::Fatal)?;
    set.stage(PLAN_HTML, |out| put(out, page.as_bytes(), PLAN_HTML))
        .map_err(Error::Fatal)?;
    set.commit().map(|_| ()).map_err(Error::Fatal)
}

fn print_plan(plan: &Plan, dir: &Path) -> Result<(), Error> {
    let mut out = format!(
        "Plan {} from review {}: {} change{}, {} decision{} not acted on.\n",
        plan.plan_id,
        plan.review.review_id,
        plan.changes.len(),
        crate::report::plural(plan.changes.len()),
        plan.refused.len(),
        crate::report::plural(plan.refused.len()),
    );
    let shown = |line: String| crate::text::escape_controls(&line).into_owned();
    for c in &plan.changes {
        let line = format!(
            "  {} {}: {}",
            c.id,
            c.action.describe(&c.target),
            c.target.describe()
        );
        let _ = writeln!(out, "{}", shown(line));
    }
    for r in &plan.refused {
        let line = format!("  not acted on: {}: {}", r.target.describe(), r.reason);
        let _ = writeln!(out, "{}", shown(line));
    }
    let plan_path = dir.join(PLAN_JSON);
    let _ = writeln!(
        out,
        "Read {} first. Then rehearse: access-audit remediate apply {} --dry-run --yes\n\
         and apply:   access-audit remediate apply {} --yes",
        dir.join(PLAN_HTML).display(),
        plan_path.display(),
        plan_path.display()
    );
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)
}

/// The run folder of a plan: a plan is `RUN_DIR/remediation/plan.json`, and is checked against
/// the review in that run folder.
fn run_dir_of(plan_path: &Path) -> Result<PathBuf, Error> {
    let dir = plan_path
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == REMEDIATION_DIR));
    match (plan_path.file_name(), dir.and_then(Path::parent)) {
        (Some(name), Some(run_dir)) if name == PLAN_JSON => Ok(if run_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            run_dir.to_path_buf()
        }),
        _ => Err(Error::Fatal(format!(
            "{} is not RUN_DIR/remediation/plan.json: a plan is applied where `remediate plan` wrote it, \
             next to the review it is checked against",
            plan_path.display()
        ))),
    }
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

async fn apply(
    args: &RemediateApplyArgs,
    config: &Config,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let run_dir = run_dir_of(&args.plan)?;
    let _lock = crate::output::lock_dir(&run_dir).map_err(Error::Fatal)?;
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let plan = plan::read(&args.plan).map_err(Error::Fatal)?;
    recorded
        .check_plan(&plan.plan_id, &args.plan)
        .map_err(Error::Fatal)?;
    let signed = signed_review(&run_dir, &recorded)?;
    check_against_review(&plan, &signed)?;
    check_destinations(&plan, config)?;
    let log_path = run_dir
        .join(REMEDIATION_DIR)
        .join(apply_log_name(&plan.plan_id));
    let mut log = ApplyLog::read(&log_path)
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
    let done = plan.changes.len() - pending.len();
    if !args.yes {
        let what = if args.dry_run { "rehearse" } else { "make" };
        crate::output::to_stdout(
            format!(
                "Nothing was sent. Plan {} has {} change{} to {what} ({done} already done). Read {} and, to go \
                 ahead, run the same command with --yes.\n",
                plan.plan_id,
                pending.len(),
                crate::report::plural(pending.len()),
                run_dir.join(REMEDIATION_DIR).join(PLAN_HTML).display()
            )
            .as_bytes(),
        )
        .map_err(Error::Fatal)?;
        return Ok(ExitStatus::Usage);
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
    let stop = StopSignal::new();
    let _armed = stop.arm(None);
    let mut identities: BTreeMap<String, Result<Identity, String>> = BTreeMap::new();
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
            status = worse(status, ExitStatus::Incomplete);
            continue;
        }
        // Logged before anything is sent: a process killed mid-change leaves `in_flight`,
        // which the next apply settles by reading the account.
        if !args.dry_run {
            log.attempts.push(in_flight(change));
            if let Err(e) = log.write(&log_path) {
                // Nothing is sent that could not be logged first.
                tracing::error!(error = %e, "the apply log could not be written");
                status = worse(status, ExitStatus::EmailFailed);
                halted = Some(format!("the apply log could not be written: {e}"));
                let _ = writeln!(
                    out,
                    "  {}: not attempted: the apply log could not be written",
                    change.id
                );
                continue;
            }
        }
        let attempt = attempt_change(change, &channels, &mut identities, args.dry_run).await;
        let _ = writeln!(out, "{}", shown_attempt(change, &attempt));
        if !attempt_ok(&attempt, args.dry_run) {
            status = worse(status, ExitStatus::Incomplete);
        }
        log.attempts.push(attempt.clone());
        let logged = log.write(&log_path);
        // A rehearsal that turned out real (no sandbox) is recorded like any change.
        if !attempt.dry_run {
            let ledgered = record_change(review, &plan, change, &attempt, &run_dir, &log_path);
            if ledgered != ExitStatus::Clean {
                status = worse(status, ledgered);
                halted = Some("the ledger could not record the change before it".into());
            }
        }
        if let Err(e) = logged {
            tracing::error!(error = %e, "the apply log could not be written");
            status = worse(status, ExitStatus::EmailFailed);
            halted = Some(format!("the apply log could not be written: {e}"));
        }
    }
    if let Err(e) = finish_evidence(&recorder, &channels) {
        tracing::error!(error = %e, "the requests could not be kept as evidence");
        status = worse(status, ExitStatus::EmailFailed);
    }
    if channels.values().any(Channel::lost_evidence) {
        status = worse(status, ExitStatus::EmailFailed);
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

/// The worse of two outcomes in the contract's order (5 over 4 over 0).
fn worse(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    let rank = |s: ExitStatus| match s {
        ExitStatus::Fatal => 4,
        ExitStatus::EmailFailed => 3,
        ExitStatus::Incomplete => 2,
        ExitStatus::Failing => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn verify_against(
    args: &RemediateVerifyArgs,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    verify_plan(&args.run_dir, &args.against, review)
}

/// After a run, with `[review]`: every plan in the ledger not yet verified in full is checked
/// against this run (what `remediate verify RUN_DIR --against` does), so that the next run
/// proves the changes. It never changes the run's exit status: a plan that cannot be checked
/// is logged, and `remediate verify` says why.
pub(crate) fn verify_open_plans(review: &ReviewSettings, this_run: &Path) {
    let mut plans: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut verified: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let visit = |_: u64, r: &crate::ledger::Record| {
        let plan_id = r.summary.get("plan_id").and_then(serde_json::Value::as_str);
        let Some(plan_id) = plan_id else { return };
        match r.kind {
            crate::ledger::Kind::RemediationPlan => {
                plans.insert(plan_id.to_string(), PathBuf::from(&r.run_dir));
            }
            crate::ledger::Kind::RemediationVerify => {
                let left: u64 = ["not_verified", "unverifiable"]
                    .iter()
                    .filter_map(|k| r.summary.get(*k).and_then(serde_json::Value::as_u64))
                    .sum();
                if left == 0 {
                    verified.insert(plan_id.to_string());
                }
            }
            _ => {}
        }
    };
    if let Err(e) = crate::ledger::verify(&review.ledger_dir, visit) {
        tracing::debug!(error = %e, "no remediation plan to verify");
        return;
    }
    for (plan_id, run_dir) in plans.into_iter().filter(|(id, _)| !verified.contains(id)) {
        let current = plan::read(&run_dir.join(REMEDIATION_DIR).join(PLAN_JSON));
        // A plan replaced by a newer one of the same run is the newer one's to verify.
        if !current.as_ref().is_ok_and(|p| p.plan_id == plan_id) {
            continue;
        }
        if let Err(e) = verify_plan(&run_dir, this_run, review) {
            tracing::warn!(plan = %plan_id, error = %e, "the remediation plan could not be verified against this run");
        }
    }
}

fn verify_plan(
    run_dir: &Path,
    against: &Path,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let dir = run_dir.join(REMEDIATION_DIR);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(run_dir, against) {
        return Err(Error::Fatal(format!(
            "--against {} is the reviewed run itself: verify against a later run",
            against.display()
        )));
    }
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let plan_path = dir.join(PLAN_JSON);
    let plan = plan::read(&plan_path).map_err(Error::Fatal)?;
    recorded
        .check_plan(&plan.plan_id, &plan_path)
        .map_err(Error::Fatal)?;
    let log = ApplyLog::read(&dir.join(apply_log_name(&plan.plan_id))).map_err(Error::Fatal)?;
    let (_, later) = super::review::read_report(against)?;
    if later.as_of <= plan.created_at {
        return Err(Error::Fatal(format!(
            "the run in {} is as of {}, not after plan {} was made ({}): it cannot show the plan's changes",
            against.display(),
            crate::model::format_human(&later.as_of),
            plan.plan_id,
            crate::model::format_human(&plan.created_at)
        )));
    }
    let accounts = later.accounts().map_err(Error::Fatal)?;
    let later_view = verify::Later {
        dir: against.display().to_string(),
        run_id: later.run.run_id.clone().unwrap_or_default(),
        as_of: later.as_of,
        scopes: &later.scopes,
        accounts: &accounts,
    };
    let result = verify::verify(&plan, log.as_ref(), &later_view, review.revoke_within_days);
    let path = dir.join(VERIFICATION_JSON);
    crate::output::write_atomically(&path, |out| {
        serde_json::to_writer_pretty(&mut *out, &result)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        out.write_all(b"\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
    .map_err(Error::Fatal)?;
    let recorded = ledger_record(
        review,
        crate::ledger::Kind::RemediationVerify,
        &plan.run_id,
        run_dir,
        vec![path.clone(), against.join(crate::report::REPORT_JSON)],
        serde_json::json!({
            "plan_id": plan.plan_id,
            "review_id": plan.review.review_id,
            "against_run_id": result.against_run_id,
            "verified": result.verified,
            "not_verified": result.not_verified,
            "unverifiable": result.unverifiable,
            "revoke_within_days": result.revoke_within_days,
            "late": result.rows.iter().filter(|r| r.within_deadline == Some(false)).count(),
        }),
    );
    print_verification(&result, &path)?;
    let all = result.verified == result.rows.len();
    Ok(worse(
        if all {
            ExitStatus::Clean
        } else {
            ExitStatus::Incomplete
        },
        recorded,
    ))
}

fn print_verification(v: &verify::Verification, path: &Path) -> Result<(), Error> {
    let mut out = format!(
        "Plan {} against the run of {}: {} verified, {} not verified, {} unverifiable.\n",
        v.plan_id,
        crate::model::format_human(&v.against_as_of),
        v.verified,
        v.not_verified,
        v.unverifiable
    );
    for r in &v.rows {
        let timing = match (r.days_to_apply, r.within_deadline) {
            (Some(d), Some(true)) => format!(
                " (made {d} days after sign-off, within {})",
                v.revoke_within_days
            ),
            (Some(d), Some(false)) => format!(
                " (made {d} days after sign-off: LATE, over {})",
                v.revoke_within_days
            ),
            _ => " (not made by access-audit)".to_string(),
        };
        let line = format!(
            "  {} {} {}: {} — {}{timing}",
            r.change_id,
            r.action_describe(),
            r.target.describe(),
            r.result.as_str(),
            r.detail
        );
        let _ = writeln!(out, "{}", crate::text::escape_controls(&line));
    }
    let _ = writeln!(out, "Written to {}", path.display());
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)
}
