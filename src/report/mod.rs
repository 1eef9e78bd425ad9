//! The report model (what report.json holds) and the writers that render it: one file per format,
//! each written atomically.

mod compact_json;
mod coverage;
mod csv;
pub(crate) use csv::neutralise;
pub(crate) use xlsx::{excel_serial, fit};
mod html;
mod json_lists;
mod ocsf;
pub(crate) mod privileged;
pub(crate) mod schema;
pub(crate) mod view;
mod xlsx;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::model::{
    Accounts, FailOn, Finding, Outcome, Provenance, RuleId, ScopeError, ScopeResult, ScopeStatus,
    Severity, Shard, SourceKind, Tool, serialize_time_value,
};
use crate::output::{FileSet, Fill};
use crate::rules::{ActiveRule, rule_infos};
use crate::templates::Templates;

/// Report formats (`report.formats`, `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Csv,
    Json,
    /// One Excel workbook (`report.xlsx`) for reviewers and auditors.
    Xlsx,
    /// Findings as OCSF Compliance Findings, one JSON object per line, for SIEMs and data lakes.
    Ocsf,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Html,
        Format::Csv,
        Format::Json,
        Format::Xlsx,
        Format::Ocsf,
    ];
    /// What a run writes when `report.formats` is not set.
    pub const DEFAULT: [Format; 3] = [Format::Html, Format::Csv, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
            Format::Ocsf => "ocsf",
        }
    }

    pub fn parse(s: &str) -> Result<Format, String> {
        let wanted = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| {
                format!("unknown report format `{wanted}`: expected html, csv, json, xlsx or ocsf")
            })
    }
}

pub(crate) const REPORT_JSON: &str = "report.json";
pub(crate) const REPORT_HTML: &str = "report.html";
pub(crate) const FINDINGS_CSV: &str = "findings.csv";
pub(crate) const ACCOUNTS_CSV: &str = "accounts.csv";
pub(crate) const REPORT_XLSX: &str = "report.xlsx";
pub(crate) const FINDINGS_OCSF: &str = "findings.ocsf.jsonl";
/// With a roster: one row per person and their accounts.
pub(crate) const PEOPLE_CSV: &str = "people.csv";

/// Counts keyed by name, serialised as a JSON object in a meaningful (not alphabetical) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub Vec<(String, usize)>);

impl Counts {
    pub fn get(&self, key: &str) -> usize {
        self.0.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub accounts: usize,
    pub findings: usize,
    /// Findings with outcome `fail` that are not suppressed.
    pub failing: usize,
    pub manual: usize,
    pub suppressed: usize,
    pub scopes: usize,
    pub scopes_failed: usize,
    /// Failing findings per enabled rule (0 included).
    pub by_rule: Counts,
    /// Failing findings per severity, most severe first (0 included).
    pub by_severity: Counts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScopeEntry {
    pub source: SourceKind,
    pub source_name: String,
    pub scope: String,
    pub status: ScopeStatus,
    pub accounts: usize,
    pub error: Option<ScopeError>,
    /// How the scope's accounts were obtained (absent from reports made before it was recorded).
    #[serde(default)]
    pub provenance: Provenance,
}

/// Where this report's inputs came from, for whoever has to trust it later.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    /// This run's id, also in its start log line and its metrics.
    pub run_id: String,
    /// Requests retried while fetching (a merged report: over every shard).
    pub retries: u32,
    pub fail_on: String,
    pub rules: Vec<RuleMeta>,
    pub config_sha256: Option<String>,
    /// SHA-256 of the evidence manifest written (`--evidence`) or replayed (`--replay`).
    pub evidence_manifest_sha256: Option<String>,
    pub evidence_dir: Option<String>,
    pub replayed: bool,
    /// `I/N` when this run audited one shard of a scaled-out run.
    pub shard: Option<Shard>,
    /// The compliance framework the report was limited to (`--framework`).
    pub framework: Option<String>,
    /// Why the run stopped before fetching everything (deadline, SIGTERM), if it did.
    pub stopped: Option<String>,
}

/// One rule as it ran: the criteria in force and what it made of its population.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    pub id: RuleId,
    pub severity: Severity,
    /// What the rule checked, with the thresholds in force.
    pub checks: String,
    /// Its settings in force, by key; empty for rules without settings.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The compliance controls the rule evidences.
    pub references: &'static [&'static str],
    pub population: RulePopulation,
}

