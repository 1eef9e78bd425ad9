//! What a command that writes a report will do with it, resolved once from the config file and
//! the command line: where the reports go, in which formats, what makes the command fail, and
//! how (or whether) the report is emailed. `run`, `merge` and every later command that writes a
//! report go through [`Settings::resolve`], so the same config and options are accepted or
//! refused the same way everywhere, before any work is done.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::cli::{EmailArgs, OutputArgs};
use crate::config::Config;
use crate::deliver::DeliveryError;
use crate::deliver::email::EmailConfig;
use crate::deliver::metrics::{self, Pusher};
use crate::deliver::notify::{self, Notifier};
use crate::deliver::smtp::SmtpTarget;
use crate::deliver::store::{CloudEnv, Store};
use crate::model::FailOn;
use crate::output::DirLock;
use crate::report::Format;
use crate::templates::Templates;

/// How the report leaves by email.
pub(crate) enum EmailDelivery {
    Off,
    Send(SmtpTarget),
    /// Write the message as `DIR/<id>.eml` instead of sending it.
    Preview(PathBuf),
}

/// Everything the finish stage needs, checked.
pub(crate) struct Settings {
    pub output_dir: PathBuf,
    /// Deduplicated, in a fixed order.
    pub formats: Vec<Format>,
    pub fail_on: FailOn,
    pub templates: Templates,
    pub email: EmailDelivery,
    pub email_config: EmailConfig,
    /// Object storage, notifications, metrics: prepared, used after the reports are written.
    pub targets: Targets,
    /// When the command started, for the metrics.
    pub started_at: DateTime<Utc>,
    /// This run's id: in the start log line, the report (`run.run_id`) and the metrics, so the
    /// three can be matched. `ACCESS_AUDIT_RUN_ID` sets it (to a scheduler's job name, say);
    /// otherwise it is random.
    pub run_id: String,
    /// Print a short summary on stdout at the end (off with `-q`).
    pub summary: bool,
    /// The evidence archive this command recorded (`run --evidence`), stored with the reports.
    /// An archive replayed is the command's input, not something it wrote: not set.
    pub recorded_evidence: Option<PathBuf>,
    /// Held until the command ends: a second command writing into the same directory fails at
    /// once instead of mixing its reports with ours.
    _lock: DirLock,
}

impl Settings {
    /// Resolve and check everything about delivery — the output directory (created, locked,
    /// writable), templates, email addresses and the SMTP secret — so that an operator's mistake
    /// fails here (exit 1), never after the work is done.
    pub(crate) fn resolve(
        output: &OutputArgs,
        email: &EmailArgs,
        config: &Config,
        as_of: &DateTime<Utc>,
    ) -> Result<Settings, Error> {
        let output_dir = output
            .out
            .clone()
            .unwrap_or_else(|| config.report.output_dir.clone());
        let output_dir =
            crate::output::expand_placeholders(&output_dir, as_of).map_err(Error::Fatal)?;
        let mut formats = output
            .format
            .clone()
            .unwrap_or_else(|| config.report.formats.clone());
        formats.sort();
        formats.dedup();
        let templates =
            Templates::load(config.report.template_dir.as_deref()).map_err(Error::Fatal)?;
        let email = email_delivery(email, config)?;
        let targets = Targets::prepare(config, as_of)?;
        let lock = prepare_output_dir(&output_dir)?;
        let run_id = run_id()?;
        tracing::info!(
            run_id,
            version = crate::cli::VERSION,
            output_dir = %output_dir.display(),
            "access-audit started"
        );
        Ok(Settings {
            output_dir,
            formats,
            fail_on: output.fail_on.unwrap_or(config.report.fail_on),
            templates,
            email,
            email_config: config.email.clone(),
            targets,
            started_at: Utc::now(),
            run_id,
            summary: true,
            recorded_evidence: None,
            _lock: lock,
        })
    }
}

/// The delivery targets beyond email, each ready to use: its secrets read (and registered for
/// redaction), its URL checked. A problem here is the operator's (exit 1), found before any work.
#[derive(Default)]
pub(crate) struct Targets {
    pub store: Option<Store>,
    pub notifier: Option<Notifier>,
    pub metrics_textfile: Option<PathBuf>,
    pub pusher: Option<Pusher>,
    /// `[review] ledger_dir`: a `run` record is appended there after the reports are written.
    pub ledger_dir: Option<PathBuf>,
}

