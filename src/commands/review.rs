//! `access-audit review start|collect|status`: the access review of a run's output folder
//! (CONTRACT section 9). The domain is in `access_review/`; this wires it to the run folder,
//! the config's `[review]` and the exit status. `review sign-off` is in `review_signoff.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};

use crate::access_review::config::ReviewSettings;
use crate::access_review::mail::Kind;
use crate::access_review::state::{self, State};
use crate::access_review::worksheet::{self, Meta};
use crate::access_review::{campaign, returned, status, validate};
use crate::cli::{ReviewCollectArgs, ReviewCommand, ReviewStartArgs, ReviewStatusArgs};
use crate::commands::review_mail::{ReviewMailer, outstanding_reviewers};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::files::{REPORT_JSON_FILE, Symlinks};
use crate::model::ScopeStatus;
use crate::report::schema;
use crate::report::view::ScopeNames;
use crate::{ConfigPath, Error};

/// At most this many problems are listed; the rest are counted.
const MAX_PROBLEMS: usize = 200;

pub(crate) async fn review(
    command: &ReviewCommand,
    config_path: &ConfigPath,
) -> Result<ExitStatus, Error> {
    let config = Config::load(config_path.path())?;
    let settings = settings(&config, config_path)?;
    // The commands that append to the ledger are mirrored to [store], connected before any work.
    let recorded_in = match command {
        ReviewCommand::Start(a) => Some(&a.run_dir),
        ReviewCommand::Collect(a) => Some(&a.run_dir),
        ReviewCommand::SignOff(a) => Some(&a.run_dir),
        ReviewCommand::Status(_) => None,
    };
    let store = match recorded_in {
        Some(run_dir) => super::review_store::connect(&config, run_dir)?,
        None => None,
    };
    let done = match command {
        ReviewCommand::Start(args) => start_and_email(args, &settings, &config).await,
        ReviewCommand::Collect(args) => collect(args, &settings),
        ReviewCommand::Status(args) => status_and_remind(args, &config).await,
        ReviewCommand::SignOff(args) => super::review_signoff::sign_off(args, &settings),
    }?;
    match (store, recorded_in) {
        (Some(store), Some(run_dir)) => {
            let stored = super::review_store::mirror(&store, &settings, run_dir).await;
            Ok(done.worse(stored))
        }
        _ => Ok(done),
    }
}

/// `[review]` of the config: every review command needs it.
pub(super) fn settings(config: &Config, config_path: &ConfigPath) -> Result<ReviewSettings, Error> {
    config.review.clone().ok_or_else(|| {
        Error::Fatal(format!(
            "{} has no [review] section: add one with at least `default_reviewer = \"security@example.com\"` \
             (and [[review.reviewers]] entries with `email` and `scopes`) to run an access review",
            config_path.path().display()
        ))
    })
}

/// One ledger record of a review event, referring to the review's state as it now is. The
/// review is saved either way; a ledger that cannot take the record makes the command exit 5,
/// like a delivery that failed, so that the gap is seen.
pub(super) fn record_in_ledger(
    settings: &ReviewSettings,
    kind: crate::ledger::Kind,
    run_dir: &Path,
    state: &State,
) -> ExitStatus {
    let decided = state.decisions.len();
    let rows: usize = state.reviewers.values().map(Vec::len).sum();
    let summary = serde_json::json!({
        "review_id": state.review_id,
        "report_sha256": state.report_sha256,
        "due_at": crate::model::format_time(&state.due_at),
        "reviewers": state.reviewers.len(),
        "rows": rows,
        "decided": decided,
    });
    let entry = crate::ledger::Entry {
        kind,
        run_id: state.run_id.clone(),
        run_dir: run_dir.to_path_buf(),
        refs: vec![state::state_path(run_dir)],
        summary: summary.as_object().cloned().unwrap_or_default(),
    };
    match crate::ledger::append(&settings.ledger_dir, entry) {
        Ok(_) => ExitStatus::Clean,
        Err(e) => {
            tracing::error!(error = %e, "the review is saved, but the ledger could not record it");
            ExitStatus::EmailFailed
        }
    }
}

/// `review start`, then (`--email`, `--email-preview`) each reviewer's worksheet emailed. The
/// email settings are checked before the review starts; the review is saved before any is sent.
async fn start_and_email(
    args: &ReviewStartArgs,
    settings: &ReviewSettings,
    config: &Config,
) -> Result<ExitStatus, Error> {
    let mailer =
        ReviewMailer::resolve(args.mail.email, args.mail.email_preview.as_deref(), config)?;
    let started = start(args, settings)?;
    if mailer.is_off() {
        return Ok(started);
    }
    let state = state::read(&args.run_dir).map_err(Error::Fatal)?;
    let reviewers: Vec<String> = state.reviewers.keys().cloned().collect();
    let mailed = mailer
        .send_all(&args.run_dir, &state, &reviewers, Kind::Worksheet)
        .await?;
    Ok(started.worse(mailed))
}