/// "59 of 212 active accounts": what a rule evaluated and what became of it. Every evaluated
/// account (or scope) is exactly one of failed, manual, suppressed or passed.
#[derive(Debug, Clone, Serialize)]
pub struct RulePopulation {
    /// What the rule evaluates, as a plural noun ("active accounts", "organizations").
    pub of: &'static str,
    pub evaluated: usize,
    /// Unsuppressed failing findings.
    pub failed: usize,
    /// Unsuppressed findings that ask for a check by hand.
    pub manual: usize,
    pub suppressed: usize,
    pub passed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub title: String,
    #[serde(serialize_with = "serialize_time_value")]
    pub generated_at: DateTime<Utc>,
    /// The instant the rules judged the accounts at (`--as-of`, or when the run started).
    #[serde(serialize_with = "serialize_time_value")]
    pub as_of: DateTime<Utc>,
    pub complete: bool,
    pub summary: Summary,
    pub scopes: Vec<ScopeEntry>,
    pub findings: Vec<Finding>,
    pub accounts: Accounts,
    /// Every suppression entry and its state in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<crate::review::suppressions::EntryStatus>,
    /// What changed since the baseline, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::review::baseline::Changes>,
    /// One row per person and their accounts, when a roster is configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<crate::review::roster::PersonRow>,
    pub run: RunMeta,
}

/// Everything the report is built from.
pub struct ReportInput {
    pub run_id: String,
    /// Requests retried while fetching.
    pub retries: u32,
    pub title: String,
    pub as_of: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub results: Vec<ScopeResult>,
    pub findings: Vec<Finding>,
    pub rules: Vec<ActiveRule>,
    /// How many accounts (or scopes) each rule evaluated, over every scope.
    pub evaluated: Vec<(RuleId, usize)>,
    pub fail_on: FailOn,
    /// Why the run stopped early (deadline, signal), if it did.
    pub stopped: Option<String>,
    pub suppressions: Vec<crate::review::suppressions::EntryStatus>,
    pub changes: Option<crate::review::baseline::Changes>,
    pub config_sha256: Option<String>,
    pub evidence_manifest_sha256: Option<String>,
    pub evidence_dir: Option<String>,
    pub replayed: bool,
    /// `I/N` when this run audited one shard of a scaled-out run.
    pub shard: Option<Shard>,
    pub framework: Option<String>,
}

impl Report {
    pub fn build(input: ReportInput) -> Report {
        let (scopes, accounts) = scope_entries(input.results);
        let mut findings = input.findings;
        sort_findings(&mut findings);
        let summary = summarise(&scopes, &accounts, &findings, &input.rules);
        let rules = input
            .rules
            .iter()
            .map(|r| RuleMeta::of(r, &input.evaluated, &findings))
            .collect();
        Report {
            schema_version: schema::SCHEMA_VERSION,
            tool: Tool::current(),
            title: input.title,
            generated_at: input.generated_at,
            as_of: input.as_of,
            complete: summary.scopes_failed == 0 && input.stopped.is_none(),
            summary,
            scopes,
            findings,
            accounts,
            suppressions: input.suppressions,
            changes: input.changes,
            people: Vec::new(),
            run: RunMeta {
                run_id: input.run_id,
                retries: input.retries,
                fail_on: input.fail_on.to_string(),
                rules,
                config_sha256: input.config_sha256,
                evidence_manifest_sha256: input.evidence_manifest_sha256,
                evidence_dir: input.evidence_dir,
                replayed: input.replayed,
                stopped: input.stopped,
                shard: input.shard,
                framework: input.framework,
            },
        }
    }

    /// Unsuppressed failing findings at or above `fail_on`.
    pub fn failing_at_or_above(&self, fail_on: FailOn) -> usize {
        match fail_on {
            FailOn::None => 0,
            FailOn::Severity(min) => self
                .findings
                .iter()
                .filter(|f| f.outcome == Outcome::Fail && !f.suppressed && f.severity >= min)
                .count(),
        }
    }

    /// One line for people: "12 failing findings across 5 scopes — 1 scope could not be audited".
    pub fn verdict(&self) -> String {
        let s = &self.summary;
        let mut v = format!(
            "{} failing finding{} across {} scope{}",
            s.failing,
            plural(s.failing),
            s.scopes,
            plural(s.scopes)
        );
        if s.manual > 0 {
            v.push_str(&format!(", {} to verify by hand", s.manual));
        }
        if s.scopes_failed > 0 {
            v.push_str(&format!(
                " — {} scope{} could not be audited",
                s.scopes_failed,
                if s.scopes_failed == 1 { "" } else { "s" }
            ));
        }
        if let Some(reason) = &self.run.stopped {
            v.push_str(&format!(" (stopped early: {reason})"));
        }
        v
    }
}

