//! The real binary against a loopback mock of Sentry's API.

use crate::support::common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(base: &str, orgs: &str, extra: &str) -> String {
    format!(
        r#"
[report]
title = "Sentry test"

[[sources]]
type = "sentry"
base_url = "{base}"
token_env = "SENTRY_AUTH_TOKEN"
organizations = {orgs}
{extra}
"#
    )
}

/// 230 members over three pages (one repeated across a page boundary) and three invites.
fn acme_pages() -> Vec<Vec<Value>> {
    let member = |id: u32| {
        let role = match id {
            1 | 2 => "owner",
            3 => "manager",
            _ => "member",
        };
        let last_login = match id {
            7 => None,
            _ if id.is_multiple_of(10) => Some("2026-01-01T00:00:00.123456Z"),
            _ => Some("2026-10-20T08:00:00Z"),
        };
        sentry_member(id, role, id != 1, last_login)
    };
    let mut page1: Vec<Value> = (1..=100).map(member).collect();
    page1[0]["orgRole"] = json!("Owner"); // case must not matter
    let mut page2: Vec<Value> = vec![member(100)]; // offset pagination repeats a row
    page2.extend((101..=199).map(member));
    let mut page3: Vec<Value> = (200..=230).map(member).collect();
    page3.push(sentry_invite(900, "2026-10-30T00:00:00Z", false));
    page3.push(sentry_invite(901, "2026-10-01T00:00:00Z", false));
    page3.push(sentry_invite(902, "2026-08-01T00:00:00Z", true));
    vec![page1, page2, page3]
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_page_org_with_foreign_link_host() {
    let server = MockServer::start().await;
    mount_sentry_org(&server, "acme", acme_pages()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&server.uri(), r#"["acme"]"#, ""));
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(3);
    server.verify().await;

    let report = read_json(&out.join("report.json"));
    assert_eq!(report["complete"], true);
    assert_eq!(
        scopes(&report),
        vec![("sentry".into(), "acme".into(), "ok".into(), 233)]
    );
    assert_eq!(report["summary"]["accounts"], 233);
    let keys = finding_keys(&report);
    let ids = |rule: &str| -> Vec<String> {
        let mut v: Vec<String> = keys
            .iter()
            .filter(|k| k.0 == rule)
            .map(|k| k.2.clone())
            .collect();
        v.sort_by_key(|s| s.parse::<u32>().unwrap_or(0));
        v
    };
    let mut stale: Vec<String> = (1..=23).map(|i| (i * 10).to_string()).collect();
    stale.insert(0, "7".into());
    assert_eq!(ids("stale_login"), stale);
    assert_eq!(ids("admin_without_2fa"), vec!["1"]);
    assert_eq!(ids("pending_invite"), vec!["901"]);
    assert_eq!(ids("expired_membership"), vec!["902"]);
    assert_eq!(report["summary"]["failing"], 27);
    assert_eq!(report["summary"]["by_rule"]["stale_login"], 24);
    assert_eq!(report["summary"]["by_severity"]["high"], 1);

    let never = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["account_id"] == "7")
        .unwrap();
    assert_eq!(
        never["detail"],
        "never logged in; account created 2024-01-01, 1035 days before 2026-11-01 (grace 14 days)"
    );
    let stale10 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["account_id"] == "10")
        .unwrap();
    assert_eq!(
        stale10["detail"],
        "last seen 2026-01-01, 303 days before 2026-11-01 (limit 90 days)"
    );
    assert_eq!(stale10["last_seen_at"], "2026-01-01T00:00:00.123456Z");

    let owner = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "1")
        .unwrap();
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["privileged"], true);
    assert_eq!(owner["mfa"], false);
    assert_eq!(owner["user_id"], "100001");
    let invite = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "901")
        .unwrap();
    assert_eq!(invite["status"], "invited");
    assert_eq!(invite["invited_at"], "2026-10-01T00:00:00Z");
    assert_eq!(invite["mfa"], Value::Null);
    assert_eq!(invite["user_id"], Value::Null);

    // The CSVs agree with the JSON.
    let findings_csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(findings_csv.starts_with(
        "id,rule,severity,outcome,source,source_name,scope,account_id,email,name,role,status,last_seen_at,detail,suppressed,\
         suppression_reason,suppression_owner,suppression_expires,change,first_seen,references\r\n"
    ));
    assert_eq!(findings_csv.lines().count(), 1 + 27);
    let accounts_csv = std::fs::read_to_string(out.join("accounts.csv")).unwrap();
    assert_eq!(accounts_csv.lines().count(), 1 + 233);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("27 failing findings across 1 scope"));
}

