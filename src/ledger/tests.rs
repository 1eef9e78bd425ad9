//! Unit tests of the ledger: the chain as built, and every way verify must find it broken.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Map;

use super::*;

fn entry(kind: Kind, run_dir: &Path, refs: Vec<PathBuf>) -> Entry {
    Entry {
        kind,
        run_id: "r1".into(),
        run_dir: run_dir.to_path_buf(),
        refs,
        summary: Map::new(),
    }
}

/// A ledger of `n` run records in `dir/ledger`, each referring to its own `report-N.json`.
fn ledger_of(dir: &Path, n: usize) -> PathBuf {
    let ledger = dir.join("ledger");
    for i in 1..=n {
        let report = dir.join(format!("report-{i}.json"));
        std::fs::write(&report, format!("{{\"run\":{i}}}")).unwrap();
        append(&ledger, entry(Kind::Run, dir, vec![report])).unwrap();
    }
    ledger
}

fn lines(ledger: &Path) -> Vec<String> {
    std::fs::read_to_string(ledger_path(ledger))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(ledger: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(ledger_path(ledger), text).unwrap();
}

fn problems(ledger: &Path) -> Vec<String> {
    verify(ledger, |_, _| {})
        .unwrap()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_chain_links_each_line_to_the_bytes_of_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 3);
    let lines = lines(&ledger);
    assert_eq!(lines.len(), 3);
    let records: Vec<Record> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records[0].prev_sha256, GENESIS);
    assert_eq!(GENESIS, sha256_hex(b""));
    for i in 1..3 {
        assert_eq!(records[i].seq, i as u64 + 1);
        assert_eq!(records[i].prev_sha256, sha256_hex(lines[i - 1].as_bytes()));
    }
    let report = dir.path().join("report-2.json");
    assert_eq!(records[1].refs[0].sha256, sha256_hex(b"{\"run\":2}"));
    let abs = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("report-2.json");
    assert_eq!(Path::new(&records[1].refs[0].path), abs);
    assert!(report.exists());
    assert!(Path::new(&records[0].run_dir).is_absolute());

    let v = verify(&ledger, |_, _| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!((v.lines, v.refs_ok), (3, 3));
    assert_eq!(v.head, Some((3, sha256_hex(lines[2].as_bytes()))));
}

#[test]
fn an_edited_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 3);
    let mut l = lines(&ledger);
    l[0] = l[0].replace("\"seq\":1", "\"seq\": 1");
    write_lines(&ledger, &l);
    let p = problems(&ledger);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("line 2: prev_sha256"), "{p:?}");
    assert!(p[0].contains("line 1 was changed"), "{p:?}");
}

#[test]
fn a_deleted_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 3);
    let mut l = lines(&ledger);
    l.remove(1);
    write_lines(&ledger, &l);
    let p = problems(&ledger);
    assert!(
        p.iter()
            .any(|m| m.starts_with("line 2: seq is 3, expected 2")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("line 2: prev_sha256")),
        "{p:?}"
    );
}

#[test]
fn reordered_lines_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 3);
    let mut l = lines(&ledger);
    l.swap(1, 2);
    write_lines(&ledger, &l);
    let p = problems(&ledger);
    assert!(p.iter().any(|m| m.starts_with("line 2: seq is 3")), "{p:?}");
    assert!(p.iter().any(|m| m.starts_with("line 3: seq is 2")), "{p:?}");
}

