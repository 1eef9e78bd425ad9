//! What a hostile or broken API, a proxy, or a careless config can do to a run, and why none of
//! it leaks a credential, shortens the population unnoticed, or keeps the run going for ever.
//! Every test drives the real binary against servers on loopback.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn sentry_config(base: &str, orgs: &str, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"sentry\"\nbase_url = \"{base}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\n\
         organizations = {orgs}\nmax_attempts = 2\nmax_retry_wait = \"1s\"\n{extra}"
    )
}

fn sentdm_config(base: &str, profiles: &str, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"sentdm\"\nbase_url = \"{base}\"\napi_key_env = \"SENTDM_API_KEY\"\n\
         profiles = {profiles}\nmax_attempts = 2\nmax_retry_wait = \"1s\"\n{extra}"
    )
}

/// What a run left behind.
struct Outcome {
    code: i32,
    stderr: String,
    report: Value,
    elapsed: Duration,
}

impl Outcome {
    fn scope(&self, scope: &str) -> &Value {
        self.report["scopes"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["scope"] == scope))
            .unwrap_or_else(|| panic!("no scope {scope} in {}", self.report["scopes"]))
    }

    fn error_of(&self, scope: &str) -> String {
        let s = self.scope(scope);
        assert_eq!(s["status"], "failed", "{scope}: {s}");
        s["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn run_with(dir: &Path, config: &str, envs: &[(&str, &str)], args: &[&str]) -> Outcome {
    let cfg = write_config(dir, config);
    let out = dir.join("out");
    let started = Instant::now();
    let mut cmd = bin();
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let assert = cmd
        .args(["--log-format", "text", "--config", cfg.to_str().unwrap()])
        .args(["run", "--as-of", AS_OF, "--out", out.to_str().unwrap()])
        .args(args)
        .timeout(Duration::from_secs(120))
        .assert();
    let output = assert.get_output();
    let report_path = out.join("report.json");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report: if report_path.exists() {
            read_json(&report_path)
        } else {
            Value::Null
        },
        elapsed: started.elapsed(),
    }
}

/// Answer every GET of `at` with `template`.
async fn answer(server: &MockServer, at: &str, template: impl Respond + 'static) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(template)
        .mount(server)
        .await;
}

fn run(dir: &Path, config: &str) -> Outcome {
    run_with(dir, config, &[], &[])
}

fn all_files_text(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    text
}

/// Counts connections and answers none: a stand-in for a proxy or a foreign host.
async fn connection_counter() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (format!("http://{addr}"), count)
}

