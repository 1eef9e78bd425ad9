//! `[notify]` without the network: validation, the policy, the body, the signature, the layout.

use super::*;
use crate::deliver::sample;
use crate::model::Severity;

const LOW: FailOn = FailOn::Severity(Severity::Low);

fn raw(toml_text: &str) -> RawNotify {
    toml::from_str(toml_text).unwrap()
}

#[test]
fn validation_names_the_key() {
    let err = validate(raw("send = \"always\"")).unwrap_err();
    assert_eq!(err.0, "slack_webhook_url_env");
    assert!(err.1.contains("names no destination"), "{}", err.1);

    let err = validate(raw(
        "webhook_url_env = \"A\"\nwebhook_url_file = \"/run/secrets/hook\"",
    ))
    .unwrap_err();
    assert_eq!(err.0, "webhook_url_file");
    assert!(err.1.contains("not both"));

    let err = validate(raw(
        "slack_webhook_url_env = \"S\"\nwebhook_secret_env = \"K\"",
    ))
    .unwrap_err();
    assert_eq!(err.0, "webhook_secret_env");

    let ok = validate(raw(
        "send = \"problems\"\nslack_webhook_url_env = \"S\"\nwebhook_url_file = \"/h\"\nwebhook_secret_env = \"K\"",
    ))
    .unwrap();
    assert_eq!(ok.send, SendPolicy::Problems);
    assert_eq!(ok.slack.unwrap().key, "slack_webhook_url_env");
    assert_eq!(ok.webhook.unwrap().key, "webhook_url_file");

    let unknown = toml::from_str::<RawNotify>("slack_url_env = \"S\"").unwrap_err();
    assert!(unknown.to_string().contains("unknown field"), "{unknown}");
}

/// Same decision as email's `wanted` for every combination that matters.
#[test]
fn the_policy_matches_emails() {
    let clean = |mut r: Report| {
        r.findings.clear();
        r
    };
    let variants: Vec<(&str, Report)> = vec![
        ("failing, incomplete, changes", sample::report()),
        ("clean", {
            let mut r = clean(sample::report());
            r.complete = true;
            r.changes = None;
            r
        }),
        ("clean, no change", {
            let mut r = clean(sample::report());
            r.complete = true;
            if let Some(c) = &mut r.changes {
                c.new = 0;
            }
            r
        }),
        ("failing, complete, no change", {
            let mut r = sample::report();
            r.complete = true;
            if let Some(c) = &mut r.changes {
                c.new = 0;
            }
            r
        }),
        ("clean but incomplete", {
            let mut r = clean(sample::report());
            r.changes = None;
            r
        }),
    ];
    for (name, report) in &variants {
        let summary = NotifySummary::from_report(report, LOW, None);
        for policy in [
            SendPolicy::Always,
            SendPolicy::Problems,
            SendPolicy::Changes,
        ] {
            assert_eq!(
                wanted(&summary, policy),
                crate::deliver::wanted(report, policy, LOW),
                "{name}, {policy:?}"
            );
        }
    }
    let summary = NotifySummary::from_report(&variants[2].1, LOW, None);
    assert!(!wanted(&summary, SendPolicy::Problems));
    assert!(!wanted(&summary, SendPolicy::Changes));
}

#[test]
fn the_webhook_body_has_exactly_the_contract_fields() {
    let report = sample::report();
    let summary = NotifySummary::from_report(&report, LOW, Some("s3://b/run/report.html".into()));
    let body: serde_json::Value = serde_json::from_slice(&summary.webhook_body().unwrap()).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "schema_version",
        "title",
        "as_of",
        "verdict",
        "complete",
        "summary",
        "changes",
        "report_url",
    ];
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected);
    assert_eq!(body["schema_version"], 1);
    assert_eq!(
        body["changes"],
        serde_json::json!({"new": 2, "resolved": 0})
    );
    assert_eq!(
        body["summary"],
        serde_json::to_value(&report.summary).unwrap()
    );
    assert_eq!(body["verdict"], report.verdict());
    assert_eq!(body["complete"], false);

    let mut report = report;
    report.changes = None;
    let body: serde_json::Value = serde_json::from_slice(
        &NotifySummary::from_report(&report, LOW, None)
            .webhook_body()
            .unwrap(),
    )
    .unwrap();
    assert!(body["changes"].is_null() && body["report_url"].is_null());
}

/// RFC 4231, test case 2.
#[test]
fn the_signature_is_hmac_sha256_in_hex() {
    assert_eq!(
        signature(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn the_slack_message_reads_well() {
    let mut report = sample::report();
    report.title = "Acme <!channel> review".into();
    let summary = NotifySummary::from_report(
        &report,
        LOW,
        Some("https://r.example/run/report.html".into()),
    );
    let msg = slack_message(&summary);
    let text = msg.to_string();
    // mrkdwn is where Slack expands mentions; the header is plain_text, shown as written.
    let mut mrkdwn: Vec<&str> = msg["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["text"]["type"] == "mrkdwn")
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    mrkdwn.push(msg["text"].as_str().unwrap());
    assert!(
        mrkdwn.iter().any(|t| t.contains("&lt;!channel&gt;")),
        "{text}"
    );
    assert!(
        mrkdwn.iter().all(|t| !t.contains("<!channel>")),
        "mentions are escaped: {text}"
    );
    let blocks = msg["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with(":red_circle: Acme")
    );
    let fields = blocks[2]["fields"].as_array().unwrap();
    assert!(fields.len() <= 10);
    assert_eq!(fields[0]["text"], "*Critical*\n0");
    assert!(
        text.contains("could not audit `sentry/acme-legacy` (HTTP 403)"),
        "{text}"
    );
    assert!(text.contains("2 new, 0 resolved"), "{text}");
    assert!(text.contains("<https://r.example/run/report.html|Open the report>"));
    assert!(msg["text"].as_str().unwrap().contains("failing finding"));
}

#[test]
fn a_notifier_never_shows_its_urls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slack-url");
    std::fs::write(
        &file,
        "https://hooks.slack.test/services/T0/B0/unit-secret-path\n",
    )
    .unwrap();
    let settings = validate(raw(&format!(
        "slack_webhook_url_file = {:?}",
        file.display().to_string()
    )))
    .unwrap();
    let notifier = prepare(&settings).unwrap();
    let shown = format!("{notifier:?}");
    assert!(shown.contains("https://hooks.slack.test"), "{shown}");
    assert!(!shown.contains("unit-secret-path"), "{shown}");
    assert_eq!(
        crate::redact::redact("at /services/T0/B0/unit-secret-path"),
        "at [REDACTED]"
    );

    std::fs::write(
        &file,
        "http://hooks.slack.test/services/T0/B0/unit-secret-path",
    )
    .unwrap();
    let err = prepare(&settings).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("notify.slack_webhook_url_file"));
    assert!(err.message.contains("plain http://"), "{}", err.message);
    assert!(!err.to_string().contains("unit-secret-path"), "{err}");
}
