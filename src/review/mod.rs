//! The review stage, between the rules and the report: what people have already decided about
//! the findings. Accepted risk (suppressions) marks findings as suppressed, never hides them; a
//! previous run (baseline) marks each finding new or persisting and lists what was resolved; a
//! people roster ties accounts to people (its rules run with the other rules, its view is built
//! here).

pub(crate) mod baseline;
pub(crate) mod roster;
pub(crate) mod suppressions;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::{Finding, ScopeResult, format_time};
use baseline::{Baseline, Changes};
use suppressions::{EntryStatus, State, Suppressions};

/// What the review stage applies, loaded before any request so that a bad file fails first.
#[derive(Default)]
pub(crate) struct Review {
    suppressions: Suppressions,
    baseline: Option<Baseline>,
}

/// The findings after review, and what the report says about the review itself.
pub(crate) struct Reviewed {
    pub findings: Vec<Finding>,
    pub suppressions: Vec<EntryStatus>,
    pub changes: Option<Changes>,
}

impl Review {
    pub(crate) fn load(
        suppressions: Option<&Path>,
        baseline: Option<Baseline>,
        as_of: DateTime<Utc>,
    ) -> Result<Review, Error> {
        Ok(Review {
            suppressions: match suppressions {
                Some(path) => Suppressions::load(path, as_of)?,
                None => Suppressions::default(),
            },
            baseline,
        })
    }

    /// Apply suppressions, then compare with the baseline; log the suppressions that no longer
    /// do anything (expired, or matching nothing), since someone should tidy them.
    pub(crate) fn apply(
        &self,
        mut findings: Vec<Finding>,
        results: &[ScopeResult],
        as_of: DateTime<Utc>,
    ) -> Reviewed {
        let suppressions = self.suppressions.apply(&mut findings, as_of);
        let changes = self
            .baseline
            .as_ref()
            .map(|b| b.compare(&mut findings, results, &format_time(&as_of)));
        for s in &suppressions {
            match s.state {
                State::Expired => {
                    tracing::warn!(entry = s.index, rule = s.rule.as_str(), expires = %s.expires,
                        matched = s.matched, "a suppression has expired and no longer suppresses")
                }
                State::Unused => tracing::warn!(
                    entry = s.index,
                    rule = s.rule.as_str(),
                    "a suppression matched no finding"
                ),
                State::Active => {}
            }
        }
        Reviewed {
            findings,
            suppressions,
            changes,
        }
    }
}
