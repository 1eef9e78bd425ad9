//! The period evidence pack (`ledger report --from --to`): the chain's state, the runs in the
//! period with their coverage, the reviews with their dates, the review cadence checked — every
//! gap between sign-offs longer than `cadence_days` is called out — and, from the runs'
//! report.json files compared one after the other (`history.rs`), the failing findings opened
//! and resolved with their age, and the leavers with the date their last account disappeared.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use super::history::{self, FindingChanges, Leavers, RunSource};
use super::{Kind, Record, Verification};
use crate::model::format_time;

pub(crate) const REPORT_JSON: &str = "ledger-report.json";
pub(crate) const REPORT_HTML: &str = "ledger-report.html";

/// `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Period {
    pub(crate) from: DateTime<Utc>,
    pub(crate) to: DateTime<Utc>,
}

/// `2026-01-01` (the start of that day, UTC) or an RFC 3339 instant; `end` makes a bare date
/// mean the end of that day, so that `--to 2026-03-31` includes the 31st.
pub(crate) fn parse_date(text: &str, end: bool) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let day = if end {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    crate::timestamp::parse_as_of(t)
        .map_err(|_| format!("`{text}` is not a date such as 2026-03-31 or an RFC 3339 instant"))
}

#[derive(Debug, Serialize)]
pub(crate) struct PeriodReport {
    pub(crate) schema_version: u32,
    pub(crate) generated_at: String,
    pub(crate) from: String,
    /// Exclusive.
    pub(crate) to: String,
    pub(crate) ledger: String,
    pub(crate) head_seq: Option<u64>,
    pub(crate) head_sha256: Option<String>,
    pub(crate) chain: ChainState,
    pub(crate) runs: Vec<RunRow>,
    pub(crate) reviews: Vec<ReviewRow>,
    pub(crate) cadence: Cadence,
    pub(crate) findings: FindingChanges,
    pub(crate) leavers: Leavers,
    /// Changes made by `remediate apply`, against `revoke_within_days`.
    pub(crate) revocations: super::revocations::Revocations,
    /// What the pack cannot tell (empty when it covers everything).
    pub(crate) not_covered: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChainState {
    pub(crate) ok: bool,
    pub(crate) lines: u64,
    pub(crate) problems: Vec<String>,
    pub(crate) files_verified: usize,
    pub(crate) files_unavailable: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct RunRow {
    pub(crate) line: u64,
    pub(crate) at: String,
    pub(crate) run_id: String,
    pub(crate) run_dir: String,
    pub(crate) as_of: Option<String>,
    pub(crate) complete: Option<bool>,
    pub(crate) accounts: Option<u64>,
    pub(crate) failing: Option<u64>,
    pub(crate) scopes: Option<u64>,
    pub(crate) scopes_failed: Option<u64>,
    /// `source_name/scope` of every failed scope.
    pub(crate) failed_scopes: Vec<String>,
    /// `used` when its report.json was compared; otherwise why it could not be.
    pub(crate) report_json: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ReviewRow {
    pub(crate) run_id: String,
    pub(crate) run_dir: String,
    pub(crate) started: Option<String>,
    pub(crate) collected: Vec<String>,
    pub(crate) signed_off: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Cadence {
    pub(crate) cadence_days: u32,
    pub(crate) sign_offs_in_period: Vec<String>,
    /// Every stretch longer than the cadence without a sign-off.
    pub(crate) gaps: Vec<Gap>,
    pub(crate) met: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Gap {
    /// The last sign-off before the gap (or the start of the ledger or period).
    pub(crate) since: String,
    /// The sign-off that ended it; `None`: the period ended first.
    pub(crate) until: Option<String>,
    pub(crate) days: i64,
    /// When the next sign-off was due.
    pub(crate) due: String,
    /// Whole cadences without a sign-off (a missed quarter is 1).
    pub(crate) missed_cycles: i64,
}

/// What the pack is built from, gathered in one pass over the ledger.
#[derive(Default)]
pub(crate) struct Gathered {
    runs: BTreeMap<String, RunRow>,
    reviews: BTreeMap<String, ReviewRow>,
    /// The period's runs to compare, by `run_id` (the latest record of each).
    sources: BTreeMap<String, RunSource>,
    /// The last run recorded before the period: where the comparison starts.
    before: Option<RunSource>,
    /// Every sign-off before the period's end.
    sign_offs: Vec<DateTime<Utc>>,
    first_at: Option<DateTime<Utc>>,
    revocations: super::revocations::Revocations,
}

impl Gathered {
    /// Take one record (the `visit` of [`super::verify`]).
    pub(crate) fn add(&mut self, period: &Period, line: u64, r: &Record) {
        let Some(at) = crate::timestamp::parse_timestamp(&r.at) else {
            return;
        };
        self.first_at.get_or_insert(at);
        if r.kind == Kind::ReviewSignOff && at < period.to {
            self.sign_offs.push(at);
        }
        if r.kind == Kind::Run && at < period.from {
            self.before = Some(run_source(line, r));
        }
        if at < period.from || at >= period.to {
            return;
        }
        match r.kind {
            // A later record of the same run (reports rewritten) replaces the earlier.
            Kind::Run => {
                self.runs.insert(r.run_id.clone(), run_row(line, r));
                self.sources.insert(r.run_id.clone(), run_source(line, r));
            }
            Kind::ReviewStart | Kind::ReviewCollect | Kind::ReviewSignOff => self.review(r.kind, r),
            Kind::RemediationChange => self.revocations.add_change(at, r),
            Kind::RemediationVerify => self.revocations.add_verify(r),
            Kind::RemediationPlan => {}
        }
    }

    fn review(&mut self, kind: Kind, r: &Record) {
        let row = self.reviews.entry(r.run_id.clone()).or_default();
        row.run_id.clone_from(&r.run_id);
        row.run_dir.clone_from(&r.run_dir);
        match kind {
            Kind::ReviewStart => row.started = Some(r.at.clone()),
            Kind::ReviewCollect => row.collected.push(r.at.clone()),
            Kind::ReviewSignOff => row.signed_off = Some(r.at.clone()),
            _ => {}
        }
    }

    pub(crate) fn report(
        self,
        period: &Period,
        cadence_days: u32,
        revoke_within_days: u32,
        v: &Verification,
        roster: Option<&crate::people::Roster>,
    ) -> PeriodReport {
        let mut sources: Vec<RunSource> = self.sources.into_values().collect();
        sources.sort_by_key(|s| (s.as_of, s.line));
        let end = period.to.min(Utc::now());
        let h = history::compare(self.before.as_ref(), &sources, roster, period.from, end);
        let mut runs: Vec<RunRow> = self.runs.into_values().collect();
        runs.sort_by_key(|r| r.line);
        for run in &mut runs {
            run.report_json = h
                .report_status
                .get(&run.run_id)
                .cloned()
                .unwrap_or_default();
        }
        let cadence = cadence(period, cadence_days, &self.sign_offs, self.first_at);
        PeriodReport {
            schema_version: 1,
            generated_at: format_time(&Utc::now()),
            from: format_time(&period.from),
            to: format_time(&period.to),
            ledger: v.path.display().to_string(),
            head_seq: v.head.as_ref().map(|h| h.0),
            head_sha256: v.head.as_ref().map(|h| h.1.clone()),
            chain: ChainState {
                ok: v.ok(),
                lines: v.lines,
                problems: v.problems.iter().map(ToString::to_string).collect(),
                files_verified: v.refs_ok,
                files_unavailable: v.unavailable.len(),
            },
            runs,
            reviews: self.reviews.into_values().collect(),
            cadence,
            not_covered: if h.leavers.roster_configured {
                Vec::new()
            } else {
                vec!["leavers: the config has no [roster], so accounts cannot be matched to people"]
            },
            findings: h.findings,
            leavers: h.leavers,
            revocations: self.revocations.finish(revoke_within_days),
        }
    }
}

fn run_row(line: u64, r: &Record) -> RunRow {
    let s = &r.summary;
    let num = |k: &str| s.get(k).and_then(Value::as_u64);
    let failed_scopes = s
        .get("scope_status")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("status").and_then(Value::as_str) == Some("failed"))
        .map(|e| {
            let part = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
            format!("{}/{}", part("source_name"), part("scope"))
        })
        .collect();
    RunRow {
        line,
        at: r.at.clone(),
        run_id: r.run_id.clone(),
        run_dir: r.run_dir.clone(),
        as_of: s.get("as_of").and_then(Value::as_str).map(str::to_string),
        complete: s.get("complete").and_then(Value::as_bool),
        accounts: num("accounts"),
        failing: num("failing"),
        scopes: num("scopes"),
        scopes_failed: num("scopes_failed"),
        failed_scopes,
        report_json: String::new(),
    }
}

/// A run record as the comparison needs it: its as-of and the report.json it recorded.
fn run_source(line: u64, r: &Record) -> RunSource {
    let as_of = r.summary.get("as_of").and_then(Value::as_str);
    RunSource {
        line,
        run_id: r.run_id.clone(),
        as_of: as_of.and_then(crate::timestamp::parse_timestamp),
        report: r
            .refs
            .iter()
            .find(|f| {
                let name = std::path::Path::new(&f.path).file_name();
                name == Some(std::ffi::OsStr::new(crate::report::REPORT_JSON))
            })
            .cloned(),
    }
}

/// Every gap longer than the cadence along: the last sign-off before the period (without one,
/// the period's start or the ledger's first record, whichever is later), each sign-off in the
/// period, and the period's end (or now, if earlier).
fn cadence(
    period: &Period,
    cadence_days: u32,
    sign_offs: &[DateTime<Utc>],
    first_at: Option<DateTime<Utc>>,
) -> Cadence {
    let mut sorted = sign_offs.to_vec();
    sorted.sort();
    let before = sorted.iter().rev().find(|t| **t < period.from).copied();
    let start = period.from.max(first_at.unwrap_or(period.from));
    let mut anchor = before.unwrap_or(start);
    let limit = TimeDelta::days(i64::from(cadence_days));
    let in_period: Vec<DateTime<Utc>> = sorted.into_iter().filter(|t| *t >= period.from).collect();
    let mut gaps = Vec::new();
    let mut gap = |since: DateTime<Utc>, until: DateTime<Utc>, ended: bool| {
        if until - since > limit {
            gaps.push(Gap {
                since: format_time(&since),
                until: ended.then(|| format_time(&until)),
                days: (until - since).num_days(),
                due: format_time(&(since + limit)),
                missed_cycles: (until - since).num_days() / i64::from(cadence_days),
            });
        }
    };
    for t in &in_period {
        gap(anchor, *t, true);
        anchor = *t;
    }
    gap(anchor, period.to.min(Utc::now()), false);
    let met = gaps.is_empty() && !in_period.is_empty();
    Cadence {
        cadence_days,
        sign_offs_in_period: in_period.iter().map(format_time).collect(),
        gaps,
        met,
    }
}

/// Write `ledger-report.json` and `ledger-report.html` into `out`, together.
pub(crate) fn write(report: &PeriodReport, out: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| format!("cannot serialise the ledger report: {e}"))?;
    let html = super::period_html::render(report);
    let mut set = crate::output::FileSet::new(out)?;
    set.stage(REPORT_JSON, |w| {
        w.write_all(&json)
            .map_err(|e| format!("cannot write {REPORT_JSON}: {e}"))
    })?;
    set.stage(REPORT_HTML, |w| {
        w.write_all(html.as_bytes())
            .map_err(|e| format!("cannot write {REPORT_HTML}: {e}"))
    })?;
    set.commit()
}
