//! The last stage of every command that produces a report: write the report set, deliver it,
//! and turn what happened into the exit status. `run`, `merge` and every later command end here,
//! so a report is written, delivered and judged the same way whichever command made it.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::deliver::metrics::{self, RunFacts};
use crate::deliver::notify::{self, NotifyReceipt, NotifySummary};
use crate::deliver::store::{Include, RunFile, Store};
use crate::deliver::{self, DeliveryOutcome, EmailJob, EmailStep};
use crate::exit::ExitStatus;
use crate::report::{self, Report};
use crate::settings::{EmailDelivery, Settings};
use crate::stop::{StopReason, StopSignal};

/// Write `report` as `settings` say, deliver it, and say how the command ends. `recorded` is the
/// stop the report was built with, if any; a stop that comes later is recorded and the reports
/// rewritten.
pub(crate) async fn finish(
    mut report: Report,
    settings: &Settings,
    stop: &StopSignal,
    recorded: Option<StopReason>,
) -> Result<ExitStatus, Error> {
    let write = |r: &Report| {
        report::write_all(
            r,
            &settings.output_dir,
            &settings.formats,
            &settings.templates,
        )
    };
    let written = write(&report)
        .map_err(|e| Error::Fatal(format!("{e}; no complete report was produced")))?;
    tracing::info!(
        accounts = report.summary.accounts,
        findings = report.summary.findings,
        failing = report.summary.failing,
        manual = report.summary.manual,
        scopes = report.summary.scopes,
        scopes_failed = report.summary.scopes_failed,
        complete = report.complete,
        output_dir = %settings.output_dir.display(),
        files = written.len(),
        "{}",
        report.verdict()
    );
    // Only now, with every report on disk, does anything leave; after a signal, nothing does.
    // The preview is written first, so that it is stored with the reports (it names where the
    // report is to be stored); the email is sent after the upload, so that it links to the
    // stored report only once it is there, and names the local folder when it is not.
    let targets = &settings.targets;
    // The ledger's record comes first, so that the copy stored with the run includes it.
    let ledgered = append_to_ledger(&report, settings, &written).await;
    let ledger = (ledgered == DeliveryOutcome::Ok)
        .then_some(settings.targets.ledger_dir.as_deref())
        .flatten();
    let previewed = preview(&report, settings, &written, stop).await;
    let preview_file = previewed.as_ref().and_then(EmailStep::preview);
    let (store, stored_url) = upload(&report, settings, &written, preview_file, ledger, stop).await;
    let sent = send(&report, settings, stored_url.as_deref(), stop).await;
    let email_failed = [previewed, sent].iter().flatten().any(EmailStep::failed);
    let notified = notify(&report, settings, stored_url.clone(), stop).await;
    record_late_stop(&mut report, recorded, stop, |r| {
        let files = write(r)?;
        // The rewritten reports are recorded again: the later record supersedes the first.
        if ledger.is_some() {
            ledger_append_blocking(r, settings, &files);
        }
        Ok(files)
    });
    let failed = |o: DeliveryOutcome| o == DeliveryOutcome::Failed;
    let status = ExitStatus::for_run(
        email_failed || failed(store) || failed(notified) || failed(ledgered),
        !report.complete,
        report.failing_at_or_above(settings.fail_on) > 0,
    );
    let facts = RunFacts {
        started_at: settings.started_at,
        duration: (chrono::Utc::now() - settings.started_at)
            .to_std()
            .unwrap_or_default(),
        exit_code: status.code(),
        retries: report.run.retries,
        email: match (&settings.email, email_failed) {
            (EmailDelivery::Off, _) => DeliveryOutcome::Skipped,
            (_, true) => DeliveryOutcome::Failed,
            (_, false) => DeliveryOutcome::Ok,
        },
        notify: notified,
        store,
    };
    let metrics_failed = record_metrics(&report, &facts, targets, stop).await;
    let status = if metrics_failed && status != ExitStatus::Fatal {
        ExitStatus::EmailFailed
    } else {
        status
    };
    if settings.summary {
        let text = summary(&report, settings, &written, stored_url.as_deref(), status);
        crate::output::to_stdout(text.as_bytes()).map_err(Error::Fatal)?;
    }
    // The report is the last thing a command holds, and the process ends right after: freeing
    // a million accounts and findings one allocation at a time took a second, to give memory
    // back to an operating system that is about to take all of it anyway. Deliberately leaked.
    std::mem::forget(report);
    Ok(status)
}

