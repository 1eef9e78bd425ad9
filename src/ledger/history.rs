//! What the period's runs say when compared one after the other: the failing findings opened and
//! resolved, with their age, and the leavers with the date their last account disappeared.
//!
//! The runs are the `run` records of the period, after the last run recorded before it (the
//! baseline). Each run's report.json is read from the path its record names, and used only when
//! its SHA-256 is still the recorded one: a report changed since cannot be evidence of what that
//! run found. A run without a usable report is skipped, and the pack says why.
//!
//! A finding is keyed as `review::baseline` keys it across runs (rule, source, scope, account),
//! not by its `id`, so that the comparison does not depend on how ids are derived. An absence
//! counts only where the scope was audited: a finding missing from a scope that failed is "not
//! re-checked", never resolved; likewise an account missing from a failed scope has not
//! disappeared.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Ref;
use crate::files::{REPORT_JSON_FILE, Symlinks};
use crate::model::{Outcome, ScopeStatus, format_time};
use crate::people::{PersonStatus, Roster};
use crate::report::schema::{self, ReportFile};

/// A run to compare: from its ledger record.
#[derive(Debug, Clone)]
pub(crate) struct RunSource {
    pub(crate) line: u64,
    pub(crate) run_id: String,
    pub(crate) as_of: Option<DateTime<Utc>>,
    /// The report.json it recorded, with its digest then.
    pub(crate) report: Option<Ref>,
}

/// The findings part of the pack.
#[derive(Debug, Default, Serialize)]
pub(crate) struct FindingChanges {
    /// The run before the period the comparison starts from, if one was recorded.
    pub(crate) baseline_run: Option<BaselineRun>,
    /// Runs whose report.json was read and compared.
    pub(crate) runs_compared: usize,
    pub(crate) opened_count: usize,
    pub(crate) resolved_count: usize,
    /// Of the findings opened in the period, those still open at its end.
    pub(crate) still_open_count: usize,
    /// Every failing finding first present in a run of the period.
    pub(crate) opened: Vec<FindingRow>,
    /// Every failing finding that was gone, in a run of the period, from its audited scope.
    pub(crate) resolved: Vec<FindingRow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BaselineRun {
    pub(crate) run_id: String,
    pub(crate) as_of: Option<String>,
    /// `used`, or why its report.json could not be (no longer available, changed).
    pub(crate) report_json: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FindingRow {
    pub(crate) rule: String,
    pub(crate) source_name: String,
    pub(crate) scope: String,
    pub(crate) account_id: String,
    pub(crate) email: Option<String>,
    /// The finding's `first_seen`, else the as-of of the first run that had it.
    pub(crate) first_seen: String,
    /// As of the run where it was gone; `None`: still open at the period's end.
    pub(crate) resolved_at: Option<String>,
    /// Days from `first_seen` to `resolved_at`, or to the period's end while open.
    pub(crate) age_days: i64,
}

/// The leavers part of the pack.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Leavers {
    /// `false`: the config has no `[roster]`, so leavers cannot be told.
    pub(crate) roster_configured: bool,
    pub(crate) rows: Vec<LeaverRow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct LeaverRow {
    pub(crate) email: String,
    pub(crate) name: String,
    /// `left`, or `active` with an end date.
    pub(crate) status: &'static str,
    pub(crate) end_date: Option<String>,
    /// As of the last run where they still had an account.
    pub(crate) last_with_account: String,
    /// `source_name/scope` of the accounts they had then.
    pub(crate) scopes: Vec<String>,
    /// As of the first later run where none remained (their scopes audited); `None`: not yet.
    pub(crate) gone_at: Option<String>,
    /// From the end date to `gone_at` (or to the period's end while they still have one);
    /// `None` without an end date, or when it is later than that.
    pub(crate) days_after_end_date: Option<i64>,
}

/// What comparing the runs gives: both parts, and per run (`run_id`) whether its report was used.
pub(crate) struct History {
    pub(crate) findings: FindingChanges,
    pub(crate) leavers: Leavers,
    pub(crate) report_status: HashMap<String, String>,
}

/// `used` when a report was read; otherwise why not.
pub(crate) const USED: &str = "used";

/// Compare `baseline` (if any) then `runs` (the period's, in order), up to `end`.
pub(crate) fn compare(
    baseline: Option<&RunSource>,
    runs: &[RunSource],
    roster: Option<&Roster>,
    period_from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> History {
    let mut walk = Walk::new(roster, period_from, end);
    let mut status = HashMap::new();
    let all = baseline.into_iter().map(|b| (b, false));
    for (run, in_period) in all.chain(runs.iter().map(|r| (r, true))) {
        match load(run) {
            Ok((as_of, file)) => {
                walk.take(&file, as_of, in_period);
                status.insert(run.run_id.clone(), USED.to_string());
            }
            Err(why) => {
                status.insert(run.run_id.clone(), why);
            }
        }
    }
    let mut history = walk.finish(roster.is_some());
    history.findings.baseline_run = baseline.map(|b| BaselineRun {
        run_id: b.run_id.clone(),
        as_of: b.as_of.as_ref().map(format_time),
        report_json: status.get(&b.run_id).cloned().unwrap_or_default(),
    });
    History {
        report_status: status,
        ..history
    }
}

/// The report.json of a run, if its bytes still have the recorded SHA-256; else why not.
fn load(run: &RunSource) -> Result<(DateTime<Utc>, ReportFile), String> {
    let Some(r) = &run.report else {
        return Err("no report.json recorded".into());
    };
    let path = std::path::Path::new(&r.path);
    let bytes = match crate::files::read_bounded(path, REPORT_JSON_FILE, Symlinks::Follow) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            return Err(format!("report.json no longer available ({})", r.path));
        }
        Err(e) => {
            return Err(format!(
                "report.json unreadable ({}): {}",
                r.path,
                e.reason()
            ));
        }
    };
    let digest = super::sha256_hex(&bytes);
    if digest != r.sha256 {
        return Err(format!(
            "report.json changed since it was recorded ({}: SHA-256 {digest}, recorded {})",
            r.path, r.sha256
        ));
    }
    let file = schema::parse(path, &bytes, "the recorded report.json")?;
    Ok((run.as_of.unwrap_or(file.as_of), file))
}

/// A finding's identity across runs.
type Key = (String, String, String, String);

/// A failing finding seen open.
struct Open {
    row: FindingRow,
    /// Opened in a run of the period (not carried from before it).
    opened_in_period: bool,
}

/// A tracked leaver's accounts as last seen.
struct Seen {
    last_with: DateTime<Utc>,
    scopes: BTreeSet<(String, String)>,
    gone_at: Option<DateTime<Utc>>,
}

/// The comparison, one run at a time (only sets of keys are kept between runs).
struct Walk<'a> {
    roster: Option<&'a Roster>,
    from: DateTime<Utc>,
    end: DateTime<Utc>,
    open: BTreeMap<Key, Open>,
    out: FindingChanges,
    seen: BTreeMap<String, Seen>,
}

