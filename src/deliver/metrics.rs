//! `[metrics]`: the run in Prometheus text exposition format, written atomically
//! for node_exporter's textfile collector and/or pushed to a Pushgateway.
//!
//! Every metric is a gauge describing the last run, labelled with the report's `title` (so two
//! configs can share a collector directory). Label values are escaped per the format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Deserialize;

use super::post::{Accepted, Endpoint, Retry};
use super::target::{DeliveryError, DeliveryOutcome, NamedSecret, Target};
use crate::cfg::values::EnvVarName;
use crate::model::{Outcome, ScopeStatus};
use crate::report::Report;

/// The Pushgateway grouping path: PUT replaces the job's previous metrics.
pub const PUSH_PATH: &str = "/metrics/job/access_audit";
const TABLE: &str = "metrics";

/// `[metrics]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    textfile: Option<PathBuf>,
    pushgateway_url_env: Option<EnvVarName>,
    pushgateway_url_file: Option<PathBuf>,
}

/// `[metrics]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Written atomically after each run.
    pub textfile: Option<PathBuf>,
    /// Where the Pushgateway's base URL is read from.
    pub pushgateway: Option<NamedSecret>,
}

/// Check `[metrics]`. `Err((key, message))` names the key at fault within the table.
pub fn validate(raw: RawMetrics) -> Result<MetricsSettings, (&'static str, String)> {
    let pushgateway = NamedSecret::pick(
        raw.pushgateway_url_env,
        raw.pushgateway_url_file,
        ("pushgateway_url_env", "pushgateway_url_file"),
    )?;
    if let Some(path) = &raw.textfile {
        // node_exporter's textfile collector reads `*.prom` only: any other name is never scraped.
        if path.extension().is_none_or(|e| e != "prom") || path.file_stem().is_none() {
            return Err((
                "textfile",
                format!(
                    "`{}` does not end in `.prom`: node_exporter's textfile collector reads only *.prom files",
                    path.display()
                ),
            ));
        }
    }
    if raw.textfile.is_none() && pushgateway.is_none() {
        return Err((
            "textfile",
            "[metrics] names no destination: set `textfile` (a .prom file for node_exporter) and/or \
             `pushgateway_url_env` (or `_file`)"
                .into(),
        ));
    }
    Ok(MetricsSettings {
        textfile: raw.textfile,
        pushgateway,
    })
}

/// Facts about the run that the report does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub exit_code: u8,
    /// Requests retried during the run, over every source.
    pub retries: u32,
    pub email: DeliveryOutcome,
    pub notify: DeliveryOutcome,
    pub store: DeliveryOutcome,
}

/// The run in Prometheus text format (version 0.0.4).
pub fn render(report: &Report, run: &RunFacts) -> String {
    let mut out = Exposition {
        text: String::new(),
        title: report.title.clone(),
        current: "",
    };
    the_run(&mut out, report, run);
    findings(&mut out, report);
    failing_by_severity(&mut out, report);
    scopes(&mut out, report);
    deliveries(&mut out, run);
    out.text
}

/// The run as a whole: the version, when it finished and how long it took, the instant it
/// evaluated as of, whether it was complete, its exit code, the accounts, the retries.
fn the_run(out: &mut Exposition, report: &Report, run: &RunFacts) {
    let finished = run.started_at.timestamp_millis() as f64 / 1000.0 + run.duration.as_secs_f64();
    out.family(
        "access_audit_info",
        "Always 1; the labels say which version (and commit) and fail_on produced the last run, and its run id (as in its log and report.json).",
    );
    out.sample(
        &[
            ("version", &report.tool.version),
            ("commit", &report.tool.commit),
            ("run_id", &report.run.run_id),
            ("fail_on", &report.run.fail_on),
        ],
        1.0,
    );
    out.single(
        "access_audit_last_run_timestamp_seconds",
        "When the last run finished, in seconds since the Unix epoch.",
        finished,
    );
    out.single(
        "access_audit_run_duration_seconds",
        "How long the last run took, start to finish.",
        run.duration.as_secs_f64(),
    );
    let as_of = report.as_of.timestamp() as f64;
    out.single(
        "access_audit_as_of_timestamp_seconds",
        "The instant the last run evaluated the rules as of.",
        as_of,
    );
    out.single(
        "access_audit_run_complete",
        "1 if every scope was audited completely, 0 if not.",
        f64::from(u8::from(report.complete)),
    );
    out.single(
        "access_audit_exit_code",
        "The exit code of the last run (0 clean, 3 failing, 4 incomplete, 5 delivery failed).",
        f64::from(run.exit_code),
    );
    out.single(
        "access_audit_accounts",
        "Accounts found in the scopes that were audited.",
        report.summary.accounts as f64,
    );
    out.single(
        "access_audit_retries",
        "Requests retried during the last run.",
        f64::from(run.retries),
    );
}

