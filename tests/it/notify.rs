//! `[notify]` against a loopback webhook server that records what it receives: the Slack
//! message's shape, the generic body and its HMAC, retries, permanent failures, deadlines, and
//! that no URL path or secret ever reaches an error message.

use std::path::Path;
use std::time::Duration;

use access_audit::delivery::SendPolicy;
use access_audit::delivery::notify::{
    self, NotifyReceipt, NotifySettings, NotifySummary, RawNotify,
};
use access_audit::delivery::{Retry, Target};
use access_audit::model::{FailOn, Severity};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::deliver;

const LOW: FailOn = FailOn::Severity(Severity::Low);
const SLACK_PATH: &str = "/services/T0AUDIT/B0AUDIT/slack-path-secret-7d1e";
const HOOK_PATH: &str = "/hooks/access-audit/hook-path-secret-91c2";
const HMAC_KEY: &str = "hmac-signing-secret-5b7f";

fn fast() -> Retry {
    Retry {
        attempts: 3,
        backoff_base: Duration::from_millis(20),
        max_wait: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
    }
}

/// Settings whose URLs and secret live in files, as Kubernetes mounts them.
fn settings(dir: &Path, slack: Option<String>, hook: Option<String>, send: &str) -> NotifySettings {
    let mut toml_text = format!("send = \"{send}\"\n");
    let mut secret = |name: &str, value: &str, key: &str| {
        let file = dir.join(name);
        std::fs::write(&file, format!("{value}\n")).unwrap();
        toml_text.push_str(&format!("{key} = {:?}\n", file.display().to_string()));
    };
    if let Some(url) = slack {
        secret("slack", &url, "slack_webhook_url_file");
    }
    if let Some(url) = hook {
        secret("hook", &url, "webhook_url_file");
        secret("hmac", HMAC_KEY, "webhook_secret_file");
    }
    let raw: RawNotify = toml::from_str(&toml_text).unwrap();
    notify::validate(raw).unwrap()
}

fn summary() -> NotifySummary {
    NotifySummary::from_report(
        &deliver::report(),
        LOW,
        Some("https://reports.acme.example/2026-11-20/report.html".into()),
    )
}

fn assert_no_secret(text: &str) {
    for secret in [
        "slack-path-secret-7d1e",
        "hook-path-secret-91c2",
        HMAC_KEY,
        "T0AUDIT",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
    }
}

#[tokio::test]
async fn slack_and_the_signed_webhook_receive_their_messages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        Some(format!("{}{SLACK_PATH}", server.uri())),
        Some(format!("{}{HOOK_PATH}", server.uri())),
        "always",
    );
    let notifier = notify::prepare(&s).unwrap().with_retry(fast());
    let receipt = notify::send(&notifier, &summary()).await.unwrap();
    let NotifyReceipt::Sent {
        slack: Some(slack),
        webhook: Some(hook),
    } = receipt
    else {
        panic!("both sent: {receipt:?}");
    };
    assert_eq!((slack.status, slack.attempts, hook.attempts), (200, 1, 1));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let slack = requests
        .iter()
        .find(|r| r.url.path() == SLACK_PATH)
        .expect("slack request");
    let hook = requests
        .iter()
        .find(|r| r.url.path() == HOOK_PATH)
        .expect("webhook request");
    for r in [slack, hook] {
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    }

    // Slack: Block Kit, readable.
    let msg: Value = serde_json::from_slice(&slack.body).unwrap();
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .starts_with("Acme \"Q4\" review: 2 failing findings")
    );
    let blocks = msg["blocks"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "header", "section", "section", "section", "section", "section", "context"
        ]
    );
    assert_eq!(blocks[0]["text"]["text"], ":red_circle: Acme \"Q4\" review");
    assert_eq!(
        blocks[1]["text"]["text"],
        "*2 failing findings across 2 scopes, 1 to verify by hand — 1 scope could not be audited*"
    );
    let fields: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "*Critical*\n0",
            "*High*\n1",
            "*Medium*\n1",
            "*Low*\n0",
            "*Info*\n0",
            "*To verify by hand*\n1",
            "*Suppressed*\n1",
            "*Accounts*\n5",
            "*Scopes audited*\n1 of 2"
        ]
    );
    assert_eq!(
        blocks[3]["text"]["text"],
        "*Since the baseline* of 2026-11-13T06:00:00Z: 2 new, 0 resolved"
    );
    assert!(
        blocks[4]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("could not audit `sentry/acme-legacy` (HTTP 403)")
    );
    assert_eq!(
        blocks[5]["text"]["text"],
        "<https://reports.acme.example/2026-11-20/report.html|Open the report>"
    );

    // The generic webhook: exactly the contract's body, signed.
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "as_of",
            "changes",
            "complete",
            "report_url",
            "schema_version",
            "summary",
            "title",
            "verdict"
        ]
    );
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["title"], "Acme \"Q4\" review");
    assert_eq!(body["as_of"], "2026-11-20T06:00:00Z");
    assert_eq!(body["complete"], false);
    assert_eq!(
        body["changes"],
        serde_json::json!({"new": 2, "resolved": 0})
    );
    assert_eq!(
        body["report_url"],
        "https://reports.acme.example/2026-11-20/report.html"
    );
    assert_eq!(body["summary"]["failing"], 2);
    assert_eq!(body["summary"]["by_severity"]["high"], 1);
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_KEY.as_bytes()).unwrap();
    mac.update(&hook.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        hook.headers
            .get("x-access-audit-signature")
            .unwrap()
            .to_str()
            .unwrap(),
        expected
    );
    assert!(
        slack.headers.get("x-access-audit-signature").is_none(),
        "Slack is not signed"
    );
}

