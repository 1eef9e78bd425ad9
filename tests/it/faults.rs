//! Fault injection: one run against both APIs that throws every transient fault we know, plus a
//! permanently forbidden scope. Every other scope must come out exactly as in a clean run.

use std::path::Path;
use std::time::Duration;

use crate::support::common::*;
use crate::support::faults::{Concurrent, Fault, FaultServer, Route, archive_routes};
use serde_json::Value;

const MARKETING: &str = "3f2b8c1e-7a4d-4e59-9b1a-2c6d8e0f4a71";
const SUPPORT: &str = "8d9e0f1a-2b3c-4d5e-8f70-81a2b3c4d5e6";

fn config(base: &str) -> String {
    format!(
        r#"
[[sources]]
type = "sentry"
base_url = "{base}"
token_env = "SENTRY_AUTH_TOKEN"
organizations = ["acme", "acme-labs", "acme-legacy"]
request_timeout = "2s"
max_attempts = 4

[[sources]]
type = "sentdm"
base_url = "{base}"
api_key_env = "SENTDM_API_KEY"
profiles = "all"
request_timeout = "2s"
max_attempts = 4
"#
    )
}

fn route<'a>(
    routes: &'a mut [Route],
    path: &str,
    query: &[(&str, &str)],
    profile: Option<Option<&str>>,
) -> &'a mut Route {
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    q.sort();
    let profile = profile.map(|p| p.map(str::to_string));
    routes
        .iter_mut()
        .find(|r| r.path == path && r.query == q && (profile.is_none() || r.profile == profile))
        .unwrap_or_else(|| panic!("no route {path} {query:?}"))
}

async fn run(server: &FaultServer, out: &Path) -> Value {
    let dir = out.parent().unwrap();
    let cfg = dir.join(format!(
        "{}.toml",
        out.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&cfg, config(&server.uri)).unwrap();
    let (cfg, out) = (cfg.clone(), out.to_path_buf());
    tokio::task::spawn_blocking(move || {
        bin()
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "run",
                "--as-of",
                DEMO_AS_OF,
                "--out",
                out.to_str().unwrap(),
                "--format",
                "json",
            ])
            .assert()
            .code(4);
        read_json(&out.join("report.json"))
    })
    .await
    .unwrap()
}

