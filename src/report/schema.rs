//! `report.json`: the one schema, written and read here. Every reader of a report — `merge`
//! combining shards, `--baseline` comparing with a previous run — goes through [`read`], which
//! bounds the file, checks `schema_version`, and turns rule ids back into the registry's rules.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{REPORT_JSON, Report, ScopeEntry};
use crate::files::{Bound, REPORT_JSON_FILE, Symlinks};
use crate::model::{
    Account, AccountStatus, AccountSubject, Change, Finding, Outcome, Severity, Shard, SourceKind,
    Subject, SuppressionNote,
};
use crate::review::baseline::{Baseline, BaselineFinding};

/// The version this build writes and reads.
pub(crate) const SCHEMA_VERSION: u32 = 1;

pub(crate) fn write_to(report: &Report, out: &mut dyn Write) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write report.json: {e}");
    // serde_json writes token by token; through `dyn Write` each token was a dynamic call (a
    // fifth of a large run). A buffer of our own makes those calls static and hands `out` whole
    // blocks.
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
    super::json_lists::write(report, &mut buffered).map_err(|e| err(&e))?;
    buffered.write_all(b"\n").map_err(|e| err(&e))?;
    buffered.flush().map_err(|e| err(&e))
}

/// A report.json as read back: what its readers use of it.
#[derive(Deserialize)]
pub(crate) struct ReportFile {
    pub schema_version: u32,
    pub title: String,
    pub as_of: DateTime<Utc>,
    pub scopes: Vec<ScopeEntry>,
    pub findings: Vec<FindingRecord>,
    /// Parsed only by the readers that need the accounts (a baseline does not).
    accounts: Box<RawValue>,
    pub run: RunRecord,
}

#[derive(Deserialize)]
pub(crate) struct RunRecord {
    /// Absent from reports made before run ids.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub rules: Vec<RuleRecord>,
    #[serde(default)]
    pub shard: Option<Shard>,
    #[serde(default)]
    pub stopped: Option<String>,
    #[serde(default)]
    pub config_sha256: Option<String>,
    #[serde(default)]
    pub evidence_manifest_sha256: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RuleRecord {
    pub id: String,
    pub severity: Severity,
    /// Absent from reports made before criteria were recorded.
    #[serde(default)]
    pub checks: Option<String>,
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub population: Option<PopulationRecord>,
}

/// Of a rule's population as recorded, what merging needs: how many it evaluated.
#[derive(Deserialize)]
pub(crate) struct PopulationRecord {
    pub evaluated: usize,
}

/// A finding as written, its rule still a name.
#[derive(Deserialize)]
pub(crate) struct FindingRecord {
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub outcome: Outcome,
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub account_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub status: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub detail: String,
    pub suppressed: bool,
    #[serde(default)]
    pub suppression: Option<SuppressionNote>,
    #[serde(default)]
    pub change: Option<Change>,
    #[serde(default)]
    pub first_seen: Option<String>,
}

/// Read the report.json at `input` (or in the directory `input`), for `what` (named in errors).
pub(crate) fn read(input: &Path, what: &'static str) -> Result<(PathBuf, ReportFile), String> {
    let path = if input.is_dir() {
        input.join(REPORT_JSON)
    } else {
        input.to_path_buf()
    };
    let bound = Bound {
        what,
        ..REPORT_JSON_FILE
    };
    let bytes =
        crate::files::read_bounded(&path, bound, Symlinks::Follow).map_err(|e| e.to_string())?;
    parse(&path, &bytes, what).map(|file| (path, file))
}

/// The report.json at `path` from its bytes, already read (bounded) by the caller — the ledger's
/// period pack checks their digest first, and parses the very bytes it checked.
pub(crate) fn parse(path: &Path, bytes: &[u8], what: &'static str) -> Result<ReportFile, String> {
    let wrong_version = |found: u32| {
        format!(
            "{what} {} has schema_version {found}; this version of access-audit reads schema_version {SCHEMA_VERSION}",
            path.display()
        )
    };
    match serde_json::from_slice::<ReportFile>(bytes) {
        Ok(file) if file.schema_version == SCHEMA_VERSION => Ok(file),
        Ok(file) => Err(wrong_version(file.schema_version)),
        Err(e) => Err(match version_of(bytes) {
            Some(found) if found != SCHEMA_VERSION => wrong_version(found),
            _ => format!(
                "{what} {} is not an access-audit report.json: {e}",
                path.display()
            ),
        }),
    }
}

/// The `schema_version` of a report that does not parse as this version's.
fn version_of(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    serde_json::from_slice::<Version>(bytes)
        .ok()
        .map(|v| v.schema_version)
}

impl ReportFile {
    pub(crate) fn accounts(&self) -> Result<Vec<Account>, String> {
        serde_json::from_str(self.accounts.get())
            .map_err(|e| format!("the report's accounts cannot be read: {e}"))
    }

    /// This report as the baseline of a new run.
    pub(crate) fn into_baseline(self) -> Baseline {
        let findings = self
            .findings
            .into_iter()
            .map(|f| BaselineFinding {
                id: f.id,
                rule: f.rule,
                severity: f.severity,
                outcome: f.outcome,
                source_name: f.source_name,
                scope: f.scope,
                account_id: f.account_id,
                email: f.email,
                name: f.name,
                detail: f.detail,
                first_seen: f.first_seen,
            })
            .collect();
        Baseline::new(crate::model::format_time(&self.as_of), findings)
    }
}

impl FindingRecord {
    /// The finding, its rule one of the registry's; a rule this build does not know is an error.
    pub(crate) fn into_finding(self) -> Result<Finding, String> {
        let rule = crate::rules::rule_info(&self.rule)
            .map(|r| r.id)
            .ok_or_else(|| format!("a finding of unknown rule `{}`", self.rule))?;
        Ok(Finding {
            id: self.id,
            rule,
            severity: self.severity,
            outcome: self.outcome,
            source: self.source,
            source_name: self.source_name.into(),
            scope: self.scope.into(),
            // Schema 1 writes a whole-scope subject as an empty account id.
            subject: if self.account_id.is_empty() {
                Subject::Scope
            } else {
                Subject::Account(AccountSubject {
                    account_id: self.account_id.into(),
                    email: self.email.map(Into::into),
                    name: self.name.map(Into::into),
                    role: self.role.map(Into::into),
                    status: AccountStatus::parse(&self.status),
                    last_seen_at: self.last_seen_at,
                })
            },
            detail: self.detail.into(),
            suppressed: self.suppressed,
            suppression: self.suppression.map(Box::new),
            change: self.change,
            first_seen: self.first_seen,
        })
    }
}