impl RuleMeta {
    fn of(rule: &ActiveRule, evaluated: &[(RuleId, usize)], findings: &[Finding]) -> RuleMeta {
        let info = crate::rules::rule_info(rule.id.as_str());
        let evaluated = evaluated
            .iter()
            .filter(|(id, _)| *id == rule.id)
            .map(|(_, n)| n)
            .sum();
        let (mut failed, mut manual, mut suppressed) = (0, 0, 0);
        for f in findings.iter().filter(|f| f.rule == rule.id) {
            match (f.suppressed, f.outcome) {
                (true, _) => suppressed += 1,
                (false, Outcome::Fail) => failed += 1,
                (false, Outcome::Manual) => manual += 1,
            }
        }
        RuleMeta {
            id: rule.id,
            severity: rule.severity,
            checks: rule.criteria.clone(),
            settings: rule.settings.clone(),
            references: info.map_or(&[], |i| i.references),
            population: RulePopulation {
                of: info.map_or("accounts", |i| i.population.noun()),
                evaluated,
                failed,
                manual,
                suppressed,
                passed: evaluated.saturating_sub(failed + manual + suppressed),
            },
        }
    }
}

/// One entry per scope, in the order fetched, and every account of the scopes that succeeded
/// (their lists kept as they are, not copied into one).
fn scope_entries(results: Vec<ScopeResult>) -> (Vec<ScopeEntry>, Accounts) {
    let mut scopes = Vec::with_capacity(results.len());
    let mut accounts = Accounts::default();
    for r in results {
        let (status, count, error) = match r.outcome {
            Ok(list) => {
                let n = list.len();
                accounts.append(list);
                (ScopeStatus::Ok, n, None)
            }
            Err(e) => (ScopeStatus::Failed, 0, Some(e)),
        };
        scopes.push(ScopeEntry {
            source: r.source,
            source_name: r.source_name,
            scope: r.scope,
            status,
            accounts: count,
            error,
            provenance: r.provenance,
        });
    }
    (scopes, accounts)
}

/// Most severe first, failures before manual checks, then rule (registry order), then age —
/// the account unseen longest first, never seen before all — then place and person: the order
/// every view lists findings in.
///
/// A million findings of ~350 bytes each are sorted by a small key per finding (the rule's rank
/// looked up once, not per comparison), comparing the strings of two findings only when their
/// keys tie, and moved into place once: sorting whole findings with a hashed rank lookup per
/// comparison was a fifth of a large run. The index ends the comparison, so equal findings keep
/// their order, as a stable sort would.
fn sort_findings(findings: &mut [Finding]) {
    let rank_of: HashMap<RuleId, usize> = rule_infos()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    let mut keys: Vec<SortKey> = findings
        .iter()
        .enumerate()
        .map(|(index, f)| SortKey {
            severity: std::cmp::Reverse(f.severity),
            outcome: f.outcome,
            rule_rank: rank_of.get(&f.rule).copied(),
            last_seen_at: f.subject.last_seen_at(),
            index,
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.head()
            .cmp(&b.head())
            .then_with(|| {
                place_and_person(&findings[a.index]).cmp(&place_and_person(&findings[b.index]))
            })
            .then_with(|| a.index.cmp(&b.index))
    });
    let order: Vec<usize> = keys.iter().map(|k| k.index).collect();
    drop(keys);
    permute(findings, order);
}

/// What [`sort_findings`] compares when the keys tie.
fn place_and_person(f: &Finding) -> (&str, &str, Option<&str>, &str) {
    (
        &f.source_name,
        &f.scope,
        f.subject.email(),
        f.subject.account_id(),
    )
}

/// What [`sort_findings`] compares first, without touching the findings' strings.
struct SortKey {
    severity: std::cmp::Reverse<Severity>,
    outcome: Outcome,
    /// A rule missing from the registry (`None`) sorts first.
    rule_rank: Option<usize>,
    last_seen_at: Option<DateTime<Utc>>,
    index: usize,
}

impl SortKey {
    fn head(
        &self,
    ) -> (
        std::cmp::Reverse<Severity>,
        Outcome,
        Option<usize>,
        Option<DateTime<Utc>>,
    ) {
        (
            self.severity,
            self.outcome,
            self.rule_rank,
            self.last_seen_at,
        )
    }
}

