//! `[metrics]`: the exposition parsed by a Prometheus text-format parser and checked against
//! the report; the textfile written atomically; a Pushgateway stand-in on loopback.

use std::collections::HashMap;
use std::time::Duration;

use access_audit::delivery::metrics::{self, RawMetrics, RunFacts};
use access_audit::delivery::{DeliveryOutcome, Retry};
use chrono::{DateTime, Utc};
use prom_text_format_parser::{Scrape, Type};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::deliver;

fn facts() -> RunFacts {
    RunFacts {
        started_at: DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        duration: Duration::from_millis(12_500),
        exit_code: 4,
        retries: 7,
        email: DeliveryOutcome::Skipped,
        notify: DeliveryOutcome::Ok,
        store: DeliveryOutcome::Failed,
    }
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text).expect("valid Prometheus text format")
}

/// The parser checks the escapes and keeps them; undo them as Prometheus does.
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => panic!("dangling backslash in {value}"),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Every sample as (metric, unescaped labels, value).
fn samples(scrape: &Scrape) -> Vec<(String, HashMap<String, String>, f64)> {
    scrape
        .metrics
        .iter()
        .flat_map(|m| {
            m.samples.iter().map(|s| {
                let labels = s
                    .labels
                    .iter()
                    .map(|l| (l.key.clone(), unescape(&l.value)))
                    .collect();
                (m.name.clone(), labels, s.value.value.as_f64())
            })
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `labels`.
fn value(
    all: &[(String, HashMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let matching: Vec<f64> = all
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(matching.len(), 1, "{name} {labels:?}");
    matching[0]
}

#[test]
fn the_exposition_parses_and_matches_the_report() {
    let mut report = deliver::report();
    // Every character the format escapes, in the one label that comes from the user.
    report.title = "Acme \"Q4\" review\\ops\nteam".into();
    let text = metrics::render(&report, &facts());
    let parsed = parse(&text);
    for m in &parsed.metrics {
        assert_eq!(m.kind, Type::Gauge, "{} has # TYPE gauge", m.name);
        assert!(
            m.help_desc.as_deref().is_some_and(|h| !h.is_empty()),
            "{} has # HELP",
            m.name
        );
        assert!(!m.samples.is_empty(), "{}", m.name);
    }
    let scrape = samples(&parsed);
    assert!(
        scrape
            .iter()
            .all(|(_, l, _)| l.get("title") == Some(&report.title)),
        "every sample labelled with the exact title, escapes undone"
    );

    let t = &[][..];
    assert_eq!(
        value(&scrape, "access_audit_last_run_timestamp_seconds", t),
        1_795_154_412.5
    );
    assert_eq!(value(&scrape, "access_audit_run_duration_seconds", t), 12.5);
    assert_eq!(
        value(&scrape, "access_audit_as_of_timestamp_seconds", t),
        1_795_154_400.0
    );
    assert_eq!(value(&scrape, "access_audit_run_complete", t), 0.0);
    assert_eq!(value(&scrape, "access_audit_exit_code", t), 4.0);
    assert_eq!(value(&scrape, "access_audit_retries", t), 7.0);
    assert_eq!(
        value(&scrape, "access_audit_accounts", t),
        report.summary.accounts as f64
    );
    assert_eq!(
        value(
            &scrape,
            "access_audit_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("fail_on", "low")]
        ),
        1.0
    );
    assert_eq!(
        value(&scrape, "access_audit_scopes", &[("status", "ok")]),
        1.0
    );
    assert_eq!(
        value(&scrape, "access_audit_scopes", &[("status", "failed")]),
        1.0
    );

    // Findings by rule, severity and outcome, against the report's own findings.
    let mut expected: HashMap<(String, String, String), f64> = HashMap::new();
    for f in report.findings.iter().filter(|f| !f.suppressed) {
        *expected
            .entry((
                f.rule.to_string(),
                f.severity.as_str().to_string(),
                f.outcome.as_str().to_string(),
            ))
            .or_default() += 1.0;
    }
    assert!(
        expected.len() >= 2,
        "the sample has several kinds of finding"
    );
    for ((rule, severity, outcome), n) in &expected {
        assert_eq!(
            value(
                &scrape,
                "access_audit_findings",
                &[("rule", rule), ("severity", severity), ("outcome", outcome)]
            ),
            *n
        );
    }
    let findings_total: f64 = scrape
        .iter()
        .filter(|(n, _, _)| n == "access_audit_findings")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(
        findings_total,
        (report.summary.findings - report.summary.suppressed) as f64
    );
    assert_eq!(
        value(
            &scrape,
            "access_audit_findings",
            &[("rule", "pending_invite"), ("outcome", "fail")]
        ),
        0.0,
        "enabled rules report 0"
    );
    assert_eq!(
        value(
            &scrape,
            "access_audit_findings_suppressed",
            &[("rule", "stale_login")]
        ),
        1.0
    );
    for (severity, n) in &report.summary.by_severity.0 {
        assert_eq!(
            value(
                &scrape,
                "access_audit_failing_findings",
                &[("severity", severity)]
            ),
            *n as f64
        );
    }
    for (target, outcome) in [("email", "skipped"), ("notify", "ok"), ("store", "failed")] {
        for candidate in ["ok", "failed", "skipped"] {
            let v = value(
                &scrape,
                "access_audit_delivery",
                &[("target", target), ("outcome", candidate)],
            );
            assert_eq!(
                v,
                if candidate == outcome { 1.0 } else { 0.0 },
                "{target} {candidate}"
            );
        }
    }
}

#[test]
fn the_textfile_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("textfile").join("access_audit.prom");
    let report = deliver::report();
    let first = metrics::render(&report, &facts());
    metrics::write_textfile(&file, &first).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);
    let second = metrics::render(
        &report,
        &RunFacts {
            exit_code: 0,
            ..facts()
        },
    );
    metrics::write_textfile(&file, &second).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), second);
    let names: Vec<String> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["access_audit.prom"],
        "no temporary file is left behind"
    );
    // A directory that cannot be made: the error names the target and the path.
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let err = metrics::write_textfile(&dir.path().join("blocker").join("x.prom"), "x").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("metrics textfile: ") && text.contains("blocker"),
        "{text}"
    );
}

