//! The finish stage from the real binary: after one run the reports are stored, the webhook
//! notified and the metrics recorded; and the summary a person reads on stdout.

use serde_json::Value;

use crate::support::common::*;

/// The finish stage delivers beyond email: the reports are stored (file:// here; S3 is tested
/// against a real S3 server in the `store` tests), the webhook gets the summary with a link to the
/// stored report, and the metrics file records the run — all from the real binary.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_stores_notifies_and_records_metrics() {
    use wiremock::matchers::{method, path};
    let hook = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(wiremock::ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    let prom = dir.path().join("access_audit.prom");
    let cfg = write_config(
        dir.path(),
        &format!(
            "[store]\nurl = \"file://{}/{{date}}\"\n\n[notify]\nsend = \"always\"\nwebhook_url_env = \"AUDIT_WEBHOOK_URL\"\n\n\
             [metrics]\ntextfile = \"{}\"\n",
            bucket.display(),
            prom.display()
        ),
    );
    let out = dir.path().join("out");
    let hook_url = format!("{}/hook", hook.uri());
    let assert = bin()
        .env("AUDIT_WEBHOOK_URL", &hook_url)
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
        .code(4);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    hook.verify().await;

    let stored = bucket.join("2026-11-20");
    for f in [
        "report.html",
        "report.json",
        "findings.csv",
        "accounts.csv",
        "manifest.sha256",
    ] {
        assert!(stored.join(f).is_file(), "{f} not stored: {stderr}");
    }
    assert_eq!(
        std::fs::read(stored.join("report.json")).unwrap(),
        std::fs::read(out.join("report.json")).unwrap()
    );
    let body: Value = hook.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(body["complete"], false);
    let url = body["report_url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("file://") && url.ends_with("2026-11-20/report.html"),
        "{body}"
    );
    assert!(!stderr.contains(&hook_url), "the webhook URL is a secret");
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("access_audit_run_complete{"), "{metrics}");
    assert!(metrics.contains("access_audit_exit_code{"), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("access_audit_exit_code{") && l.ends_with(" 4")),
        "{metrics}"
    );
}

/// At the end of a run a person sees the verdict, where the reports are and what the exit code
/// means, on stdout; `-q` silences it, and logs never go there.
#[test]
fn a_run_ends_with_a_summary_on_stdout_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = replay_demo(&out, &[]).code(4);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        stdout.contains("73 failing findings across 7 scopes"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Reports: {} (report.json)", out.display())),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Exit 4: incomplete: some scopes could not be audited\n"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    let quiet = bin()
        .args([
            "-q",
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
        ])
        .args(["--out", dir.path().join("q").to_str().unwrap()])
        .assert()
        .code(4);
    assert!(quiet.get_output().stdout.is_empty());
}
