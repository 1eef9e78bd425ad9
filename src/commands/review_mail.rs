//! Emailing an access review (CONTRACT section 9): each reviewer's worksheet at
//! `review start --email | --email-preview DIR`, and at `review status --remind` a reminder to
//! each reviewer with rows outstanding. The same `[email]` sender, SMTP server, CA, timeout and
//! retries as the run's email (`deliver::smtp`); one message per reviewer, and one reviewer's
//! failure does not stop the others. The review is saved before anything is sent: a delivery
//! that fails makes the command exit 5, and names who did not get their message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::access_review::mail::{self, Kind};
use crate::access_review::state::State;
use crate::config::Config;
use crate::deliver::email::EmailConfig;
use crate::deliver::smtp;
use crate::exit::ExitStatus;
use crate::settings::EmailDelivery;

/// How a review's messages leave, resolved from the command line and `[email]` before any work.
pub(crate) struct ReviewMailer {
    delivery: EmailDelivery,
    config: EmailConfig,
}

impl ReviewMailer {
    /// `--email` needs `email.from` and the SMTP URL (`email.to` is not used: the reviewers are
    /// the recipients); `--email-preview DIR` needs only `email.from`. Neither: nothing is sent.
    pub(crate) fn resolve(
        send: bool,
        preview: Option<&Path>,
        config: &Config,
    ) -> Result<ReviewMailer, Error> {
        let delivery = match (send, preview) {
            (_, Some(dir)) => {
                require_from(config, "--email-preview")?;
                EmailDelivery::Preview(dir.to_path_buf())
            }
            (true, None) => {
                require_from(config, "--email")?;
                let url = config.resolve_smtp_url()?;
                EmailDelivery::Send(crate::settings::smtp_target(config, &url)?)
            }
            (false, None) => EmailDelivery::Off,
        };
        Ok(ReviewMailer {
            delivery,
            config: config.email.clone(),
        })
    }

    pub(crate) fn is_off(&self) -> bool {
        matches!(self.delivery, EmailDelivery::Off)
    }

    /// One message of `kind` to each of `reviewers`, with their worksheet attached. Prints what
    /// went where; `EmailFailed` when any reviewer's message was not delivered.
    pub(crate) async fn send_all(
        &self,
        run_dir: &Path,
        state: &State,
        reviewers: &[String],
        kind: Kind,
    ) -> Result<ExitStatus, Error> {
        let mut out = String::new();
        let mut failed = Vec::new();
        for who in reviewers {
            match self.send_one(run_dir, state, who, kind).await {
                Ok(done) => {
                    let _ = writeln!(out, "  {who}: {done}");
                }
                Err(e) => {
                    tracing::error!(reviewer = %who, error = %e, "review email not delivered");
                    let _ = writeln!(out, "  {who}: NOT DELIVERED: {e}");
                    failed.push(who.as_str());
                }
            }
        }
        let head = match kind {
            Kind::Worksheet => "Worksheets emailed:",
            Kind::Reminder { .. } => "Reminders:",
        };
        if reviewers.is_empty() {
            out = "  nobody has rows outstanding: no reminder sent\n".to_string();
        }
        crate::output::to_stdout(format!("{head}\n{out}").as_bytes()).map_err(Error::Fatal)?;
        if failed.is_empty() {
            return Ok(ExitStatus::Clean);
        }
        tracing::error!(
            "the review is saved, but these reviewers did not get their email: {}",
            failed.join(", ")
        );
        Ok(ExitStatus::EmailFailed)
    }

    /// Compose and send (or preview) one reviewer's message; what happened, for people.
    async fn send_one(
        &self,
        run_dir: &Path,
        state: &State,
        who: &str,
        kind: Kind,
    ) -> Result<String, String> {
        let files = mail::read_files(run_dir, who)?;
        let message = mail::compose(&self.config, state, who, kind, files)?;
        match &self.delivery {
            EmailDelivery::Preview(dir) => {
                let path: PathBuf = smtp::write_preview(message, dir).await?;
                Ok(format!("written to {} (not sent)", path.display()))
            }
            EmailDelivery::Send(target) => {
                let attempts = smtp::send(target, message, self.config.timeout).await?;
                Ok(format!(
                    "sent ({attempts} attempt{})",
                    crate::report::plural(attempts as usize)
                ))
            }
            EmailDelivery::Off => Err("email is off".to_string()),
        }
    }
}

fn require_from(config: &Config, flag: &str) -> Result<(), Error> {
    if config.email.from.is_none() {
        return Err(config
            .error_at(
                &["email", "from"],
                format!("{flag} needs email.from to be set: the reviewers get mail from it"),
            )
            .into());
    }
    Ok(())
}

/// The reviewers who have rows outstanding: the ones a reminder goes to.
pub(crate) fn outstanding_reviewers(state: &State) -> Vec<String> {
    state
        .reviewers
        .keys()
        .filter(|who| mail::outstanding_count(state, who) > 0)
        .cloned()
        .collect()
}
