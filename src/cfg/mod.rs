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
