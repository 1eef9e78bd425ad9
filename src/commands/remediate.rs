//! `access-audit remediate plan|apply|verify` (CONTRACT section 10): wiring the remediation
//! domain (`remediation/`) to the run folder, its signed-off review, the config's sources and
//! write credentials, the ledger, `[store]` and the exit status. Here: the dispatch and what the
//! three share (the signed review, the write channels and their evidence, ledger records); the
//! commands are `remediate_plan.rs`, `remediate_apply.rs` and `remediate_verify.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::access_review::config::ReviewSettings;
use crate::access_review::signoff::{SignOff, decisions_json, sha256_hex};
use crate::access_review::state::{self, State};
use crate::cli::RemediateCommand;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::model::Account;
use crate::remediation::channel::Channel;
use crate::remediation::plan::ReviewRef;
use crate::remediation::{EVIDENCE_DIR, PLAN_JSON, REMEDIATION_DIR, trust};
use crate::sources::evidence::EvidenceRecorder;
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
        RemediateCommand::Plan(args) => {
            super::remediate_plan::make_plan(args, &config, &review).await
        }
        RemediateCommand::Apply(args) => {
            super::remediate_apply::apply(args, &config, &review).await
        }
        RemediateCommand::Verify(args) => super::remediate_verify::verify_against(args, &review),
    }?;
    match store {
        Some(store) if done != ExitStatus::Usage => {
            let stored = super::review_store::mirror(&store, &review, &run_dir).await;
            Ok(done.worse(stored))
        }
        _ => Ok(done),
    }
}

/// The review of `run_dir`, signed off, with the report and decisions it signed unchanged.
pub(super) struct Signed {
    pub(super) state: State,
    pub(super) sign_off: SignOff,
    pub(super) title: String,
    pub(super) accounts: Vec<Account>,
}

pub(super) fn signed_review(run_dir: &Path, recorded: &trust::Recorded) -> Result<Signed, Error> {
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

pub(super) fn review_ref(s: &Signed) -> ReviewRef {
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
pub(super) fn channels(
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
pub(super) fn recorder(run_dir: &Path, what: &str) -> Result<Arc<EvidenceRecorder>, Error> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let dir = run_dir
        .join(REMEDIATION_DIR)
        .join(EVIDENCE_DIR)
        .join(format!("{what}-{stamp}"));
    EvidenceRecorder::create(&dir)
        .map(Arc::new)
        .map_err(Error::Fatal)
}

pub(super) fn finish_evidence(
    recorder: &EvidenceRecorder,
    channels: &BTreeMap<String, Channel>,
) -> Result<(), String> {
    let specs = channels.values().map(|c| c.spec.clone()).collect();
    recorder.finish(specs).map(|_| ())
}

pub(super) fn ledger_record(
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

/// The run folder of a plan: a plan is `RUN_DIR/remediation/plan.json`, and is checked against
/// the review in that run folder.
pub(super) fn run_dir_of(plan_path: &Path) -> Result<PathBuf, Error> {
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