#[tokio::test(flavor = "multi_thread")]
async fn all_organizations_are_discovered_and_a_missing_one_fails_the_run() {
    let server = MockServer::start().await;
    let org_link = |next: Option<&str>| {
        let base = "https://sentry.io/api/0/organizations/?per_page=100";
        match next {
            Some(c) => {
                format!("<{base}&cursor={c}>; rel=\"next\"; results=\"true\"; cursor=\"{c}\"")
            }
            None => format!("<{base}&cursor=x>; rel=\"next\"; results=\"false\"; cursor=\"x\""),
        }
    };
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/"))
        .and(query_param_is_missing("cursor"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!([{"slug": "alpha", "name": "Alpha"}, {"slug": "beta", "name": "Beta"}]),
                )
                .insert_header("link", org_link(Some("100:1:0")).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/"))
        .and(query_param("cursor", "100:1:0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"slug": "gamma"}, {"slug": "alpha"}]))
                .insert_header("link", org_link(None).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_sentry_org(
        &server,
        "alpha",
        vec![vec![sentry_member(
            1,
            "owner",
            true,
            Some("2026-10-30T00:00:00Z"),
        )]],
    )
    .await;
    mount_sentry_org(
        &server,
        "beta",
        vec![vec![
            sentry_member(2, "member", true, Some("2026-10-30T00:00:00Z")),
            sentry_member(3, "member", false, Some("2026-10-30T00:00:00Z")),
        ]],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/gamma/members/"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"detail": "The requested resource does not exist"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&server.uri(), r#""all""#, ""));
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    server.verify().await;
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(
        scopes(&report),
        vec![
            ("sentry".into(), "alpha".into(), "ok".into(), 1),
            ("sentry".into(), "beta".into(), "ok".into(), 2),
            ("sentry".into(), "gamma".into(), "failed".into(), 0),
        ]
    );
    let gamma = &report["scopes"][2]["error"];
    assert_eq!(gamma["http_status"], 404);
    assert!(
        gamma["message"]
            .as_str()
            .unwrap()
            .starts_with("The requested resource does not exist")
    );
    assert_eq!(report["summary"]["scopes_failed"], 1);
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("INCOMPLETE RUN")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn project_filtered_audit_uses_the_users_endpoint() {
    let server = MockServer::start().await;
    let mut a = sentry_member(11, "admin", false, Some("2026-10-30T00:00:00Z"));
    a["projects"] = json!(["api", "web"]);
    // An old server: no orgRole, `user.emails` present.
    let mut b = sentry_member(12, "member", true, Some("2025-01-01T00:00:00Z"));
    b.as_object_mut().unwrap().remove("orgRole");
    b["user"]["emails"] = json!([{"id": "1", "email": "user12@acme.example", "is_verified": true}]);
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/users/"))
        .and(query_param("project", "123456"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([a, b])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/members/"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(
            &server.uri(),
            r#"["acme"]"#,
            r#"projects = ["123456", "789"]"#,
        ),
    );
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .assert()
        .code(3);
    server.verify().await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), Some("project=123456&project=789"));
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        scopes(&report),
        vec![("sentry".into(), "acme".into(), "ok".into(), 2)]
    );
    assert_eq!(
        finding_keys(&report),
        vec![
            (
                "admin_without_2fa".into(),
                "acme".into(),
                "11".into(),
                "fail".into()
            ),
            (
                "stale_login".into(),
                "acme".into(),
                "12".into(),
                "fail".into()
            ),
        ]
    );
    assert!(
        !out.join("report.html").exists(),
        "--format json writes only report.json"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn opt_in_rules_on_flags_owners_and_domains() {
    let server = MockServer::start().await;
    let mut invalid = sentry_member(1, "owner", true, Some("2026-10-30T00:00:00Z"));
    invalid["flags"] =
        json!({"sso:linked": true, "sso:invalid": true, "member-limit:restricted": false});
    let mut seat = sentry_member(2, "member", true, Some("2026-10-30T00:00:00Z"));
    seat["flags"] = json!({"member-limit:restricted": true});
    seat["email"] = json!("freelancer@gmail.example");
    mount_sentry_org(&server, "acme", vec![vec![invalid, seat]]).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "[rules.sso_invalid]\nenabled = true\n[rules.seat_restricted]\nenabled = true\n\
                 [rules.owner_count]\nenabled = true\n[rules.external_domain]\nenabled = true\nallowed_domains = [\"acme.example\"]\n";
    let cfg = write_config(
        dir.path(),
        &format!("{extra}{}", config(&server.uri(), r#"["acme"]"#, "")),
    );
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .assert()
        .code(3);
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        finding_keys(&report),
        vec![
            (
                "external_domain".into(),
                "acme".into(),
                "2".into(),
                "fail".into()
            ),
            (
                "owner_count".into(),
                "acme".into(),
                "".into(),
                "fail".into()
            ),
            (
                "seat_restricted".into(),
                "acme".into(),
                "2".into(),
                "fail".into()
            ),
            (
                "sso_invalid".into(),
                "acme".into(),
                "1".into(),
                "fail".into()
            ),
        ]
    );
    let owners = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "owner_count")
        .unwrap();
    assert_eq!(owners["detail"], "1 active owner; the policy is 2 to 5");
    let member = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "1")
        .unwrap();
    assert_eq!(
        member["flags"],
        json!(["sso:invalid", "sso:linked"]),
        "the flags that are set, in the order served"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sso_not_linked_reads_the_organization_settings() {
    let server = MockServer::start().await;
    let mut linked = sentry_member(1, "owner", true, Some("2026-10-30T00:00:00Z"));
    linked["flags"] = json!({"sso:linked": true});
    let unlinked = sentry_member(2, "member", true, Some("2026-10-30T00:00:00Z"));
    mount_sentry_org(&server, "acme", vec![vec![linked, unlinked]]).await;
    mount_sentry_org(
        &server,
        "beta",
        vec![vec![sentry_member(
            3,
            "member",
            true,
            Some("2026-10-30T00:00:00Z"),
        )]],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"slug": "acme", "hasAuthProvider": true, "require2FA": false}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/beta/"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"detail": "You do not have permission to perform this action."}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[rules.sso_not_linked]\nenabled = true\n{}",
            config(&server.uri(), r#"["acme", "beta"]"#, "")
        ),
    );
    let out = dir.path().join("out");
    let evidence = dir.path().join("evidence");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .args(["--evidence", evidence.to_str().unwrap()])
        .assert()
        .code(4);
    server.verify().await;
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        finding_keys(&report),
        vec![(
            "sso_not_linked".into(),
            "acme".into(),
            "2".into(),
            "fail".into()
        )]
    );
    let beta = report["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "beta")
        .unwrap();
    assert_eq!(
        beta["status"], "failed",
        "a check the user asked for is never silently skipped"
    );
    assert!(
        beta["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needed by sso_not_linked")
    );
    let manifest = read_json(&evidence.join("manifest.json"));
    assert!(
        manifest["responses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["endpoint"] == "sentry.organization")
    );

    // Replay reproduces it from the evidence.
    let replay_out = dir.path().join("replay");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            evidence.to_str().unwrap(),
            "--as-of",
            AS_OF,
        ])
        .args(["--out", replay_out.to_str().unwrap(), "--format", "json"])
        .assert()
        .code(4);
    assert_eq!(
        read_json(&replay_out.join("report.json"))["findings"],
        report["findings"]
    );
}

/// Sentry's window as its middleware keeps it for one caller and endpoint: `limit` requests in
/// each fixed one-second window, every answer carrying the `X-Sentry-Rate-Limit-*` headers, a
/// 429 past it. One member per organization, answered after 50 ms.
struct WindowLimited {
    limit: u64,
    state: std::sync::Arc<std::sync::Mutex<WindowSeen>>,
}

#[derive(Default)]
struct WindowSeen {
    epoch: u64,
    used: u64,
    served: u64,
    refused: u64,
}

impl wiremock::Respond for WindowLimited {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut seen = self.state.lock().unwrap();
        if seen.epoch != epoch {
            (seen.epoch, seen.used) = (epoch, 0);
        }
        let refused = seen.used >= self.limit;
        if refused {
            seen.refused += 1;
        } else {
            seen.used += 1;
            seen.served += 1;
        }
        let answer = if refused {
            ResponseTemplate::new(429).set_body_raw(
                "\"You are attempting to use this endpoint too frequently.\"",
                "application/json",
            )
        } else {
            let org = req.url.path().split('/').nth(4).unwrap_or("x").to_string();
            ResponseTemplate::new(200)
                .set_body_json(json!([sentry_member(
                    1,
                    "member",
                    true,
                    Some("2026-10-20T08:00:00Z")
                )]))
                .insert_header("link", sentry_link(&org, None).as_str())
        };
        answer
            .set_delay(std::time::Duration::from_millis(50))
            .insert_header("x-sentry-rate-limit-limit", self.limit.to_string().as_str())
            .insert_header(
                "x-sentry-rate-limit-remaining",
                (self.limit - seen.used).to_string().as_str(),
            )
            .insert_header(
                "x-sentry-rate-limit-reset",
                (epoch + 1).to_string().as_str(),
            )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_window_is_counted_and_waited_out_not_overrun() {
    // 12 organizations, 5 requests a second: the run must wait for two resets rather than be
    // refused. Two at a time, so the answers come back in the order the server counted them.
    let server = MockServer::start().await;
    let state = std::sync::Arc::default();
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/api/0/organizations/[^/]+/members/$",
        ))
        .respond_with(WindowLimited {
            limit: 5,
            state: std::sync::Arc::clone(&state),
        })
        .mount(&server)
        .await;
    let orgs: Vec<String> = (0..12).map(|i| format!("\"org-{i}\"")).collect();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(
            &server.uri(),
            &format!("[{}]", orgs.join(", ")),
            "concurrency = 2\nmax_concurrency = 2\n",
        ),
    );
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let run = bin()
        .args(["--config", cfg.to_str().unwrap(), "run", "--as-of", AS_OF])
        .args(["--out", out.to_str().unwrap(), "--format", "json"])
        .assert()
        .code(0);
    let elapsed = started.elapsed();
    // The log says why the run took longer than its requests.
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    let fetched: serde_json::Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "source fetched")
        .unwrap_or_else(|| panic!("no `source fetched` line in {stderr}"));
    assert!(fetched["window_waits"].as_u64() >= Some(1), "{fetched}");
    assert!(fetched["window_wait_ms"].as_u64() >= Some(1), "{fetched}");
    let seen = state.lock().unwrap();
    assert_eq!(seen.refused, 0, "the window was overrun");
    assert_eq!(seen.served, 12);
    assert!(
        elapsed >= std::time::Duration::from_secs(1),
        "{elapsed:?}: no reset waited out?"
    );
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["summary"]["accounts"], 12);
    assert_eq!(report["summary"]["scopes_failed"], 0);
}