#[test]
fn a_torn_last_line_is_found_and_never_extended() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 2);
    let whole = std::fs::read(ledger_path(&ledger)).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"schema_version\":1,\"seq\":3,\"at\"");
    std::fs::write(ledger_path(&ledger), &torn).unwrap();

    let p = problems(&ledger);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("line 3: incomplete"), "{p:?}");
    assert!(
        p[0].contains(&format!("truncate -s {}", whole.len())),
        "{p:?}"
    );

    let refused = append(&ledger, entry(Kind::Run, dir.path(), vec![])).unwrap_err();
    assert!(refused.contains("incomplete line"), "{refused}");
    assert!(
        refused.contains(&format!("truncate -s {}", whole.len())),
        "{refused}"
    );
    assert!(check_tail(&ledger).is_err());
    assert_eq!(
        std::fs::read(ledger_path(&ledger)).unwrap(),
        torn,
        "nothing appended"
    );

    // The repair the message names.
    std::fs::write(ledger_path(&ledger), &whole).unwrap();
    let record = append(&ledger, entry(Kind::Run, dir.path(), vec![])).unwrap();
    assert_eq!(record.seq, 3);
    assert!(verify(&ledger, |_, _| {}).unwrap().ok());
}

#[test]
fn a_last_line_that_is_not_a_record_is_not_extended() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 1);
    let mut l = lines(&ledger);
    l.push("{\"not\":\"a record\"}".into());
    write_lines(&ledger, &l);
    let refused = append(&ledger, entry(Kind::Run, dir.path(), vec![])).unwrap_err();
    assert!(refused.contains("is not a ledger record"), "{refused}");
    assert!(problems(&ledger)[0].starts_with("line 2: not a ledger record"));
}

#[test]
fn a_changed_file_is_a_problem_naming_the_line_the_path_and_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 2);
    let report = dir.path().join("report-1.json");
    std::fs::write(&report, "{\"run\":99}").unwrap();
    let p = problems(&ledger);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("line 1: "), "{p:?}");
    assert!(p[0].contains("report-1.json was changed"), "{p:?}");
    assert!(p[0].contains(&sha256_hex(b"{\"run\":99}")), "{p:?}");
    assert!(p[0].contains(&sha256_hex(b"{\"run\":1}")), "{p:?}");
}

#[test]
fn a_missing_file_is_reported_but_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 2);
    std::fs::remove_file(dir.path().join("report-2.json")).unwrap();
    let v = verify(&ledger, |_, _| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.unavailable.len(), 1);
    assert_eq!(v.unavailable[0].0, 2);
    assert!(v.unavailable[0].1.ends_with("report-2.json"));
}

#[test]
fn a_later_record_of_the_same_file_supersedes_the_earlier() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let report = dir.path().join("report.json");
    std::fs::write(&report, "one").unwrap();
    append(&ledger, entry(Kind::Run, dir.path(), vec![report.clone()])).unwrap();
    std::fs::write(&report, "two").unwrap();
    append(&ledger, entry(Kind::Run, dir.path(), vec![report.clone()])).unwrap();
    let v = verify(&ledger, |_, _| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!((v.refs_ok, v.superseded), (1, 1));
}

#[test]
fn an_over_long_line_is_a_problem_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_of(dir.path(), 1);
    let mut l = lines(&ledger);
    l.push("x".repeat(MAX_LINE + 10));
    write_lines(&ledger, &l);
    let v = verify(&ledger, |_, _| {}).unwrap();
    assert_eq!(v.lines, 2);
    assert!(v.problems[0].to_string().starts_with("line 2: longer than"));
}

#[test]
fn a_missing_referenced_file_at_append_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let e = append(
        &ledger,
        entry(Kind::Run, dir.path(), vec![dir.path().join("nope.json")]),
    )
    .unwrap_err();
    assert!(e.contains("nope.json"), "{e}");
    assert!(!ledger_path(&ledger).exists());
}

#[cfg(unix)]
#[test]
fn a_symlinked_ledger_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    std::fs::create_dir(&ledger).unwrap();
    std::fs::write(dir.path().join("elsewhere"), "").unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), ledger_path(&ledger)).unwrap();
    assert!(append(&ledger, entry(Kind::Run, dir.path(), vec![])).is_err());
    assert!(verify(&ledger, |_, _| {}).is_err());
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