fn by_scope<'a>(report: &'a Value, key: &str, scope: &str) -> Vec<&'a Value> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["scope"] == scope)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_transient_fault_is_absorbed_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();

    let clean_server = FaultServer::start(archive_routes(&demo())).await;
    let clean = run(&clean_server, &dir.path().join("clean")).await;

    let mut routes = archive_routes(&demo());
    let members = |org: &str| format!("/api/0/organizations/{org}/members/");
    let json_500 = r#"{"detail":"Internal Error","errorId":"5f1c"}"#;
    let html_502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
    let html_503 = "<!DOCTYPE html><html><body>Service Unavailable</body></html>";
    route(&mut routes, &members("acme"), &[("per_page", "100")], None).faults = [
        Fault::SentryRateLimited,
        Fault::Status(500, "application/json", json_500),
    ]
    .into();
    route(
        &mut routes,
        &members("acme"),
        &[("per_page", "100"), ("cursor", "100:1:0")],
        None,
    )
    .faults = [Fault::Drop, Fault::Status(502, "text/html", html_502)].into();
    route(
        &mut routes,
        &members("acme"),
        &[("per_page", "100"), ("cursor", "100:2:0")],
        None,
    )
    .faults = [Fault::Truncated, Fault::CloseMidBody].into();
    let labs = route(
        &mut routes,
        &members("acme-labs"),
        &[("per_page", "100")],
        None,
    );
    labs.status = 403;
    labs.body = br#"{"detail":"You do not have permission to perform this action."}"#.to_vec();
    route(
        &mut routes,
        "/v3/sender-profiles",
        &[("page", "1"), ("page_size", "100")],
        None,
    )
    .faults = [Fault::RateLimitedRetryAfter(1)].into();
    route(
        &mut routes,
        "/v3/sender-profiles",
        &[("page", "2"), ("page_size", "100")],
        None,
    )
    .faults = [Fault::Status(503, "text/html", html_503)].into();
    route(&mut routes, "/v3/users", &[], Some(None)).faults =
        [Fault::Slow(Duration::from_secs(3))].into();
    route(&mut routes, "/v3/users", &[], Some(Some(MARKETING))).faults = [Fault::Status(
        500,
        "application/json",
        r#"{"success":false,"data":null,"error":{"code":"INTERNAL_001","message":"An unexpected error occurred"},"meta":{"request_id":"req_x"}}"#,
    )]
    .into();
    route(&mut routes, "/v3/users", &[], Some(Some(SUPPORT))).faults = [
        Fault::Status(
            502,
            "application/json",
            r#"{"success":false,"error":{"code":"INTERNAL_003"}}"#,
        ),
        Fault::Truncated,
    ]
    .into();

    let thrown: usize = routes.iter().map(|r| r.faults.len()).sum();
    let faulty_server = FaultServer::start(routes).await;
    let faulty = run(&faulty_server, &dir.path().join("faulty")).await;
    assert!(
        faulty_server.unthrown().is_empty(),
        "faults not exercised: {:?}",
        faulty_server.unthrown()
    );

    // The permanently forbidden scope fails, with its status, and is the only difference.
    let labs = &by_scope(&faulty, "scopes", "acme-labs")[0];
    assert_eq!(labs["status"], "failed");
    assert_eq!(labs["error"]["http_status"], 403);
    assert!(by_scope(&faulty, "accounts", "acme-labs").is_empty());
    assert!(by_scope(&faulty, "findings", "acme-labs").is_empty());
    assert_eq!(by_scope(&clean, "scopes", "acme-labs")[0]["status"], "ok");

    let scopes: Vec<String> = clean["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(scopes.len(), 7);
    for scope in scopes.iter().filter(|s| *s != "acme-labs") {
        // Where and when the pages came from differs between the two servers; what they gave
        // may not: the same endpoints, statuses and bytes.
        let entry = |report: &Value| -> Value {
            let mut entry = by_scope(report, "scopes", scope)[0].clone();
            let provenance = entry.as_object_mut().unwrap().remove("provenance").unwrap();
            let pages = provenance["pages"].as_array().unwrap();
            let got: Vec<Value> = pages
                .iter()
                .map(|p| serde_json::json!([p["endpoint"], p["status"], p["bytes"]]))
                .collect();
            entry["pages"] = Value::Array(got);
            entry
        };
        assert_eq!(entry(&clean), entry(&faulty), "scope entry of {scope}");
        let (a, b) = (
            by_scope(&clean, "accounts", scope),
            by_scope(&faulty, "accounts", scope),
        );
        assert_eq!(a.len(), b.len(), "account count of {scope}");
        assert_eq!(a, b, "accounts of {scope}");
        let (a, b) = (
            by_scope(&clean, "findings", scope),
            by_scope(&faulty, "findings", scope),
        );
        assert_eq!(a.len(), b.len(), "finding count of {scope}");
        assert_eq!(a, b, "findings of {scope}");
    }
    assert!(by_scope(&clean, "accounts", "acme").len() > 200);
    assert_eq!(
        clean["summary"]["accounts"].as_u64().unwrap()
            - by_scope(&clean, "accounts", "acme-labs").len() as u64,
        faulty["summary"]["accounts"].as_u64().unwrap()
    );
    // Every fault thrown cost exactly one retry, and the report counts them all.
    assert_eq!(clean["run"]["retries"], 0);
    assert_eq!(faulty["run"]["retries"].as_u64(), Some(thrown as u64));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_whose_pages_cannot_all_be_fetched_fails_as_a_whole() {
    let mut routes = archive_routes(&demo());
    // Page 2 of acme keeps failing: the first page's 100 members must not be reported alone.
    route(
        &mut routes,
        "/api/0/organizations/acme/members/",
        &[("per_page", "100"), ("cursor", "100:1:0")],
        None,
    )
    .faults =
        std::iter::repeat_n(Fault::Status(503, "text/html", "<html>down</html>"), 4).collect();
    let server = FaultServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let report = run(&server, &dir.path().join("out")).await;
    let acme = &by_scope(&report, "scopes", "acme")[0];
    assert_eq!(acme["status"], "failed");
    assert_eq!(acme["accounts"], 0);
    assert_eq!(acme["error"]["http_status"], 503);
    assert!(
        acme["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("page 2 of sentry.members"),
        "{}",
        acme["error"]
    );
    assert!(by_scope(&report, "accounts", "acme").is_empty());
    assert!(by_scope(&report, "findings", "acme").is_empty());
    assert_eq!(by_scope(&report, "scopes", "acme-labs")[0]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_writes_an_incomplete_report() {
    let mut routes = archive_routes(&demo());
    for r in &mut routes {
        r.faults = [Fault::Slow(Duration::from_secs(5))].into();
    }
    let server = FaultServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(&server.uri).replace("\"2s\"", "\"30s\""),
    );
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let (cfg2, out2) = (cfg.clone(), out.clone());
    tokio::task::spawn_blocking(move || {
        bin()
            .args([
                "--config",
                cfg2.to_str().unwrap(),
                "run",
                "--deadline",
                "1s",
                "--out",
                out2.to_str().unwrap(),
            ])
            .assert()
            .code(4);
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at the deadline, not after the slow answers"
    );
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(
        report["run"]["stopped"],
        "the run deadline of 1s was reached"
    );
    for s in report["scopes"].as_array().unwrap() {
        assert_eq!(s["status"], "failed");
        assert!(
            s["error"]["message"]
                .as_str()
                .unwrap()
                .contains("the run was stopped (the run deadline of 1s was reached)")
        );
    }
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("stopped early")
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_writes_an_incomplete_report() {
    let mut routes = archive_routes(&demo());
    for r in &mut routes {
        r.faults = [Fault::Slow(Duration::from_secs(20))].into();
    }
    let server = FaultServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(&server.uri).replace("\"2s\"", "\"30s\""),
    );
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"))
        .env_clear()
        .env("SENTRY_AUTH_TOKEN", SENTRY_TOKEN)
        .env("SENTDM_API_KEY", SENTDM_KEY)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once a request arrives, fetching has begun and the signal handler is in place.
    let waiting = std::time::Instant::now();
    while server.hits() == 0 && waiting.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = tokio::task::spawn_blocking(move || child.wait().unwrap().code())
        .await
        .unwrap();
    assert_eq!(code, Some(4));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(report["run"]["stopped"], "SIGTERM was received");
}

/// One Sentry organization's member list, a single page of one member who breaks no rule.
fn organization(slug: &str) -> Route {
    let member = serde_json::json!([{"id": "1", "email": format!("ada@{slug}.example"), "name": "Ada",
        "user": {"id": "1", "has2fa": true, "lastLogin": "2026-11-01T00:00:00Z", "lastActive": null},
        "orgRole": "member", "pending": false, "expired": false, "flags": {},
        "dateCreated": "2025-01-01T00:00:00Z"}]);
    Route {
        path: format!("/api/0/organizations/{slug}/members/"),
        query: vec![("per_page".into(), "100".into())],
        profile: None,
        status: 200,
        body: member.to_string().into_bytes(),
        headers: vec![("content-type".into(), "application/json".into())],
        faults: Default::default(),
    }
}

/// Fetch `orgs` organizations from a server enforcing `concurrent`, with `keys` added to the
/// source (debug logs on); the run's exit code and its stderr.
async fn run_limited(server: &FaultServer, orgs: usize, keys: &str, dir: &Path) -> (i32, String) {
    let list: Vec<String> = (0..orgs).map(|i| format!("\"org-{i}\"")).collect();
    let cfg = dir.join("limited.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [{}]\nrequest_timeout = \"5s\"\n{keys}",
            server.uri,
            list.join(", ")
        ),
    )
    .unwrap();
    let out = dir.join("out");
    tokio::task::spawn_blocking(move || {
        let output = bin()
            .env("RUST_LOG", "access_audit=debug")
            .args([
                "--log-format",
                "json",
                "--config",
                cfg.to_str().unwrap(),
                "run",
                "--as-of",
                "2026-11-20T00:00:00Z",
            ])
            .args(["--out", out.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn organizations(n: usize) -> Vec<Route> {
    (0..n).map(|i| organization(&format!("org-{i}"))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_rises_with_the_servers_room_but_never_past_its_limit_or_the_ceiling() {
    let delay = Duration::from_millis(100);
    // The ceiling binds: the server would take 12.
    let dir = tempfile::tempdir().unwrap();
    let server =
        FaultServer::start_limited(organizations(40), Concurrent::new(12, 12, delay)).await;
    let (code, stderr) = run_limited(
        &server,
        40,
        "concurrency = 2\nmax_concurrency = 6\n",
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let seen = server.concurrent().unwrap();
    assert!(
        (3..=6).contains(&seen.peak()),
        "peak {} not above the start 2 and within the ceiling 6",
        seen.peak()
    );
    assert_eq!(seen.limited(), 0, "no 429 needed");

    // The server binds: it takes 5, the ceiling would allow 32.
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start_limited(organizations(40), Concurrent::new(5, 5, delay)).await;
    let (code, stderr) = run_limited(
        &server,
        40,
        "concurrency = 2\nmax_concurrency = 32\n",
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let seen = server.concurrent().unwrap();
    assert!(
        (3..=5).contains(&seen.peak()),
        "peak {} not above the start 2 and within the server's 5",
        seen.peak()
    );
    assert_eq!(seen.limited(), 0, "backed off before a 429: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_budget_headers_concurrency_stays_as_configured() {
    // Self-hosted Sentry sends no rate-limit headers: the configured concurrency, no more.
    let routes = organizations(24);
    let server = FaultServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_limited(
        &server,
        24,
        "concurrency = 3\nmax_concurrency = 16\n",
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("concurrency limit changed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_makes_concurrency_back_off() {
    // The server announces room for 25 but enforces 4 (another caller holds the rest): the
    // client climbs, meets 429s, halves, and every request is still answered.
    let server = FaultServer::start_limited(
        organizations(30),
        Concurrent::new(4, 25, Duration::from_millis(100)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_limited(
        &server,
        30,
        "concurrency = 2\nmax_attempts = 10\n",
        dir.path(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        server.concurrent().unwrap().limited() > 0,
        "the client never went past 4"
    );
    let halved = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "concurrency limit changed")
        .filter(|l| l["rate_limited"] == true)
        .map(|l| (l["from"].as_u64().unwrap(), l["to"].as_u64().unwrap()))
        .collect::<Vec<_>>();
    assert!(!halved.is_empty(), "no back-off logged: {stderr}");
    for (from, to) in halved {
        assert_eq!(to, (from / 2).max(1), "a 429 halves the limit");
    }
}
