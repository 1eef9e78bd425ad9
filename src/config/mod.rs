//! The config file (CONTRACT section 3): schema, validation, and where secrets come from.
//!
//! Reading happens in two steps. The TOML is deserialized into raw structs whose value types
//! validate themselves (so a bad value is reported with its key and line), then the raw structs
//! are checked as a whole (unique names, keys that belong to the other source type, …) and turned
//! into [`Config`]. Secrets are only *named* here; [`Config::resolve_secrets`] reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cfg::values::{
    AllOr, BaseUrl, Days, EnvVarName, HumanDuration, ProfileId, ProjectId, Slug,
};
use crate::cfg::{ConfigError, KeySegment, SecretRef, locate};

use crate::deliver::email::{Attachment, EmailConfig, SendPolicy};
use crate::files::Symlinks;
use crate::http::FetchSettings;
use crate::model::{FailOn, Severity, SourceKind};
use crate::report::Format;
use crate::rules::RuleSettings;
use crate::sources::spec::{DEFAULT_INVITE_TTL_DAYS, Selection, SourceConfig, SourceSpec};

#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub title: String,
    pub output_dir: PathBuf,
    pub formats: Vec<Format>,
    pub fail_on: FailOn,
    /// Replacement templates (`report.html.hbs`, `email.html.hbs`, `email.txt.hbs`).
    pub template_dir: Option<PathBuf>,
}

