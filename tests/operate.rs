//! Operating it: shards and merge, output folders per run, completions and the man page.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;
use serde_json::Value;

const DEMO_AS_OF: &str = "2026-11-20T06:00:00Z";

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-evidence")
}

fn replay(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .args(extra)
        .assert()
}

fn sorted(report: &Value, key: &str, id: &str) -> Vec<Value> {
    let mut v = report[key].as_array().unwrap().clone();
    v.sort_by(|a, b| {
        a[id]
            .to_string()
            .cmp(&b[id].to_string())
            .then_with(|| a["scope"].to_string().cmp(&b["scope"].to_string()))
    });
    v
}

#[test]
fn shards_cover_every_scope_once_and_merge_into_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    replay(&dir.path().join("whole"), &[]).code(4);
    let mut shard_dirs = Vec::new();
    let mut scopes_seen = 0;
    for i in 0..3 {
        let out = dir.path().join(format!("shard-{i}"));
        replay(&out, &["--shard", &format!("{i}/3")]).code(predicate::in_iter([0, 3, 4]));
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["run"]["shard"], format!("{i}/3"));
        scopes_seen += r["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["scope"].as_str().unwrap().starts_with('_'))
            .count();
        shard_dirs.push(out);
    }
    let whole = read_json(&dir.path().join("whole/report.json"));
    assert_eq!(
        scopes_seen,
        whole["scopes"].as_array().unwrap().len(),
        "every scope in exactly one shard"
    );

    let merged_dir = dir.path().join("merged");
    bin()
        .arg("merge")
        .args(shard_dirs.iter().map(|p| p.to_str().unwrap()))
        .args([
            "--out",
            merged_dir.to_str().unwrap(),
            "--format",
            "json,html",
        ])
        .assert()
        .code(4);
    let merged = read_json(&merged_dir.join("report.json"));
    assert_eq!(
        sorted(&merged, "findings", "id"),
        sorted(&whole, "findings", "id")
    );
    assert_eq!(
        sorted(&merged, "accounts", "account_id"),
        sorted(&whole, "accounts", "account_id")
    );
    assert_eq!(
        sorted(&merged, "scopes", "scope"),
        sorted(&whole, "scopes", "scope")
    );
    assert_eq!(merged["summary"], whole["summary"]);
    assert_eq!(merged["as_of"], whole["as_of"]);
    assert!(merged_dir.join("report.html").exists());

    // A missing shard is a failed scope: the merged report is incomplete, never quietly short.
    let partial = dir.path().join("partial");
    bin()
        .args([
            "merge",
            shard_dirs[0].to_str().unwrap(),
            shard_dirs[2].to_str().unwrap(),
            "--out",
            partial.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let r = read_json(&partial.join("report.json"));
    let missing = r["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "_shard-1-of-3")
        .expect("missing shard listed");
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shard 1/3 was not given")
    );

    // The same shard twice, or reports of different instants, are refused.
    bin()
        .args([
            "merge",
            shard_dirs[0].to_str().unwrap(),
            shard_dirs[0].to_str().unwrap(),
            "--out",
            partial.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("shard 0/3 is given twice"));
    let other = dir.path().join("other");
    bin()
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            "2026-11-21T00:00:00Z",
            "--out",
            other.to_str().unwrap(),
            "--shard",
            "1/3",
            "--format",
            "json",
        ])
        .assert()
        .code(predicate::in_iter([3, 4]));
    bin()
        .args([
            "merge",
            shard_dirs[0].to_str().unwrap(),
            other.to_str().unwrap(),
            "--out",
            partial.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("same --as-of"));
}

#[test]
fn shard_index_from_kubernetes_indexed_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    bin()
        .env("JOB_COMPLETION_INDEX", "2")
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            "auto/3",
        ])
        .assert()
        .code(predicate::in_iter([0, 3, 4]));
    assert_eq!(read_json(&out.join("report.json"))["run"]["shard"], "2/3");
    bin()
        .args(["run", "--shard", "auto/3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("JOB_COMPLETION_INDEX"));
    bin()
        .args(["run", "--shard", "3/3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("out of range"));
}

#[test]
fn output_folder_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("reports/{date}/{as_of}");
    replay(&pattern, &[]).code(4);
    assert!(
        dir.path()
            .join("reports/2026-11-20/2026-11-20T060000Z/report.json")
            .exists()
    );
    replay(&dir.path().join("reports/{week}"), &[])
        .code(1)
        .stderr(predicate::str::contains("unknown placeholder `{week}`"));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        bin()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("access-audit"));
    }
    bin().arg("man").assert().code(0).stdout(
        predicate::str::contains(".TH access-audit")
            .and(predicate::str::contains("check\\-config")),
    );
}

/// `run` and `merge` resolve their output and email settings through one path, so the same
/// mistake is refused the same way by both, before anything is written.
#[test]
fn run_and_merge_refuse_the_same_email_mistake_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    replay(&first, &[]).code(4);
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

/// Every reader of report.json (merge, baseline) goes through one schema: another schema
/// version is a clear error, not a half-read report.
#[test]
fn a_report_of_another_schema_version_is_refused_by_merge_and_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    replay(&first, &[]).code(4);
    let path = first.join("report.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"schema_version\":1", "\"schema_version\":2", 1),
    )
    .unwrap();
    let expected = "has schema_version 2; this version of access-audit reads schema_version 1";
    bin()
        .args(["merge", first.to_str().unwrap()])
        .args(["--out", dir.path().join("merged").to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(expected));
    replay(
        &dir.path().join("second"),
        &["--baseline", first.to_str().unwrap()],
    )
    .code(1)
    .stderr(predicate::str::contains(expected))
    .stderr(predicate::str::contains("baseline report.json"));
    // A v2 report that also changed shape gets the same message, not a parse error.
    std::fs::write(&path, "{\"schema_version\":2,\"something\":\"else\"}").unwrap();
    replay(
        &dir.path().join("third"),
        &["--baseline", path.to_str().unwrap()],
    )
    .code(1)
    .stderr(predicate::str::contains(expected));
}

/// The finish stage delivers beyond email: the reports are stored (file:// here; S3 is tested
/// against a real S3 server in tests/store.rs), the webhook gets the summary with a link to the
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

/// At the end of a run a person sees the verdict, where the reports are and what the exit code
/// means, on stdout; `-q` silences it, and logs never go there.
#[test]
fn a_run_ends_with_a_summary_on_stdout_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = replay(&out, &[]).code(4);
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
