//! report.xlsx from the real binary, read back with calamine and compared with report.json (and
//! findings.csv) of the same run: the sheets, their headers and rows, the dates, and the hostile
//! names of the demo archive kept as text.

use std::io::Read;
use std::path::Path;

use calamine::{Data, DataType, Range, Reader, Xlsx, open_workbook};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::common::*;

type Book = Xlsx<std::io::BufReader<std::fs::File>>;

/// `run --replay` of the demo into `out`: report.json, the CSV and the workbook.
fn replay(out: &Path, extra: &[&str]) {
    bin()
        .args(["run", "--replay", demo().to_str().unwrap()])
        .args(["--as-of", DEMO_AS_OF, "--out", out.to_str().unwrap()])
        .args(["--format", "json,csv,xlsx"])
        .args(extra)
        .assert()
        .code(4);
}

fn sheet(book: &mut Book, name: &str) -> Range<Data> {
    book.worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"))
}

fn header(range: &Range<Data>) -> Vec<String> {
    range
        .rows()
        .next()
        .expect("a header row")
        .iter()
        .map(|c| c.to_string())
        .collect()
}

fn col(range: &Range<Data>, name: &str) -> usize {
    let h = header(range);
    h.iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("{name} in {h:?}"))
}

/// The data rows of a table sheet (its header left out).
fn rows(range: &Range<Data>) -> Vec<&[Data]> {
    range.rows().skip(1).collect()
}

fn array<'a>(report: &'a Value, key: &str) -> &'a Vec<Value> {
    report[key].as_array().unwrap_or_else(|| panic!("{key}"))
}

/// A JSON timestamp as Excel keeps it: to the millisecond.
fn json_time(v: &Value) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(v.as_str()?).unwrap().to_utc();
    DateTime::from_timestamp_millis(t.timestamp_millis())
}

fn cell_time(d: &Data) -> Option<DateTime<Utc>> {
    if d.is_empty() {
        return None;
    }
    Some(
        d.as_datetime()
            .unwrap_or_else(|| panic!("{d:?} is not a date-time"))
            .and_utc(),
    )
}

fn text(d: &Data) -> Option<String> {
    match d {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        other => panic!("{other:?} is not text"),
    }
}