/// What a person at a terminal needs at the end, without reading the logs: the verdict, where
/// the reports are, and what the exit code means.
fn summary(
    report: &Report,
    settings: &Settings,
    written: &[PathBuf],
    stored: Option<&str>,
    status: ExitStatus,
) -> String {
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let mut text = format!(
        "{} (as of {})\n{}\nReports: {} ({})\n",
        report.title,
        crate::model::format_time(&report.as_of),
        report.verdict(),
        settings.output_dir.display(),
        names.join(", ")
    );
    if let Some(url) = stored {
        text.push_str(&format!("Stored: {url}\n"));
    }
    let meaning = match status {
        ExitStatus::Clean => "no failing finding at or above fail_on",
        ExitStatus::Failing => "failing findings at or above fail_on",
        ExitStatus::Incomplete => "incomplete: some scopes could not be audited",
        ExitStatus::EmailFailed => "a delivery failed (the reports are on disk)",
        ExitStatus::Fatal | ExitStatus::Usage => "",
    };
    text.push_str(&format!("Exit {}: {meaning}\n", status.code()));
    text
}

/// Upload every file of the run that `[store] include` takes — the reports as they are named in
/// the output directory, the evidence archive this run recorded under `evidence/`, the email
/// preview under `email/`, the ledger (`ledger`, its folder, when this run was recorded in it)
/// as `ledger/ledger.jsonl` — and `manifest.sha256`; the stored report's URL, for the links.
async fn upload(
    report: &Report,
    settings: &Settings,
    written: &[PathBuf],
    preview: Option<&Path>,
    ledger: Option<&Path>,
    stop: &StopSignal,
) -> (DeliveryOutcome, Option<String>) {
    let Some(store) = &settings.targets.store else {
        return (DeliveryOutcome::Skipped, None);
    };
    if stop.by_signal() {
        return (DeliveryOutcome::Skipped, None);
    }
    let files = match run_files(report, settings, store, written, preview).await {
        Ok(mut files) => {
            files.extend(ledger.map(|dir| {
                RunFile::new(dir, crate::ledger::LEDGER_FILE, crate::ledger::STORED_AS)
            }));
            files
        }
        Err(e) => {
            tracing::error!(error = %e, "the run's files could not be listed for the upload; nothing was stored, the files are on disk");
            return (DeliveryOutcome::Failed, None);
        }
    };
    match store.upload_files(&files).await {
        Ok(receipt) => {
            tracing::info!(url = %receipt.folder_url, objects = receipt.objects.len(), "the run's files stored and verified");
            let url = receipt.url_of(report::REPORT_HTML).map(str::to_string);
            (DeliveryOutcome::Ok, url)
        }
        Err(e) => {
            tracing::error!(error = %e, "uploading the run's files failed; they are on disk");
            (DeliveryOutcome::Failed, None)
        }
    }
}

/// The run's files with their object paths. The evidence archive is listed from its manifest
/// (exactly the files replay reads, bounded by the manifest's cap), and only when this run
/// recorded it (`settings.recorded_evidence`), and only when the manifest is still the one the
/// report names.
async fn run_files(
    report: &Report,
    settings: &Settings,
    store: &Store,
    written: &[PathBuf],
    preview: Option<&Path>,
) -> Result<Vec<RunFile>, String> {
    let out = &settings.output_dir;
    let mut files: Vec<RunFile> = written
        .iter()
        .filter_map(|p| p.strip_prefix(out).ok())
        .map(|rel| RunFile::same_path(out, rel))
        .collect();
    if let Some(dir) = &settings.recorded_evidence
        && store.includes(Include::Evidence)
    {
        let dir = dir.clone();
        let listing = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || crate::sources::evidence::archive_files(&dir))
        };
        let (listed, manifest_sha256) = listing
            .await
            .map_err(|e| format!("listing the evidence archive stopped: {e}"))??;
        if report.run.evidence_manifest_sha256.as_deref() != Some(manifest_sha256.as_str()) {
            return Err(format!(
                "the evidence manifest in {} is not the one this run recorded (SHA-256 {manifest_sha256}, the report names {})",
                dir.display(),
                report
                    .run
                    .evidence_manifest_sha256
                    .as_deref()
                    .unwrap_or("none")
            ));
        }
        files.extend(
            listed
                .into_iter()
                .map(|f| RunFile::new(&dir, &f, Path::new("evidence").join(&f))),
        );
    }
    if let Some(path) = preview {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(format!("{} is not a file in a directory", path.display()));
        };
        files.push(RunFile::new(dir, name, Path::new("email").join(name)));
    }
    Ok(files)
}