impl Targets {
    /// Used by every command that writes a report, and by `check-config` (which sends nothing).
    pub(crate) fn prepare(config: &Config, as_of: &DateTime<Utc>) -> Result<Targets, Error> {
        let located = |e: DeliveryError| -> Error {
            match &e.key {
                Some(key) => {
                    let path: Vec<&str> = key.split('.').collect();
                    config.error_at(&path, e.message.clone()).into()
                }
                None => Error::Fatal(e.to_string()),
            }
        };
        let store = match &config.store {
            Some(s) => Some(Store::connect(s, as_of, &CloudEnv::from_process()).map_err(located)?),
            None => None,
        };
        let notifier = match &config.notify {
            Some(n) => Some(notify::prepare(n).map_err(located)?),
            None => None,
        };
        let (metrics_textfile, pusher) = match &config.metrics {
            Some(m) => (
                m.textfile.clone(),
                metrics::prepare_push(m).map_err(located)?,
            ),
            None => (None, None),
        };
        // A ledger that cannot take another record (a torn last line) fails now, before any work.
        let ledger_dir = match &config.review {
            Some(r) => {
                crate::ledger::check_tail(&r.ledger_dir).map_err(Error::Fatal)?;
                Some(r.ledger_dir.clone())
            }
            None => None,
        };
        Ok(Targets {
            store,
            notifier,
            metrics_textfile,
            pusher,
            ledger_dir,
        })
    }
}

/// `--email-preview` needs the addresses but no server; sending needs both; `--email` /
/// `--no-email` override `email.enabled`.
fn email_delivery(args: &EmailArgs, config: &Config) -> Result<EmailDelivery, Error> {
    if let Some(dir) = &args.email_preview {
        if config.email.from.is_none() {
            return Err(config
                .error_at(
                    &["email", "from"],
                    "--email-preview needs email.from to be set".into(),
                )
                .into());
        }
        if config.email.to.is_empty() {
            return Err(config
                .error_at(
                    &["email", "to"],
                    "--email-preview needs at least one address in email.to".into(),
                )
                .into());
        }
        return Ok(EmailDelivery::Preview(dir.clone()));
    }
    let enabled = args.email || (config.email.enabled && !args.no_email);
    if !enabled {
        return Ok(EmailDelivery::Off);
    }
    config
        .email
        .check_complete()
        .map_err(|(key, msg)| config.error_at(&["email", key], msg))?;
    let url = config.resolve_smtp_url()?;
    Ok(EmailDelivery::Send(smtp_target(config, &url)?))
}

/// The server the config's `[email]` names, with errors located at the key that names the URL.
pub(crate) fn smtp_target(
    config: &Config,
    url: &secrecy::SecretString,
) -> Result<SmtpTarget, crate::cfg::ConfigError> {
    SmtpTarget::parse(url, config.email.smtp_ca_file.as_deref()).map_err(|m| {
        let key = match &config.email.smtp_url {
            Some(crate::cfg::SecretRef::File(_)) => "smtp_url_file",
            _ => "smtp_url_env",
        };
        config.error_at(&["email", key], format!("the SMTP URL is not usable: {m}"))
    })
}

fn prepare_output_dir(dir: &std::path::Path) -> Result<DirLock, Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Fatal(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    let lock = crate::output::lock_dir(dir).map_err(Error::Fatal)?;
    crate::output::probe_writable(dir).map_err(|e| Error::Fatal(format!("output {e}")))?;
    Ok(lock)
}

/// `ACCESS_AUDIT_RUN_ID` if set (checked: it lands in logs, file metadata and metric labels), or
/// 16 random hex digits.
fn run_id() -> Result<String, Error> {
    const VAR: &str = "ACCESS_AUDIT_RUN_ID";
    match std::env::var(VAR) {
        Ok(id) => {
            let ok = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if ok {
                Ok(id)
            } else {
                Err(Error::Fatal(format!(
                    "{VAR} `{}` is not a run id: 1 to 64 letters, digits, `.`, `_` or `-`",
                    id.escape_debug()
                )))
            }
        }
        Err(std::env::VarError::NotPresent) => Ok(format!("{:016x}", rand::random::<u64>())),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Fatal(format!("{VAR} is not valid UTF-8")))
        }
    }
}
