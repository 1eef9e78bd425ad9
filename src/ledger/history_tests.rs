//! The period pack's comparison of runs: findings opened and resolved with their age (never
//! resolved by a failed scope), leavers with the date their last account disappeared, and
//! reports that are gone or changed named as such.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::history::USED;
use super::period::{Gathered, Period, PeriodReport};
use super::{Entry, Kind, append_at, verify};

fn day(m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, 6, 0, 0).single().unwrap()
}

/// A failing finding: rule, scope, account, email.
type F<'a> = (&'a str, &'a str, &'a str, &'a str);

/// A report.json as of `at`, its scopes `ok` unless listed in `failed`.
fn report(at: DateTime<Utc>, failed: &[&str], findings: &[F], accounts: &[(&str, &str)]) -> Value {
    let scopes: Vec<Value> = ["acme", "labs"]
        .iter()
        .map(|s| {
            let status = if failed.contains(s) { "failed" } else { "ok" };
            json!({"source": "sentry", "source_name": "sentry", "scope": s, "status": status, "accounts": 1, "error": null})
        })
        .collect();
    let findings: Vec<Value> = findings
        .iter()
        .map(|(rule, scope, id, email)| {
            json!({"id": format!("{rule}:{scope}:{id}"), "rule": rule, "severity": "high", "outcome": "fail",
                   "source": "sentry", "source_name": "sentry", "scope": scope, "account_id": id,
                   "email": email, "status": "active", "detail": "d", "suppressed": false})
        })
        .collect();
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|(scope, email)| {
            json!({"source": "sentry", "source_name": "sentry", "scope": scope, "account_id": email,
                   "email": email, "privileged": false, "status": "active"})
        })
        .collect();
    json!({"schema_version": 1, "title": "t", "as_of": crate::model::format_time(&at),
           "scopes": scopes, "findings": findings, "accounts": accounts, "run": {}})
}

/// Write the report into `dir/<name>/report.json` and record its run at `at`.
fn record(ledger: &Path, dir: &Path, name: &str, at: DateTime<Utc>, report: &Value) -> PathBuf {
    let run_dir = dir.join(name);
    std::fs::create_dir_all(&run_dir).unwrap();
    let path = run_dir.join("report.json");
    std::fs::write(&path, report.to_string()).unwrap();
    let summary = json!({"as_of": crate::model::format_time(&at), "complete": true});
    let entry = Entry {
        kind: Kind::Run,
        run_id: name.into(),
        run_dir,
        refs: vec![path.clone()],
        summary: summary.as_object().cloned().unwrap_or_default(),
    };
    append_at(ledger, entry, at).unwrap();
    path
}

fn pack(ledger: &Path, roster: Option<&crate::people::Roster>) -> PeriodReport {
    let range = Period {
        from: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).single().unwrap(),
        to: Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().unwrap(),
    };
    let mut g = Gathered::default();
    let v = verify(ledger, |line, r| g.add(&range, line, r)).unwrap();
    g.report(&range, 92, 7, &v, roster)
}

fn roster(dir: &Path) -> crate::people::Roster {
    let file = dir.join("people.csv");
    std::fs::write(
        &file,
        "email,name,status,end_date\nann@acme.example,Ann,left,2026-02-10\nbob@acme.example,Bob,active,\n\
         cy@acme.example,Cy,active,2026-06-30\n",
    )
    .unwrap();
    let config = crate::people::RosterConfig {
        file,
        domain_aliases: [("acme.io".to_string(), "acme.example".to_string())].into(),
    };
    crate::people::Roster::load(&config).unwrap()
}

