//! The real binary against a loopback mock of Sent.dm's v3 API.

use crate::support::common::*;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const P1: &str = "660e8400-e29b-41d4-a716-446655440001";
const P2: &str = "660e8400-e29b-41d4-a716-446655440002";
const P3: &str = "660e8400-e29b-41d4-a716-446655440003";

fn config(base: &str, profiles: &str) -> String {
    format!(
        r#"
[[sources]]
type = "sentdm"
name = "sent"
base_url = "{base}"
api_key_env = "SENTDM_API_KEY"
profiles = {profiles}
"#
    )
}

async fn mount_profile_pages(server: &MockServer) {
    let page = |items: Vec<&str>, page: u32, more: bool| {
        sentdm_ok(json!({
            "sender_profiles": items.iter().map(|id| json!({"id": id, "organization_id": "org", "name": format!("Profile {id}")})).collect::<Vec<_>>(),
            "pagination": {"page": page, "page_size": 100, "total_count": 3, "total_pages": 2, "has_more": more, "cursors": null}
        }))
    };
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .and(query_param("page", "1"))
        .and(query_param("page_size", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![P1, P2], 1, true)))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![P3], 2, false)))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn organization_and_paginated_profiles_with_one_forbidden() {
    let server = MockServer::start().await;
    mount_profile_pages(&server).await;
    mount_sentdm_users(
        &server,
        None,
        200,
        sentdm_ok(json!({"users": [
            sentdm_user("u-admin", "Admin", "active", "2025-09-11T21:50:49.7725221+00:00", Some("2026-10-30T19:50:49.7725233+00:00")),
            sentdm_user("u-stale", "developer", "active", "2025-01-01T00:00:00.0000000+00:00", Some("2026-03-11T19:50:49.7725233+00:00")),
            sentdm_user("u-new", "developer", "invited", "2026-10-28T00:00:00.0000000+00:00", None),
        ]})),
    )
    .await;
    mount_sentdm_users(
        &server,
        Some(P1),
        200,
        sentdm_ok(json!({"users": [
            sentdm_user("u-old-invite", "billing", "invited", "2026-10-01T00:00:00.0000000+00:00", None),
            sentdm_user("u-odd", "Auditor", "SUSPENDED", "2026-01-01T00:00:00.0000000+00:00", None),
        ]})),
    )
    .await;
    mount_sentdm_users(
        &server,
        Some(P2),
        403,
        sentdm_error(
            "AUTH_004",
            "You do not have access to this organization or profile",
            "req_denied_p2",
        ),
    )
    .await;
    mount_sentdm_users(
        &server,
        Some(P3),
        200,
        sentdm_ok(json!({"users": [sentdm_user("u-never", "developer", "active", "2026-09-01T00:00:00.0000000+00:00", None)]})),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&server.uri(), r#""all""#));
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
            ("sent".into(), "organization".into(), "ok".into(), 3),
            ("sent".into(), P1.into(), "ok".into(), 2),
            ("sent".into(), P2.into(), "failed".into(), 0),
            ("sent".into(), P3.into(), "ok".into(), 1),
        ]
    );
    let err = &report["scopes"][2]["error"];
    assert_eq!(err["http_status"], 403);
    assert_eq!(err["code"], "AUTH_004");
    assert_eq!(err["request_id"], "req_denied_p2");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("You do not have access to this organization or profile")
    );

    assert_eq!(
        finding_keys(&report),
        vec![
            (
                "admin_without_2fa".into(),
                "organization".into(),
                "u-admin".into(),
                "manual".into()
            ),
            (
                "expired_membership".into(),
                P1.into(),
                "u-old-invite".into(),
                "fail".into()
            ),
            (
                "stale_login".into(),
                P3.into(),
                "u-never".into(),
                "fail".into()
            ),
            (
                "stale_login".into(),
                "organization".into(),
                "u-stale".into(),
                "fail".into()
            ),
        ]
    );
    let manual = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["outcome"] == "manual")
        .unwrap();
    assert_eq!(
        manual["detail"],
        "2FA status is not exposed by this source; verify by hand"
    );
    assert_eq!(report["summary"]["manual"], 1);
    assert_eq!(report["summary"]["failing"], 3);
    let accounts = report["accounts"].as_array().unwrap();
    let odd = accounts
        .iter()
        .find(|a| a["account_id"] == "u-odd")
        .unwrap();
    assert_eq!(
        (odd["status"].as_str(), odd["role"].as_str()),
        (Some("suspended"), Some("auditor"))
    );
    let admin = accounts
        .iter()
        .find(|a| a["account_id"] == "u-admin")
        .unwrap();
    assert_eq!(admin["last_login_at"], "2026-10-30T19:50:49.772523300Z");
    assert_eq!(admin["mfa"], serde_json::Value::Null);
    assert_eq!(admin["source"], "sentdm");
}

#[tokio::test(flavor = "multi_thread")]
async fn falls_back_to_profiles_endpoint_on_404() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .respond_with(ResponseTemplate::new(404).set_body_json(sentdm_error(
            "RESOURCE_001",
            "Not found",
            "req_404",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/profiles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(
            json!({"profiles": [{"id": P1, "status": "approved"}]}),
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_sentdm_users(&server, None, 200, sentdm_ok(json!({"users": []}))).await;
    mount_sentdm_users(
        &server,
        Some(P1),
        200,
        sentdm_ok(json!({"users": [sentdm_user("u1", "developer", "active", "2026-10-01T00:00:00+00:00", Some("2026-10-31T00:00:00+00:00"))]})),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&server.uri(), r#""all""#));
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
        .code(0);
    server.verify().await;
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        scopes(&report),
        vec![
            ("sent".into(), "organization".into(), "ok".into(), 0),
            ("sent".into(), P1.into(), "ok".into(), 1)
        ]
    );
    assert_eq!(report["complete"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn listed_profiles_skip_discovery_and_empty_list_is_organization_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    mount_sentdm_users(&server, None, 200, sentdm_ok(json!({"users": []}))).await;
    mount_sentdm_users(&server, Some(P2), 200, sentdm_ok(json!({"users": []}))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &config(&server.uri(), &format!("[\"{}\"]", P2.to_uppercase())),
    );
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .assert()
        .code(0);
    server.verify().await;

    let server = MockServer::start().await;
    mount_sentdm_users(&server, None, 200, sentdm_ok(json!({"users": []}))).await;
    let cfg = write_config(dir.path(), &config(&server.uri(), "[]"));
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            dir.path().join("o2").to_str().unwrap(),
        ])
        .assert()
        .code(0);
    server.verify().await;
    let report = read_json(&dir.path().join("o2/report.json"));
    assert_eq!(
        scopes(&report),
        vec![("sent".into(), "organization".into(), "ok".into(), 0)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_profile_discovery_is_a_failed_scope_and_the_organization_is_still_audited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .respond_with(ResponseTemplate::new(401).set_body_string(""))
        .expect(1)
        .mount(&server)
        .await;
    mount_sentdm_users(&server, None, 200, sentdm_ok(json!({"users": []}))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(&server.uri(), r#""all""#));
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        scopes(&report),
        vec![
            ("sent".into(), "_profiles".into(), "failed".into(), 0),
            ("sent".into(), "organization".into(), "ok".into(), 0)
        ]
    );
    assert_eq!(report["scopes"][0]["error"]["http_status"], 401);
    assert!(
        report["scopes"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("empty body")
    );
}
