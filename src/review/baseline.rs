//! Change since the last run: with `--baseline PREVIOUS/report.json`, every finding is `new` or
//! `persisting` (with the date it was first reported, carried forward run to run), and the
//! baseline's findings that are gone are `resolved` — but only where their scope was audited
//! again: a finding in a scope that failed this time is "not re-checked", never "fixed".

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{Change, Finding, Outcome, ScopeResult, Severity};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BaselineFinding {
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub outcome: Outcome,
    pub source_name: String,
    pub scope: String,
    pub account_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub detail: String,
    #[serde(default)]
    pub first_seen: Option<String>,
}

pub(crate) struct Baseline {
    pub as_of: String,
    findings: Vec<BaselineFinding>,
}

/// What changed, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Changes {
    pub baseline_as_of: String,
    pub new: usize,
    pub persisting: usize,
    /// Baseline findings that are gone from a scope that was audited again.
    pub resolved: Vec<BaselineFinding>,
    /// Baseline findings in scopes that could not be audited this time: unknown, not fixed.
    pub not_rechecked: usize,
}

impl Baseline {
    /// A previous run's findings, as of when it ran (read by `report::schema`).
    pub(crate) fn new(as_of: String, findings: Vec<BaselineFinding>) -> Baseline {
        Baseline { as_of, findings }
    }

    /// Mark each finding new or persisting, and list what was resolved.
    pub(crate) fn compare(
        &self,
        findings: &mut [Finding],
        results: &[ScopeResult],
        as_of: &str,
    ) -> Changes {
        let before: HashMap<&str, &BaselineFinding> =
            self.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        let (mut new, mut persisting) = (0, 0);
        for f in findings.iter_mut() {
            match before.get(f.id.as_str()) {
                Some(b) => {
                    f.change = Some(Change::Persisting);
                    f.first_seen = Some(b.first_seen.clone().unwrap_or_else(|| self.as_of.clone()));
                    persisting += 1;
                }
                None => {
                    f.change = Some(Change::New);
                    f.first_seen = Some(as_of.to_string());
                    new += 1;
                }
            }
        }
        let now: HashSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        let audited: HashSet<(&str, &str)> = results
            .iter()
            .filter(|r| r.outcome.is_ok())
            .map(|r| (r.source_name.as_str(), r.scope.as_str()))
            .collect();
        let mut resolved = Vec::new();
        let mut not_rechecked = 0;
        for b in self
            .findings
            .iter()
            .filter(|b| !now.contains(b.id.as_str()))
        {
            if audited.contains(&(b.source_name.as_str(), b.scope.as_str())) {
                resolved.push(b.clone());
            } else {
                not_rechecked += 1;
            }
        }
        Changes {
            baseline_as_of: self.as_of.clone(),
            new,
            persisting,
            resolved,
            not_rechecked,
        }
    }
}