/// `[review]` configured: append a `run` record to the ledger, referring to report.json (or,
/// without it, every report written) and the evidence manifest this run recorded. A failure is
/// a failed delivery (exit 5): the reports stay.
async fn append_to_ledger(
    report: &Report,
    settings: &Settings,
    written: &[PathBuf],
) -> DeliveryOutcome {
    let Some(dir) = settings.targets.ledger_dir.clone() else {
        return DeliveryOutcome::Skipped;
    };
    let entry = run_entry(report, settings, written);
    let appended = tokio::task::spawn_blocking(move || crate::ledger::append(&dir, entry)).await;
    match appended {
        Ok(Ok(record)) => {
            tracing::info!(seq = record.seq, "the run was recorded in the ledger");
            DeliveryOutcome::Ok
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the run could not be recorded in the ledger; the reports are on disk");
            DeliveryOutcome::Failed
        }
        Err(e) => {
            tracing::error!(error = %e, "recording the run in the ledger stopped; the reports are on disk");
            DeliveryOutcome::Failed
        }
    }
}

/// [`append_to_ledger`] for the reports rewritten after a late stop (logged, not judged: the
/// first record already stands).
fn ledger_append_blocking(report: &Report, settings: &Settings, written: &[PathBuf]) {
    let Some(dir) = &settings.targets.ledger_dir else {
        return;
    };
    if let Err(e) = crate::ledger::append(dir, run_entry(report, settings, written)) {
        tracing::error!(error = %e, "the rewritten reports could not be recorded in the ledger; `ledger verify` will call report.json changed");
    }
}

/// The ledger entry of this run.
fn run_entry(report: &Report, settings: &Settings, written: &[PathBuf]) -> crate::ledger::Entry {
    let json = settings.output_dir.join(report::REPORT_JSON);
    let mut refs = if written.contains(&json) {
        vec![json]
    } else {
        written.to_vec()
    };
    if let Some(evidence) = &settings.recorded_evidence {
        refs.push(evidence.join(crate::sources::evidence::MANIFEST_FILE));
    }
    crate::ledger::Entry {
        kind: crate::ledger::Kind::Run,
        run_id: report.run.run_id.clone(),
        run_dir: settings.output_dir.clone(),
        refs,
        summary: crate::ledger::run_summary(report),
    }
}

/// Where `report.html` will be once stored, known before the upload: when a store is
/// configured that takes the reports, and report.html is among them.
fn planned_report_url(settings: &Settings, written: &[PathBuf]) -> Option<String> {
    let store = settings.targets.store.as_ref()?;
    let html = settings.output_dir.join(report::REPORT_HTML);
    (store.includes(Include::Reports) && written.contains(&html))
        .then(|| store.url_of(report::REPORT_HTML))
}

/// Slack and the JSON webhook, as `[notify] send` calls for.
async fn notify(
    report: &Report,
    settings: &Settings,
    report_url: Option<String>,
    stop: &StopSignal,
) -> DeliveryOutcome {
    let Some(notifier) = &settings.targets.notifier else {
        return DeliveryOutcome::Skipped;
    };
    if stop.by_signal() {
        return DeliveryOutcome::Skipped;
    }
    let summary = NotifySummary::from_report(report, settings.fail_on, report_url);
    match notify::send(notifier, &summary).await {
        Ok(NotifyReceipt::NotWanted) => DeliveryOutcome::Skipped,
        Ok(NotifyReceipt::Sent { .. }) => {
            tracing::info!("notification sent");
            DeliveryOutcome::Ok
        }
        Err(e) => {
            tracing::error!(error = %e, "the notification failed; the reports are on disk");
            DeliveryOutcome::Failed
        }
    }
}

/// The textfile is written whatever happened (it is local, and says what happened); the push
/// leaves only when no signal stopped the run. Returns `true` when either failed.
async fn record_metrics(
    report: &Report,
    facts: &RunFacts,
    targets: &crate::settings::Targets,
    stop: &StopSignal,
) -> bool {
    if targets.metrics_textfile.is_none() && targets.pusher.is_none() {
        return false;
    }
    let text = metrics::render(report, facts);
    let mut failed = false;
    if let Some(path) = &targets.metrics_textfile
        && let Err(e) = metrics::write_textfile(path, &text)
    {
        tracing::error!(error = %e, "the metrics file could not be written");
        failed = true;
    }
    if let Some(pusher) = &targets.pusher
        && !stop.by_signal()
        && let Err(e) = metrics::push(pusher, &text).await
    {
        tracing::error!(error = %e, "pushing the metrics failed");
        failed = true;
    }
    failed
}

