//! What the delivery targets beyond email ([`super::store`], [`super::notify`],
//! [`super::metrics`]) have in common: the error they return and the outcome the run records.
//!
//! A [`DeliveryError`] names the target, what failed and where (bucket and key, URL host, HTTP
//! status) and never a secret: its text passes through [`crate::redact`] when it is made, and
//! webhook URLs are shown as `scheme://host` only.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::cfg::SecretRef;
use crate::cfg::values::EnvVarName;

/// Where something was being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `[store]`: the object store that receives the run folder.
    Store,
    /// `[notify] slack_webhook_url_*`.
    Slack,
    /// `[notify] webhook_url_*`: the generic JSON webhook.
    Webhook,
    /// `[metrics] textfile`.
    Textfile,
    /// `[metrics] pushgateway_url_*`.
    Pushgateway,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Store => "store",
            Target::Slack => "slack",
            Target::Webhook => "webhook",
            Target::Textfile => "metrics textfile",
            Target::Pushgateway => "pushgateway",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest message kept: a server's error page is not worth more in a log line.
const MAX_MESSAGE_CHARS: usize = 1000;

/// A delivery that failed, or a target that cannot be used as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{target}: {message}")]
pub struct DeliveryError {
    pub target: Target,
    /// The HTTP status of the last answer, when an answer came.
    pub status: Option<u16>,
    /// The config key at fault, when the problem is the configuration or a secret it names
    /// (`notify.webhook_url_env`): the caller locates it with `Config::error_at`.
    pub key: Option<String>,
    /// What failed and where; redacted, bounded, free of control characters.
    pub message: String,
}

impl DeliveryError {
    pub fn new(target: Target, message: impl AsRef<str>) -> DeliveryError {
        DeliveryError {
            target,
            status: None,
            key: None,
            message: clean(message.as_ref()),
        }
    }

    pub fn with_status(mut self, status: Option<u16>) -> DeliveryError {
        self.status = status;
        self
    }

    /// Blame a config key (`[table] key`), for errors found while preparing a target.
    pub fn at_key(mut self, table: &str, key: &str) -> DeliveryError {
        self.key = Some(format!("{table}.{key}"));
        self
    }
}

/// Text from outside (a server's error body, a library's message) made fit for a log line:
/// registered secrets masked, control characters escaped, length bounded.
pub(crate) fn clean(text: &str) -> String {
    let redacted = crate::redact::redact(text);
    let mut out = String::with_capacity(redacted.len().min(MAX_MESSAGE_CHARS));
    for (i, c) in redacted.chars().enumerate() {
        if i == MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// What became of one delivery target in a run, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    Ok,
    Failed,
    /// Not configured, not enabled, or not called for by its `send` policy.
    Skipped,
}

impl DeliveryOutcome {
    pub const ALL: [DeliveryOutcome; 3] = [
        DeliveryOutcome::Ok,
        DeliveryOutcome::Failed,
        DeliveryOutcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Ok => "ok",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Skipped => "skipped",
        }
    }
}

/// `scheme://host[:port]` of a URL: what may be shown of a secret URL.
pub(crate) fn shown_origin(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        (None, _) => format!("{}://", url.scheme()),
    }
}

/// A secret named by a `*_env` or `*_file` key, and which key named it (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSecret {
    pub source: SecretRef,
    pub key: &'static str,
}

impl NamedSecret {
    /// The secret named by one of a pair of keys; both set is a mistake.
    pub(crate) fn pick(
        env: Option<EnvVarName>,
        file: Option<PathBuf>,
        (env_key, file_key): (&'static str, &'static str),
    ) -> Result<Option<NamedSecret>, (&'static str, String)> {
        match (env, file) {
            (Some(env), None) => Ok(Some(NamedSecret {
                source: SecretRef::Env(env.0),
                key: env_key,
            })),
            (None, Some(path)) => Ok(Some(NamedSecret {
                source: SecretRef::File(path),
                key: file_key,
            })),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err((
                file_key,
                format!("set either `{env_key}` or `{file_key}`, not both"),
            )),
        }
    }

    /// Read the secret and register it with [`crate::redact`]. The error names the key and
    /// where the secret was looked for, never what was found.
    pub(crate) fn resolve(
        &self,
        target: Target,
        table: &str,
    ) -> Result<SecretString, DeliveryError> {
        let value = self
            .source
            .resolve()
            .map_err(|m| DeliveryError::new(target, m).at_key(table, self.key))?;
        crate::redact::register(value.expose_secret());
        Ok(value)
    }

    /// Read a secret URL: `https://`, or `http://` to a loopback host (or to any host when
    /// `plain_http_anywhere`, for targets whose requests carry no secret). Its credentials, its
    /// path and itself are registered with [`crate::redact`]; errors never quote it.
    pub(crate) fn resolve_url(
        &self,
        target: Target,
        table: &str,
        plain_http_anywhere: bool,
    ) -> Result<Url, DeliveryError> {
        let secret = self.resolve(target, table)?;
        let text = secret.expose_secret().trim();
        crate::redact::register_url_credentials(text);
        let fail = |m: String| {
            DeliveryError::new(target, format!("{} {m}", self.source.describe()))
                .at_key(table, self.key)
        };
        let url = Url::parse(text).map_err(|_| fail("does not hold a URL".into()))?;
        crate::redact::register(&url[url::Position::BeforePath..]);
        let loopback = crate::cfg::values::is_loopback_host(&url);
        let has_credentials = !url.username().is_empty() || url.password().is_some();
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" if plain_http_anywhere && !has_credentials => {}
            "http" => {
                return Err(fail(format!(
                    "holds a plain http:// URL to {}, which is not loopback: use https://",
                    shown_origin(&url)
                )));
            }
            other => return Err(fail(format!("holds a `{other}:` URL: expected https://"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(fail("holds a URL without a host".into()));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cleaned_and_bounded() {
        crate::redact::register("target-test-secret-42");
        let e = DeliveryError::new(
            Target::Webhook,
            "line one\nline two target-test-secret-42 \u{1b}[31m",
        );
        assert_eq!(
            e.message, "line one line two [REDACTED] \\u{1b}[31m",
            "{}",
            e.message
        );
        let long = "x".repeat(5000);
        let e = DeliveryError::new(Target::Store, &long);
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert_eq!(e.to_string().split(':').next(), Some("store"));
    }

    #[test]
    fn origins_hide_paths_and_credentials() {
        let url = url::Url::parse("https://u:p@hooks.slack.com/services/T0/B0/secret?x=1").unwrap();
        assert_eq!(shown_origin(&url), "https://hooks.slack.com");
        let url = url::Url::parse("http://127.0.0.1:9091/metrics").unwrap();
        assert_eq!(shown_origin(&url), "http://127.0.0.1:9091");
    }
}
