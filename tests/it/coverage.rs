//! What an auditor reads before signing: how each population was obtained (pages, request ids,
//! evidence digests, the API's own totals), the criteria in force and each rule's population,
//! findings.csv with everything the README promises, and a replay that reproduces the recorded
//! run unless asked otherwise.

use std::path::Path;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::common::*;

const P_COUNTED: &str = "660e8400-e29b-41d4-a716-446655440001";
const P_SHORT: &str = "660e8400-e29b-41d4-a716-446655440002";
const P_LONG: &str = "660e8400-e29b-41d4-a716-446655440003";

fn users(ids: &[&str], total: Option<u64>) -> Value {
    let users: Vec<Value> = ids
        .iter()
        .map(|id| {
            sentdm_user(
                id,
                "developer",
                "active",
                "2026-01-01T00:00:00Z",
                Some("2026-10-30T00:00:00Z"),
            )
        })
        .collect();
    let mut data = json!({ "users": users });
    if let Some(t) = total {
        data["pagination"] = json!({"page": 1, "page_size": 100, "total_count": t,
                                    "total_pages": 1, "has_more": false, "cursors": null});
    }
    sentdm_ok(data)
}

/// The organization (2 users, the API counts 2), a profile the API counts as 3 but lists 2
/// of, one it counts as 1 but lists 2 of: the last two must fail, never pass short or long.
async fn sentdm_with_totals() -> MockServer {
    let server = MockServer::start().await;
    let profiles: Vec<Value> = [P_COUNTED, P_SHORT, P_LONG]
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "organization_id": "org", "name": format!("Team {i}")}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({
            "sender_profiles": profiles,
            "pagination": {"page": 1, "page_size": 100, "total_count": 3, "total_pages": 1, "has_more": false, "cursors": null}
        }))))
        .mount(&server)
        .await;
    let scopes: [(Option<&str>, Value); 4] = [
        (None, users(&["o1", "o2"], Some(2))),
        (Some(P_COUNTED), users(&["c1"], None)),
        (Some(P_SHORT), users(&["s1", "s2"], Some(3))),
        (Some(P_LONG), users(&["l1", "l2"], Some(1))),
    ];
    for (profile, body) in scopes {
        let request_id = format!("req-{}", profile.unwrap_or("org"));
        let mock = Mock::given(method("GET")).and(path("/v3/users"));
        let mock = match profile {
            Some(p) => mock.and(header("x-profile-id", p)),
            None => mock.and(NoHeader("x-profile-id")),
        };
        mock.respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", request_id.as_str())
                .set_body_json(body),
        )
        .mount(&server)
        .await;
    }
    server
}

fn scope<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == name)
        .unwrap_or_else(|| panic!("no scope {name}"))
}