fn sheet_xml(path: &Path, index: usize) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{index}.xml"))
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[test]
fn the_demo_workbook_holds_what_report_json_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    replay(&out, &[]);
    let report = read_json(&out.join("report.json"));
    let xlsx = out.join("report.xlsx");
    let mut book: Book = open_workbook(&xlsx).unwrap();
    assert_eq!(
        book.sheet_names(),
        ["Summary", "Findings", "Accounts", "Privileged", "Coverage"]
    );

    // Findings: findings.csv's columns first, in its order; one row per finding, in its order.
    let findings = sheet(&mut book, "Findings");
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    let csv_header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let h = header(&findings);
    let h: Vec<&str> = h.iter().map(|x| x.trim_end_matches(" (UTC)")).collect();
    assert_eq!(&h[..csv_header.len()], csv_header);
    let json_findings = array(&report, "findings");
    assert!(!json_findings.is_empty());
    assert_eq!(rows(&findings).len(), json_findings.len());
    let (id, seen, suppressed) = (
        col(&findings, "id"),
        col(&findings, "last_seen_at (UTC)"),
        col(&findings, "suppressed"),
    );
    for (row, f) in rows(&findings).iter().zip(json_findings) {
        assert_eq!(text(&row[id]).as_deref(), f["id"].as_str());
        assert_eq!(cell_time(&row[seen]), json_time(&f["last_seen_at"]));
        assert_eq!(row[suppressed], Data::Bool(f["suppressed"] == true));
    }

    // Accounts: every account, every time a date-time equal to report.json's.
    let accounts = sheet(&mut book, "Accounts");
    let csv = std::fs::read_to_string(out.join("accounts.csv")).unwrap();
    let csv_header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let h = header(&accounts);
    let h: Vec<&str> = h.iter().map(|x| x.trim_end_matches(" (UTC)")).collect();
    assert_eq!(&h[..csv_header.len()], csv_header);
    let json_accounts = array(&report, "accounts");
    assert_eq!(rows(&accounts).len(), json_accounts.len());
    let mut dates = 0;
    for (row, a) in rows(&accounts).iter().zip(json_accounts) {
        for key in ["account_id", "email", "name", "role", "status"] {
            assert_eq!(
                text(&row[col(&accounts, key)]).as_deref(),
                a[key].as_str(),
                "{key}"
            );
        }
        for key in [
            "last_login_at",
            "last_active_at",
            "last_seen_at",
            "invited_at",
            "created_at",
        ] {
            let cell = &row[col(&accounts, &format!("{key} (UTC)"))];
            assert_eq!(
                cell_time(cell),
                json_time(&a[key]),
                "{key} of {}",
                a["account_id"]
            );
            dates += usize::from(!cell.is_empty());
        }
        assert_eq!(
            row[col(&accounts, "privileged")],
            Data::Bool(a["privileged"] == true)
        );
        let mfa = &row[col(&accounts, "mfa")];
        match a["mfa"].as_bool() {
            Some(b) => assert_eq!(mfa, &Data::Bool(b)),
            None => assert!(mfa.is_empty()),
        }
    }
    assert!(dates > json_accounts.len(), "the demo has dates to compare");

    // A name that is a formula reads back as that text, and no cell holds a formula.
    let (i, evil) = json_accounts
        .iter()
        .enumerate()
        .find(|(_, a)| a["name"].as_str().is_some_and(|n| n.starts_with('=')))
        .expect("the demo archive has a formula for a name");
    let name = col(&accounts, "name");
    assert_eq!(
        accounts.get_value((i as u32 + 1, name as u32)),
        Some(&Data::String(evil["name"].as_str().unwrap().into()))
    );
    for sheet_name in book.sheet_names() {
        let formulas = book.worksheet_formula(&sheet_name).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{sheet_name} has a formula"
        );
    }

    // Privileged: the privileged accounts, each with its unsuppressed failing findings.
    let privileged = sheet(&mut book, "Privileged");
    let json_privileged: Vec<&Value> = json_accounts
        .iter()
        .filter(|a| a["privileged"] == true)
        .collect();
    assert!(!json_privileged.is_empty());
    assert_eq!(rows(&privileged).len(), json_privileged.len());
    let failing = col(&privileged, "failing findings");
    let mut any_failing = false;
    for (row, a) in rows(&privileged).iter().zip(&json_privileged) {
        assert_eq!(
            text(&row[col(&privileged, "account_id")]).as_deref(),
            a["account_id"].as_str()
        );
        let want = json_findings
            .iter()
            .filter(|f| {
                f["outcome"] == "fail"
                    && f["suppressed"] == false
                    && f["source_name"] == a["source_name"]
                    && f["scope"] == a["scope"]
                    && f["account_id"] == a["account_id"]
            })
            .count();
        any_failing |= want > 0;
        assert_eq!(row[failing].as_f64(), Some(want as f64));
        let twofa = text(&row[col(&privileged, "2FA")]).unwrap();
        let want = match a["mfa"].as_bool() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        assert_eq!(twofa, want);
    }
    assert!(
        any_failing,
        "some privileged account fails a rule in the demo"
    );

    // Coverage: one row per scope, the failed ones with their error.
    let coverage = sheet(&mut book, "Coverage");
    let json_scopes = array(&report, "scopes");
    assert_eq!(rows(&coverage).len(), json_scopes.len());
    for (row, s) in rows(&coverage).iter().zip(json_scopes) {
        assert_eq!(
            text(&row[col(&coverage, "scope")]).as_deref(),
            s["scope"].as_str()
        );
        let status = text(&row[col(&coverage, "status")]).unwrap();
        assert_eq!(status.to_lowercase(), s["status"].as_str().unwrap());
        assert_eq!(
            row[col(&coverage, "accounts")].as_f64(),
            s["accounts"].as_f64()
        );
        assert_eq!(
            text(&row[col(&coverage, "error_request_id")]).as_deref(),
            s["error"]["request_id"].as_str()
        );
    }

    // Summary: the verdict's counts and when the run judged.
    let summary = sheet(&mut book, "Summary");
    let value = |label: &str| -> Data {
        summary
            .rows()
            .find(|r| r[0] == Data::String(label.into()))
            .unwrap_or_else(|| panic!("{label}"))[1]
            .clone()
    };
    assert_eq!(
        cell_time(&value("as of (UTC)")),
        json_time(&report["as_of"])
    );
    assert_eq!(
        value("failing").as_f64(),
        report["summary"]["failing"].as_f64()
    );
    assert_eq!(value("findings").as_f64(), Some(json_findings.len() as f64));
    assert_eq!(
        text(&value("run id")).as_deref(),
        report["run"]["run_id"].as_str()
    );
    assert_eq!(text(&value("replayed")).as_deref(), Some("yes"));

    // Every sheet: the header frozen and filtered.
    for i in 1..=5 {
        let xml = sheet_xml(&xlsx, i);
        assert!(
            xml.contains("ySplit=\"1\"") && xml.contains("state=\"frozen\""),
            "sheet {i}"
        );
        assert!(xml.contains("<autoFilter ref=\"A1:"), "sheet {i}");
    }
    assert!(sheet_xml(&xlsx, 3).contains(&format!(
        "<autoFilter ref=\"A1:Q{}\"/>",
        json_accounts.len() + 1
    )));
}