impl<'a> Walk<'a> {
    fn new(roster: Option<&'a Roster>, from: DateTime<Utc>, end: DateTime<Utc>) -> Walk<'a> {
        Walk {
            roster,
            from,
            end,
            open: BTreeMap::new(),
            out: FindingChanges::default(),
            seen: BTreeMap::new(),
        }
    }

    fn take(&mut self, file: &ReportFile, as_of: DateTime<Utc>, in_period: bool) {
        self.out.runs_compared += 1;
        let audited: BTreeSet<(String, String)> = file
            .scopes
            .iter()
            .filter(|s| s.status == ScopeStatus::Ok)
            .map(|s| (s.source_name.clone(), s.scope.clone()))
            .collect();
        self.findings(file, as_of, in_period, &audited);
        self.people(file, as_of, &audited);
    }

    fn findings(
        &mut self,
        file: &ReportFile,
        as_of: DateTime<Utc>,
        in_period: bool,
        audited: &BTreeSet<(String, String)>,
    ) {
        let mut now = BTreeSet::new();
        for f in file
            .findings
            .iter()
            .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
        {
            let key = (
                f.rule.clone(),
                f.source_name.clone(),
                f.scope.clone(),
                f.account_id.clone(),
            );
            now.insert(key.clone());
            // A finding first reported before the period (its `first_seen`) was not opened in
            // it, even when the run before the period cannot be read.
            let since = f
                .first_seen
                .as_deref()
                .and_then(crate::timestamp::parse_timestamp);
            let opened_in_period = in_period && since.is_none_or(|t| t >= self.from);
            self.open.entry(key).or_insert_with(|| Open {
                row: FindingRow {
                    rule: f.rule.clone(),
                    source_name: f.source_name.clone(),
                    scope: f.scope.clone(),
                    account_id: f.account_id.clone(),
                    email: f.email.clone(),
                    first_seen: f.first_seen.clone().unwrap_or_else(|| format_time(&as_of)),
                    resolved_at: None,
                    age_days: 0,
                },
                opened_in_period,
            });
        }
        let gone: Vec<Key> = self
            .open
            .keys()
            .filter(|k| !now.contains(*k) && audited.contains(&(k.1.clone(), k.2.clone())))
            .cloned()
            .collect();
        for key in gone {
            if let Some(open) = self.open.remove(&key) {
                self.resolved(open, as_of, in_period);
            }
        }
    }

    fn resolved(&mut self, open: Open, at: DateTime<Utc>, in_period: bool) {
        let mut row = open.row;
        row.resolved_at = Some(format_time(&at));
        row.age_days = age(&row.first_seen, at);
        if open.opened_in_period {
            self.out.opened.push(row.clone());
        }
        if in_period {
            self.out.resolved.push(row);
        }
    }

    fn people(
        &mut self,
        file: &ReportFile,
        as_of: DateTime<Utc>,
        audited: &BTreeSet<(String, String)>,
    ) {
        let Some(roster) = self.roster else { return };
        // An unreadable accounts list leaves the leavers unchanged for this run.
        let Ok(accounts) = file.accounts() else {
            return;
        };
        let mut now: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for a in &accounts {
            let Some(p) = a.email.as_deref().and_then(|e| roster.person(e)) else {
                continue;
            };
            if p.status == PersonStatus::Left || p.end_date.is_some() {
                let scope = (a.source_name.to_string(), a.scope.to_string());
                now.entry(p.email.clone()).or_default().insert(scope);
            }
        }
        for (email, seen) in &mut self.seen {
            let checked = seen.scopes.iter().all(|s| audited.contains(s));
            if !now.contains_key(email) && seen.gone_at.is_none() && checked {
                seen.gone_at = Some(as_of);
            }
        }
        for (email, scopes) in now {
            let entry = Seen {
                last_with: as_of,
                scopes,
                gone_at: None,
            };
            self.seen.insert(email, entry);
        }
    }

    fn finish(mut self, roster_configured: bool) -> History {
        let end = self.end;
        for open in std::mem::take(&mut self.open).into_values() {
            if open.opened_in_period {
                let mut row = open.row;
                row.age_days = age(&row.first_seen, end);
                self.out.opened.push(row);
                self.out.still_open_count += 1;
            }
        }
        self.out.opened_count = self.out.opened.len();
        self.out.resolved_count = self.out.resolved.len();
        let leavers = Leavers {
            roster_configured,
            rows: self.leaver_rows(),
        };
        History {
            findings: self.out,
            leavers,
            report_status: HashMap::new(),
        }
    }

    fn leaver_rows(&self) -> Vec<LeaverRow> {
        let Some(roster) = self.roster else {
            return Vec::new();
        };
        let by_email: HashMap<&str, _> = roster
            .people()
            .iter()
            .map(|p| (p.email.as_str(), p))
            .collect();
        let mut rows = Vec::new();
        for (email, seen) in &self.seen {
            let Some(p) = by_email.get(email.as_str()) else {
                continue;
            };
            let until = seen.gone_at.unwrap_or(self.end);
            rows.push(LeaverRow {
                email: p.email.clone(),
                name: p.name.clone(),
                status: if p.status == PersonStatus::Left {
                    "left"
                } else {
                    "active"
                },
                end_date: p.end_date.map(|d| d.to_string()),
                last_with_account: format_time(&seen.last_with),
                scopes: seen
                    .scopes
                    .iter()
                    .map(|(s, c)| format!("{s}/{c}"))
                    .collect(),
                gone_at: seen.gone_at.map(|t| format_time(&t)),
                days_after_end_date: p.end_date.map(|d| days_after(d, until)).filter(|d| *d >= 0),
            });
        }
        rows
    }
}

/// Whole days from an RFC 3339 `since` to `until` (0 when `since` does not parse).
fn age(since: &str, until: DateTime<Utc>) -> i64 {
    crate::timestamp::parse_timestamp(since).map_or(0, |t| (until - t).num_days())
}

/// Whole days from the start of `day` (UTC) to `until`.
fn days_after(day: NaiveDate, until: DateTime<Utc>) -> i64 {
    (until - day.and_time(chrono::NaiveTime::MIN).and_utc()).num_days()
}
