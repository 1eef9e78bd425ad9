//! Shared helpers for the integration tests: the real binary, HTTP mocks of both APIs on
//! loopback, and readers for what a run leaves on disk.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const SENTRY_TOKEN: &str = "sntryu_TEST_TOKEN_c0ffee_must_never_leak";
pub const SENTDM_KEY: &str = "sk_test_SENTDM_KEY_deadbeef_must_never_leak";
pub const AS_OF: &str = "2026-11-01T00:00:00Z";
/// The instant the shipped demo archive is replayed at (the README's first command).
pub const DEMO_AS_OF: &str = "2026-11-20T06:00:00Z";

/// The shipped demo evidence archive.
pub fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-evidence")
}

/// The real binary, with a clean environment so nothing from the test runner leaks in.
pub fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("access-audit").expect("binary built");
    cmd.env_clear();
    cmd.env("SENTRY_AUTH_TOKEN", SENTRY_TOKEN);
    cmd.env("SENTDM_API_KEY", SENTDM_KEY);
    cmd
}

/// `run --replay` of the demo archive at [`DEMO_AS_OF`] into `out`, report.json only, with
/// `extra` arguments.
pub fn replay_demo(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
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

/// Matches requests that do *not* carry a header (Sent.dm organization scope: no x-profile-id).
pub struct NoHeader(pub &'static str);

impl Match for NoHeader {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key(self.0)
    }
}

/// A joined Sentry member.
pub fn sentry_member(id: u32, role: &str, has2fa: bool, last_login: Option<&str>) -> Value {
    json!({
        "id": id.to_string(),
        "email": format!("user{id}@acme.example"),
        "name": format!("User {id}"),
        "user": {
            "id": (100_000 + id).to_string(),
            "name": format!("User {id}"),
            "email": format!("user{id}@acme.example"),
            "has2fa": has2fa,
            "lastLogin": last_login,
            "lastActive": null,
            "isActive": true
        },
        "orgRole": role,
        "role": role,
        "pending": false,
        "expired": false,
        "flags": {"sso:linked": false, "sso:invalid": false},
        "dateCreated": "2024-01-01T00:00:00.000000Z",
        "inviteStatus": "approved"
    })
}

/// A pending Sentry invite.
pub fn sentry_invite(id: u32, created: &str, expired: bool) -> Value {
    let email = format!("invitee{id}@contractor.example");
    json!({
        "id": id.to_string(), "email": email, "name": email, "user": null,
        "orgRole": "member", "role": "member", "pending": true, "expired": expired,
        "flags": {}, "dateCreated": created, "inviteStatus": "approved"
    })
}

/// Sentry's Link header, pointing at a different host than the one we called (as sentry.io does).
pub fn sentry_link(org: &str, next: Option<&str>) -> String {
    let base = format!("https://us.sentry.io/api/0/organizations/{org}/members/?per_page=100");
    let prev = format!(
        "<{base}&cursor=100:-1:1>; rel=\"previous\"; results=\"false\"; cursor=\"100:-1:1\""
    );
    match next {
        Some(c) => {
            format!("{prev}, <{base}&cursor={c}>; rel=\"next\"; results=\"true\"; cursor=\"{c}\"")
        }
        None => format!(
            "{prev}, <{base}&cursor=100:9:0>; rel=\"next\"; results=\"false\"; cursor=\"100:9:0\""
        ),
    }
}

/// Mount an organization's member pages: `pages[i]` is served for cursor `100:i:0`.
pub async fn mount_sentry_org(server: &MockServer, org: &str, pages: Vec<Vec<Value>>) {
    let n = pages.len();
    for (i, page) in pages.into_iter().enumerate() {
        let next = (i + 1 < n).then(|| format!("100:{}:0", i + 1));
        let resp = ResponseTemplate::new(200)
            .set_body_json(Value::Array(page))
            .insert_header("link", sentry_link(org, next.as_deref()).as_str());
        let m = Mock::given(method("GET"))
            .and(path(format!("/api/0/organizations/{org}/members/")))
            .and(query_param("per_page", "100"))
            .and(wiremock::matchers::header(
                "authorization",
                format!("Bearer {SENTRY_TOKEN}").as_str(),
            ));
        let m = if i == 0 {
            m.and(query_param_is_missing("cursor"))
        } else {
            m.and(query_param("cursor", format!("100:{i}:0")))
        };
        m.respond_with(resp).expect(1).mount(server).await;
    }
}

/// A Sent.dm user.
pub fn sentdm_user(
    id: &str,
    role: &str,
    status: &str,
    invited_at: &str,
    last_login: Option<&str>,
) -> Value {
    json!({
        "id": id, "email": format!("{id}@acme.example"), "name": format!("Sent {id}"),
        "role": role, "status": status,
        "invited_at": invited_at, "last_login_at": last_login,
        "created_at": invited_at, "updated_at": invited_at
    })
}

pub fn sentdm_ok(data: Value) -> Value {
    json!({"success": true, "data": data, "error": null,
           "meta": {"request_id": "req_ok", "timestamp": "2026-11-01T00:00:00.0000000+00:00", "version": "v3"}})
}

pub fn sentdm_error(code: &str, message: &str, request_id: &str) -> Value {
    json!({"success": false, "data": null,
           "error": {"code": code, "message": message, "details": null, "doc_url": format!("https://docs.sent.dm/errors/{code}")},
           "meta": {"request_id": request_id, "timestamp": "2026-11-01T00:00:00.0000000+00:00", "version": "v3"}})
}

/// Mount `GET /v3/users` for a scope (`None` = the organization).
pub async fn mount_sentdm_users(
    server: &MockServer,
    profile: Option<&str>,
    status: u16,
    body: Value,
) {
    let m = Mock::given(method("GET"))
        .and(path("/v3/users"))
        .and(wiremock::matchers::header("x-api-key", SENTDM_KEY));
    let m = match profile {
        Some(p) => m.and(wiremock::matchers::header("x-profile-id", p)),
        None => m.and(NoHeader("x-profile-id")),
    };
    m.respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

/// Write a config file into `dir` and return its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("access-audit.toml");
    std::fs::write(&p, text).expect("write config");
    p
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The report's scopes as (source_name, scope, status, accounts).
pub fn scopes(report: &Value) -> Vec<(String, String, String, u64)> {
    report["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .map(|s| {
            (
                s["source_name"].as_str().unwrap_or_default().to_string(),
                s["scope"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
                s["accounts"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Findings as (rule, scope, account_id, outcome) for compact assertions.
pub fn finding_keys(report: &Value) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["scope"].as_str().unwrap_or_default().to_string(),
                f["account_id"].as_str().unwrap_or_default().to_string(),
                f["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Serve an evidence archive over HTTP, exactly as recorded: status, body and Link header,
/// matched on path, query and (Sent.dm) the profile header. Lets a live run see what the
/// archived run saw.
pub async fn serve_archive(dir: &Path) -> MockServer {
    let server = MockServer::start().await;
    let manifest = read_json(&dir.join("manifest.json"));
    let bases: Vec<(String, String)> = manifest["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["base_url"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for r in manifest["responses"].as_array().expect("responses") {
        let Some(file) = r["file"].as_str() else {
            continue;
        };
        let source = r["source_name"].as_str().unwrap_or_default();
        let base = &bases
            .iter()
            .find(|(n, _)| n == source)
            .expect("source of response")
            .1;
        let url = r["url"].as_str().unwrap_or_default();
        let rel = url.strip_prefix(base.as_str()).expect("url under base");
        let parsed = url::Url::parse(&format!("http://x{rel}")).expect("url");
        let mut m = Mock::given(method("GET")).and(path(parsed.path().to_string()));
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, v) in &pairs {
            m = m.and(query_param(k.as_str(), v.as_str()));
        }
        for k in ["cursor", "page"] {
            if !pairs.iter().any(|(pk, _)| pk == k) {
                m = m.and(query_param_is_missing(k));
            }
        }
        let scope = r["scope"].as_str().unwrap_or_default();
        if r["endpoint"] == "sentdm.users" {
            m = if scope == "organization" {
                m.and(NoHeader("x-profile-id"))
            } else {
                m.and(wiremock::matchers::header("x-profile-id", scope))
            };
        }
        let body = std::fs::read(dir.join(file)).expect("evidence body");
        let mut resp = ResponseTemplate::new(r["status"].as_u64().unwrap_or(500) as u16)
            .set_body_raw(body, "application/json");
        if let Some(link) = r["link"].as_str() {
            resp = resp.insert_header("link", link);
        }
        if let Some(id) = r["request_id"].as_str() {
            resp = resp.insert_header("x-request-id", id);
        }
        m.respond_with(resp).mount(&server).await;
    }
    server
}