/// Findings by rule, severity and outcome (unsuppressed), and suppressed ones by rule. Every
/// enabled rule has its `fail` series, 0 included, so alerts see a value rather than nothing.
fn findings(out: &mut Exposition, report: &Report) {
    let mut counts: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut suppressed: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in &report.run.rules {
        counts.insert(
            (
                rule.id.as_str(),
                rule.severity.as_str(),
                Outcome::Fail.as_str(),
            ),
            0,
        );
        suppressed.insert(rule.id.as_str(), 0);
    }
    for f in &report.findings {
        if f.suppressed {
            *suppressed.entry(f.rule.as_str()).or_default() += 1;
        } else {
            *counts
                .entry((f.rule.as_str(), f.severity.as_str(), f.outcome.as_str()))
                .or_default() += 1;
        }
    }
    out.family(
        "access_audit_findings",
        "Unsuppressed findings by rule, severity and outcome (fail, or manual: verify by hand).",
    );
    for ((rule, severity, outcome), n) in counts {
        out.sample(
            &[("rule", rule), ("severity", severity), ("outcome", outcome)],
            n as f64,
        );
    }
    out.family(
        "access_audit_findings_suppressed",
        "Findings suppressed as accepted risk, by rule.",
    );
    for (rule, n) in suppressed {
        out.sample(&[("rule", rule)], n as f64);
    }
}

/// Unsuppressed failing findings by severity, every severity listed.
fn failing_by_severity(out: &mut Exposition, report: &Report) {
    out.family(
        "access_audit_failing_findings",
        "Unsuppressed failing findings by severity (0 included).",
    );
    for (severity, n) in &report.summary.by_severity.0 {
        out.sample(&[("severity", severity)], *n as f64);
    }
}

/// Scopes audited and scopes that could not be fetched.
fn scopes(out: &mut Exposition, report: &Report) {
    out.family(
        "access_audit_scopes",
        "Scopes by status: ok (audited), failed (could not be fetched).",
    );
    for status in [ScopeStatus::Ok, ScopeStatus::Failed] {
        let n = report.scopes.iter().filter(|s| s.status == status).count();
        let label = if status == ScopeStatus::Ok {
            "ok"
        } else {
            "failed"
        };
        out.sample(&[("status", label)], n as f64);
    }
}

/// Each delivery target's outcome, one series per possible outcome (1 for the one it had).
fn deliveries(out: &mut Exposition, run: &RunFacts) {
    out.family(
        "access_audit_delivery",
        "1 for the outcome of each delivery target in the last run, 0 for the other outcomes.",
    );
    for (target, outcome) in [
        ("email", run.email),
        ("notify", run.notify),
        ("store", run.store),
    ] {
        for candidate in DeliveryOutcome::ALL {
            out.sample(
                &[("target", target), ("outcome", candidate.as_str())],
                f64::from(u8::from(candidate == outcome)),
            );
        }
    }
}

/// A text exposition being written: one family at a time, every sample labelled with `title`.
struct Exposition {
    text: String,
    title: String,
    /// The family being written.
    current: &'static str,
}

impl Exposition {
    fn family(&mut self, name: &'static str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} gauge");
        self.current = name;
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let _ = write!(
            self.text,
            "{}{{title=\"{}\"",
            self.current,
            escape_label(&self.title)
        );
        for (k, v) in labels {
            let _ = write!(self.text, ",{k}=\"{}\"", escape_label(v));
        }
        let _ = writeln!(self.text, "}} {}", number(value));
    }

    fn single(&mut self, name: &'static str, help: &str, value: f64) {
        self.family(name, help);
        self.sample(&[], value);
    }
}

/// Label values: backslash, double quote and line feed are escaped.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text: backslash and line feed are escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Go's float format as Prometheus reads it: integers without a fraction, NaN and infinities by name.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Write the exposition to `path` atomically (a temporary file in the same directory, then a
/// rename), so the collector never reads half a file. The temporary name does not end in
/// `.prom`, so the collector never reads it either.
pub fn write_textfile(path: &Path, text: &str) -> Result<(), DeliveryError> {
    crate::output::write_bytes(path, text.as_bytes())
        .map_err(|m| DeliveryError::new(Target::Textfile, m))
}

/// Ready to push: the Pushgateway's URL, read and checked.
#[derive(Debug)]
pub struct Pusher {
    endpoint: Endpoint,
    retry: Retry,
}

impl Pusher {
    /// The Pushgateway's `scheme://host[:port]`, for the plan.
    pub fn origin(&self) -> &str {
        self.endpoint.origin()
    }

    /// Another retry policy (tests shorten the backoff).
    pub fn with_retry(mut self, retry: Retry) -> Pusher {
        self.retry = retry;
        self
    }
}

/// Read the Pushgateway URL (if configured). It may be plain `http://` to any host when it
/// carries no credentials: the body is counts and a title, and in-cluster Pushgateways rarely
/// speak TLS. With user-info in it, it must be `https://` (or loopback).
pub fn prepare_push(settings: &MetricsSettings) -> Result<Option<Pusher>, DeliveryError> {
    let Some(named) = &settings.pushgateway else {
        return Ok(None);
    };
    let retry = Retry::default();
    let url = named.resolve_url(Target::Pushgateway, TABLE, true)?;
    let endpoint = Endpoint::new(Target::Pushgateway, url, retry.timeout)?.join_path(PUSH_PATH);
    Ok(Some(Pusher { endpoint, retry }))
}

/// PUT the exposition to `<pushgateway>/metrics/job/access_audit`, replacing the last run's.
pub async fn push(pusher: &Pusher, text: &str) -> Result<Accepted, DeliveryError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    pusher
        .endpoint
        .send(
            Method::PUT,
            headers,
            Bytes::from(text.to_string()),
            &pusher.retry,
        )
        .await
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