#[tokio::test]
async fn the_pushgateway_receives_the_exposition() {
    let gateway = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/base/metrics/job/access_audit"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&gateway)
        .await;
    Mock::given(method("PUT"))
        .and(path("/base/metrics/job/access_audit"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&gateway)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("pushgateway-url");
    std::fs::write(&url_file, format!("{}/base/\n", gateway.uri())).unwrap();
    let raw: RawMetrics = toml::from_str(&format!(
        "pushgateway_url_file = {:?}",
        url_file.display().to_string()
    ))
    .unwrap();
    let settings = metrics::validate(raw).unwrap();
    let pusher = metrics::prepare_push(&settings)
        .unwrap()
        .expect("configured")
        .with_retry(Retry {
            backoff_base: Duration::from_millis(10),
            ..Retry::default()
        });
    assert_eq!(pusher.origin(), gateway.uri());
    let text = metrics::render(&deliver::report(), &facts());
    let accepted = metrics::push(&pusher, &text).await.unwrap();
    assert_eq!((accepted.status, accepted.attempts), (200, 2));
    let requests = gateway.received_requests().await.unwrap();
    let last = requests.last().unwrap();
    assert_eq!(String::from_utf8(last.body.clone()).unwrap(), text);
    assert_eq!(
        last.headers.get("content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );

    // A Pushgateway URL with credentials must not be plain http (except to loopback).
    std::fs::write(
        &url_file,
        "http://user:pushgateway-pass-3a9c@push.internal:9091\n",
    )
    .unwrap();
    let err = metrics::prepare_push(&settings).unwrap_err();
    assert!(err.message.contains("plain http://"), "{err}");
    assert!(!err.to_string().contains("pushgateway-pass-3a9c"), "{err}");
    std::fs::write(&url_file, "http://push.internal:9091\n").unwrap();
    assert!(
        metrics::prepare_push(&settings).unwrap().is_some(),
        "plain http without credentials is allowed"
    );
}
