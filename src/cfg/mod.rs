//! The building blocks every domain's configuration is made of: errors located at a file, key
//! and line; value types that validate themselves as they are read (days, durations, URLs,
//! "all" or a list); and references to secrets (an environment variable or a file, never the
//! value).
//!
//! Each domain (sources, rules, review, delivery) owns its section of the config file and
//! validates it with these; the `config` module reads the file as a whole and hands each domain
//! its part. Nothing here depends on any domain.

pub(crate) mod locate;
pub(crate) mod secret;
pub(crate) mod suggest;
pub(crate) mod values;

use std::fmt;
use std::path::PathBuf;

pub(crate) use locate::KeySegment;
pub use secret::SecretRef;

/// A config problem, located as precisely as we can: file, key, line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "invalid config {}", file.display())?,
            None => f.write_str("invalid config")?,
        }
        if let Some(key) = &self.key {
            write!(f, ", key `{key}`")?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every config problem found, in the order they were found; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Every error in the order of the file (those without a line last), so that a person can
    /// fix them top to bottom.
    pub fn in_file_order(&self) -> Vec<&ConfigError> {
        let mut errors: Vec<&ConfigError> = self.0.iter().collect();
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        errors
    }

    /// The first problem found: what a single-error caller reports.
    pub fn into_first(self) -> ConfigError {
        self.0.into_iter().next().unwrap_or_else(|| ConfigError {
            file: None,
            key: None,
            line: None,
            message: "invalid config".into(),
        })
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    /// One line per error, in the order of the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.in_file_order().into_iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigError {
    /// The same error, with "did you mean `x`?" appended when its message is serde's (or the
    /// sources' own) "unknown field `y`, expected …" or "unknown variant `y`, expected …" and
    /// one of the expected names is close to `y`.
    pub fn with_suggestion(mut self) -> ConfigError {
        if let Some(hint) = suggest::did_you_mean(&self.message) {
            self.message.push_str(&format!("; did you mean `{hint}`?"));
        }
        self
    }
}
