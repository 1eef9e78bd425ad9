//! What ties a report to the program and the run that made it: `--version` names the commit and
//! build date, report.json records the same, and one run id is in the start log line, the
//! report and the metrics. And a run whose stderr is gone still writes its reports.

use std::process::{Command, Stdio};

use crate::support::common::*;

fn version_line() -> String {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn version_names_the_commit_and_build_date_and_the_report_records_them() {
    let version = version_line();
    let (_, rest) = version
        .split_once(" (commit ")
        .unwrap_or_else(|| panic!("{version}"));
    let (commit, date) = rest
        .trim_end_matches(')')
        .split_once(", built ")
        .unwrap_or_else(|| panic!("{version}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{date}"
    );

    let dir = tempfile::tempdir().unwrap();
    replay_demo(dir.path(), &[]).code(4);
    let report = read_json(&dir.path().join("report.json"));
    assert_eq!(report["tool"]["commit"], commit);
    assert_eq!(report["tool"]["built"], date);
    assert_eq!(
        report["tool"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{version}"
    );
}

#[test]
fn one_run_id_is_in_the_start_line_the_report_and_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("audit.prom");
    let cfg = write_config(
        dir.path(),
        &format!("[metrics]\ntextfile = \"{}\"\n", prom.display()),
    );
    let out = dir.path().join("out");
    let assert = bin()
        .env("ACCESS_AUDIT_RUN_ID", "cronjob-28871234")
        .args(["--config", cfg.to_str().unwrap(), "--log-format", "json"])
        .args(["run", "--replay", demo().to_str().unwrap()])
        .args(["--as-of", DEMO_AS_OF, "--out", out.to_str().unwrap()])
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let start = stderr
        .lines()
        .find(|l| l.contains("access-audit started"))
        .unwrap_or_else(|| panic!("no start line:\n{stderr}"));
    let start: serde_json::Value = serde_json::from_str(start).unwrap();
    assert_eq!(start["run_id"], "cronjob-28871234");
    assert_eq!(
        read_json(&out.join("report.json"))["run"]["run_id"],
        "cronjob-28871234"
    );
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("access_audit_info{")
                && l.contains("run_id=\"cronjob-28871234\"")),
        "{metrics}"
    );

    // Without the variable, each run gets its own.
    let ids: Vec<String> = ["a", "b"]
        .iter()
        .map(|name| {
            let out = dir.path().join(name);
            replay_demo(&out, &[]).code(4);
            let id = read_json(&out.join("report.json"))["run"]["run_id"].clone();
            id.as_str().unwrap().to_string()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.len() == 16), "{ids:?}");
}

#[test]
fn a_run_id_that_could_forge_log_lines_or_labels_is_refused() {
    for bad in ["two words", "a\"b", "line\nbreak", &"x".repeat(65)] {
        let dir = tempfile::tempdir().unwrap();
        let assert = bin()
            .env("ACCESS_AUDIT_RUN_ID", bad)
            .args(["run", "--replay", demo().to_str().unwrap()])
            .args(["--out", dir.path().to_str().unwrap()])
            .assert()
            .code(1);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains("ACCESS_AUDIT_RUN_ID"), "{bad:?}: {stderr}");
        assert!(!dir.path().join("report.json").exists());
    }
}

/// `2>&1 | head`, a log shipper that died: log lines cannot be written, and the run goes on.
#[test]
fn a_closed_stderr_does_not_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_access-audit"))
        .env_clear()
        .args(["-v", "--log-format", "text", "run", "--replay"])
        .arg(demo())
        .args(["--as-of", DEMO_AS_OF, "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: every write to stderr fails with a broken pipe.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(4), "the demo's exit code, not a panic");
    for f in ["report.html", "report.json", "findings.csv", "accounts.csv"] {
        assert!(out.join(f).is_file(), "{f}");
    }
}
