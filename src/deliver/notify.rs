//! `[notify]`: after the reports are written, a Slack message (incoming webhook,
//! Block Kit) and/or a generic JSON webhook signed with HMAC-SHA256.
//!
//! Three steps, each called by the run at its own stage: [`validate`] the table when the config
//! is read (names of secrets only); [`prepare`] before any request is made (reads the URLs and
//! the signing secret, checks them, registers them with [`crate::redact`]); [`send`] once the
//! report exists. The policy decision ([`wanted`]) is a pure function, like email's.

use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::post::{Accepted, Endpoint, Retry};
use super::target::{DeliveryError, NamedSecret, Target};
use crate::cfg::values::EnvVarName;
use crate::deliver::email::SendPolicy;
use crate::model::{FailOn, serialize_time_value};
use crate::report::{Report, Summary};

mod slack;
pub use slack::slack_message;

/// The header that carries the generic webhook's signature.
pub const SIGNATURE_HEADER: &str = "x-access-audit-signature";
const TABLE: &str = "notify";

/// `[notify]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    #[serde(default)]
    send: SendPolicy,
    slack_webhook_url_env: Option<EnvVarName>,
    slack_webhook_url_file: Option<PathBuf>,
    webhook_url_env: Option<EnvVarName>,
    webhook_url_file: Option<PathBuf>,
    webhook_secret_env: Option<EnvVarName>,
    webhook_secret_file: Option<PathBuf>,
}

/// `[notify]`, checked: where each secret comes from, and when to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub send: SendPolicy,
    pub slack: Option<NamedSecret>,
    pub webhook: Option<NamedSecret>,
    pub webhook_secret: Option<NamedSecret>,
}

/// Check `[notify]`. `Err((key, message))` names the key at fault within the table.
pub fn validate(raw: RawNotify) -> Result<NotifySettings, (&'static str, String)> {
    let slack = NamedSecret::pick(
        raw.slack_webhook_url_env,
        raw.slack_webhook_url_file,
        ("slack_webhook_url_env", "slack_webhook_url_file"),
    )?;
    let webhook = NamedSecret::pick(
        raw.webhook_url_env,
        raw.webhook_url_file,
        ("webhook_url_env", "webhook_url_file"),
    )?;
    let webhook_secret = NamedSecret::pick(
        raw.webhook_secret_env,
        raw.webhook_secret_file,
        ("webhook_secret_env", "webhook_secret_file"),
    )?;
    if slack.is_none() && webhook.is_none() {
        return Err((
            "slack_webhook_url_env",
            "[notify] names no destination: set `slack_webhook_url_env` (or `_file`) for Slack and/or \
             `webhook_url_env` (or `_file`) for a JSON webhook"
                .into(),
        ));
    }
    if let (Some(secret), None) = (&webhook_secret, &webhook) {
        return Err((
            secret.key,
            "the secret signs the generic webhook's body, but no `webhook_url_env` (or `_file`) is set".into(),
        ));
    }
    Ok(NotifySettings {
        send: raw.send,
        slack,
        webhook,
        webhook_secret,
    })
}

/// Ready to send: the URLs and the signing key, read and checked. `Debug` shows origins only.
pub struct Notifier {
    send: SendPolicy,
    slack: Option<Endpoint>,
    webhook: Option<Endpoint>,
    secret: Option<SecretString>,
    retry: Retry,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("send", &self.send)
            .field("slack", &self.slack)
            .field("webhook", &self.webhook)
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Where notifications go, as may be shown (`https://hooks.slack.com`), for the plan.
    pub fn destinations(&self) -> Vec<(Target, &str)> {
        [
            (Target::Slack, &self.slack),
            (Target::Webhook, &self.webhook),
        ]
        .into_iter()
        .filter_map(|(t, e)| e.as_ref().map(|e| (t, e.origin())))
        .collect()
    }

    /// Another retry policy (tests shorten the backoff).
    pub fn with_retry(mut self, retry: Retry) -> Notifier {
        self.retry = retry;
        self
    }
}

/// Read the secrets `[notify]` names and check the URLs: `https://`, or `http://` to loopback.
/// Call it before the run makes any request, so a missing secret stops the run early.
pub fn prepare(settings: &NotifySettings) -> Result<Notifier, DeliveryError> {
    let retry = Retry::default();
    let endpoint =
        |named: &Option<NamedSecret>, target: Target| -> Result<Option<Endpoint>, DeliveryError> {
            named
                .as_ref()
                .map(|n| {
                    let url = n.resolve_url(target, TABLE, false)?;
                    Endpoint::new(target, url, retry.timeout)
                })
                .transpose()
        };
    let slack = endpoint(&settings.slack, Target::Slack)?;
    let webhook = endpoint(&settings.webhook, Target::Webhook)?;
    let secret = settings
        .webhook_secret
        .as_ref()
        .map(|n| n.resolve(Target::Webhook, TABLE))
        .transpose()?;
    Ok(Notifier {
        send: settings.send,
        slack,
        webhook,
        secret,
        retry,
    })
}

/// New and resolved findings against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    pub new: usize,
    pub resolved: usize,
    #[serde(skip)]
    pub baseline_as_of: String,
}

/// A scope that could not be audited, for the Slack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedScope {
    pub source_name: String,
    pub scope: String,
    pub http_status: Option<u16>,
}

