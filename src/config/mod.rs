//! The config file as a whole: each section read by the domain that owns it, validated, and
//! secrets named (read only by `Config::resolve_*`).
//!
//! Reading happens in two steps. The TOML is deserialized into raw structs whose value types
//! validate themselves (so a bad value is reported with its key and line), then the raw structs
//! are checked as a whole (formats, rule bounds, email, …) and turned into [`Config`]. Each
//! `[[sources]]` table is read by the source its `type` names (`sources::config`): its keys,
//! their checks and its defaults live with the source. Secrets are only *named* here;
//! [`Config::resolve_secrets`] reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cfg::locate::path_segments;
use crate::cfg::values::{EnvVarName, HumanDuration};
use crate::cfg::{ConfigError, ConfigErrors, KeySegment, SecretRef, locate};
use toml::de::{DeTable, DeValue};

use crate::deliver::email::{Attachment, EmailConfig, SendPolicy};
use crate::files::Symlinks;
use crate::model::{FailOn, Severity};
use crate::report::Format;
use crate::rules::RuleSettings;
use crate::sources::config::SourceTables;
use crate::sources::spec::SourceConfig;

#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub title: String,
    pub output_dir: PathBuf,
    pub formats: Vec<Format>,
    pub fail_on: FailOn,
    /// Replacement templates (`report.html.hbs`, `email.html.hbs`, `email.txt.hbs`).
    pub template_dir: Option<PathBuf>,
}

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
    /// `[review]`: reviewers, deadlines and the ledger of the access review.
    pub(crate) review: Option<crate::access_review::config::ReviewSettings>,
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
    /// Each `[[sources]]` table is read by the source its `type` names (`sources::config`);
    /// here only that `sources` is an array.
    sources: Vec<serde::de::IgnoredAny>,
    email: RawEmail,
    store: Option<crate::deliver::store::RawStore>,
    notify: Option<crate::deliver::notify::RawNotify>,
    metrics: Option<crate::deliver::metrics::RawMetrics>,
    review: Option<crate::access_review::config::RawReview>,
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
            formats: Format::DEFAULT.to_vec(),
            fail_on: FailOn::Severity(Severity::Low),
            template_dir: None,
        }
    }
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

/// The most errors one config file reports.
const MAX_ERRORS: usize = 50;

/// What checking a config file found: every error, and the config as far as it could be read
/// (the keys in error left out, so their defaults apply), to check what depends on it
/// (`check-config` goes on to the suppressions file, the roster, the templates and the delivery
/// targets). `config` is `None` only when the file cannot be read or parsed as TOML.
pub struct Checked {
    pub config: Option<Config>,
    pub errors: Vec<ConfigError>,
}

impl Checked {
    /// The config if it has no error, else every error.
    pub fn into_result(self) -> Result<Config, ConfigErrors> {
        match (self.config, self.errors.is_empty()) {
            (Some(config), true) => Ok(config),
            (_, _) => Err(ConfigErrors(self.errors)),
        }
    }
}

