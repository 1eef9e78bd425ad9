//! Settings are resolved before any work, the same way for every command that writes a report:
//! the output folder pattern, the email settings of `run` and `merge`, and the delivery targets.

use predicates::prelude::*;

use crate::support::common::*;

#[test]
fn output_folder_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("reports/{date}/{as_of}");
    replay_demo(&pattern, &[]).code(4);
    assert!(
        dir.path()
            .join("reports/2026-11-20/2026-11-20T060000Z/report.json")
            .exists()
    );
    replay_demo(&dir.path().join("reports/{week}"), &[])
        .code(1)
        .stderr(predicate::str::contains("unknown placeholder `{week}`"));
}

/// `run` and `merge` resolve their output and email settings through one path, so the same
/// mistake is refused the same way by both, before anything is written.
#[test]
fn run_and_merge_refuse_the_same_email_mistake_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    replay_demo(&first, &[]).code(4);
    let cfg = write_config(dir.path(), "[email]\nto = [\"security@acme.example\"]\n");
    let preview = dir.path().join("preview");
    let expected = "email.from";
    for (command, out) in [
        ("run", dir.path().join("run")),
        ("merge", dir.path().join("merge")),
    ] {
        let mut cmd = bin();
        cmd.args(["--config", cfg.to_str().unwrap(), command]);
        if command == "run" {
            cmd.args(["--replay", demo().to_str().unwrap(), "--as-of", DEMO_AS_OF]);
        } else {
            cmd.arg(first.to_str().unwrap());
        }
        cmd.args(["--out", out.to_str().unwrap()])
            .args(["--email-preview", preview.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicates::str::contains(expected));
        assert!(
            !out.join("report.json").exists(),
            "{command} wrote a report"
        );
    }
    assert!(!preview.exists());
}

/// A delivery target that cannot be used fails the run before any work, at its config key.
#[test]
fn an_unusable_delivery_target_fails_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[notify]\nwebhook_url_env = \"AUDIT_WEBHOOK_URL_NOT_SET\"\n",
    );
    let out = dir.path().join("out");
    bin()
        .args(["--config", cfg.to_str().unwrap()])
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("notify.webhook_url_env"));
    assert!(!out.join("report.json").exists());
}
