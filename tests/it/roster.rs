//! The people roster: who each account belongs to, and the rules that need it.

use std::path::{Path, PathBuf};

use crate::support::common::*;
use predicates::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn run_with_roster(dir: &Path, roster_section: &str) -> assert_cmd::assert::Assert {
    let cfg = write_config(dir, roster_section);
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            root().join("examples/demo-evidence").to_str().unwrap(),
        ])
        .args([
            "--as-of",
            "2026-11-20T06:00:00Z",
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
        .assert()
}

#[test]
fn roster_rules_and_people_view() {
    let dir = tempfile::tempdir().unwrap();
    let section = format!(
        "[roster]\nfile = \"{}\"\ndomain_aliases = {{ \"acme-labs.example\" = \"acme.example\" }}\n",
        root().join("examples/roster.csv").display()
    );
    run_with_roster(dir.path(), &section).code(4);
    let report = read_json(&dir.path().join("out/report.json"));
    let by_rule = |rule: &str| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| f["email"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        by_rule("left_with_access"),
        vec!["olga.kowalski7@acme.example"]
    );
    let left = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "left_with_access")
        .unwrap();
    assert_eq!(
        left["detail"],
        "Olga Kowalski left on 2026-10-31; the account is still active"
    );
    assert_eq!(left["severity"], "high");
    // Matched through the domain alias; her contract ended in September.
    assert_eq!(
        by_rule("access_past_end_date"),
        vec!["priya.muller8@acme-labs.example"]
    );
    let orphans = by_rule("orphaned_account");
    assert!(
        orphans.len() > 250,
        "everyone not in the three-person roster"
    );
    assert!(!orphans.contains(&"dmitri.rossi1@acme.example".to_string()));

    let people = report["people"].as_array().unwrap();
    let dmitri = people
        .iter()
        .find(|p| p["email"] == "dmitri.rossi1@acme.example")
        .unwrap();
    assert_eq!(dmitri["status"], "active");
    assert_eq!(dmitri["accounts"], serde_json::json!(["sentry / acme"]));
    let priya = people
        .iter()
        .find(|p| p["email"] == "priya.muller8@acme.example")
        .unwrap();
    assert_eq!(
        priya["accounts"],
        serde_json::json!(["sentry / acme-labs"]),
        "the alias joins her account to her"
    );
    assert!(people.iter().any(|p| p["status"] == "not in roster"));

    let csv = std::fs::read_to_string(dir.path().join("out/people.csv")).unwrap();
    assert!(csv.starts_with("email,name,status,end_date,manager,accounts,findings\r\n"));
    assert!(csv.contains("olga.kowalski7@acme.example,Olga Kowalski,left,2026-10-31"));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("<h2 id=\"people\">People</h2>"));
}

#[test]
fn a_bad_roster_stops_the_run_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "email,name,status\na@acme.example,A,active\nb@acme.example,B,on leave\n",
    )
    .unwrap();
    run_with_roster(
        dir.path(),
        &format!("[roster]\nfile = \"{}\"\n", file.display()),
    )
    .code(1)
    .stderr(
        predicate::str::contains("people.csv (line 3)")
            .and(predicate::str::contains("status `on leave`")),
    );
    std::fs::write(&file, "name,status\nA,active\n").unwrap();
    run_with_roster(
        dir.path(),
        &format!("[roster]\nfile = \"{}\"\n", file.display()),
    )
    .code(1)
    .stderr(predicate::str::contains("no `email` column"));
}
