//! The completeness and accuracy statement — what auditors call IPE, "information produced by
//! the entity": for every scope, how its population was obtained (which endpoint, how many
//! pages, when, under which request ids, and the SHA-256 of each body where it is kept as
//! evidence), how many accounts it gave, and whether that equals the total the API claims.
//! report.json holds the same facts per scope (`scopes[].provenance`); this lays them out for
//! people.

use serde::Serialize;

use super::view::{ScopeNames, ScopeRow, scope_rows};
use super::{Report, plural};
use crate::model::{Provenance, ScopeStatus, format_human};

/// Request ids and digests listed per scope before pointing at report.json.
const MAX_LISTED: usize = 3;

/// One scope, and how its population was obtained.
#[derive(Debug, Serialize)]
pub(crate) struct CoverageRow<'a> {
    #[serde(flatten)]
    pub scope: ScopeRow<'a>,
    /// "3 pages of sentry.members", or "no answer" when nothing came back.
    pub obtained: String,
    /// "2026-11-20 06:00:00 – 06:00:01 UTC", or empty.
    pub fetched: String,
    /// The first request ids, and how many more there are.
    pub request_ids: String,
    /// The first pages' SHA-256 (12 hex digits each), or why there are none.
    pub evidence: String,
    /// "212, as the API reports", "API reports 212: mismatch", or empty where the API
    /// reports no total.
    pub total: String,
    pub total_matches: bool,
}

/// The statement's opening sentence and its rows.
#[derive(Debug, Serialize)]
pub(crate) struct Coverage<'a> {
    pub summary: String,
    pub rows: Vec<CoverageRow<'a>>,
}

pub(crate) fn coverage<'a>(report: &'a Report, names: &ScopeNames<'a>) -> Coverage<'a> {
    let rows: Vec<CoverageRow<'a>> = scope_rows(report, names)
        .into_iter()
        .zip(&report.scopes)
        .map(|(scope, entry)| row(scope, &entry.provenance, entry.status))
        .collect();
    Coverage {
        summary: summary(report),
        rows,
    }
}

fn row<'a>(scope: ScopeRow<'a>, p: &Provenance, status: ScopeStatus) -> CoverageRow<'a> {
    let (total, total_matches) = match p.reported_total {
        Some(t) if status == ScopeStatus::Ok && t == scope.accounts as u64 => {
            (format!("{t}, as the API reports"), true)
        }
        Some(t) => (format!("API reports {t}: does not match"), false),
        None => (String::new(), true),
    };
    CoverageRow {
        obtained: obtained(p),
        fetched: fetched(p),
        request_ids: listed(p.pages.iter().filter_map(|r| r.request_id.as_deref())),
        evidence: evidence(p),
        total,
        total_matches,
        scope,
    }
}

/// "3 pages of sentry.members", "1 page of sentdm.users".
fn obtained(p: &Provenance) -> String {
    if p.pages.is_empty() {
        return "no answer".into();
    }
    let n = p.pages.len();
    format!("{n} page{} of {}", plural(n), p.endpoints().join(", "))
}

/// When the first and the last page arrived, to the second.
fn fetched(p: &Provenance) -> String {
    let times = p.pages.iter().map(|r| r.fetched_at);
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        return String::new();
    };
    let (first, last) = (format_human(&first), format_human(&last));
    if first == last {
        return first;
    }
    // Same day: the second time without its date.
    match (first.get(..11), last.get(11..)) {
        (Some(day), Some(time)) if last.starts_with(day) => {
            format!("{} – {time}", first.trim_end_matches(" UTC"))
        }
        _ => format!("{first} – {last}"),
    }
}

fn evidence(p: &Provenance) -> String {
    if p.pages.is_empty() {
        return String::new();
    }
    let digests: Vec<&str> = p
        .pages
        .iter()
        .filter_map(|r| r.sha256.as_deref())
        .map(|d| d.get(..12).unwrap_or(d))
        .collect();
    if digests.is_empty() {
        return "not kept (run with --evidence DIR)".into();
    }
    listed(digests.into_iter())
}

