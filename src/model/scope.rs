//! Scopes (an organization, a profile): what fetching one produced, or why it could not be.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Account, SourceKind};

/// Why a scope could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeError {
    /// The HTTP status of the final answer; `None` when no answer came (connection, timeout).
    pub http_status: Option<u16>,
    /// The API's own error code (`AUTH_004`, `sso-required`, …) when it sent one.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(status) = self.http_status {
            write!(f, "HTTP {status}")?;
            if let Some(code) = &self.code {
                write!(f, " {code}")?;
            }
            write!(f, ": ")?;
        } else if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeStatus {
    Ok,
    Failed,
}

/// What fetching one scope produced: every account, or an error and none.
#[derive(Debug, Clone)]
pub struct ScopeResult {
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub outcome: Result<Vec<Account>, ScopeError>,
}

impl ScopeResult {
    pub fn status(&self) -> ScopeStatus {
        match self.outcome {
            Ok(_) => ScopeStatus::Ok,
            Err(_) => ScopeStatus::Failed,
        }
    }
}
