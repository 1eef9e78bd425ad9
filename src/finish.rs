//! The last stage of every command that produces a report: write the report set, deliver it,
//! and turn what happened into the exit status. `run`, `merge` and every later command end here,
//! so a report is written, delivered and judged the same way whichever command made it.

use crate::Error;
use crate::deliver::{self, EmailJob};
use crate::exit::ExitStatus;
use crate::report::{self, Report};
use crate::settings::{EmailDelivery, Settings};
use crate::stop::{StopReason, StopSignal};

/// Write `report` as `settings` say, deliver it, and say how the command ends. `recorded` is the
/// stop the report was built with, if any; a stop that comes later is recorded and the reports
/// rewritten.
pub async fn finish(
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
    // Only now, with every report on disk, does anything leave.
    let email_failed = email(&report, settings, stop).await;
    crate::stop::record_late_stop(&mut report, recorded, stop, write);
    Ok(ExitStatus::for_run(
        email_failed,
        !report.complete,
        report.failing_at_or_above(settings.fail_on) > 0,
    ))
}

/// Returns `true` when delivery failed (exit 5).
async fn email(report: &Report, settings: &Settings, stop: &StopSignal) -> bool {
    let (target, preview) = match &settings.email {
        EmailDelivery::Off => return false,
        EmailDelivery::Send(target) => (Some(target), None),
        EmailDelivery::Preview(dir) => (None, Some(dir.as_path())),
    };
    let job = EmailJob {
        config: &settings.email_config,
        fail_on: settings.fail_on,
        templates: &settings.templates,
        output_dir: &settings.output_dir,
        target,
        preview,
    };
    deliver::deliver_unless_stopped(report, &job, stop).await
}
