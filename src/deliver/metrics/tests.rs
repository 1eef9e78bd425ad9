//! The exposition's shape, without a parser (tests/it/metrics.rs parses it).

use super::*;
use crate::deliver::sample;

fn facts() -> RunFacts {
    RunFacts {
        started_at: DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        duration: Duration::from_millis(12_500),
        exit_code: 4,
        retries: 3,
        email: DeliveryOutcome::Skipped,
        notify: DeliveryOutcome::Ok,
        store: DeliveryOutcome::Failed,
    }
}

#[test]
fn labels_are_escaped() {
    assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    assert_eq!(number(1763618412.5), "1763618412.5");
    assert_eq!(number(3.0), "3");
    assert_eq!(number(f64::NAN), "NaN");
}

#[test]
fn every_family_has_help_and_type_and_every_sample_a_title() {
    let report = sample::report();
    let text = render(&report, &facts());
    let mut families = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            families.push(rest.split(' ').next().unwrap().to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert_eq!(rest, format!("{} gauge", families.last().unwrap()));
        } else {
            let name = line.split('{').next().unwrap();
            assert_eq!(Some(&name.to_string()), families.last(), "{line}");
            assert!(line.contains("{title=\"Acme \\\"Q4\\\" review\""), "{line}");
        }
    }
    let mut unique = families.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), families.len(), "each family once");
    for required in [
        "access_audit_last_run_timestamp_seconds",
        "access_audit_run_duration_seconds",
        "access_audit_run_complete",
        "access_audit_accounts",
        "access_audit_findings",
        "access_audit_scopes",
        "access_audit_exit_code",
    ] {
        assert!(families.iter().any(|f| f == required), "{required}");
    }
    assert!(text.ends_with('\n'));
    assert!(text.contains(
        "access_audit_last_run_timestamp_seconds{title=\"Acme \\\"Q4\\\" review\"} 1795154412.5\n"
    ));
    assert!(text.contains(
        "access_audit_delivery{title=\"Acme \\\"Q4\\\" review\",target=\"store\",outcome=\"failed\"} 1\n"
    ));
}

#[test]
fn validation_names_the_key() {
    let raw = |t: &str| toml::from_str::<RawMetrics>(t).unwrap();
    assert_eq!(validate(raw("")).unwrap_err().0, "textfile");
    let err = validate(raw("textfile = \"/var/lib/node_exporter/audit.txt\"")).unwrap_err();
    assert!(err.1.contains("*.prom"), "{}", err.1);
    let ok = validate(raw(
        "textfile = \"/var/lib/node_exporter/textfile/access_audit.prom\"",
    ))
    .unwrap();
    assert!(ok.pushgateway.is_none());
    let err = validate(raw(
        "pushgateway_url_env = \"P\"\npushgateway_url_file = \"/p\"",
    ))
    .unwrap_err();
    assert_eq!(err.0, "pushgateway_url_file");
}
