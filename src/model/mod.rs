//! The data that flows between the stages: accounts (every source normalised to one model),
//! scopes, findings.
//!
//! Everything here is plain data. Sources produce [`Account`]s and [`ScopeResult`]s, rules turn
//! accounts into [`Finding`]s, and the report stage renders all of it.

mod account;
mod accounts;
mod finding;
mod scope;
mod shard;
mod source_kind;
mod time;

pub use account::{Account, AccountStatus, later_of};
pub use accounts::Accounts;
pub use finding::{
    AccountSubject, Change, FailOn, Finding, Outcome, RuleId, Severity, Subject, SuppressionNote,
    WHOLE_SCOPE_NAME,
};
pub use scope::{PageRecord, Provenance, ScopeError, ScopeResult, ScopeStatus};
pub use shard::Shard;
pub use source_kind::SourceKind;
pub use time::{TimeText, format_human, format_time, serialize_time, serialize_time_value};

use serde::{Deserialize, Serialize};

/// The program that wrote a report or an evidence archive: which release, built from which
/// commit, when — what `--version` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    /// The git commit it was built from; `unknown` when built outside a checkout. Files written
    /// before this was recorded read as `unknown` too.
    #[serde(default = "unknown")]
    pub commit: String,
    /// The build date (UTC), `YYYY-MM-DD`.
    #[serde(default = "unknown")]
    pub built: String,
}

fn unknown() -> String {
    "unknown".into()
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("ACCESS_AUDIT_COMMIT").to_string(),
            built: env!("ACCESS_AUDIT_BUILD_DATE").to_string(),
        }
    }
}