#[tokio::test]
async fn a_500_is_retried_until_it_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        None,
        Some(format!("{}{HOOK_PATH}", server.uri())),
        "always",
    );
    let notifier = notify::prepare(&s).unwrap().with_retry(fast());
    let receipt = notify::send(&notifier, &summary()).await.unwrap();
    let NotifyReceipt::Sent {
        slack: None,
        webhook: Some(hook),
    } = receipt
    else {
        panic!("{receipt:?}")
    };
    assert_eq!((hook.status, hook.attempts), (204, 2));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same body is sent again"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_an_error_that_names_the_host_but_no_secret() {
    let server = MockServer::start().await;
    Mock::given(path(SLACK_PATH))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string(format!("down for {SLACK_PATH}\n{}", "x".repeat(1 << 20))),
        )
        .mount(&server)
        .await;
    Mock::given(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        Some(format!("{}{SLACK_PATH}", server.uri())),
        Some(format!("{}{HOOK_PATH}", server.uri())),
        "always",
    );
    let notifier = notify::prepare(&s).unwrap().with_retry(fast());
    let err = notify::send(&notifier, &summary()).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.target, Target::Slack);
    assert_eq!(err.status, Some(503));
    assert!(
        text.contains(&format!(
            "POST to {} failed after 3 attempts: HTTP 503",
            server.uri()
        )),
        "{text}"
    );
    assert!(
        text.contains("and webhook: POST to") && text.contains("failed: HTTP 404: no_service"),
        "{text}"
    );
    assert!(
        text.chars().count() < 1100,
        "bounded: {} chars",
        text.chars().count()
    );
    assert_no_secret(&text);
    assert_no_secret(&format!("{notifier:?}"));
    let requests = server.received_requests().await.unwrap();
    let count = |p: &str| requests.iter().filter(|r| r.url.path() == p).count();
    assert_eq!(
        (count(SLACK_PATH), count(HOOK_PATH)),
        (3, 1),
        "5xx retried 3 times, 404 never"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_slow_servers_time_out() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path(HOOK_PATH))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        Some(format!("{}{SLACK_PATH}", server.uri())),
        Some(format!("{}{HOOK_PATH}", server.uri())),
        "always",
    );
    let retry = Retry {
        timeout: Duration::from_millis(300),
        ..fast()
    };
    let notifier = notify::prepare(&s).unwrap().with_retry(retry);
    let started = std::time::Instant::now();
    let err = notify::send(&notifier, &summary()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("timed out"), "{text}");
    assert!(
        text.contains("HTTP 307 with a redirect, which is not followed"),
        "{text}"
    );
    assert_no_secret(&text);
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "nothing reached the redirect target"
    );
}

#[tokio::test]
async fn the_send_policy_is_applied() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut clean = deliver::report();
    clean.findings.clear();
    clean.complete = true;
    let clean = NotifySummary::from_report(&clean, LOW, None);
    for (policy, sent) in [("problems", false), ("changes", true), ("always", true)] {
        let s = settings(
            dir.path(),
            Some(format!("{}{SLACK_PATH}", server.uri())),
            None,
            policy,
        );
        assert_eq!(
            s.send,
            serde_json::from_value::<SendPolicy>(Value::from(policy)).unwrap()
        );
        let receipt = notify::send(&notify::prepare(&s).unwrap(), &clean)
            .await
            .unwrap();
        assert_eq!(receipt != NotifyReceipt::NotWanted, sent, "{policy}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[test]
fn insecure_or_missing_urls_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        Some(format!("http://hooks.slack.example{SLACK_PATH}")),
        None,
        "always",
    );
    let err = notify::prepare(&s).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("notify.slack_webhook_url_file"));
    assert!(
        err.message
            .contains("plain http:// URL to http://hooks.slack.example"),
        "{err}"
    );
    assert_no_secret(&err.to_string());

    let raw: RawNotify =
        toml::from_str("webhook_url_env = \"ACCESS_AUDIT_NOTIFY_TEST_SURELY_UNSET\"").unwrap();
    let err = notify::prepare(&notify::validate(raw).unwrap()).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("notify.webhook_url_env"));
    assert!(
        err.message
            .contains("ACCESS_AUDIT_NOTIFY_TEST_SURELY_UNSET is not set"),
        "{err}"
    );
}