#[test]
fn people_suppressions_and_changes_get_sheets_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = write_config(
        dir.path(),
        &format!(
            "[roster]\nfile = \"{}\"\n",
            root.join("examples/roster.csv").display()
        ),
    );
    let suppressions = root.join("examples/suppressions.toml");
    let with_review = |out: &Path, extra: &[&str]| {
        let review = [
            "--config",
            cfg.to_str().unwrap(),
            "--suppressions",
            suppressions.to_str().unwrap(),
        ];
        replay(out, &[&review[..], extra].concat());
    };
    // A baseline with one finding fewer (so one is new) and one fixed since.
    let first = dir.path().join("first");
    with_review(&first, &[]);
    let mut baseline = read_json(&first.join("report.json"));
    let findings = baseline["findings"].as_array_mut().unwrap();
    findings.remove(0);
    let mut fixed = findings[0].clone();
    fixed["id"] = "fixed".into();
    fixed["scope"] = "acme".into();
    fixed["account_id"] = "offboarded-1".into();
    findings.push(fixed);
    let baseline_path = dir.path().join("baseline.json");
    std::fs::write(&baseline_path, serde_json::to_vec(&baseline).unwrap()).unwrap();

    let out = dir.path().join("out");
    with_review(&out, &["--baseline", baseline_path.to_str().unwrap()]);
    let report = read_json(&out.join("report.json"));
    let mut book: Book = open_workbook(out.join("report.xlsx")).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Findings",
            "Accounts",
            "Privileged",
            "Coverage",
            "People",
            "Suppressions",
            "Changes"
        ]
    );

    let people = sheet(&mut book, "People");
    let json_people = array(&report, "people");
    assert!(!json_people.is_empty());
    assert_eq!(rows(&people).len(), json_people.len());
    for (row, p) in rows(&people).iter().zip(json_people) {
        assert_eq!(
            text(&row[col(&people, "email")]).as_deref(),
            p["email"].as_str()
        );
        assert_eq!(
            row[col(&people, "findings")].as_f64(),
            p["findings"].as_f64()
        );
    }

    let suppressions = sheet(&mut book, "Suppressions");
    let json_suppressions = array(&report, "suppressions");
    assert_eq!(rows(&suppressions).len(), json_suppressions.len());
    for (row, s) in rows(&suppressions).iter().zip(json_suppressions) {
        assert_eq!(
            text(&row[col(&suppressions, "state")]).as_deref(),
            s["state"].as_str()
        );
        assert_eq!(
            text(&row[col(&suppressions, "owner")]).as_deref(),
            s["owner"].as_str()
        );
        let expires = cell_time(&row[col(&suppressions, "expires")]).unwrap();
        assert_eq!(
            expires.format("%Y-%m-%d").to_string(),
            s["expires"].as_str().unwrap()
        );
    }
    // The suppressed findings say why, on the Findings sheet.
    let findings = sheet(&mut book, "Findings");
    let reasons = rows(&findings)
        .iter()
        .filter(|r| !r[col(&findings, "suppression_reason")].is_empty())
        .count();
    assert_eq!(
        reasons as u64,
        report["summary"]["suppressed"].as_u64().unwrap()
    );
    assert!(reasons > 0);

    let changes = sheet(&mut book, "Changes");
    let json_new: Vec<&Value> = array(&report, "findings")
        .iter()
        .filter(|f| f["change"] == "new")
        .collect();
    let resolved = array(&report["changes"], "resolved");
    assert_eq!((json_new.len(), resolved.len()), (1, 1));
    let kinds: Vec<(String, String)> = rows(&changes)
        .iter()
        .map(|r| {
            (
                text(&r[col(&changes, "change")]).unwrap(),
                text(&r[col(&changes, "id")]).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "new".to_string(),
                json_new[0]["id"].as_str().unwrap().to_string()
            ),
            ("resolved".to_string(), "fixed".to_string())
        ]
    );
}