/// Put `items[order[i]]` at `i` for every `i`, in place (a second vector of a million findings
/// would cost 350 MB): each cycle of the permutation is walked once with swaps, and `order`
/// marks what is done.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != at {
            let from = order[at];
            order[at] = at;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

fn summarise(
    scopes: &[ScopeEntry],
    accounts: &Accounts,
    findings: &[Finding],
    rules: &[ActiveRule],
) -> Summary {
    let failing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
        .collect();
    let by_rule = rules
        .iter()
        .map(|r| {
            let n = failing.iter().filter(|f| f.rule == r.id).count();
            (r.id.to_string(), n)
        })
        .collect();
    let by_severity = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            let n = failing.iter().filter(|f| f.severity == *s).count();
            (s.as_str().to_string(), n)
        })
        .collect();
    Summary {
        accounts: accounts.len(),
        findings: findings.len(),
        failing: failing.len(),
        manual: findings
            .iter()
            .filter(|f| f.outcome == Outcome::Manual && !f.suppressed)
            .count(),
        suppressed: findings.iter().filter(|f| f.suppressed).count(),
        scopes: scopes.len(),
        scopes_failed: scopes
            .iter()
            .filter(|s| s.status == ScopeStatus::Failed)
            .count(),
        by_rule: Counts(by_rule),
        by_severity: Counts(by_severity),
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "1 scope", "2 scopes": a count and its noun, plural when it is not one.
pub(crate) fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", plural(n))
}

/// One file a report can be rendered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    Html,
    FindingsCsv,
    AccountsCsv,
    Json,
    Xlsx,
    Ocsf,
}

impl Artifact {
    pub fn file_name(self) -> &'static str {
        match self {
            Artifact::Html => REPORT_HTML,
            Artifact::FindingsCsv => FINDINGS_CSV,
            Artifact::AccountsCsv => ACCOUNTS_CSV,
            Artifact::Json => REPORT_JSON,
            Artifact::Xlsx => REPORT_XLSX,
            Artifact::Ocsf => FINDINGS_OCSF,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Artifact::Html => "text/html; charset=utf-8",
            Artifact::FindingsCsv | Artifact::AccountsCsv => "text/csv; charset=utf-8",
            Artifact::Json => "application/json",
            Artifact::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Artifact::Ocsf => "application/x-ndjson",
        }
    }

    /// The files a report format stands for.
    pub fn for_format(format: Format) -> &'static [Artifact] {
        match format {
            Format::Html => &[Artifact::Html],
            Format::Csv => &[Artifact::FindingsCsv, Artifact::AccountsCsv],
            Format::Json => &[Artifact::Json],
            Format::Xlsx => &[Artifact::Xlsx],
            Format::Ocsf => &[Artifact::Ocsf],
        }
    }
}

/// Stream one artifact of the report into `out`.
pub(crate) fn render_to(
    report: &Report,
    artifact: Artifact,
    templates: &Templates,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    match artifact {
        Artifact::Json => schema::write_to(report, out),
        Artifact::FindingsCsv => csv::write_findings(&report.findings, out),
        Artifact::AccountsCsv => csv::write_accounts(&report.accounts, out),
        Artifact::Xlsx => xlsx::write(report, out),
        Artifact::Ocsf => ocsf::write(report, out),
        Artifact::Html => {
            let html = html::render(report, templates)?;
            out.write_all(html.as_bytes())
                .map_err(|e| format!("cannot write {REPORT_HTML}: {e}"))
        }
    }
}

/// One artifact in memory (email attachments).
pub fn render_bytes(
    report: &Report,
    artifact: Artifact,
    templates: &Templates,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    render_to(report, artifact, templates, &mut out)?;
    Ok(out)
}

