//! The `[email]` section: who gets the report, when, with what attached, through which server
//! (named, never held: the SMTP URL is a secret reference).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cfg::SecretRef;

/// What `[email] attach` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attachment {
    /// report.html
    Html,
    /// findings.csv
    Csv,
    /// accounts.csv
    Accounts,
    /// report.json
    Json,
    /// report.xlsx, the workbook for reviewers
    Xlsx,
}

/// When the email goes out (`email.send`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendPolicy {
    /// After every run.
    #[default]
    Always,
    /// Only when the run would exit 3 or 4: failing findings at or above `fail_on`, or an
    /// incomplete run. A clean run sends nothing.
    Problems,
    /// Only when something changed since the baseline (`--baseline`): a new or a resolved
    /// finding, or an incomplete run. Without a baseline, like `always`.
    Changes,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub enabled: bool,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub smtp_url: Option<SecretRef>,
    pub attach: Vec<Attachment>,
    pub send: SendPolicy,
    /// Handlebars template of the subject line; `None` = the built-in one.
    pub subject: Option<String>,
    /// PEM file of a private CA that signed the SMTP server's certificate.
    pub smtp_ca_file: Option<PathBuf>,
    /// Attachments beyond this total size are left out (and the email says so).
    pub max_attachment_mb: u32,
    /// How long one SMTP attempt may take, from connecting to the server's last answer.
    pub timeout: Duration,
}

impl EmailConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// Shorter than a second fails on any real network; longer than ten minutes is a hang.
    pub const TIMEOUT_RANGE: std::ops::RangeInclusive<Duration> =
        Duration::from_secs(1)..=Duration::from_secs(600);

    /// What must be set for email to be sent: `(key, message)` of the first thing missing.
    pub fn check_complete(&self) -> Result<(), (&'static str, String)> {
        if self.from.is_none() {
            return Err(("from", "email is enabled but `from` is not set".into()));
        }
        if self.to.is_empty() {
            return Err(("to", "email is enabled but `to` lists no recipient".into()));
        }
        if self.smtp_url.is_none() {
            return Err((
                "smtp_url_env",
                "email is enabled but neither `smtp_url_env` nor `smtp_url_file` is set".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod config_tests;