#[test]
fn findings_are_opened_and_resolved_only_where_their_scope_was_audited() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let old: F = ("no_2fa", "acme", "a1", "ann@acme.io");
    let labs: F = ("inactive", "labs", "l1", "lee@x.example");
    let new: F = ("no_2fa", "acme", "a2", "bob@acme.example");
    let base = report(day(1, 15), &[], &[old, labs], &[]);
    record(&ledger, dir.path(), "jan", day(1, 15), &base);
    // March: `old` gone from audited acme (resolved); labs failed, so `labs` is not resolved;
    // `new` opened.
    let march = report(day(3, 1), &["labs"], &[new], &[]);
    record(&ledger, dir.path(), "mar", day(3, 1), &march);
    // April: labs audited again without `labs`: resolved now; `new` still open.
    let april = report(day(4, 1), &[], &[new], &[]);
    record(&ledger, dir.path(), "apr", day(4, 1), &april);

    let p = pack(&ledger, None);
    let f = &p.findings;
    assert_eq!(f.baseline_run.as_ref().unwrap().run_id, "jan");
    assert_eq!(f.baseline_run.as_ref().unwrap().report_json, USED);
    assert_eq!(f.runs_compared, 3);
    assert_eq!(
        (f.opened_count, f.resolved_count, f.still_open_count),
        (1, 2, 1)
    );
    assert_eq!(f.opened[0].account_id, "a2");
    assert_eq!(f.opened[0].resolved_at, None);
    // Open from 1 March, 06:00 to the period's end (1 May): 60 whole days.
    assert_eq!(f.opened[0].age_days, 60);
    let resolved: Vec<(&str, Option<&str>, i64)> = f
        .resolved
        .iter()
        .map(|r| (r.account_id.as_str(), r.resolved_at.as_deref(), r.age_days))
        .collect();
    assert_eq!(
        resolved,
        [
            ("a1", Some("2026-03-01T06:00:00Z"), 45),
            ("l1", Some("2026-04-01T06:00:00Z"), 76)
        ]
    );
    assert_eq!(p.not_covered.len(), 1, "{:?}", p.not_covered);
    assert!(!p.leavers.roster_configured);
    let html = super::period_html::render(&p);
    assert!(html.contains("Findings opened and resolved"), "{html}");
    assert!(html.contains("No roster is configured"), "{html}");
}

#[test]
fn leavers_are_listed_with_the_run_where_their_last_account_was_gone() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let roster = roster(dir.path());
    // Ann (left 10 February) under an alias domain in acme and labs; Cy leaves in June.
    let jan = [
        ("acme", "ann@acme.io"),
        ("labs", "ann@acme.example"),
        ("acme", "cy@acme.example"),
    ];
    record(
        &ledger,
        dir.path(),
        "jan",
        day(1, 15),
        &report(day(1, 15), &[], &[], &jan),
    );
    // March: acme no longer lists Ann, but labs failed: her labs account may still be there.
    let mar = [("acme", "cy@acme.example"), ("acme", "bob@acme.example")];
    record(
        &ledger,
        dir.path(),
        "mar",
        day(3, 1),
        &report(day(3, 1), &["labs"], &[], &mar),
    );
    record(
        &ledger,
        dir.path(),
        "apr",
        day(4, 1),
        &report(day(4, 1), &[], &[], &mar),
    );

    let p = pack(&ledger, Some(&roster));
    assert!(p.leavers.roster_configured);
    assert!(p.not_covered.is_empty());
    let rows: Vec<(&str, Option<&str>, Option<i64>)> = p
        .leavers
        .rows
        .iter()
        .map(|r| {
            (
                r.email.as_str(),
                r.gone_at.as_deref(),
                r.days_after_end_date,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ann@acme.example", Some("2026-04-01T06:00:00Z"), Some(50)),
            // Her end date is after the period: not yet due.
            ("cy@acme.example", None, None),
        ]
    );
    assert_eq!(p.leavers.rows[0].last_with_account, "2026-01-15T06:00:00Z");
    let html = super::period_html::render(&p);
    assert!(html.contains("Ann &lt;ann@acme.example&gt;"), "{html}");
}

#[test]
fn a_report_changed_or_gone_is_not_compared_and_the_pack_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let one = report(day(3, 1), &[], &[("no_2fa", "acme", "a1", "x@y")], &[]);
    let changed = record(&ledger, dir.path(), "mar", day(3, 1), &one);
    let gone = record(&ledger, dir.path(), "apr", day(4, 1), &one);
    std::fs::write(&changed, "{}").unwrap();
    std::fs::remove_file(&gone).unwrap();

    let p = pack(&ledger, None);
    assert_eq!(p.findings.runs_compared, 0);
    assert!(
        p.runs[0]
            .report_json
            .starts_with("report.json changed since it was recorded")
    );
    let gone = format!("report.json no longer available ({})", gone.display());
    assert_eq!(p.runs[1].report_json, gone);
    let html = super::period_html::render(&p);
    assert!(html.contains("report.json no longer available"), "{html}");
}

#[test]
fn the_page_shows_at_most_500_rows_of_a_table_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let ids: Vec<String> = (0..510).map(|i| format!("a{i}")).collect();
    let many: Vec<F> = ids
        .iter()
        .map(|id| ("no_2fa", "acme", id.as_str(), "x@y"))
        .collect();
    record(
        &ledger,
        dir.path(),
        "mar",
        day(3, 1),
        &report(day(3, 1), &[], &many, &[]),
    );
    let p = pack(&ledger, None);
    assert_eq!(p.findings.opened.len(), 510);
    let html = super::period_html::render(&p);
    assert!(html.contains("and 10 more"), "{html}");
}
