//! `access-audit review sign-off RUN_DIR --by "Name <email>" [--statement TEXT]`: once every
//! row is decided, the review is signed — `review/review.html` (the page an auditor files),
//! `review/decisions.csv`, `decisions.xlsx` and `decisions.json` written, the sign-off recorded in the
//! state, then in the ledger. Refused (exit 1) while rows are outstanding, a second time, or
//! when report.json changed since `review start`.

use std::path::Path;

use chrono::{SubsecRound, Utc};

use crate::Error;
use crate::access_review::config::ReviewSettings;
use crate::access_review::decisions_xlsx::{self, DECISIONS_XLSX};
use crate::access_review::page::{self, RunHead};
use crate::access_review::signoff::{self, DECISIONS_CSV, DECISIONS_JSON, REVIEW_HTML, SignOff};
use crate::access_review::state::{self, State};
use crate::access_review::suppress;
use crate::cli::ReviewSignOffArgs;
use crate::exit::ExitStatus;
use crate::report::schema::ReportFile;

pub(super) fn sign_off(
    args: &ReviewSignOffArgs,
    settings: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let run_dir = &args.run_dir;
    let by = signoff::check_signer(&args.by).map_err(Error::Fatal)?;
    if let Some(until) = args.suppress_kept_until {
        suppress::check_until(until, Utc::now().date_naive()).map_err(Error::Fatal)?;
    }
    let _lock = crate::output::lock_dir(run_dir).map_err(Error::Fatal)?;
    let mut state = state::read(run_dir).map_err(Error::Fatal)?;
    if let Some(refusal) = signoff::already_signed(&state) {
        return Err(Error::Fatal(refusal));
    }
    let head = report_head(run_dir, &state)?;
    if let Some(refusal) = signoff::outstanding(&state) {
        return Err(Error::Fatal(refusal));
    }
    let decisions = signoff::decisions_json(&state.decisions).map_err(Error::Fatal)?;
    let sign = SignOff {
        by,
        at: Utc::now().trunc_subsecs(0),
        statement: args.statement.clone().filter(|s| !s.trim().is_empty()),
        report_sha256: state.report_sha256.clone(),
        evidence_manifest_sha256: head.run.evidence_manifest_sha256.clone(),
        decisions_sha256: signoff::sha256_hex(&decisions),
    };
    let run = RunHead {
        title: head.title,
        as_of: head.as_of,
        run_dir: run_dir.display().to_string(),
    };
    let suppressions = match args.suppress_kept_until {
        Some(until) => Some(suppress::file(&state, &head.findings, until).map_err(Error::Fatal)?),
        None => None,
    };
    let extra = suppressions.as_ref().map(|(text, _)| text.as_str());
    write_pages(run_dir, &state, &run, &sign, &decisions, extra)?;
    state.signed_off = Some(sign);
    state::write(run_dir, &state).map_err(Error::Fatal)?;
    let recorded = super::review::record_in_ledger(
        settings,
        crate::ledger::Kind::ReviewSignOff,
        run_dir,
        &state,
    );
    let page = state::review_dir(run_dir).join(REVIEW_HTML);
    let mut out = format!(
        "Review {} signed off by {}: {}\n",
        state.review_id,
        args.by.trim(),
        page.display()
    );
    if let Some((_, skipped)) = &suppressions {
        out.push_str(&suppressions_said(run_dir, skipped));
    }
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)?;
    Ok(recorded)
}

/// report.json read and checked against the SHA-256 the review started from.
/// The report under review, read through `report::schema` as `review start` read it, and
/// refused if it is no longer the one the review started from.
fn report_head(run_dir: &Path, state: &State) -> Result<ReportFile, Error> {
    let (sha, report) = super::review::read_report(run_dir)?;
    if sha != state.report_sha256 {
        return Err(Error::Fatal(format!(
            "{} changed since review {} started (SHA-256 {sha}, the review was of {}): \
             a review signs off the report it reviewed; start a new review of the new report",
            run_dir.join(crate::report::REPORT_JSON).display(),
            state.review_id,
            state.report_sha256
        )));
    }
    Ok(report)
}

/// review.html, decisions.csv, decisions.xlsx and decisions.json, written as one set.
fn write_pages(
    run_dir: &Path,
    state: &State,
    run: &RunHead,
    sign: &SignOff,
    decisions: &[u8],
    suppressions: Option<&str>,
) -> Result<(), Error> {
    let html = page::render(state, run, sign);
    let csv = page::decisions_csv(state).map_err(Error::Fatal)?;
    let xlsx = decisions_xlsx::render(&page::decision_lines(state), sign).map_err(Error::Fatal)?;
    let mut set = crate::output::FileSet::new(&state::review_dir(run_dir)).map_err(Error::Fatal)?;
    for (name, bytes) in [
        (REVIEW_HTML, html.as_bytes()),
        (DECISIONS_CSV, &csv[..]),
        (DECISIONS_XLSX, &xlsx[..]),
        (DECISIONS_JSON, decisions),
    ]
    .into_iter()
    .chain(suppressions.map(|s| (suppress::SUPPRESSIONS_TOML, s.as_bytes())))
    {
        set.stage(name, |out| {
            out.write_all(bytes)
                .map_err(|e| format!("cannot write {name}: {e}"))
        })
        .map_err(Error::Fatal)?;
    }
    set.commit().map_err(Error::Fatal)?;
    Ok(())
}

/// Where the suppressions went, and the rows left out of them.
fn suppressions_said(run_dir: &Path, skipped: &[String]) -> String {
    let path = state::review_dir(run_dir).join(suppress::SUPPRESSIONS_TOML);
    let mut text = format!(
        "Suppressions of the justified exceptions: {}\n",
        path.display()
    );
    for key in skipped {
        text.push_str(&format!(
            "  {key}: not suppressed (its id has `*` or `?`, which would match other accounts)\n"
        ));
    }
    text
}
