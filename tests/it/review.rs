//! The review stage from the real binary: suppressions are reported, not hidden, and expire; a
//! baseline marks findings new, persisting or resolved.

use std::path::Path;

use crate::support::common::*;
use predicates::prelude::*;
use serde_json::Value;

fn replay(out: &Path, as_of: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            as_of,
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .assert()
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

#[test]
fn suppressions_are_reported_not_hidden_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("suppressions.toml");
    std::fs::write(
        &file,
        r#"
[[suppress]]
rule = "admin_without_2fa"
scope = "acme-labs"
reason = "acme-labs admins log in through the IdP with MFA; Sentry 2FA not required"
owner = "security@acme.example"
expires = 2027-01-31

[[suppress]]
rule = "stale_login"
email = "*@acme-labs.example"
reason = "old exception"
owner = "it@acme.example"
expires = 2026-10-01

[[suppress]]
rule = "pending_invite"
account_id = "does-not-exist"
reason = "typo'd entry"
owner = "it@acme.example"
expires = 2027-01-31
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    replay(
        &out,
        "2026-11-20T06:00:00Z",
        &["--suppressions", file.to_str().unwrap()],
    )
    .code(4);
    let report = read_json(&out.join("report.json"));
    let suppressed: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["suppressed"] == true)
        .collect();
    assert_eq!(
        suppressed.len(),
        3,
        "the three acme-labs admins without 2FA"
    );
    for f in &suppressed {
        assert_eq!(
            (f["rule"].as_str(), f["scope"].as_str()),
            (Some("admin_without_2fa"), Some("acme-labs"))
        );
        assert_eq!(f["suppression"]["owner"], "security@acme.example");
        assert_eq!(f["suppression"]["expires"], "2027-01-31");
    }
    assert_eq!(report["summary"]["suppressed"], 3);
    assert_eq!(report["summary"]["failing"], 70, "73 less the 3 suppressed");
    let states: Vec<(&str, u64)> = report["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["state"].as_str().unwrap(), s["matched"].as_u64().unwrap()))
        .collect();
    assert_eq!(states[0], ("active", 3));
    assert_eq!(states[1].0, "expired");
    assert!(
        states[1].1 > 0,
        "the expired entry would have matched, and no longer suppresses"
    );
    assert_eq!(states[2], ("unused", 0));
    let stale_labs = findings(&report)
        .iter()
        .filter(|f| f["rule"] == "stale_login" && f["scope"] == "acme-labs")
        .count();
    assert!(
        stale_labs > 0
            && findings(&report)
                .iter()
                .all(|f| f["rule"] != "stale_login" || f["suppressed"] == false)
    );

    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    // `suppressed`, then the entry's reason, owner and expiry.
    let suppressed_rows = csv.lines().filter(|l| {
        l.contains(",true,acme-labs admins log in through the IdP with MFA; Sentry 2FA not required,security@acme.example,2027-01-31,")
    });
    assert_eq!(suppressed_rows.count(), 3);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Accepted risk (suppressed findings)"));
    assert!(html.contains("Suppressions to review"));
    assert!(
        html.contains("expired — no longer suppresses")
            && html.contains("unused — matched nothing")
    );

    // More than a year ahead is refused before anything runs.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("2027-01-31", "2028-06-30"),
    )
    .unwrap();
    replay(
        &dir.path().join("o2"),
        "2026-11-20T06:00:00Z",
        &["--suppressions", file.to_str().unwrap()],
    )
    .code(1)
    .stderr(
        predicate::str::contains("suppress[0].expires")
            .and(predicate::str::contains("more than 365 days")),
    );
}

#[test]
fn baseline_marks_new_persisting_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    replay(&first, "2026-11-20T06:00:00Z", &[]).code(4);
    // A finding of a scope that fails in both runs: unknown now, so never "resolved".
    let mut baseline = read_json(&first.join("report.json"));
    let mut ghost = findings(&baseline)[0].clone();
    ghost["id"] = "ghost".into();
    ghost["scope"] = "acme-legacy".into();
    // And one that was fixed: an account of an audited scope that no longer has the finding.
    let mut fixed = findings(&baseline)[0].clone();
    fixed["id"] = "fixed".into();
    fixed["scope"] = "acme".into();
    fixed["account_id"] = "offboarded-1".into();
    baseline["findings"]
        .as_array_mut()
        .unwrap()
        .extend([ghost, fixed]);
    let baseline_path = dir.path().join("baseline.json");
    std::fs::write(&baseline_path, serde_json::to_vec(&baseline).unwrap()).unwrap();

    // Ten days later: more logins go stale, young invitations age.
    let second = dir.path().join("second");
    replay(
        &second,
        "2026-11-30T06:00:00Z",
        &["--baseline", baseline_path.to_str().unwrap()],
    )
    .code(4);
    let report = read_json(&second.join("report.json"));
    let changes = &report["changes"];
    assert_eq!(changes["baseline_as_of"], "2026-11-20T06:00:00Z");
    let new: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["change"] == "new")
        .collect();
    let persisting: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["change"] == "persisting")
        .collect();
    assert_eq!(changes["new"].as_u64().unwrap() as usize, new.len());
    assert_eq!(
        changes["persisting"].as_u64().unwrap() as usize,
        persisting.len()
    );
    assert!(!new.is_empty() && !persisting.is_empty());
    assert_eq!(new.len() + persisting.len(), findings(&report).len());
    for f in &persisting {
        assert_eq!(
            f["first_seen"], "2026-11-20T06:00:00Z",
            "first seen is carried from the baseline"
        );
    }
    for f in &new {
        assert_eq!(f["first_seen"], "2026-11-30T06:00:00Z");
    }
    let resolved = changes["resolved"].as_array().unwrap();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["id"], "fixed");
    assert_eq!(changes["not_rechecked"], 1);

    // The next run carries the first-seen date forward again.
    let third = dir.path().join("third");
    replay(
        &third,
        "2026-12-01T06:00:00Z",
        &["--baseline", second.join("report.json").to_str().unwrap()],
    )
    .code(4);
    let report3 = read_json(&third.join("report.json"));
    let carried = findings(&report3)
        .iter()
        .find(|f| f["id"] == persisting[0]["id"])
        .unwrap();
    assert_eq!(carried["first_seen"], "2026-11-20T06:00:00Z");

    let html = std::fs::read_to_string(second.join("report.html")).unwrap();
    assert!(html.contains("What changed") && html.contains("Resolved since 2026-11-20T06:00:00Z"));
    assert!(html.contains("not re-checked (scope failed this time)"));

    // The email leads with what changed.
    let cfg = write_config(
        dir.path(),
        "[email]\nfrom = \"a@acme.example\"\nto = [\"b@acme.example\"]\n",
    );
    let preview = dir.path().join("preview");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            "2026-11-30T06:00:00Z",
        ])
        .args([
            "--out",
            dir.path().join("mail").to_str().unwrap(),
            "--baseline",
            baseline_path.to_str().unwrap(),
        ])
        .args(["--email-preview", preview.to_str().unwrap()])
        .assert()
        .code(4);
    let eml = std::fs::read_dir(&preview)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read(eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    let text = mail.subparts[0].subparts[0].get_body().unwrap();
    let changes = text.find("Since the last run:").expect("changes line");
    assert!(
        changes < text.find("Failing findings by severity").unwrap(),
        "changes come first"
    );
    assert!(text.contains("  + new: "));
    assert!(text.contains("  - resolved: "), "{text}");
}