/// Bounds of the configurable durations: a mistyped `"500000000000years"` is refused at
/// validation instead of overflowing a clock later.
pub const REQUEST_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));
pub const MAX_RETRY_WAIT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` when built from defaults.
    pub file: Option<PathBuf>,
    /// SHA-256 of the file's bytes, for the report's run metadata.
    pub digest: Option<String>,
    /// The file's text, to locate keys in errors found after loading (secrets, email).
    text: Option<String>,
    pub report: ReportConfig,
    pub rules: RuleSettings,
    pub sources: Vec<SourceConfig>,
    pub email: EmailConfig,
    /// The suppressions file, if any.
    pub suppressions: Option<PathBuf>,
    /// The people roster, if any.
    pub roster: Option<crate::people::RosterConfig>,
    /// `[store]`: upload the run folder to object storage.
    pub store: Option<crate::deliver::store::StoreSettings>,
    /// `[notify]`: Slack and/or a signed JSON webhook.
    pub notify: Option<crate::deliver::notify::NotifySettings>,
    /// `[metrics]`: Prometheus textfile and/or Pushgateway.
    pub metrics: Option<crate::deliver::metrics::MetricsSettings>,
}

/// Secrets read for a run, by source name.
pub struct Secrets {
    pub sources: BTreeMap<String, SecretString>,
    pub smtp_url: Option<SecretString>,
}

// ---------------------------------------------------------------------------------------------
// Raw schema

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    /// Path of the suppressions file (accepted risk), relative to the working directory.
    suppressions: Option<PathBuf>,
    report: RawReport,
    roster: Option<crate::people::RosterConfig>,
    rules: RuleSettings,
    sources: Vec<RawSource>,
    email: RawEmail,
    store: Option<crate::deliver::store::RawStore>,
    notify: Option<crate::deliver::notify::RawNotify>,
    metrics: Option<crate::deliver::metrics::RawMetrics>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReport {
    title: String,
    output_dir: PathBuf,
    formats: Vec<Format>,
    fail_on: FailOn,
    template_dir: Option<PathBuf>,
}

impl Default for RawReport {
    fn default() -> Self {
        RawReport {
            title: "Access audit".into(),
            output_dir: PathBuf::from("reports"),
            formats: Format::ALL.to_vec(),
            fail_on: FailOn::Severity(Severity::Low),
            template_dir: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(rename = "type")]
    kind: SourceKind,
    name: Option<String>,
    base_url: Option<BaseUrl>,
    // Sentry
    token_env: Option<EnvVarName>,
    token_file: Option<PathBuf>,
    organizations: Option<AllOr<Slug>>,
    projects: Option<Vec<ProjectId>>,
    // Sent.dm
    api_key_env: Option<EnvVarName>,
    api_key_file: Option<PathBuf>,
    profiles: Option<AllOr<ProfileId>>,
    invite_ttl_days: Option<Days>,
    // Both
    concurrency: Option<u32>,
    requests_per_minute: Option<u32>,
    burst: Option<u32>,
    request_timeout: Option<HumanDuration>,
    max_attempts: Option<u32>,
    max_retry_wait: Option<HumanDuration>,
    max_response_mb: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawEmail {
    enabled: bool,
    from: Option<String>,
    to: Vec<String>,
    smtp_url_env: Option<EnvVarName>,
    smtp_url_file: Option<PathBuf>,
    attach: Option<Vec<Attachment>>,
    send: SendPolicy,
    subject: Option<String>,
    smtp_ca_file: Option<PathBuf>,
    max_attachment_mb: Option<u32>,
    timeout: Option<HumanDuration>,
}

// ---------------------------------------------------------------------------------------------
// Loading

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        // A ConfigMap mount is a symlink: follow it, to a regular file of bounded size.
        let text = crate::files::read_bounded_text(path, crate::files::CONFIG_FILE, Symlinks::Follow)
            .map_err(|e| ConfigError {
                file: Some(path.to_path_buf()),
                key: None,
                line: None,
                message: if e.is_not_found() {
                    "file not found; pass --config PATH or set ACCESS_AUDIT_CONFIG (examples/access-audit.toml is a start)"
                        .to_string()
                } else {
                    format!("cannot read the file: {}", e.reason())
                },
            })?;
        Config::parse(&text, Some(path))
    }

    /// Parse and validate config text; `file` is only used in error messages.
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        let err_at = |path: Vec<KeySegment>, message: String| ConfigError {
            file: file.map(Path::to_path_buf),
            line: locate::line_of_path(text, &path),
            key: Some(locate::render_path(&path)),
            message,
        };
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
            file: file.map(Path::to_path_buf),
            key: None,
            line: e.span().map(|s| locate::line_of_offset(text, s.start)),
            message: format!("TOML syntax error: {}", e.message().trim()),
        })?;
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = path_segments(e.path());
            let inner = e.inner();
            let line = inner
                .span()
                .map(|s| locate::line_of_offset(text, s.start))
                .or_else(|| locate::line_of_path(text, &path));
            ConfigError {
                file: file.map(Path::to_path_buf),
                key: (!path.is_empty()).then(|| locate::render_path(&path)),
                line,
                message: inner.message().trim().to_string(),
            }
        })?;
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        let mut config = Config::validate(raw, err_at, file, Some(digest))?;
        config.text = Some(text.to_string());
        Ok(config)
    }

    /// The config used when none is given (replay without `--config`).
    pub fn defaults() -> Config {
        let never = |_: Vec<KeySegment>, m: String| ConfigError {
            file: None,
            key: None,
            line: None,
            message: m,
        };
        // The default raw config has no sources and validates trivially.
        match Config::validate(RawConfig::default(), never, None, None) {
            Ok(c) => c,
            Err(e) => unreachable!("default config is valid: {e}"),
        }
    }

    fn validate(
        raw: RawConfig,
        err_at: impl Fn(Vec<KeySegment>, String) -> ConfigError,
        file: Option<&Path>,
        digest: Option<String>,
    ) -> Result<Config, ConfigError> {
        let key = |parts: &[&str]| {
            parts
                .iter()
                .map(|p| KeySegment::Key((*p).to_string()))
                .collect::<Vec<_>>()
        };
        let src_key = |i: usize, k: &str| {
            vec![
                KeySegment::Key("sources".into()),
                KeySegment::Index(i),
                KeySegment::Key(k.to_string()),
            ]
        };

        // [report]
        if raw.report.title.trim().is_empty() {
            return Err(err_at(
                key(&["report", "title"]),
                "the title is empty".into(),
            ));
        }
        if raw.report.output_dir.as_os_str().is_empty() {
            return Err(err_at(
                key(&["report", "output_dir"]),
                "the output directory is empty".into(),
            ));
        }
        let mut formats = raw.report.formats.clone();
        formats.sort();
        formats.dedup();
        if formats.is_empty() {
            return Err(err_at(
                key(&["report", "formats"]),
                "no report format selected: expected one or more of \"html\", \"csv\", \"json\""
                    .into(),
            ));
        }

        // Each rule validates its own [rules.<id>] table.
        if let Err((path, message)) = raw.rules.validate() {
            return Err(err_at(key(&path), message));
        }

        // [[sources]]
        let mut sources = Vec::new();
        let mut seen_names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, s) in raw.sources.into_iter().enumerate() {
            let kind = s.kind;
            let name = s.name.clone().unwrap_or_else(|| kind.as_str().to_string());
            if let Some(problem) = crate::sources::evidence::source_name_problem(&name) {
                return Err(err_at(src_key(i, "name"), problem));
            }
            if let Some(first) = seen_names.insert(name.clone(), i) {
                return Err(err_at(
                    src_key(i, "name"),
                    format!(
                        "source name `{name}` is already used by sources[{first}]; every source needs its own `name` \
                         (it defaults to the type)"
                    ),
                ));
            }
            let foreign = |k: &str| {
                err_at(
                    src_key(i, k),
                    format!(
                        "`{k}` belongs to type = \"{}\" sources; this source is type = \"{kind}\"",
                        match kind {
                            SourceKind::Sentry => "sentdm",
                            SourceKind::Sentdm => "sentry",
                        }
                    ),
                )
            };
            let (secret_env, secret_file, env_key, file_key) = match kind {
                SourceKind::Sentry => {
                    if s.api_key_env.is_some() {
                        return Err(foreign("api_key_env"));
                    }
                    if s.api_key_file.is_some() {
                        return Err(foreign("api_key_file"));
                    }
                    if s.profiles.is_some() {
                        return Err(foreign("profiles"));
                    }
                    if s.invite_ttl_days.is_some() {
                        return Err(foreign("invite_ttl_days"));
                    }
                    (
                        s.token_env.clone(),
                        s.token_file.clone(),
                        "token_env",
                        "token_file",
                    )
                }
                SourceKind::Sentdm => {
                    if s.token_env.is_some() {
                        return Err(foreign("token_env"));
                    }
                    if s.token_file.is_some() {
                        return Err(foreign("token_file"));
                    }
                    if s.organizations.is_some() {
                        return Err(foreign("organizations"));
                    }
                    if s.projects.is_some() {
                        return Err(foreign("projects"));
                    }
                    (
                        s.api_key_env.clone(),
                        s.api_key_file.clone(),
                        "api_key_env",
                        "api_key_file",
                    )
                }
            };
            let (secret, secret_key) = match (secret_env, secret_file) {
                (Some(env), None) => (SecretRef::Env(env.0), env_key),
                (None, Some(path)) => (SecretRef::File(path), file_key),
                (Some(_), Some(_)) => {
                    return Err(err_at(
                        src_key(i, file_key),
                        format!("set either `{env_key}` or `{file_key}`, not both"),
                    ));
                }
                (None, None) => {
                    return Err(err_at(
                        vec![KeySegment::Key("sources".into()), KeySegment::Index(i)],
                        format!(
                            "missing `{env_key}` (the environment variable that holds the {}) or `{file_key}` \
                             (a file that holds it)",
                            match kind {
                                SourceKind::Sentry => "Sentry auth token",
                                SourceKind::Sentdm => "Sent.dm API key",
                            }
                        ),
                    ));
                }
            };
            let default_base = match kind {
                SourceKind::Sentry => "https://sentry.io",
                SourceKind::Sentdm => "https://api.sent.dm",
            };
            let base_url = s
                .base_url
                .as_ref()
                .map_or_else(|| default_base.to_string(), |b| b.trimmed().to_string());

            let mut spec = SourceSpec {
                kind,
                name: name.clone(),
                base_url,
                organizations: None,
                projects: Vec::new(),
                profiles: None,
                invite_ttl_days: None,
            };
            match kind {
                SourceKind::Sentry => {
                    let orgs = match s.organizations {
                        None => {
                            return Err(err_at(
                                vec![KeySegment::Key("sources".into()), KeySegment::Index(i)],
                                "missing `organizations`: expected a list of organization slugs, or \"all\" for \
                                 every organization the token can see"
                                    .into(),
                            ));
                        }
                        Some(AllOr::All) => Selection::All,
                        Some(AllOr::List(list)) if list.is_empty() => {
                            return Err(err_at(
                                src_key(i, "organizations"),
                                "the list is empty: name at least one organization slug, or use \"all\"".into(),
                            ));
                        }
                        Some(AllOr::List(list)) => {
                            Selection::List(dedup(list.into_iter().map(|s| s.0)))
                        }
                    };
                    spec.organizations = Some(orgs);
                    if let Some(projects) = s.projects {
                        if projects.is_empty() {
                            return Err(err_at(
                                src_key(i, "projects"),
                                "the list is empty: remove the key to audit every member, or name project ids".into(),
                            ));
                        }
                        spec.projects = dedup(projects.into_iter().map(|p| p.0));
                    }
                }
                SourceKind::Sentdm => {
                    spec.profiles = Some(match s.profiles {
                        None | Some(AllOr::All) => Selection::All,
                        Some(AllOr::List(list)) => {
                            Selection::List(dedup(list.into_iter().map(|p: ProfileId| p.0)))
                        }
                    });
                    spec.invite_ttl_days =
                        Some(s.invite_ttl_days.map_or(DEFAULT_INVITE_TTL_DAYS, |d| d.0));
                }
            }

            let mut fetch = FetchSettings::defaults_for(kind);
            if let Some(c) = s.concurrency {
                if !(1..=64).contains(&c) {
                    return Err(err_at(
                        src_key(i, "concurrency"),
                        format!("{c}: expected a number from 1 to 64"),
                    ));
                }
                fetch.concurrency = c as usize;
            }
            if let Some(rpm) = s.requests_per_minute {
                if rpm == 0 {
                    return Err(err_at(
                        src_key(i, "requests_per_minute"),
                        "0: expected a positive number of requests per minute".into(),
                    ));
                }
                fetch.requests_per_minute = Some(rpm);
            }
            if let Some(b) = s.burst {
                if b == 0 {
                    return Err(err_at(
                        src_key(i, "burst"),
                        "0: expected a positive burst size".into(),
                    ));
                }
                fetch.burst = b;
            }
            if let Some(w) = s.max_retry_wait {
                fetch.max_retry_wait = w
                    .within(MAX_RETRY_WAIT_RANGE)
                    .map_err(|m| err_at(src_key(i, "max_retry_wait"), m))?;
            }
            if let Some(t) = s.request_timeout {
                fetch.request_timeout = t
                    .within(REQUEST_TIMEOUT_RANGE)
                    .map_err(|m| err_at(src_key(i, "request_timeout"), m))?;
            }
            if let Some(mb) = s.max_response_mb {
                if !(1..=1024).contains(&mb) {
                    return Err(err_at(
                        src_key(i, "max_response_mb"),
                        format!("{mb}: expected a number of MiB from 1 to 1024"),
                    ));
                }
                fetch.max_response_bytes = u64::from(mb) << 20;
            }
            if let Some(m) = s.max_attempts {
                if !(1..=20).contains(&m) {
                    return Err(err_at(
                        src_key(i, "max_attempts"),
                        format!("{m}: expected a number from 1 to 20"),
                    ));
                }
                fetch.max_attempts = m;
            }
            sources.push(SourceConfig {
                spec,
                secret: Some(secret),
                secret_key: secret_key.into(),
                index: i,
                fetch,
            });
        }

        // [email]
        let e = raw.email;
        let smtp_url = match (e.smtp_url_env, e.smtp_url_file) {
            (Some(env), None) => Some(SecretRef::Env(env.0)),
            (None, Some(p)) => Some(SecretRef::File(p)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(err_at(
                    key(&["email", "smtp_url_file"]),
                    "set either `smtp_url_env` or `smtp_url_file`, not both".into(),
                ));
            }
        };
        if let Some(from) = &e.from
            && !looks_like_mailbox(from)
        {
            return Err(err_at(
                key(&["email", "from"]),
                format!(
                    "`{from}` is not an email address: expected \"Name <addr@example.com>\" or \"addr@example.com\""
                ),
            ));
        }
        for (i, to) in e.to.iter().enumerate() {
            if !looks_like_mailbox(to) {
                return Err(err_at(
                    vec![
                        KeySegment::Key("email".into()),
                        KeySegment::Key("to".into()),
                        KeySegment::Index(i),
                    ],
                    format!("`{to}` is not an email address"),
                ));
            }
        }
        if let Some(subject) = &e.subject {
            crate::templates::Templates::check_text_str(subject).map_err(|m| {
                err_at(
                    key(&["email", "subject"]),
                    format!("the subject template does not compile: {m}"),
                )
            })?;
        }
        if e.max_attachment_mb == Some(0) {
            return Err(err_at(
                key(&["email", "max_attachment_mb"]),
                "0: expected a size in MB, at least 1".into(),
            ));
        }
        let timeout = e.timeout.map_or(EmailConfig::DEFAULT_TIMEOUT, |t| t.0);
        if !EmailConfig::TIMEOUT_RANGE.contains(&timeout) {
            return Err(err_at(
                key(&["email", "timeout"]),
                format!(
                    "{}: expected from 1s to 10m",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        let email = EmailConfig {
            enabled: e.enabled,
            from: e.from,
            to: e.to,
            smtp_url,
            attach: e
                .attach
                .unwrap_or_else(|| vec![Attachment::Html, Attachment::Csv]),
            send: e.send,
            subject: e.subject,
            smtp_ca_file: e.smtp_ca_file,
            max_attachment_mb: e.max_attachment_mb.unwrap_or(20),
            timeout,
        };
        if email.enabled {
            email
                .check_complete()
                .map_err(|(k, m)| err_at(key(&["email", k]), m))?;
        }

        // [store], [notify], [metrics]: each module checks its own table.
        let store = raw
            .store
            .map(crate::deliver::store::validate)
            .transpose()
            .map_err(|(k, m)| err_at(key(&["store", k]), m))?;
        let notify = raw
            .notify
            .map(crate::deliver::notify::validate)
            .transpose()
            .map_err(|(k, m)| err_at(key(&["notify", k]), m))?;
        let metrics = raw
            .metrics
            .map(crate::deliver::metrics::validate)
            .transpose()
            .map_err(|(k, m)| err_at(key(&["metrics", k]), m))?;

        Ok(Config {
            file: file.map(Path::to_path_buf),
            digest,
            text: None,
            report: ReportConfig {
                title: raw.report.title,
                output_dir: raw.report.output_dir,
                formats,
                fail_on: raw.report.fail_on,
                template_dir: raw.report.template_dir,
            },
            rules: raw.rules,
            sources,
            email,
            suppressions: raw.suppressions,
            roster: raw.roster,
            store,
            notify,
            metrics,
        })
    }

    /// An error located at a key of this config file (for checks made after loading).
    pub fn error_at(&self, path: &[&str], message: String) -> ConfigError {
        let segs: Vec<KeySegment> = path
            .iter()
            .map(|p| {
                p.parse::<usize>()
                    .map_or_else(|_| KeySegment::Key((*p).to_string()), KeySegment::Index)
            })
            .collect();
        let line = self
            .text
            .as_deref()
            .and_then(|text| locate::line_of_path(text, &segs));
        ConfigError {
            file: self.file.clone(),
            key: Some(locate::render_path(&segs)),
            line,
            message,
        }
    }

    /// Read every secret: the sources' and, when email is enabled, the SMTP URL. Every secret
    /// read is also registered with [`crate::redact`], so that no report, log line, evidence
    /// entry or email repeats it, whoever echoes it back.
    pub fn resolve_secrets(&self, email_enabled: bool) -> Result<Secrets, ConfigError> {
        let sources = self.resolve_source_secrets()?;
        let smtp_url = if email_enabled {
            Some(self.resolve_smtp_url()?)
        } else {
            None
        };
        Ok(Secrets { sources, smtp_url })
    }

    /// The sources' credentials, by source name. Called before any request is made.
    pub fn resolve_source_secrets(&self) -> Result<BTreeMap<String, SecretString>, ConfigError> {
        use secrecy::ExposeSecret;
        let mut sources = BTreeMap::new();
        for s in &self.sources {
            let Some(secret) = &s.secret else { continue };
            let value = secret
                .resolve()
                .map_err(|m| self.error_at(&["sources", &s.index.to_string(), &s.secret_key], m))?;
            crate::redact::register(value.expose_secret());
            sources.insert(s.spec.name.clone(), value);
        }
        Ok(sources)
    }

    /// The SMTP URL (it may hold a password), for a command that sends email.
    pub fn resolve_smtp_url(&self) -> Result<SecretString, ConfigError> {
        use secrecy::ExposeSecret;
        let secret = self.email.smtp_url.as_ref().ok_or_else(|| {
            self.error_at(
                &["email"],
                "email is enabled but neither `smtp_url_env` nor `smtp_url_file` is set".into(),
            )
        })?;
        let key = match secret {
            SecretRef::Env(_) => "smtp_url_env",
            SecretRef::File(_) => "smtp_url_file",
        };
        let url = secret
            .resolve()
            .map_err(|m| self.error_at(&["email", key], m))?;
        crate::redact::register_url_credentials(url.expose_secret());
        Ok(url)
    }
}

fn looks_like_mailbox(s: &str) -> bool {
    s.parse::<lettre::message::Mailbox>().is_ok()
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<KeySegment> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Map { key } => Some(KeySegment::Key(key.clone())),
            Segment::Seq { index } => Some(KeySegment::Index(*index)),
            Segment::Enum { variant } => Some(KeySegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod tests;