/// What a notification says. Serialised, it is exactly the generic webhook's documented body
/// (receivers parse it); the fields marked `skip` serve the policy decision and the Slack layout.
#[derive(Debug, Clone, Serialize)]
pub struct NotifySummary {
    pub schema_version: u32,
    pub title: String,
    #[serde(serialize_with = "serialize_time_value")]
    pub as_of: DateTime<Utc>,
    /// The report's verdict line: "3 failing findings across 4 scopes — 1 scope could not be audited".
    pub verdict: String,
    pub complete: bool,
    pub summary: Summary,
    pub changes: Option<ChangeCounts>,
    pub report_url: Option<String>,
    /// Unsuppressed failing findings at or above `fail_on`: what `send = "problems"` looks at.
    #[serde(skip)]
    pub failing_at_or_above: usize,
    #[serde(skip)]
    pub fail_on: FailOn,
    #[serde(skip)]
    pub failed_scopes: Vec<FailedScope>,
    #[serde(skip)]
    pub tool_version: String,
}

impl NotifySummary {
    /// The summary of `report`. Changes come from `report.changes` (filled when the run had a
    /// baseline); `report_url` is where the uploaded report can be opened, if it was uploaded.
    pub fn from_report(
        report: &Report,
        fail_on: FailOn,
        report_url: Option<String>,
    ) -> NotifySummary {
        NotifySummary {
            schema_version: 1,
            title: report.title.clone(),
            as_of: report.as_of,
            verdict: report.verdict(),
            complete: report.complete,
            summary: report.summary.clone(),
            changes: report.changes.as_ref().map(|c| ChangeCounts {
                new: c.new,
                resolved: c.resolved.len(),
                baseline_as_of: c.baseline_as_of.clone(),
            }),
            report_url,
            failing_at_or_above: report.failing_at_or_above(fail_on),
            fail_on,
            failed_scopes: report
                .scopes
                .iter()
                .filter(|s| s.status == crate::model::ScopeStatus::Failed)
                .map(|s| FailedScope {
                    source_name: s.source_name.clone(),
                    scope: s.scope.clone(),
                    http_status: s.error.as_ref().and_then(|e| e.http_status),
                })
                .collect(),
            tool_version: report.tool.version.clone(),
        }
    }

    /// The generic webhook's body.
    pub fn webhook_body(&self) -> Result<Vec<u8>, DeliveryError> {
        serde_json::to_vec(self).map_err(|e| {
            DeliveryError::new(Target::Webhook, format!("cannot serialise the body: {e}"))
        })
    }
}

/// Whether this run calls for a notification under `policy` — the same rule as email's
/// `send`: `problems` = failing findings at or above `fail_on`, or an incomplete run;
/// `changes` = a new or resolved finding against the baseline, or an incomplete run (without
/// a baseline, always).
pub fn wanted(summary: &NotifySummary, policy: SendPolicy) -> bool {
    match policy {
        SendPolicy::Always => true,
        SendPolicy::Problems => !summary.complete || summary.failing_at_or_above > 0,
        SendPolicy::Changes => {
            !summary.complete
                || summary
                    .changes
                    .as_ref()
                    .is_none_or(|c| c.new > 0 || c.resolved > 0)
        }
    }
}

/// What was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyReceipt {
    /// The `send` policy did not call for a notification.
    NotWanted,
    /// Each configured destination accepted its message.
    Sent {
        slack: Option<Accepted>,
        webhook: Option<Accepted>,
    },
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Send to every configured destination (both are tried even if one fails). A failure after
/// retries is an error naming each destination that failed, and saying which succeeded.
pub async fn send(
    notifier: &Notifier,
    summary: &NotifySummary,
) -> Result<NotifyReceipt, DeliveryError> {
    if !wanted(summary, notifier.send) {
        return Ok(NotifyReceipt::NotWanted);
    }
    let slack = async {
        match &notifier.slack {
            Some(endpoint) => {
                let body = serde_json::to_vec(&slack_message(summary)).map_err(|e| {
                    DeliveryError::new(Target::Slack, format!("cannot serialise the message: {e}"))
                })?;
                post_json(endpoint, body, None, &notifier.retry)
                    .await
                    .map(Some)
            }
            None => Ok(None),
        }
    };
    let webhook = async {
        match &notifier.webhook {
            Some(endpoint) => {
                let body = summary.webhook_body()?;
                let secret = notifier
                    .secret
                    .as_ref()
                    .map(|s| s.expose_secret().as_bytes());
                post_json(endpoint, body, secret, &notifier.retry)
                    .await
                    .map(Some)
            }
            None => Ok(None),
        }
    };
    let (slack, webhook) = futures::join!(slack, webhook);
    combine(slack, webhook)
}

fn combine(
    slack: Result<Option<Accepted>, DeliveryError>,
    webhook: Result<Option<Accepted>, DeliveryError>,
) -> Result<NotifyReceipt, DeliveryError> {
    match (slack, webhook) {
        (Ok(slack), Ok(webhook)) => Ok(NotifyReceipt::Sent { slack, webhook }),
        (Err(e), Ok(other)) | (Ok(other), Err(e)) => {
            let mut e = e;
            if other.is_some() {
                let delivered = match e.target {
                    Target::Slack => "the generic webhook",
                    _ => "the Slack message",
                };
                e.message.push_str(&format!(" ({delivered} was delivered)"));
            }
            Err(e)
        }
        (Err(slack), Err(webhook)) => {
            let mut e = slack;
            e.message = format!("{}; and webhook: {}", e.message, webhook.message);
            Err(e)
        }
    }
}

async fn post_json(
    endpoint: &Endpoint,
    body: Vec<u8>,
    secret: Option<&[u8]>,
    retry: &Retry,
) -> Result<Accepted, DeliveryError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secret) = secret {
        let value = HeaderValue::from_str(&signature(secret, &body))
            .map_err(|e| DeliveryError::new(Target::Webhook, format!("cannot sign: {e}")))?;
        headers.insert(HeaderName::from_static(SIGNATURE_HEADER), value);
    }
    endpoint
        .send(Method::POST, headers, Bytes::from(body), retry)
        .await
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