/// `--email-preview`: the message as `DIR/<id>.eml`, written before the upload so that it is
/// stored too. It links to where the report is to be stored (that upload comes next; if it
/// fails, the run exits 5 and says so). `None` when the email is sent or off.
async fn preview(
    report: &Report,
    settings: &Settings,
    written: &[PathBuf],
    stop: &StopSignal,
) -> Option<EmailStep> {
    let EmailDelivery::Preview(dir) = &settings.email else {
        return None;
    };
    let link = planned_report_url(settings, written);
    let job = EmailJob {
        config: &settings.email_config,
        fail_on: settings.fail_on,
        templates: &settings.templates,
        output_dir: &settings.output_dir,
        report_url: link.as_deref(),
        target: None,
        preview: Some(dir),
    };
    Some(deliver::deliver_unless_stopped(report, &job, stop).await)
}

/// The email, sent after the upload: it links to the stored report (`report_url`, set only when
/// the upload succeeded), or else names the local output directory. `None` when it is
/// previewed or off.
async fn send(
    report: &Report,
    settings: &Settings,
    report_url: Option<&str>,
    stop: &StopSignal,
) -> Option<EmailStep> {
    let EmailDelivery::Send(target) = &settings.email else {
        return None;
    };
    let job = EmailJob {
        config: &settings.email_config,
        fail_on: settings.fail_on,
        templates: &settings.templates,
        output_dir: &settings.output_dir,
        report_url,
        target: Some(target),
        preview: None,
    };
    Some(deliver::deliver_unless_stopped(report, &job, stop).await)
}

/// A stop that came after `report` was built — while the reports were written or the email was
/// under way — is recorded in it, and the reports on disk are rewritten (`rewrite`: the atomic
/// writer), so that none of them reads as a run that finished. `recorded` is the stop the report
/// was built with, if any.
fn record_late_stop(
    report: &mut Report,
    recorded: Option<StopReason>,
    stop: &StopSignal,
    rewrite: impl FnOnce(&Report) -> Result<Vec<PathBuf>, String>,
) {
    let Some(reason) = stop.unrecorded(recorded) else {
        return;
    };
    mark_stopped(report, reason);
    match rewrite(report) {
        Ok(files) => {
            tracing::info!(files = files.len(), reason = %reason, "reports rewritten to record the stop")
        }
        Err(e) => {
            tracing::error!(error = %e, reason = %reason, "the reports on disk could not be rewritten to record the stop")
        }
    }
}

/// Mark the report incomplete for `reason`, after whatever stops it already records (a merge
/// carries its shards' stops).
fn mark_stopped(report: &mut Report, reason: StopReason) {
    report.complete = false;
    report.run.stopped = Some(match report.run.stopped.take() {
        Some(earlier) => format!("{earlier}; {reason}"),
        None => reason.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stopped: Option<&str>) -> Report {
        let at = chrono::DateTime::UNIX_EPOCH;
        Report::build(crate::report::ReportInput {
            run_id: "0123456789abcdef".into(),
            retries: 0,
            title: "t".into(),
            as_of: at,
            generated_at: at,
            results: Vec::new(),
            findings: Vec::new(),
            rules: Vec::new(),
            evaluated: Vec::new(),
            fail_on: crate::model::FailOn::None,
            stopped: stopped.map(str::to_string),
            suppressions: Vec::new(),
            changes: None,
            config_sha256: None,
            evidence_manifest_sha256: None,
            evidence_dir: None,
            replayed: false,
            shard: None,
            framework: None,
        })
    }

    #[test]
    fn a_late_stop_is_recorded_once_after_earlier_ones_and_rewritten() {
        let stop = StopSignal::new();
        let mut clean = report(None);
        record_late_stop(&mut clean, None, &stop, |_| panic!("nothing to rewrite"));
        assert!(clean.complete);

        stop.stop(StopReason::Signal("SIGTERM"));
        // Built with this very stop: already recorded, nothing to rewrite.
        let mut built_stopped = report(Some("SIGTERM was received"));
        let recorded = stop.cause();
        record_late_stop(&mut built_stopped, recorded, &stop, |_| {
            panic!("rewritten twice")
        });
        assert_eq!(
            built_stopped.run.stopped.as_deref(),
            Some("SIGTERM was received")
        );

        // A merge whose shard was stopped, stopped itself after writing.
        let mut merged = report(Some("the run deadline of 1s was reached"));
        let mut rewrites = 0;
        record_late_stop(&mut merged, None, &stop, |r| {
            rewrites += 1;
            assert!(!r.complete);
            Ok(Vec::new())
        });
        assert_eq!(rewrites, 1);
        assert_eq!(
            merged.run.stopped.as_deref(),
            Some("the run deadline of 1s was reached; SIGTERM was received")
        );
    }
}