fn live_run(base: &str, dir: &Path) -> Value {
    let config = write_config(
        dir,
        &format!(
            "[[sources]]\ntype = \"sentdm\"\nname = \"sent\"\nbase_url = \"{base}\"\n\
             api_key_env = \"SENTDM_API_KEY\"\n"
        ),
    );
    let out = dir.join("out");
    bin()
        .args(["--config", config.to_str().unwrap(), "run", "--no-progress"])
        .args(["--as-of", AS_OF, "--format", "json,html"])
        .args(["--out", out.to_str().unwrap()])
        .args(["--evidence", dir.join("evidence").to_str().unwrap()])
        .assert()
        .code(4);
    read_json(&out.join("report.json"))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_scope_states_how_its_population_was_obtained_and_totals_must_match() {
    let server = sentdm_with_totals().await;
    let dir = tempfile::tempdir().unwrap();
    let report = tokio::task::spawn_blocking({
        let (base, dir) = (server.uri(), dir.path().to_path_buf());
        move || live_run(&base, &dir)
    })
    .await
    .unwrap();

    let org = scope(&report, "organization");
    assert_eq!(org["status"], "ok");
    assert_eq!(org["provenance"]["reported_total"], 2);
    let page = &org["provenance"]["pages"][0];
    assert_eq!(page["endpoint"], "sentdm.users");
    assert_eq!(page["status"], 200);
    assert_eq!(page["request_id"], "req-org");
    assert_eq!(scope(&report, P_COUNTED)["status"], "ok");
    assert_eq!(
        scope(&report, P_COUNTED)["provenance"]["display_name"],
        "Team 0"
    );
    assert_eq!(
        scope(&report, P_COUNTED)["provenance"]["reported_total"],
        Value::Null
    );
    let short = scope(&report, P_SHORT);
    assert_eq!(short["status"], "failed");
    assert!(
        short["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reports 3 users but only 2"),
        "{short}"
    );
    let long = scope(&report, P_LONG);
    assert_eq!(long["status"], "failed");
    assert!(
        long["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reports 1 users but lists 2"),
        "{long}"
    );
    assert_eq!(long["provenance"]["display_name"], "Team 2");

    // Every page's digest is the archive's: the report points into the evidence exactly.
    let manifest = read_json(&dir.path().join("evidence/manifest.json"));
    let recorded: Vec<(&str, &str, &str)> = manifest["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["scope"].as_str().unwrap(),
                r["url"].as_str().unwrap(),
                r["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    let mut pages = 0;
    for s in report["scopes"].as_array().unwrap() {
        for p in s["provenance"]["pages"].as_array().unwrap() {
            pages += 1;
            let key = (
                s["scope"].as_str().unwrap(),
                p["url"].as_str().unwrap(),
                p["sha256"].as_str().unwrap(),
            );
            assert!(recorded.contains(&key), "{key:?} is not in the manifest");
        }
    }
    assert_eq!(pages, 4, "one users page per scope");

    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("2, as the API reports"),
        "the organization's check"
    );
    assert!(html.contains("Team 0<br><span class=\"id\">660e8400-e29b-41d4-a716-446655440001"));
    assert!(html.contains("1 page of sentdm.users"));
    assert!(html.contains("req-org"));

    // A replay reads the same pages, so it states the same provenance.
    let replayed = dir.path().join("replayed");
    bin()
        .args([
            "run",
            "--replay",
            dir.path().join("evidence").to_str().unwrap(),
        ])
        .args(["--out", replayed.to_str().unwrap(), "--format", "json"])
        .assert()
        .code(4);
    let again = read_json(&replayed.join("report.json"));
    for s in report["scopes"].as_array().unwrap() {
        let name = s["scope"].as_str().unwrap();
        assert_eq!(scope(&again, name)["provenance"], s["provenance"], "{name}");
    }
}

#[test]
fn a_replay_evaluates_as_of_its_recording_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = read_json(&demo().join("manifest.json"));
    let finished = manifest["finished_at"].as_str().unwrap();
    let run = |name: &str, extra: &[&str]| -> Value {
        let out = dir.path().join(name);
        bin()
            .args([
                "run",
                "--replay",
                demo().to_str().unwrap(),
                "--format",
                "json",
            ])
            .args(["--out", out.to_str().unwrap()])
            .args(extra)
            .assert()
            .code(4);
        read_json(&out.join("report.json"))
    };
    let recorded = run("default", &[]);
    assert_eq!(recorded["as_of"], finished);
    let explicit = run("explicit", &["--as-of", finished]);
    assert_eq!(finding_keys(&recorded), finding_keys(&explicit));
    let details = |r: &Value| -> Vec<String> {
        let findings = r["findings"].as_array().unwrap();
        findings.iter().map(|f| f["detail"].to_string()).collect()
    };
    assert_eq!(
        details(&recorded),
        details(&explicit),
        "the same day counts"
    );

    let now = run("now", &["--as-of", "now"]);
    let as_of: chrono::DateTime<chrono::Utc> = now["as_of"].as_str().unwrap().parse().unwrap();
    assert!(
        (chrono::Utc::now() - as_of).num_minutes().abs() < 10,
        "{as_of}"
    );
    assert_ne!(
        details(&recorded),
        details(&now),
        "ages measured from today"
    );
}

#[test]
fn every_rule_states_its_criteria_in_force_and_its_population() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[rules.stale_login]\nmax_inactive_days = 60\n[rules.pending_invite]\nmax_pending_days = 3\n",
    );
    let out = dir.path().join("out");
    replay_demo(
        &out,
        &[
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json,html",
        ],
    )
    .code(4);
    let report = read_json(&out.join("report.json"));
    let rules = report["run"]["rules"].as_array().unwrap();
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap();
    let stale = rule("stale_login");
    assert_eq!(stale["settings"]["max_inactive_days"], 60);
    let checks = stale["checks"].as_str().unwrap();
    assert!(checks.contains("older than 60 days"), "{checks}");
    assert!(!checks.contains("default 90"), "{checks}");
    assert!(
        rule("pending_invite")["checks"]
            .as_str()
            .unwrap()
            .contains("after 3 days")
    );

    let accounts = report["accounts"].as_array().unwrap();
    let active = accounts.iter().filter(|a| a["status"] == "active").count();
    assert_eq!(stale["population"]["of"], "active accounts");
    assert_eq!(stale["population"]["evaluated"], active);
    let findings = report["findings"].as_array().unwrap();
    for r in rules {
        let p = &r["population"];
        let n = |k: &str| p[k].as_u64().unwrap();
        assert_eq!(
            n("evaluated"),
            n("failed") + n("manual") + n("suppressed") + n("passed"),
            "{r}"
        );
        let failing = findings
            .iter()
            .filter(|f| f["rule"] == r["id"] && f["outcome"] == "fail" && f["suppressed"] == false)
            .count() as u64;
        assert_eq!(n("failed"), failing, "{}", r["id"]);
        assert_eq!(
            report["summary"]["by_rule"][r["id"].as_str().unwrap()],
            failing
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // In the criteria table and above the rule's findings; the defaults nowhere.
    assert_eq!(
        html.matches("older than 60 days (max_inactive_days)")
            .count(),
        2
    );
    assert!(!html.contains("(default 90)"));
    let sentence = format!(
        "{} of {active} active accounts failed",
        stale["population"]["failed"]
    );
    assert!(html.contains(&sentence), "{sentence}");
}

#[test]
fn findings_are_ordered_by_severity_then_age() {
    let dir = tempfile::tempdir().unwrap();
    replay_demo(dir.path(), &[]).code(4);
    let report = read_json(&dir.path().join("report.json"));
    let findings = report["findings"].as_array().unwrap();
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    for pair in findings.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (ra, rb) = (
            rank(a["severity"].as_str().unwrap()),
            rank(b["severity"].as_str().unwrap()),
        );
        assert!(ra <= rb, "{} before {}", a["severity"], b["severity"]);
        if ra == rb && a["outcome"] == b["outcome"] && a["rule"] == b["rule"] {
            // Never seen sorts first (null), then the oldest.
            let seen = |f: &Value| f["last_seen_at"].as_str().map(str::to_string);
            assert!(
                seen(a) <= seen(b),
                "{} after {}",
                a["last_seen_at"],
                b["last_seen_at"]
            );
        }
    }
}

