//! Delivery: the email that carries a summary and the reports to the people who read them,
//! and the targets beyond email — object storage ([`store`]), chat and webhooks ([`notify`]),
//! Prometheus ([`metrics`]). Runs only after every report is on disk, and never outlives a stop.

pub(crate) mod compose;
pub(crate) mod email;
pub mod metrics;
pub mod notify;
pub(crate) mod post;
#[cfg(test)]
pub(crate) mod sample;
pub(crate) mod smtp;
pub mod store;
pub(crate) mod target;

pub(crate) use target::{DeliveryError, DeliveryOutcome};

use std::path::{Path, PathBuf};

use crate::model::FailOn;
use crate::report::Report;
use crate::stop::StopSignal;
use crate::templates::Templates;
use email::{EmailConfig, SendPolicy};

/// What happened to the email.
#[derive(Debug)]
pub(crate) enum Delivered {
    Sent {
        recipients: usize,
        attempts: u32,
    },
    Previewed(PathBuf),
    /// `email.send = "problems"` and there were none.
    NotNeeded,
}

/// Everything delivery needs besides the report.
pub(crate) struct EmailJob<'a> {
    pub config: &'a EmailConfig,
    pub fail_on: FailOn,
    pub templates: &'a Templates,
    pub output_dir: &'a Path,
    /// The stored `report.html`, when the reports are (or, for a preview, are to be) in
    /// `[store]`: the message links there instead of naming `output_dir`, a path in a pod.
    pub report_url: Option<&'a str>,
    /// Where to send; `None` with `preview` set.
    pub target: Option<&'a smtp::SmtpTarget>,
    /// Write the message as an `.eml` file here instead of sending it.
    pub preview: Option<&'a Path>,
}

/// Whether this report calls for an email under the configured policy.
pub(crate) fn wanted(report: &Report, policy: SendPolicy, fail_on: FailOn) -> bool {
    match policy {
        SendPolicy::Always => true,
        SendPolicy::Problems => !report.complete || report.failing_at_or_above(fail_on) > 0,
        SendPolicy::Changes => {
            !report.complete
                || report
                    .changes
                    .as_ref()
                    .is_none_or(|c| c.new > 0 || !c.resolved.is_empty())
        }
    }
}

pub(crate) async fn deliver(report: &Report, job: &EmailJob<'_>) -> Result<Delivered, String> {
    if job.preview.is_none() && !wanted(report, job.config.send, job.fail_on) {
        return Ok(Delivered::NotNeeded);
    }
    let message = compose::compose(report, job)?;
    if let Some(dir) = job.preview {
        return smtp::write_preview(message, dir)
            .await
            .map(Delivered::Previewed);
    }
    let target = job
        .target
        .ok_or("email is enabled but no SMTP server is configured")?;
    let recipients = job.config.to.len();
    let attempts = smtp::send(target, message, job.config.timeout).await?;
    Ok(Delivered::Sent {
        recipients,
        attempts,
    })
}

/// How the email step ended.
#[derive(Debug)]
pub(crate) enum EmailStep {
    Done(Delivered),
    /// Delivery failed (exit 5); logged.
    Failed,
    /// Given up for a stop: not a delivery failure, the stop itself makes the run exit 4.
    Stopped,
}

impl EmailStep {
    /// Whether delivery failed (exit 5).
    pub(crate) fn failed(&self) -> bool {
        matches!(self, EmailStep::Failed)
    }

    /// The `.eml` file written by `--email-preview`, if one was.
    pub(crate) fn preview(&self) -> Option<&Path> {
        match self {
            EmailStep::Done(Delivered::Previewed(path)) => Some(path),
            _ => None,
        }
    }
}

/// Deliver unless the command is stopped: no email is started after a stop, and one under way
/// is dropped mid-conversation when a stop arrives (Kubernetes kills the pod soon after SIGTERM;
/// the exit and the reports must come first).
pub(crate) async fn deliver_unless_stopped(
    report: &Report,
    job: &EmailJob<'_>,
    stop: &StopSignal,
) -> EmailStep {
    if stop.by_signal() {
        let reason = stop.reason().unwrap_or_default();
        tracing::warn!(reason = %reason, "the run was stopped; no email is started (the reports are on disk)");
        return EmailStep::Stopped;
    }
    tokio::select! {
        biased;
        () = stop.signalled() => {
            let reason = stop.reason().unwrap_or_default();
            tracing::warn!(reason = %reason, "the run was stopped; the email under way is abandoned (the reports are on disk)");
            EmailStep::Stopped
        }
        step = deliver_logged(report, job) => step,
    }
}

/// Deliver, and log what happened.
async fn deliver_logged(report: &Report, job: &EmailJob<'_>) -> EmailStep {
    match deliver(report, job).await {
        Ok(delivered) => {
            match &delivered {
                Delivered::Sent {
                    recipients,
                    attempts,
                } => tracing::info!(recipients, attempts, "email sent"),
                Delivered::Previewed(path) => {
                    tracing::info!(file = %path.display(), "email written, not sent (--email-preview)")
                }
                Delivered::NotNeeded => {
                    let policy = match job.config.send {
                        SendPolicy::Always => "always",
                        SendPolicy::Problems => "problems",
                        SendPolicy::Changes => "changes",
                    };
                    tracing::info!(
                        "email not sent: nothing calls for it under email.send = \"{policy}\""
                    );
                }
            }
            EmailStep::Done(delivered)
        }
        Err(e) => {
            tracing::error!(error = %e, "email delivery failed; the reports are on disk");
            EmailStep::Failed
        }
    }
}
