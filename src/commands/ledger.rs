//! `access-audit ledger verify` and `ledger report`: the ledger of runs and reviews (CONTRACT
//! section 9), checked or summarised for a period. Exit 0 when the chain verifies; 1, with every
//! problem listed, when it does not.

use std::path::{Path, PathBuf};

use crate::access_review::config::{DEFAULT_CADENCE_DAYS, DEFAULT_REVOKE_WITHIN_DAYS};
use crate::cli::{LedgerArgs, LedgerCommand, LedgerReportArgs, LedgerVerifyArgs};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::ledger::{self, Verification, period};
use crate::{ConfigPath, Error};

pub(crate) fn ledger(args: &LedgerArgs, config_path: &ConfigPath) -> Result<ExitStatus, Error> {
    match &args.command {
        LedgerCommand::Verify(a) => verify(a, config_path),
        LedgerCommand::Report(a) => report(a, config_path),
    }
}

/// Where the ledger is and what the period pack needs of the config.
struct Located {
    dir: PathBuf,
    cadence_days: u32,
    revoke_within_days: u32,
    /// `[roster]`, when configured: the pack's leavers.
    roster: Option<crate::people::RosterConfig>,
}

/// The ledger folder (`--dir`, or `[review] ledger_dir`), the review cadence in days, the roster.
fn located(dir: Option<&Path>, config_path: &ConfigPath) -> Result<Located, Error> {
    let config = match config_path {
        ConfigPath::Default(p) if !p.exists() => None,
        _ => Some(Config::load(config_path.path())?),
    };
    let review = config.as_ref().and_then(|c| c.review.as_ref());
    let cadence_days = review.map_or(DEFAULT_CADENCE_DAYS, |r| r.cadence_days);
    let revoke_within_days = review.map_or(DEFAULT_REVOKE_WITHIN_DAYS, |r| r.revoke_within_days);
    let roster = config.as_ref().and_then(|c| c.roster.clone());
    let found = |dir: PathBuf| Located {
        dir,
        cadence_days,
        revoke_within_days,
        roster: roster.clone(),
    };
    match (dir, review) {
        (Some(d), _) => Ok(found(d.to_path_buf())),
        (None, Some(r)) => Ok(found(r.ledger_dir.clone())),
        (None, None) => Err(Error::Fatal(format!(
            "no ledger is configured: {} has no [review] section (its ledger_dir names the folder), and no --dir was given",
            config_path.path().display()
        ))),
    }
}

fn verify(args: &LedgerVerifyArgs, config_path: &ConfigPath) -> Result<ExitStatus, Error> {
    let dir = located(args.dir.as_deref(), config_path)?.dir;
    let v = ledger::verify(&dir, |_, _| {}).map_err(Error::Fatal)?;
    crate::output::to_stdout(summary(&v).as_bytes()).map_err(Error::Fatal)?;
    outcome(&v, "")
}

/// What `verify` prints: the size, the head, the referenced files.
fn summary(v: &Verification) -> String {
    let mut text = format!("Ledger {}: {} lines", v.path.display(), v.lines);
    if let Some((seq, sha)) = &v.head {
        text.push_str(&format!(", head seq {seq} SHA-256 {sha}"));
    }
    text.push_str(&format!(
        "\nReferenced files: {} match their recorded SHA-256, {} no longer available, {} superseded by a later record\n",
        v.refs_ok,
        v.unavailable.len(),
        v.superseded
    ));
    for (line, path) in &v.unavailable {
        text.push_str(&format!("  line {line}: {path} is no longer available\n"));
    }
    if v.ok() {
        text.push_str("The chain verifies.\n");
    }
    text
}

/// Exit 0, or 1 with every problem, one per line.
fn outcome(v: &Verification, after: &str) -> Result<ExitStatus, Error> {
    if v.ok() {
        return Ok(ExitStatus::Clean);
    }
    let n = v.problems.len();
    let mut text = format!(
        "the ledger {} does not verify ({n} problem{}){after}:",
        v.path.display(),
        crate::report::plural(n)
    );
    for p in &v.problems {
        text.push_str(&format!("\n  {p}"));
    }
    Err(Error::Fatal(text))
}

fn report(args: &LedgerReportArgs, config_path: &ConfigPath) -> Result<ExitStatus, Error> {
    let from =
        period::parse_date(&args.from, false).map_err(|m| Error::Fatal(format!("--from: {m}")))?;
    let to = period::parse_date(&args.to, true).map_err(|m| Error::Fatal(format!("--to: {m}")))?;
    if from >= to {
        return Err(Error::Fatal(format!(
            "--from {} is not before --to {}: the period is empty",
            args.from, args.to
        )));
    }
    let Located {
        dir,
        cadence_days: cadence,
        revoke_within_days,
        roster,
    } = located(args.dir.as_deref(), config_path)?;
    // The roster as it is now: its end dates say who left, whenever they left.
    let roster = roster
        .map(|r| crate::people::Roster::load(&r))
        .transpose()?;
    let range = period::Period { from, to };
    let mut gathered = period::Gathered::default();
    let v = ledger::verify(&dir, |line, r| gathered.add(&range, line, r)).map_err(Error::Fatal)?;
    let pack = gathered.report(&range, cadence, revoke_within_days, &v, roster.as_ref());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    let written = period::write(&pack, &out).map_err(Error::Fatal)?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    let count = crate::report::counted;
    let c = &pack.cadence;
    let verdict = match (c.met, c.sign_offs_in_period.len(), c.gaps.len()) {
        (true, _, _) => format!("the review cadence of {cadence} days was met"),
        (false, 0, 0) => "no review was signed off in the period".to_string(),
        (false, _, gaps) => format!(
            "the review cadence of {cadence} days was NOT met: {} without a sign-off for longer than that",
            count(gaps, "gap")
        ),
    };
    let text = format!(
        "Wrote {}\n{}, {}, {} in the period; {verdict}\n",
        names.join(", "),
        count(pack.runs.len(), "run"),
        count(pack.reviews.len(), "review"),
        count(c.sign_offs_in_period.len(), "sign-off"),
    );
    crate::output::to_stdout(text.as_bytes()).map_err(Error::Fatal)?;
    outcome(&v, "; the evidence pack was written with them listed")
}
