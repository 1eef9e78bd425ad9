//! What the config tests of every domain share: a snippet parsed as the file `audit.toml`, an
//! accepted config, a refused one checked for its file, key, line and message, and tables of
//! refused configs checked case by case.

use std::path::Path;

use super::Config;
use crate::cfg::ConfigError;
use crate::sources::spec::SourceSpec;
use crate::sources::{sentdm, sentry};

/// The file name every snippet is parsed as, and that every error must name.
pub(crate) const FILE: &str = "audit.toml";

/// A minimal valid Sentry source (lines 1–4), for cases that add one key at line 5. A macro, so
/// that tables can `concat!` it.
macro_rules! sentry_source {
    () => {
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n"
    };
}
pub(crate) use sentry_source;

/// A minimal valid Sent.dm source (lines 1–3), for cases that add one key at line 4.
macro_rules! sentdm_source {
    () => {
        "[[sources]]\ntype = \"sentdm\"\napi_key_env = \"SENTDM_API_KEY\"\n"
    };
}
pub(crate) use sentdm_source;

/// A `[report]` table (lines 1–2) to put before the table under test, so that its lines count
/// from the top of the file and not from the table.
macro_rules! report_first {
    () => {
        "[report]\ntitle = \"t\"\n"
    };
}
pub(crate) use report_first;

pub(crate) const SENTRY: &str = sentry_source!();
pub(crate) const SENTDM: &str = sentdm_source!();

/// [`SENTRY`] followed by `extra` (from line 5).
pub(crate) fn with_source(extra: &str) -> String {
    format!("{SENTRY}{extra}")
}

pub(crate) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Some(Path::new(FILE)))
}

pub(crate) fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected the config to be accepted, got: {e}\n--- config ---\n{text}"),
    }
}

/// Parse `text`, expect an error, and check the file, key, line and a part of the message.
#[track_caller]
pub(crate) fn bad(
    text: &str,
    key: Option<&str>,
    line: Option<usize>,
    message_part: &str,
) -> ConfigError {
    let err = match parse(text) {
        Ok(_) => panic!("expected an error for key {key:?}, but the config was accepted:\n{text}"),
        Err(e) => e,
    };
    assert_eq!(err.file.as_deref(), Some(Path::new(FILE)), "file of: {err}");
    assert_eq!(err.key.as_deref(), key, "key of: {err}");
    assert_eq!(err.line, line, "line of: {err}");
    assert!(
        err.message.contains(message_part),
        "message of: {err}\nshould contain: {message_part}"
    );
    err
}

/// Shorthand for the common case: a key and a line are both known.
#[track_caller]
pub(crate) fn bad_at(text: &str, key: &str, line: usize, message_part: &str) -> ConfigError {
    bad(text, Some(key), Some(line), message_part)
}

/// A config that must be refused: `(case name, TOML, key, line, part of the message)`. The
/// error must name [`FILE`], the key and the line, and its message contain the part.
pub(crate) type Refused = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    &'static str,
);

/// Check every case of a table as [`bad_at`] does; a failure lists every failing case by name.
#[track_caller]
pub(crate) fn check_refused(cases: &[(&str, &str, &str, usize, &str)]) {
    let mut failures = Vec::new();
    for &(name, text, key, line, message_part) in cases {
        let err = match parse(text) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, expected an error at `{key}`"));
                continue;
            }
            Err(e) => e,
        };
        let mut wrong = Vec::new();
        if err.file.as_deref() != Some(Path::new(FILE)) {
            wrong.push(format!("file {:?}", err.file));
        }
        if err.key.as_deref() != Some(key) {
            wrong.push(format!("key {:?}, expected `{key}`", err.key));
        }
        if err.line != Some(line) {
            wrong.push(format!("line {:?}, expected {line}", err.line));
        }
        if !err.message.contains(message_part) {
            wrong.push(format!("message lacks `{message_part}`"));
        }
        if !wrong.is_empty() {
            failures.push(format!("{name}: {}: {err}", wrong.join(", ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

pub(crate) fn sentry_of(spec: &SourceSpec) -> &sentry::Settings {
    spec.settings_of().expect("a Sentry source")
}

pub(crate) fn sentdm_of(spec: &SourceSpec) -> &sentdm::Settings {
    spec.settings_of().expect("a Sent.dm source")
}
