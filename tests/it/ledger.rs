//! The ledger through the real binary: two replays of the demo archive each append a `run`
//! record; `ledger verify` passes, then fails naming the line of an edited record and the path
//! of a changed report.json; `ledger report` writes the period evidence pack.

use std::path::Path;

use crate::support::common::{bin, read_json, replay_demo, write_config};

fn config(dir: &Path, ledger: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "[review]\ndefault_reviewer = \"security@acme.example\"\nledger_dir = \"{}\"\n",
            ledger.display()
        ),
    )
}

fn ledger_cmd(config: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .arg("--config")
        .arg(config)
        .arg("ledger")
        .args(args)
        .assert()
}

#[test]
fn runs_are_recorded_verified_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    let config = config(tmp.path(), &ledger);
    let cfg = config.to_str().unwrap();
    let (one, two) = (tmp.path().join("run-1"), tmp.path().join("run-2"));
    replay_demo(&one, &["--config", cfg]).code(4);
    replay_demo(&two, &["--config", cfg]).code(4);

    let text = std::fs::read_to_string(ledger.join("ledger.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["kind"], "run");
    assert_eq!(first["seq"], 1);
    let report = read_json(&one.join("report.json"));
    assert_eq!(first["run_id"], report["run"]["run_id"]);
    assert_eq!(first["summary"]["accounts"], report["summary"]["accounts"]);
    assert!(
        first["refs"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("run-1/report.json")
    );

    let ok = ledger_cmd(&config, &["verify"]).code(0);
    let out = String::from_utf8_lossy(&ok.get_output().stdout).into_owned();
    assert!(out.contains("2 lines"), "{out}");
    assert!(out.contains("The chain verifies."), "{out}");

    // The report: both runs, no sign-off called out.
    let pack = tmp.path().join("pack");
    ledger_cmd(
        &config,
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2099-12-31",
            "--out",
            pack.to_str().unwrap(),
        ],
    )
    .code(0);
    let json = read_json(&pack.join("ledger-report.json"));
    assert_eq!(json["runs"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(json["chain"]["ok"], true);
    assert_eq!(json["cadence"]["met"], false);
    // Both reports compared: the same archive replayed twice opens and resolves nothing.
    assert_eq!(json["runs"][0]["report_json"], "used", "{json}");
    assert_eq!(json["findings"]["runs_compared"], 2);
    assert_eq!(json["findings"]["opened_count"], json["runs"][0]["failing"]);
    assert_eq!(json["findings"]["resolved_count"], 0);
    assert_eq!(json["leavers"]["roster_configured"], false);
    assert!(
        json["not_covered"][0]
            .as_str()
            .unwrap()
            .contains("[roster]")
    );
    let html = std::fs::read_to_string(pack.join("ledger-report.html")).unwrap();
    assert!(html.contains("Runs (2)"), "{html}");
    assert!(html.contains("No review was signed off in the period."));

    // A changed report.json is named with its line.
    let report_path = two.join("report.json");
    let original = std::fs::read(&report_path).unwrap();
    std::fs::write(&report_path, b"{}").unwrap();
    let failed = ledger_cmd(&config, &["verify"]).code(1);
    let err = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(err.contains("line 2:"), "{err}");
    assert!(err.contains("run-2/report.json was changed"), "{err}");
    std::fs::write(&report_path, original).unwrap();

    // One byte of the first line edited: the second line's link names it.
    let mut bytes = text.clone().into_bytes();
    let at = text.find("\"accounts\":").unwrap() + "\"accounts\":".len();
    bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(ledger.join("ledger.jsonl"), &bytes).unwrap();
    let failed = ledger_cmd(&config, &["verify"]).code(1);
    let err = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(err.contains("does not verify (1 problem)"), "{err}");
    assert!(err.contains("line 2: prev_sha256"), "{err}");
    assert!(err.contains("line 1 was changed"), "{err}");
}

#[test]
fn a_torn_ledger_stops_the_run_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    std::fs::create_dir(&ledger).unwrap();
    std::fs::write(ledger.join("ledger.jsonl"), b"{\"schema_version\":1,\"se").unwrap();
    let config = config(tmp.path(), &ledger);
    let out = tmp.path().join("run");
    let failed = replay_demo(&out, &["--config", config.to_str().unwrap()]).code(1);
    let err = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(err.contains("incomplete line"), "{err}");
    assert!(err.contains("truncate -s 0"), "{err}");
    assert!(!out.join("report.json").exists());
}

#[test]
fn without_review_no_ledger_is_written_and_verify_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "");
    let run = replay_demo(
        &tmp.path().join("run"),
        &["--config", config.to_str().unwrap()],
    )
    .code(4);
    let log = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(!log.contains("recorded in the ledger"), "{log}");
    let failed = ledger_cmd(&config, &["verify"]).code(1);
    let err = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(err.contains("no [review] section"), "{err}");
}

#[test]
fn the_ledger_is_stored_with_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    let stored = tmp.path().join("stored");
    let config = write_config(
        tmp.path(),
        &format!(
            "[store]\nurl = \"file://{}\"\n\n[review]\ndefault_reviewer = \"security@acme.example\"\nledger_dir = \"{}\"\n",
            stored.display(),
            ledger.display()
        ),
    );
    replay_demo(
        &tmp.path().join("run"),
        &["--config", config.to_str().unwrap()],
    )
    .code(4);
    let local = std::fs::read(ledger.join("ledger.jsonl")).unwrap();
    assert_eq!(
        std::fs::read(stored.join("ledger/ledger.jsonl")).unwrap(),
        local
    );
    let manifest = std::fs::read_to_string(stored.join("manifest.sha256")).unwrap();
    assert!(manifest.contains("  ledger/ledger.jsonl\n"), "{manifest}");
}
