//! Shards and merge: every scope in exactly one shard, the shards merged back into the whole
//! run's report (a missing shard is a failed scope, never a shorter report), the shard index
//! from a Kubernetes Indexed Job, and report.json read back through one schema by both of its
//! readers (merge and `--baseline`).

use predicates::prelude::*;
use serde_json::Value;

use crate::support::common::*;

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
    replay_demo(&dir.path().join("whole"), &[]).code(4);
    let mut shard_dirs = Vec::new();
    let mut scopes_seen = 0;
    for i in 0..3 {
        let out = dir.path().join(format!("shard-{i}"));
        replay_demo(&out, &["--shard", &format!("{i}/3")]).code(predicate::in_iter([0, 3, 4]));
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
    // The criteria in force, and each rule's population summed over the shards.
    assert_eq!(merged["run"]["rules"], whole["run"]["rules"]);
    assert!(whole["run"]["rules"][0]["population"]["evaluated"].as_u64() > Some(0));
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

/// Every reader of report.json (merge, baseline) goes through one schema: another schema
/// version is a clear error, not a half-read report.
#[test]
fn a_report_of_another_schema_version_is_refused_by_merge_and_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    replay_demo(&first, &[]).code(4);
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
    replay_demo(
        &dir.path().join("second"),
        &["--baseline", first.to_str().unwrap()],
    )
    .code(1)
    .stderr(predicate::str::contains(expected))
    .stderr(predicate::str::contains("baseline report.json"));
    // A v2 report that also changed shape gets the same message, not a parse error.
    std::fs::write(&path, "{\"schema_version\":2,\"something\":\"else\"}").unwrap();
    replay_demo(
        &dir.path().join("third"),
        &["--baseline", path.to_str().unwrap()],
    )
    .code(1)
    .stderr(predicate::str::contains(expected));
}