/// The first few, and "+ N more".
fn listed<'s>(items: impl Iterator<Item = &'s str>) -> String {
    let all: Vec<&str> = items.collect();
    let mut out = all
        .iter()
        .take(MAX_LISTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > MAX_LISTED {
        out.push_str(&format!(" + {} more", all.len() - MAX_LISTED));
    }
    out
}

/// "302 accounts in 7 scopes, read from 12 pages of the APIs' member lists; 2 scopes could not
/// be read completely. 5 scopes' counts were checked against the total their API reports."
fn summary(report: &Report) -> String {
    let scopes = &report.scopes;
    let ok = scopes
        .iter()
        .filter(|s| s.status == ScopeStatus::Ok)
        .count();
    let pages: usize = scopes.iter().map(|s| s.provenance.pages.len()).sum();
    let accounts = report.summary.accounts;
    let mut text = format!(
        "{accounts} account{} in {ok} scope{}, read from {pages} page{} of the APIs' account lists",
        plural(accounts),
        plural(ok),
        plural(pages)
    );
    let failed = scopes.len() - ok;
    if failed > 0 {
        text.push_str(&format!(
            "; {failed} scope{} could not be read completely and {} not in this report",
            plural(failed),
            if failed == 1 { "is" } else { "are" }
        ));
    }
    text.push('.');
    let checked = scopes
        .iter()
        .filter(|s| s.status == ScopeStatus::Ok && s.provenance.reported_total.is_some())
        .count();
    match checked {
        0 => {}
        1 => text.push_str(" 1 scope's account count equals the total its API reports."),
        n => text.push_str(&format!(
            " {n} scopes' account counts equal the totals their API reports."
        )),
    }
    let kept = scopes
        .iter()
        .flat_map(|s| &s.provenance.pages)
        .any(|p| p.sha256.is_some());
    text.push_str(if kept {
        " Every page is kept as evidence; its SHA-256 is listed in report.json and the archive's manifest."
    } else {
        " The pages were not kept as evidence (run with --evidence DIR to keep them)."
    });
    text
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::PageRecord;

    fn page(second: u32, request_id: Option<&str>, sha: Option<&str>) -> PageRecord {
        PageRecord {
            endpoint: "sentdm.users".into(),
            url: "https://api.sent.dm/v3/users".into(),
            status: 200,
            fetched_at: Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, second).unwrap(),
            request_id: request_id.map(str::to_string),
            bytes: 10,
            sha256: sha.map(str::to_string),
        }
    }

    #[test]
    fn pages_times_ids_and_digests_are_summarised() {
        let p = Provenance {
            display_name: Some("Marketing".into()),
            reported_total: Some(2),
            pages: (0..5)
                .map(|i| page(i, Some(&format!("req_{i}")), Some(&"ab".repeat(32))))
                .collect(),
        };
        assert_eq!(obtained(&p), "5 pages of sentdm.users");
        assert_eq!(fetched(&p), "2026-11-20 06:00:00 – 06:00:04 UTC");
        assert_eq!(
            listed(p.pages.iter().filter_map(|r| r.request_id.as_deref())),
            "req_0, req_1, req_2 + 2 more"
        );
        assert_eq!(
            evidence(&p),
            "abababababab, abababababab, abababababab + 2 more"
        );
        let none = Provenance {
            pages: vec![page(0, None, None)],
            ..Provenance::default()
        };
        assert_eq!(obtained(&none), "1 page of sentdm.users");
        assert_eq!(fetched(&none), "2026-11-20 06:00:00 UTC");
        assert_eq!(evidence(&none), "not kept (run with --evidence DIR)");
        assert_eq!(obtained(&Provenance::default()), "no answer");
    }
}