impl Config {
    /// Read and validate a config file; every error is reported.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Config::check(path).into_result()
    }

    /// Read and validate a config file, keeping every error and the config as far as it reads.
    pub fn check(path: &Path) -> Checked {
        // A ConfigMap mount is a symlink: follow it, to a regular file of bounded size.
        match crate::files::read_bounded_text(path, crate::files::CONFIG_FILE, Symlinks::Follow) {
            Ok(text) => Config::check_text(&text, Some(path)),
            Err(e) => Checked {
                config: None,
                errors: vec![ConfigError {
                    file: Some(path.to_path_buf()),
                    key: None,
                    line: None,
                    message: if e.is_not_found() {
                        "file not found; pass --config PATH or set ACCESS_AUDIT_CONFIG (examples/access-audit.toml is a start)"
                            .to_string()
                    } else {
                        format!("cannot read the file: {}", e.reason())
                    },
                }],
            },
        }
    }

    /// Parse and validate config text; `file` is only used in error messages. The error is the
    /// first one found ([`Config::parse_all`] has them all).
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::parse_all(text, file).map_err(ConfigErrors::into_first)
    }

    /// Parse and validate config text, reporting every error.
    pub fn parse_all(text: &str, file: Option<&Path>) -> Result<Config, ConfigErrors> {
        Config::check_text(text, file).into_result()
    }

    /// Parse the TOML once, then read and check it until it has no new error: each error found
    /// at a key is recorded and that key taken out of the document (its default applies), so
    /// the next pass finds the next error. Spans still point into `text`, so every error keeps
    /// its line. Errors that follow from one already recorded (the same key again, or "missing"
    /// at the table whose bad value was taken out) are not repeated.
    pub fn check_text(text: &str, file: Option<&Path>) -> Checked {
        let mut root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(e) => {
                return Checked {
                    config: None,
                    errors: vec![ConfigError {
                        file: file.map(Path::to_path_buf),
                        key: None,
                        line: e.span().map(|s| locate::line_of_offset(text, s.start)),
                        message: format!("TOML syntax error: {}", e.message().trim()),
                    }],
                };
            }
        };
        let mut found: Vec<ConfigError> = Vec::new();
        loop {
            let (config, errors) = Config::attempt(text, file, &root);
            let mut progressed = false;
            for e in errors {
                if found.iter().any(|f| follows_from(f, &e)) {
                    continue;
                }
                if let Some(path) = e.key.as_deref().map(key_path) {
                    progressed |= remove_key(root.get_mut(), &path);
                }
                found.push(e.with_suggestion());
            }
            if !progressed || found.len() >= MAX_ERRORS {
                found.truncate(MAX_ERRORS);
                return Checked {
                    config,
                    errors: found,
                };
            }
        }
    }

    /// One pass over the document: the config (with defaults where a section is in error) and
    /// the errors of this pass.
    fn attempt(
        text: &str,
        file: Option<&Path>,
        root: &toml::Spanned<DeTable<'_>>,
    ) -> (Option<Config>, Vec<ConfigError>) {
        let de = toml::Deserializer::from(root.clone());
        let raw: RawConfig = match serde_path_to_error::deserialize(de) {
            Ok(raw) => raw,
            Err(e) => {
                let path = path_segments(e.path());
                let inner = e.inner();
                let line = inner
                    .span()
                    .map(|s| locate::line_of_offset(text, s.start))
                    .or_else(|| locate::line_of_path(text, &path));
                let error = ConfigError {
                    file: file.map(Path::to_path_buf),
                    key: (!path.is_empty()).then(|| locate::render_path(&path)),
                    line,
                    message: inner.message().trim().to_string(),
                };
                return (None, vec![error]);
            }
        };
        let err_at = |path: Vec<KeySegment>, message: String| ConfigError {
            file: file.map(Path::to_path_buf),
            line: locate::line_of_path(text, &path),
            key: Some(locate::render_path(&path)),
            message,
        };
        let sources = SourceTables::of_root(text, file, root.get_ref());
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        let (mut config, errors) = Config::validate(raw, &sources, err_at, file, Some(digest));
        config.text = Some(text.to_string());
        (Some(config), errors)
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
        match Config::validate(
            RawConfig::default(),
            &SourceTables::none(),
            never,
            None,
            None,
        ) {
            (c, errors) if errors.is_empty() => c,
            (_, errors) => unreachable!("default config is valid: {errors:?}"),
        }
    }

    /// Check the raw config section by section, each by the domain that owns it, and build the
    /// [`Config`]. Every section is checked; one in error takes its defaults in the config
    /// returned (each source in error is left out) and adds its first error, in the order of
    /// the sections here.
    fn validate(
        raw: RawConfig,
        source_tables: &SourceTables<'_>,
        err_at: impl Fn(Vec<KeySegment>, String) -> ConfigError,
        file: Option<&Path>,
        digest: Option<String>,
    ) -> (Config, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let take = |errors: &mut Vec<ConfigError>, r: Result<(), KeyError>| {
            r.map_err(|(path, message)| errors.push(err_at(path, message)))
                .is_ok()
        };
        let mut report = None;
        take(
            &mut errors,
            report_section(raw.report).map(|r| report = Some(r)),
        );
        // Each rule validates its own [rules.<id>] table.
        let rules_ok = take(
            &mut errors,
            raw.rules.validate().map_err(|(path, m)| (key(&path), m)),
        );
        // [[sources]]: each read by the source its type names, the shared keys in one place.
        let (sources, source_errors) = source_tables.read_all();
        errors.extend(source_errors);
        let mut email = None;
        take(
            &mut errors,
            email_section(raw.email).map(|e| email = Some(e)),
        );
        // [store], [notify], [metrics]: each module checks its own table.
        let (mut store, mut notify, mut metrics, mut review) = (None, None, None, None);
        take(
            &mut errors,
            delivery_section("store", raw.store, crate::deliver::store::validate)
                .map(|s| store = s),
        );
        take(
            &mut errors,
            delivery_section("notify", raw.notify, crate::deliver::notify::validate)
                .map(|n| notify = n),
        );
        take(
            &mut errors,
            delivery_section("metrics", raw.metrics, crate::deliver::metrics::validate)
                .map(|m| metrics = m),
        );
        take(
            &mut errors,
            delivery_section("review", raw.review, crate::access_review::config::validate)
                .map(|r| review = r),
        );
        let config = Config {
            file: file.map(Path::to_path_buf),
            digest,
            text: None,
            report: report.unwrap_or_else(|| {
                report_section(RawReport::default())
                    .unwrap_or_else(|_| unreachable!("the default [report] is valid"))
            }),
            rules: if rules_ok {
                raw.rules
            } else {
                RuleSettings::default()
            },
            sources,
            email: email.unwrap_or_else(|| {
                email_section(RawEmail::default())
                    .unwrap_or_else(|_| unreachable!("the default [email] is valid"))
            }),
            suppressions: raw.suppressions,
            roster: raw.roster,
            store,
            notify,
            metrics,
            review,
        };
        (config, errors)
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
        let mut sources = BTreeMap::new();
        for s in &self.sources {
            if let Some(value) = self.resolve_source_secret(s)? {
                sources.insert(s.spec.name.clone(), value);
            }
        }
        Ok(sources)
    }

    /// One source's credential, if it has one (registered with [`crate::redact`]).
    pub fn resolve_source_secret(
        &self,
        s: &SourceConfig,
    ) -> Result<Option<SecretString>, ConfigError> {
        use secrecy::ExposeSecret;
        let Some(secret) = &s.secret else {
            return Ok(None);
        };
        let value = secret
            .resolve()
            .map_err(|m| self.error_at(&["sources", &s.index.to_string(), &s.secret_key], m))?;
        crate::redact::register(value.expose_secret());
        Ok(Some(value))
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

mod prune;
mod sections;

use prune::{follows_from, key_path, remove_key};
use sections::{KeyError, delivery_section, email_section, key, report_section};

#[cfg(test)]
mod all_errors_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