#[test]
fn the_period_report_lists_runs_reviews_and_calls_out_missed_cadence() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let mut run = entry(Kind::Run, dir.path(), vec![]);
    run.summary = run_summary_fixture();
    append_at(&ledger, run, day(2026, 1, 10)).unwrap();
    append_at(
        &ledger,
        entry(Kind::ReviewStart, dir.path(), vec![]),
        day(2026, 1, 11),
    )
    .unwrap();
    append_at(
        &ledger,
        entry(Kind::ReviewSignOff, dir.path(), vec![]),
        day(2026, 1, 20),
    )
    .unwrap();
    // The next sign-off comes more than a quarter later: one missed cycle.
    append_at(
        &ledger,
        entry(Kind::ReviewSignOff, dir.path(), vec![]),
        day(2026, 6, 1),
    )
    .unwrap();

    let range = period::Period {
        from: period::parse_date("2026-01-01", false).unwrap(),
        to: period::parse_date("2026-06-30", true).unwrap(),
    };
    let mut g = period::Gathered::default();
    let v = verify(&ledger, |line, r| g.add(&range, line, r)).unwrap();
    let pack = g.report(&range, 92, 7, &v, None);
    assert!(pack.chain.ok);
    assert_eq!(pack.runs.len(), 1);
    assert_eq!(pack.runs[0].accounts, Some(7));
    assert_eq!(pack.runs[0].failed_scopes, vec!["sentry/acme".to_string()]);
    assert_eq!(pack.reviews.len(), 1);
    assert!(pack.reviews[0].signed_off.is_some());
    assert_eq!(pack.cadence.sign_offs_in_period.len(), 2);
    assert_eq!(pack.cadence.gaps.len(), 1, "{:?}", pack.cadence.gaps);
    assert_eq!(pack.cadence.gaps[0].days, 132);
    assert_eq!(pack.cadence.gaps[0].missed_cycles, 1);
    assert!(!pack.cadence.met);

    let out = dir.path().join("out");
    let written = period::write(&pack, &out).unwrap();
    assert_eq!(written.len(), 2);
    let html = std::fs::read_to_string(out.join(period::REPORT_HTML)).unwrap();
    assert!(html.contains("sentry/acme"));
    assert!(html.contains("Review cadence (every 92 days)"));
}

#[test]
fn no_sign_off_in_the_period_is_called_out() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    append_at(
        &ledger,
        entry(Kind::Run, dir.path(), vec![]),
        day(2026, 1, 10),
    )
    .unwrap();
    let range = period::Period {
        from: period::parse_date("2026-01-01", false).unwrap(),
        to: period::parse_date("2026-01-31", true).unwrap(),
    };
    let mut g = period::Gathered::default();
    let v = verify(&ledger, |line, r| g.add(&range, line, r)).unwrap();
    let pack = g.report(&range, 92, 7, &v, None);
    assert!(pack.cadence.sign_offs_in_period.is_empty());
    assert!(!pack.cadence.met);
    let html = std::fs::read_to_string({
        let out = dir.path().join("out");
        period::write(&pack, &out).unwrap();
        out.join(period::REPORT_HTML)
    })
    .unwrap();
    assert!(html.contains("No review was signed off in the period."));
}

#[test]
fn html_escapes_what_comes_from_the_ledger() {
    assert_eq!(
        period_html::esc("<script>\"&'"),
        "&lt;script&gt;&quot;&amp;&#39;"
    );
}

fn run_summary_fixture() -> Map<String, serde_json::Value> {
    match serde_json::json!({
        "as_of": "2026-01-10T00:00:00Z",
        "complete": false,
        "accounts": 7,
        "failing": 2,
        "scopes": 2,
        "scopes_failed": 1,
        "scope_status": [
            {"source_name": "sentry", "scope": "acme", "status": "failed", "accounts": 0},
            {"source_name": "sentdm", "scope": "org", "status": "ok", "accounts": 7},
        ],
    }) {
        serde_json::Value::Object(m) => m,
        _ => Map::new(),
    }
}