/// Write the selected formats into `dir` as one set, replaced whole or not at all: every file
/// (people.csv too, with a roster) is first written and flushed to disk under a temporary name in
/// `dir`, and only when all of them are complete are they renamed over the previous ones. If any
/// write fails — disk full, quota, a file-size limit — the temporaries are removed and every
/// previous file stays as it was, so the directory never holds this run's report.html next to
/// the last run's report.json. The files are written in parallel, each on its own thread.
/// Returns the files written.
pub(crate) fn write_all(
    report: &Report,
    dir: &Path,
    formats: &[Format],
    templates: &Templates,
) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<(&str, Fill<'_>)> = Vec::new();
    for format in formats {
        for &artifact in Artifact::for_format(*format) {
            files.push((
                artifact.file_name(),
                Box::new(move |out| {
                    timed(artifact.file_name(), || {
                        render_to(report, artifact, templates, out)
                    })
                }),
            ));
            if artifact == Artifact::AccountsCsv && !report.people.is_empty() {
                files.push((
                    PEOPLE_CSV,
                    Box::new(|out| timed(PEOPLE_CSV, || csv::write_people_to(&report.people, out))),
                ));
            }
        }
    }
    let mut set = FileSet::new(dir)?;
    set.stage_all(files)?;
    set.commit()
}

/// `fill`, and how long it took in the debug log.
fn timed(file: &str, fill: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let started = std::time::Instant::now();
    fill()?;
    tracing::debug!(file, ms = started.elapsed().as_millis() as u64, "written");
    Ok(())
}

#[cfg(test)]
mod sort_tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::model::{AccountSubject, Subject};

    /// The order as it was first written: a stable sort comparing whole findings. The keyed
    /// sort must give exactly this order, ties included, or reports would change.
    fn reference(findings: &mut [Finding]) {
        let rank: HashMap<RuleId, usize> = rule_infos()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.outcome.cmp(&b.outcome))
                .then_with(|| rank.get(&a.rule).cmp(&rank.get(&b.rule)))
                .then_with(|| a.subject.last_seen_at().cmp(&b.subject.last_seen_at()))
                .then_with(|| a.source_name.cmp(&b.source_name))
                .then_with(|| a.scope.cmp(&b.scope))
                .then_with(|| a.subject.email().cmp(&b.subject.email()))
                .then_with(|| a.subject.account_id().cmp(b.subject.account_id()))
        });
    }

    const RULES: [&str; 4] = [
        "stale_login",
        "admin_without_2fa",
        "pending_invite",
        "not_a_rule",
    ];

    /// Few distinct values per field, so that ties (and the order they keep) are common.
    fn finding(seed: (u8, u8, u8, u8, u8, u8, u8), n: usize) -> Finding {
        let (sev, outcome, rule, seen, place, email, id) = seed;
        let subject = if id == 0 {
            Subject::Scope
        } else {
            Subject::Account(AccountSubject {
                account_id: format!("{}", id % 3).into(),
                email: (email % 3 != 0).then(|| format!("u{}@example.com", email % 3).into()),
                name: None,
                role: None,
                status: "active".into(),
                last_seen_at: (seen % 3 != 0).then(|| {
                    Utc.with_ymd_and_hms(2026, 1, u32::from(seen % 3), 0, 0, 0)
                        .unwrap()
                }),
            })
        };
        Finding {
            // Unique, so that the comparison below sees which of two equal findings came first.
            id: n.to_string(),
            rule: RuleId::new(RULES[usize::from(rule) % RULES.len()]),
            severity: Severity::ALL[usize::from(sev) % Severity::ALL.len()],
            outcome: if outcome % 2 == 0 {
                Outcome::Fail
            } else {
                Outcome::Manual
            },
            source: SourceKind::Sentry,
            source_name: ["sentry", "sentdm"][usize::from(place % 2)].into(),
            scope: ["acme", "labs"][usize::from(place / 2 % 2)].into(),
            subject,
            detail: "".into(),
            suppressed: false,
            suppression: None,
            change: None,
            first_seen: None,
        }
    }

    proptest! {
        #[test]
        fn keyed_sort_keeps_the_order_of_the_whole_finding_sort(
            seeds in proptest::collection::vec(any::<(u8, u8, u8, u8, u8, u8, u8)>(), 0..200)
        ) {
            let findings: Vec<Finding> =
                seeds.into_iter().enumerate().map(|(n, s)| finding(s, n)).collect();
            let mut expected = findings.clone();
            reference(&mut expected);
            let mut sorted = findings;
            sort_findings(&mut sorted);
            let ids = |f: &[Finding]| f.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
            prop_assert_eq!(ids(&sorted), ids(&expected));
        }

        #[test]
        fn permute_puts_each_item_where_the_order_says(order in Just((0..50usize).collect::<Vec<_>>()).prop_shuffle()) {
            let mut items: Vec<usize> = (100..150).collect();
            permute(&mut items, order.clone());
            let expected: Vec<usize> = order.iter().map(|i| 100 + i).collect();
            prop_assert_eq!(items, expected);
        }
    }
}