#[test]
fn findings_csv_carries_suppressions_changes_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline");
    replay_demo(&baseline, &[]).code(4);
    let suppressions = dir.path().join("suppressions.toml");
    std::fs::write(
        &suppressions,
        "[[suppress]]\nrule = \"admin_without_2fa\"\nscope = \"acme-labs\"\n\
         reason = \"=IdP enforces MFA\"\nowner = \"security@acme.example\"\nexpires = 2027-01-31\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    replay_demo(
        &out,
        &[
            "--format",
            "csv",
            "--suppressions",
            suppressions.to_str().unwrap(),
            "--baseline",
            baseline.join("report.json").to_str().unwrap(),
        ],
    )
    .code(4);
    let mut csv = csv::Reader::from_path(out.join("findings.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header[15..],
        [
            "suppression_reason",
            "suppression_owner",
            "suppression_expires",
            "change",
            "first_seen",
            "references"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let suppressed: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("suppressed")] == "true")
        .collect();
    assert!(!suppressed.is_empty());
    for r in &suppressed {
        // A reason is text from a file: neutralised like any cell.
        assert_eq!(&r[col("suppression_reason")], "'=IdP enforces MFA");
        assert_eq!(&r[col("suppression_owner")], "security@acme.example");
        assert_eq!(&r[col("suppression_expires")], "2027-01-31");
    }
    for r in &rows {
        assert_eq!(
            &r[col("change")],
            "persisting",
            "same archive, same findings"
        );
        assert!(!r[col("first_seen")].is_empty());
        assert!(r[col("references")].contains("SOC 2 CC6."), "{r:?}");
    }
}