/// `review status`, then (`--remind`) a reminder to each reviewer with rows outstanding. The
/// exit status is status's (3 while outstanding) unless a reminder was not delivered (5).
async fn status_and_remind(args: &ReviewStatusArgs, config: &Config) -> Result<ExitStatus, Error> {
    let remind = &args.remind;
    let mailer = if remind.remind {
        let preview = remind.email_preview.as_deref();
        Some(ReviewMailer::resolve(preview.is_none(), preview, config)?)
    } else {
        None
    };
    let shown = show_status(args)?;
    let Some(mailer) = mailer else {
        return Ok(shown);
    };
    let state = state::read(&args.run_dir).map_err(Error::Fatal)?;
    let reviewers = outstanding_reviewers(&state);
    let kind = Kind::Reminder { now: Utc::now() };
    let mailed = mailer
        .send_all(&args.run_dir, &state, &reviewers, kind)
        .await?;
    Ok(shown.worse(mailed))
}

fn start(args: &ReviewStartArgs, settings: &ReviewSettings) -> Result<ExitStatus, Error> {
    let run_dir = &args.run_dir;
    let _lock = crate::output::lock_dir(run_dir).map_err(Error::Fatal)?;
    let state_path = state::state_path(run_dir);
    if state_path.exists() {
        return Err(Error::Fatal(format!(
            "{} already has a review ({}): to start over, remove {} (its collected decisions are lost with it)",
            run_dir.display(),
            state_path.display(),
            state::review_dir(run_dir).display()
        )));
    }
    let (sha, report) = read_report(run_dir)?;
    let mut missing = missing_scopes(&report);
    if let Some(why) = &report.run.stopped {
        missing.push(format!("(the run stopped early: {why})"));
    }
    if !missing.is_empty() && !args.allow_incomplete {
        return Err(Error::Fatal(format!(
            "the run in {} is incomplete (failed: {}): review it anyway with --allow-incomplete; the worksheets then list the missing scopes",
            run_dir.display(),
            missing.join(", ")
        )));
    }
    let accounts = report.accounts().map_err(Error::Fatal)?;
    let mut reviewers = campaign::assign(settings, &accounts, &report.findings);
    campaign::label_scopes(&mut reviewers, &ScopeNames::of_scopes(&report.scopes));
    let now = Utc::now();
    let state = State {
        state_version: state::STATE_VERSION,
        review_id: format!("{:016x}", rand::random::<u64>()),
        run_id: report.run.run_id.clone().unwrap_or_default(),
        report_sha256: sha,
        created_at: now,
        due_at: now + Duration::days(i64::from(settings.due_days)),
        missing_scopes: missing,
        reviewers,
        decisions: BTreeMap::new(),
        superseded: Vec::new(),
        signed_off: None,
    };
    let written = write_worksheets(run_dir, &state)?;
    state::write(run_dir, &state).map_err(Error::Fatal)?;
    let recorded = record_in_ledger(settings, crate::ledger::Kind::ReviewStart, run_dir, &state);
    let mut out = format!(
        "Review {} of {} started: {} accounts, due {}.\n",
        state.review_id,
        run_dir.display(),
        accounts.len(),
        crate::model::format_human(&state.due_at)
    );
    for (who, path) in written {
        let _ = writeln!(out, "  {who}: {}", path.display());
    }
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)?;
    Ok(recorded)
}