// ---------------------------------------------------------------------------------------------
// Credentials go to their one origin

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_origin_gets_no_credential_and_fails_the_scope() {
    let foreign = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({"users": [
                sentdm_user("u-foreign", "owner", "active", "2026-01-01T00:00:00Z", None)
            ]}))),
        )
        .mount(&foreign)
        .await;
    let api = MockServer::start().await;
    // 127.0.0.1 → localhost: another origin on the same machine.
    let port = foreign.address().port();
    let location = format!("http://localhost:{port}/v3/users?sig=s3cr3t-query");
    answer(
        &api,
        "/v3/users",
        ResponseTemplate::new(302).insert_header("location", location.as_str()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentdm_config(&api.uri(), "[]", ""));

    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        foreign.received_requests().await.unwrap().is_empty(),
        "the other origin must not be asked at all"
    );
    let message = outcome.error_of("organization");
    assert!(message.contains("HTTP 302"), "{message}");
    assert!(
        message.contains(&format!("http://localhost:{port}/v3/users")),
        "{message}"
    );
    assert!(
        !message.contains("s3cr3t-query"),
        "query strings are not shown: {message}"
    );
    assert_eq!(outcome.report["summary"]["accounts"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sentry_redirect_elsewhere_is_not_counted_as_the_organization() {
    let foreign = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([sentry_member(1, "owner", true, None)])),
        )
        .mount(&foreign)
        .await;
    let api = MockServer::start().await;
    let location = format!(
        "{}/api/0/organizations/acme/members/?per_page=100",
        foreign.uri()
    )
    .replace("127.0.0.1", "localhost");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", location.as_str()))
        .mount(&api)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(outcome.error_of("acme").contains("HTTP 301"));
    assert_eq!(outcome.report["summary"]["accounts"], 0);
    assert!(foreign.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_within_the_origin_is_followed() {
    let api = MockServer::start().await;
    answer(
        &api,
        "/v3/users",
        ResponseTemplate::new(307).insert_header("location", "/v3/users-moved"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v3/users-moved"))
        .and(wiremock::matchers::header("x-api-key", SENTDM_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({"users": [
            sentdm_user("u1", "developer", "active", "2026-01-01T00:00:00Z", Some("2026-10-30T00:00:00Z"))
        ]}))))
        .mount(&api)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentdm_config(&api.uri(), "[]", ""));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.report["summary"]["accounts"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_sources_never_go_through_a_proxy() {
    let (proxy, connections) = connection_counter().await;
    let api = MockServer::start().await;
    mount_sentry_org(
        &api,
        "acme",
        vec![vec![sentry_member(
            1,
            "member",
            true,
            Some("2026-10-30T00:00:00Z"),
        )]],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("HTTPS_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let outcome = run_with(
        dir.path(),
        &sentry_config(&api.uri(), r#"["acme"]"#, ""),
        &envs,
        &[],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the proxy saw the bearer token"
    );
}

/// A server that puts the credential it was sent into its error messages and display names.
#[tokio::test(flavor = "multi_thread")]
async fn echoed_secrets_are_masked_in_reports_logs_and_evidence() {
    let api = MockServer::start().await;
    answer(
        &api,
        "/v3/users",
        ResponseTemplate::new(401).set_body_json(sentdm_error(
            "AUTH_001",
            &format!("invalid key {SENTDM_KEY}"),
            &format!("req-{SENTDM_KEY}"),
        )),
    )
    .await;
    answer(
        &api,
        "/api/0/organizations/acme/members/",
        ResponseTemplate::new(200).set_body_json(json!([{
            "id": "1", "email": "a@acme.example", "name": format!("Bearer {SENTRY_TOKEN}"),
            "orgRole": "member", "pending": false, "user": {"id": "9", "has2fa": true}
        }])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}{}",
        sentry_config(&api.uri(), r#"["acme"]"#, ""),
        sentdm_config(&api.uri(), "[]", "")
    );
    let evidence = dir.path().join("evidence");
    let outcome = run_with(
        dir.path(),
        &config,
        &[("RUST_LOG", "trace")],
        &["--evidence", evidence.to_str().unwrap()],
    );
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        outcome
            .error_of("organization")
            .contains("invalid key [REDACTED]")
    );
    let reports = all_files_text(&dir.path().join("out"));
    assert!(reports.contains("[REDACTED]"));
    for secret in [SENTRY_TOKEN, SENTDM_KEY] {
        assert!(!reports.contains(secret), "{secret} reached a report");
        assert!(
            !outcome.stderr.contains(secret),
            "{secret} reached the logs"
        );
    }
    // The archive keeps the bodies byte for byte (that is what makes it evidence); its
    // manifest, which people read, does not repeat what the server echoed.
    let manifest = std::fs::read_to_string(evidence.join("manifest.json")).unwrap();
    assert!(!manifest.contains(SENTDM_KEY) && !manifest.contains(SENTRY_TOKEN));
}

// ---------------------------------------------------------------------------------------------
// The population is complete or the scope fails

/// Sentry's Link header split over two header lines, as RFC 9110 allows.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_header_split_over_lines_is_read_whole() {
    let api = MockServer::start().await;
    let members = |range: std::ops::Range<u32>| -> Value {
        Value::Array(
            range
                .map(|i| sentry_member(i, "member", true, Some("2026-10-30T00:00:00Z")))
                .collect(),
        )
    };
    let base = format!(
        "{}/api/0/organizations/acme/members/?per_page=100",
        api.uri()
    );
    for (i, range) in [1..101, 101..201, 201..211].into_iter().enumerate() {
        let prev = format!(
            "<{base}&cursor=100:-1:1>; rel=\"previous\"; results=\"false\"; cursor=\"100:-1:1\""
        );
        let next = if i < 2 {
            format!(
                "<{base}&cursor=100:{0}:0>; rel=\"next\"; results=\"true\"; cursor=\"100:{0}:0\"",
                i + 1
            )
        } else {
            format!("<{base}&cursor=100:9:0>; rel=\"next\"; results=\"false\"; cursor=\"100:9:0\"")
        };
        let resp = ResponseTemplate::new(200)
            .set_body_json(members(range))
            .append_header("link", prev.as_str())
            .append_header("link", next.as_str());
        let m = Mock::given(method("GET")).and(path("/api/0/organizations/acme/members/"));
        let m = if i == 0 {
            m.and(wiremock::matchers::query_param_is_missing("cursor"))
        } else {
            m.and(query_param("cursor", format!("100:{i}:0")))
        };
        m.respond_with(resp).mount(&api).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.scope("acme")["accounts"], 210);
}

/// Five owners without member id or email: five accounts, flagged, never one "unknown".
#[tokio::test(flavor = "multi_thread")]
async fn accounts_without_an_id_are_kept_apart_and_flagged() {
    let api = MockServer::start().await;
    let owner = |n: u32| {
        json!({"name": format!("Owner {n}"), "orgRole": "owner", "pending": false,
                                "user": {"has2fa": false, "lastLogin": "2026-10-30T00:00:00Z"}})
    };
    let mut page: Vec<Value> = (1..=5).map(owner).collect();
    page.push(sentry_member(
        7,
        "member",
        true,
        Some("2026-10-30T00:00:00Z"),
    ));
    page.push(sentry_member(
        7,
        "member",
        true,
        Some("2026-10-30T00:00:00Z"),
    ));
    mount_sentry_org(&api, "acme", vec![page]).await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert_eq!(
        outcome.scope("acme")["accounts"],
        6,
        "5 without id + member 7 once"
    );
    let accounts = outcome.report["accounts"].as_array().unwrap();
    let flagged: Vec<&Value> = accounts
        .iter()
        .filter(|a| {
            a["flags"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("api:no-id")))
        })
        .collect();
    assert_eq!(flagged.len(), 5);
    let mut ids: Vec<&str> = flagged
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each keeps an id of its own: {ids:?}");
    let admin_findings = outcome.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "admin_without_2fa")
        .count();
    assert_eq!(admin_findings, 5, "every owner without 2FA is a finding");
    assert!(
        outcome.stderr.contains("merged"),
        "the merge of member 7 is logged"
    );
}

/// A Sent.dm `/v3/users` that says `has_more` and ignores `page`.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_list_that_ignores_page_fails_the_scope() {
    let api = MockServer::start().await;
    let users: Vec<Value> = (1..=100)
        .map(|i| {
            sentdm_user(
                &format!("u{i}"),
                "developer",
                "active",
                "2026-01-01T00:00:00Z",
                None,
            )
        })
        .collect();
    answer(
        &api,
        "/v3/users",
        ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({
            "users": users, "pagination": {"has_more": true, "total_count": "250"}
        }))),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentdm_config(&api.uri(), "[]", ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    let message = outcome.error_of("organization");
    assert!(
        message.contains("page 2 of the user list repeats"),
        "{message}"
    );
    assert_eq!(api.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_profile_page_ends_discovery_at_once() {
    let api = MockServer::start().await;
    let profiles = json!({"sender_profiles": [{"id": "660e8400-e29b-41d4-a716-446655440001"}],
                          "pagination": {"has_more": true}});
    answer(
        &api,
        "/v3/sender-profiles",
        ResponseTemplate::new(200).set_body_json(sentdm_ok(profiles)),
    )
    .await;
    answer(
        &api,
        "/v3/users",
        ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({"users": []}))),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentdm_config(&api.uri(), "\"all\"", ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        outcome
            .error_of("_profiles")
            .contains("page 2 of the profile list repeats")
    );
    let discovery = api
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v3/sender-profiles")
        .count();
    assert_eq!(discovery, 2, "not a thousand");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_organization_list_is_a_coverage_failure() {
    let api = MockServer::start().await;
    answer(
        &api,
        "/api/0/organizations/",
        ResponseTemplate::new(200).set_body_json(json!([])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), "\"all\"", ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(outcome.report["complete"], false);
    assert!(
        outcome
            .error_of("_organizations")
            .contains("can see no organization")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_unusable_slug_fails_that_organization_alone() {
    let api = MockServer::start().await;
    answer(
        &api,
        "/api/0/organizations/",
        ResponseTemplate::new(200)
            .set_body_json(json!([{"slug": "acme"}, {"slug": "../../etc"}, {"slug": "labs"}])),
    )
    .await;
    for org in ["acme", "labs"] {
        mount_sentry_org(
            &api,
            org,
            vec![vec![sentry_member(
                1,
                "member",
                true,
                Some("2026-10-30T00:00:00Z"),
            )]],
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), "\"all\"", ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(outcome.scope("acme")["status"], "ok");
    assert_eq!(outcome.scope("labs")["status"], "ok");
    assert!(
        outcome
            .error_of("_organizations[2]")
            .contains("\"../../etc\"")
    );
}

/// One member with `orgRole` twice: which role holds is ambiguous, so the scope fails and says
/// which member and which key.
#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_key_fails_the_scope_naming_member_and_key() {
    let api = MockServer::start().await;
    let body = r#"[{"id":"1","email":"a@x","orgRole":"member","pending":false,"user":{"id":"9","has2fa":true}},
                   {"id":"2","email":"b@x","orgRole":"member","orgRole":"owner","pending":false,"user":{"id":"8","has2fa":false}}]"#;
    answer(
        &api,
        "/api/0/organizations/acme/members/",
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    let message = outcome.error_of("acme");
    assert!(message.contains("member 2 (id \"2\")"), "{message}");
    assert!(message.contains("duplicate field `orgRole`"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Bounded in memory and time

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_fails_the_scope() {
    let api = MockServer::start().await;
    let big: Vec<Value> = (0..30_000)
        .map(|i| json!({"id": i.to_string(), "name": "x".repeat(40)}))
        .collect();
    answer(
        &api,
        "/api/0/organizations/acme/members/",
        ResponseTemplate::new(200).set_body_json(Value::Array(big)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(
        dir.path(),
        &sentry_config(&api.uri(), r#"["acme"]"#, "max_response_mb = 1\n"),
    );
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        outcome
            .error_of("acme")
            .contains("larger than the 1 MiB allowed")
    );
    assert_eq!(
        api.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
}

/// A chunked body that never ends is cut at the cap, not held until memory runs out.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_body_is_cut_at_the_cap() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65536, "[".repeat(65536));
                for _ in 0..100_000 {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(
        dir.path(),
        &sentry_config(
            &format!("http://{addr}"),
            r#"["acme"]"#,
            "max_response_mb = 2\n",
        ),
    );
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        outcome
            .error_of("acme")
            .contains("larger than the 2 MiB allowed")
    );
    assert!(
        outcome.elapsed < Duration::from_secs(60),
        "{:?}",
        outcome.elapsed
    );
}

/// A server that answers every page with a hundred new members and a next cursor.
struct EndlessPages;

impl Respond for EndlessPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n: u64 = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "cursor")
            .and_then(|(_, v)| v.split(':').nth(1).and_then(|p| p.parse().ok()))
            .unwrap_or(0);
        let members: Vec<Value> = (0..100)
            .map(|i| json!({"id": (n * 100 + i).to_string()}))
            .collect();
        let link = format!(
            "<http://x/?cursor=100:{0}:0>; rel=\"next\"; results=\"true\"; cursor=\"100:{0}:0\"",
            n + 1
        );
        ResponseTemplate::new(200)
            .set_body_json(Value::Array(members))
            .insert_header("link", link.as_str())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_that_never_ends_is_stopped_at_the_page_cap() {
    let api = MockServer::start().await;
    answer(&api, "/api/0/organizations/acme/members/", EndlessPages).await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(outcome.error_of("acme").contains("more than 1000 pages"));
    assert_eq!(api.received_requests().await.unwrap().len(), 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_retry_after_neither_panics_nor_waits_past_the_configured_bound() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", u64::MAX.to_string().as_str())
                .insert_header("x-sentry-rate-limit-reset", u64::MAX.to_string().as_str())
                .set_body_json(json!("slow down")),
        )
        .mount(&api)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(
        outcome.elapsed < Duration::from_secs(30),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn an_absurd_duration_is_refused_at_validation_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[sources]]\ntype = \"sentry\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n\
                  max_retry_wait = \"500000000000years\"\n";
    let outcome = run(dir.path(), config);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("sources[0].max_retry_wait"),
        "{}",
        outcome.stderr
    );
    let cfg = write_config(
        dir.path(),
        &sentry_config("https://sentry.io", r#"["acme"]"#, ""),
    );
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--deadline",
            "500000000000years",
        ])
        .assert()
        .code(2);
}

// ---------------------------------------------------------------------------------------------
// Logs

/// An API error text with a newline and an ANSI escape cannot forge a log line.
#[tokio::test(flavor = "multi_thread")]
async fn text_logs_escape_control_characters_from_apis() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"detail": "denied\n2026-11-01T00:00:00Z  INFO all scopes ok\u{1b}[2J"}),
        ))
        .mount(&api)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), &sentry_config(&api.uri(), r#"["acme"]"#, ""));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(!outcome.stderr.contains('\u{1b}'), "{}", outcome.stderr);
    assert!(
        !outcome
            .stderr
            .lines()
            .any(|l| l.starts_with("2026-11-01T00:00:00Z  INFO all scopes ok")),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("denied\\n2026-11-01"),
        "{}",
        outcome.stderr
    );
}

/// At the highest verbosity no dependency prints the credential or an account from a body.
#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_hold_no_credential_and_no_account_data() {
    let api = MockServer::start().await;
    let mut member = sentry_member(1, "member", true, Some("2026-10-30T00:00:00Z"));
    member["name"] = json!("Zebediah Quartermaine-Unique");
    mount_sentry_org(&api, "acme", vec![vec![member]]).await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_with(
        dir.path(),
        &sentry_config(&api.uri(), r#"["acme"]"#, ""),
        &[("RUST_LOG", "trace")],
        &[],
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stderr.lines().count() > 20, "trace logging is on");
    assert!(!outcome.stderr.contains(SENTRY_TOKEN));
    assert!(
        !outcome.stderr.contains("Zebediah"),
        "a body reached the logs"
    );
}