/// report.json's SHA-256 and its content, read through `report::schema`. The bytes are hashed
/// before and after the parse: a report replaced in between is refused, not half-reviewed.
pub(super) fn read_report(run_dir: &Path) -> Result<(String, schema::ReportFile), Error> {
    let path = run_dir.join(crate::report::REPORT_JSON);
    let digest = || -> Result<String, Error> {
        let bytes = crate::files::read_bounded(&path, REPORT_JSON_FILE, Symlinks::Follow)
            .map_err(|e| Error::Fatal(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    };
    let before = digest()?;
    let (_, report) = schema::read(&path, "report.json").map_err(Error::Fatal)?;
    if digest()? != before {
        return Err(Error::Fatal(format!(
            "{} changed while it was read: try again",
            path.display()
        )));
    }
    Ok((before, report))
}

/// The failed scopes, `source_name/scope`.
fn missing_scopes(report: &schema::ReportFile) -> Vec<String> {
    report
        .scopes
        .iter()
        .filter(|s| s.status == ScopeStatus::Failed)
        .map(|s| format!("{}/{}", s.source_name, s.scope))
        .collect()
}

fn write_worksheets(
    run_dir: &Path,
    state: &State,
) -> Result<Vec<(String, std::path::PathBuf)>, Error> {
    let dir = state::review_dir(run_dir).join(crate::access_review::WORKSHEETS_DIR);
    let mut set = crate::output::FileSet::new(&dir).map_err(Error::Fatal)?;
    let mut written = Vec::new();
    let mut stems = std::collections::BTreeSet::new();
    for (who, rows) in &state.reviewers {
        let stem = worksheet::file_stem(who);
        if !stems.insert(stem.clone()) {
            return Err(Error::Fatal(format!(
                "two reviewers' worksheets would both be named {stem}.xlsx: give one of them another address"
            )));
        }
        let meta = Meta {
            review_id: state.review_id.clone(),
            report_sha256: state.report_sha256.clone(),
            reviewer: who.clone(),
        };
        let xlsx = worksheet::xlsx(&meta, rows, &state.missing_scopes).map_err(Error::Fatal)?;
        let csv = worksheet::csv(&meta, rows, &state.missing_scopes).map_err(Error::Fatal)?;
        let put = |out: &mut dyn std::io::Write, bytes: &[u8]| {
            out.write_all(bytes)
                .map_err(|e| format!("cannot write {stem}: {e}"))
        };
        set.stage(&format!("{stem}.xlsx"), |out| put(out, &xlsx))
            .map_err(Error::Fatal)?;
        set.stage(&format!("{stem}.csv"), |out| put(out, &csv))
            .map_err(Error::Fatal)?;
        written.push((who.clone(), dir.join(format!("{stem}.xlsx"))));
    }
    set.commit().map_err(Error::Fatal)?;
    Ok(written)
}

fn collect(args: &ReviewCollectArgs, settings: &ReviewSettings) -> Result<ExitStatus, Error> {
    let run_dir = &args.run_dir;
    let _lock = crate::output::lock_dir(run_dir).map_err(Error::Fatal)?;
    let mut state = state::read(run_dir).map_err(Error::Fatal)?;
    if let Some(signed) = crate::access_review::signoff::already_signed(&state) {
        return Err(Error::Fatal(format!("nothing was collected: {signed}")));
    }
    let now = Utc::now();
    let mut problems = Vec::new();
    let mut decisions = Vec::new();
    for file in &args.files {
        match returned::read(file) {
            Ok(sheet) => {
                let checked = validate::check(&state, &sheet, now);
                problems.extend(checked.problems.iter().map(ToString::to_string));
                decisions.extend(checked.decisions);
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Fatal(problem_list(&problems)));
    }
    let mut out = String::new();
    let count = decisions.len();
    for (key, record) in decisions {
        let (new, by) = (record.decision.as_str(), record.decided_by.clone());
        if let Some(old) = state.decide(&key, record)
            && old.decision.as_str() != new
        {
            let _ = writeln!(out, "  {key}: {} → {new} (by {by})", old.decision.as_str());
        }
    }
    state::write(run_dir, &state).map_err(Error::Fatal)?;
    let recorded = record_in_ledger(
        settings,
        crate::ledger::Kind::ReviewCollect,
        run_dir,
        &state,
    );
    let st = status::of(&state, now);
    let n = crate::report::counted;
    let head = format!(
        "Collected {} from {}; {} outstanding.\n",
        n(count, "decision"),
        n(args.files.len(), "file"),
        n(st.outstanding(), "row")
    );
    let changed = if out.is_empty() {
        String::new()
    } else {
        format!("Changed decisions:\n{out}")
    };
    crate::output::to_stdout(format!("{head}{changed}").as_bytes()).map_err(Error::Fatal)?;
    Ok(recorded)
}

/// Every problem on its own line (up to [`MAX_PROBLEMS`]); nothing was collected.
fn problem_list(problems: &[String]) -> String {
    let mut text = format!(
        "{} problem{} in the returned worksheets; nothing was collected:",
        problems.len(),
        crate::report::plural(problems.len())
    );
    for p in problems.iter().take(MAX_PROBLEMS) {
        let _ = write!(text, "\n  {p}");
    }
    if problems.len() > MAX_PROBLEMS {
        let _ = write!(text, "\n  … and {} more", problems.len() - MAX_PROBLEMS);
    }
    text
}

fn show_status(args: &ReviewStatusArgs) -> Result<ExitStatus, Error> {
    let state = state::read(&args.run_dir).map_err(Error::Fatal)?;
    let st = status::of(&state, Utc::now());
    crate::output::to_stdout(status::render(&state, &st).as_bytes()).map_err(Error::Fatal)?;
    Ok(if st.outstanding() > 0 || st.overdue {
        ExitStatus::Failing
    } else {
        ExitStatus::Clean
    })
}
