use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::model::{AccountSubject, FailOn, SourceKind};
use crate::report::ReportInput;
use crate::rules::RuleSettings;

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap()
}

fn account_subject(id: &str, email: Option<&str>) -> Subject {
    Subject::Account(AccountSubject {
        account_id: id.into(),
        email: email.map(Into::into),
        name: Some(format!("User {id}").into()),
        role: Some("owner".into()),
        status: "active".into(),
        last_seen_at: Some(Utc.with_ymd_and_hms(2026, 8, 11, 12, 3, 50).unwrap()),
    })
}

fn finding(rule: &'static str, severity: Severity, outcome: Outcome, subject: Subject) -> Finding {
    let account_id = subject.account_id().to_string();
    Finding {
        id: crate::rules::finding_id(rule, "sentry", "acme", &account_id),
        rule: RuleId::new(rule),
        severity,
        outcome,
        source: SourceKind::Sentry,
        source_name: "sentry".into(),
        scope: "acme".into(),
        subject,
        detail: format!("{rule} fired").into(),
        suppressed: false,
        suppression: None,
        change: None,
        first_seen: None,
    }
}

fn report(findings: Vec<Finding>) -> Report {
    Report::build(ReportInput {
        run_id: "0123456789abcdef".into(),
        retries: 0,
        title: "OCSF".into(),
        as_of: as_of(),
        generated_at: as_of() + chrono::TimeDelta::seconds(42),
        results: Vec::new(),
        findings,
        rules: RuleSettings::default().active(),
        evaluated: Vec::new(),
        fail_on: FailOn::None,
        stopped: None,
        suppressions: Vec::new(),
        changes: None,
        config_sha256: None,
        evidence_manifest_sha256: None,
        evidence_dir: None,
        replayed: false,
        shard: None,
        framework: None,
    })
}

fn bytes(report: &Report) -> Vec<u8> {
    let mut out = Vec::new();
    write(report, &mut out).unwrap();
    out
}

fn events(report: &Report) -> Vec<Value> {
    String::from_utf8(bytes(report))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The whole mapping of one account finding, attribute by attribute: the README's table.
#[test]
fn an_account_finding_maps_to_a_compliance_finding() {
    let mut f = finding(
        "stale_login",
        Severity::Medium,
        Outcome::Fail,
        account_subject("4412001", Some("dmitri@acme.example")),
    );
    f.detail = "last seen 2026-08-11, 100 days before 2026-11-20 (limit 90 days)".into();
    f.change = Some(Change::Persisting);
    f.first_seen = Some("2026-11-13T06:00:00Z".into());
    let id = f.id.clone();
    let r = report(vec![f]);
    let first_seen = Utc.with_ymd_and_hms(2026, 11, 13, 6, 0, 0).unwrap();
    let criteria = &r
        .run
        .rules
        .iter()
        .find(|m| m.id == "stale_login")
        .unwrap()
        .checks;
    assert!(criteria.contains("older than 90 days"), "{criteria}");
    let expected = json!({
        "class_uid": 2003,
        "class_name": "Compliance Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200301,
        "type_name": "Compliance Finding: Create",
        "severity_id": 3,
        "severity": "Medium",
        "status_id": 1,
        "status": "New",
        "time": as_of().timestamp_millis(),
        "timezone_offset": 0,
        "metadata": {
            "version": "1.8.0",
            "product": {
                "name": "access-audit",
                "vendor_name": "access-audit",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "correlation_uid": "0123456789abcdef",
            "logged_time": as_of().timestamp_millis() + 42_000,
        },
        "finding_info": {
            "uid": id,
            "title": "stale_login",
            "desc": "last seen 2026-08-11, 100 days before 2026-11-20 (limit 90 days)",
            "first_seen_time": first_seen.timestamp_millis(),
            "analytic": {"uid": "stale_login", "name": "stale_login", "type_id": 1, "type": "Rule"},
        },
        "compliance": {
            "control": "stale_login",
            "desc": criteria,
            "control_parameters": [
                {"name": "grace_days", "value": "14"},
                {"name": "max_inactive_days", "value": "90"},
            ],
            "standards": ["SOC 2", "ISO/IEC 27001:2022", "PCI DSS v4.0"],
            "requirements": [
                "SOC 2 CC6.2",
                "SOC 2 CC6.3",
                "ISO/IEC 27001:2022 A.5.18",
                "PCI DSS v4.0 8.2.6",
            ],
            "status_id": 3,
            "status": "Fail",
        },
        "resources": [{
            "uid": "sentry/acme/4412001",
            "name": "dmitri@acme.example",
            "type": "sentry.account",
            "role_id": 1,
            "role": "Target",
            "owner": {
                "uid": "4412001",
                "email_addr": "dmitri@acme.example",
                "full_name": "User 4412001",
            },
            "data": {"role": "owner", "status": "active", "last_seen_at": "2026-08-11T12:03:50Z"},
        }],
        "unmapped": {
            "source": "sentry",
            "source_name": "sentry",
            "scope": "acme",
            "outcome": "fail",
            "change": "persisting",
            "first_seen": "2026-11-13T06:00:00Z",
        },
    });
    assert_eq!(events(&r), vec![expected]);
}

#[test]
fn a_setting_is_a_key_value_object() {
    let json = |name, value| serde_json::to_value(Parameter::of(name, &value)).unwrap();
    assert_eq!(
        json("max_inactive_days", json!(90)),
        json!({"name": "max_inactive_days", "value": "90"})
    );
    assert_eq!(
        json("mode", json!("strict")),
        json!({"name": "mode", "value": "strict"})
    );
    assert_eq!(
        json("on", json!(true)),
        json!({"name": "on", "value": "true"})
    );
    assert_eq!(
        json("allowed_domains", json!(["acme.example", 7])),
        json!({"name": "allowed_domains", "values": ["acme.example", "7"]})
    );
}

/// A finding of a rule that `run.rules` does not list is described by the rule's defaults,
/// without parameters.
#[test]
fn a_rule_the_run_does_not_list_is_described_by_its_defaults() {
    let mut r = report(vec![finding(
        "stale_login",
        Severity::Medium,
        Outcome::Fail,
        account_subject("1", None),
    )]);
    r.run.rules.clear();
    let e = &events(&r)[0];
    assert_eq!(
        e["compliance"]["desc"],
        crate::rules::rule_info("stale_login").unwrap().checks
    );
    assert!(e["compliance"].get("control_parameters").is_none());
    assert_eq!(e["compliance"]["requirements"].as_array().unwrap().len(), 4);
}

#[test]
fn a_scope_finding_is_about_the_scope() {
    let r = report(vec![finding(
        "owner_count",
        Severity::Medium,
        Outcome::Fail,
        Subject::Scope,
    )]);
    let e = &events(&r)[0];
    assert_eq!(
        e["resources"],
        json!([{
            "uid": "sentry/acme",
            "name": "acme",
            "type": "sentry.scope",
            "role_id": 1,
            "role": "Target",
        }])
    );
    assert_eq!(e["compliance"]["control"], "owner_count");
    assert_eq!(
        e["compliance"]["standards"],
        json!(["SOC 2", "ISO/IEC 27001:2022"])
    );
}

#[test]
fn suppressed_and_manual_findings_keep_their_state() {
    let mut suppressed = finding(
        "stale_login",
        Severity::Medium,
        Outcome::Fail,
        account_subject("1", Some("a@acme.example")),
    );
    suppressed.suppressed = true;
    suppressed.suppression = Some(Box::new(SuppressionNote {
        reason: "break-glass account".into(),
        owner: "secops".into(),
        expires: "2027-01-01".into(),
    }));
    let manual = finding(
        "admin_without_2fa",
        Severity::Critical,
        Outcome::Manual,
        account_subject("2", Some("b@acme.example")),
    );
    let info = finding(
        "pending_invite",
        Severity::Info,
        Outcome::Fail,
        account_subject("3", None),
    );
    let r = report(vec![suppressed, manual, info]);
    let by_account = |id: &str| {
        events(&r)
            .into_iter()
            .find(|e| e["resources"][0]["owner"]["uid"] == id)
            .unwrap()
    };

    let e = by_account("1");
    assert_eq!(
        (&e["status_id"], &e["status"]),
        (&json!(3), &json!("Suppressed"))
    );
    assert_eq!(e["comment"], "break-glass account");
    assert_eq!(
        e["unmapped"]["suppression"],
        json!({"reason": "break-glass account", "owner": "secops", "expires": "2027-01-01"})
    );

    let e = by_account("2");
    assert_eq!((&e["status_id"], &e["status"]), (&json!(1), &json!("New")));
    assert_eq!(
        (&e["severity_id"], &e["severity"]),
        (&json!(5), &json!("Critical"))
    );
    assert_eq!(e["compliance"]["status_id"], 2);
    assert_eq!(e["compliance"]["status"], "Warning");
    assert_eq!(e["unmapped"]["outcome"], "manual");
    assert!(e.get("comment").is_none());

    // No email: the account is named by its name, and nothing is written as null.
    let e = by_account("3");
    assert_eq!(
        (&e["severity_id"], &e["severity"]),
        (&json!(1), &json!("Informational"))
    );
    assert_eq!(e["resources"][0]["name"], "User 3");
    assert!(e["resources"][0]["owner"].get("email_addr").is_none());
    assert!(!String::from_utf8(bytes(&r)).unwrap().contains("null"));
}

#[test]
fn an_address_email_t_refuses_goes_to_data() {
    let r = report(vec![finding(
        "stale_login",
        Severity::Medium,
        Outcome::Fail,
        account_subject("1", Some("jürgen@bücher.example")),
    )]);
    let e = &events(&r)[0];
    let resource = &e["resources"][0];
    assert!(resource["owner"].get("email_addr").is_none());
    assert_eq!(resource["data"]["email"], "jürgen@bücher.example");
    assert_eq!(resource["name"], "jürgen@bücher.example");
}

#[test]
fn an_unreadable_first_seen_is_kept_but_not_converted() {
    let mut f = finding(
        "stale_login",
        Severity::Medium,
        Outcome::Fail,
        account_subject("1", None),
    );
    f.first_seen = Some("last tuesday".into());
    let e = &events(&report(vec![f]))[0];
    assert!(e["finding_info"].get("first_seen_time").is_none());
    assert_eq!(e["unmapped"]["first_seen"], "last tuesday");
}

/// Names and details come from the APIs: quotes, newlines, line separators and control
/// characters stay inside their JSON strings, one finding per line.
#[test]
fn one_line_per_finding_whatever_the_values_hold_and_the_same_bytes_every_time() {
    let hostile = "Eve\n\"},{\"class_uid\":0}\r\n\u{2028}\u{0}\t</script>";
    let findings: Vec<Finding> = (0..50)
        .map(|i| {
            let mut f = finding(
                if i % 2 == 0 {
                    "stale_login"
                } else {
                    "admin_without_2fa"
                },
                Severity::High,
                Outcome::Fail,
                Subject::Account(AccountSubject {
                    account_id: format!("{i}/{hostile}").into(),
                    email: Some(format!("{hostile}@x.example").into()),
                    name: Some(hostile.into()),
                    role: Some(hostile.into()),
                    status: hostile.into(),
                    last_seen_at: None,
                }),
            );
            f.detail = hostile.into();
            f.scope = hostile.into();
            f
        })
        .collect();
    let r = report(findings);
    let out = bytes(&r);
    assert_eq!(out, bytes(&r), "deterministic");
    assert!(out.ends_with(b"\n"));
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(
        lines.len(),
        r.findings.len() + 1,
        "one line each, then the final newline"
    );
    for (line, f) in lines.iter().zip(&r.findings) {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["finding_info"]["uid"], f.id.as_str());
        assert_eq!(e["finding_info"]["desc"], hostile);
        assert_eq!(e["resources"][0]["owner"]["full_name"], hostile);
        assert_eq!(e["unmapped"]["scope"], hostile);
        assert_eq!(e["class_uid"], 2003);
    }
}

/// Streamed: the file is handed to the writer piece by piece as it is made, never built whole
/// (a report may hold a million findings).
#[test]
fn the_lines_are_streamed_not_built_in_memory() {
    struct Counting {
        bytes: usize,
        largest_write: usize,
    }
    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes += buf.len();
            self.largest_write = self.largest_write.max(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let findings = (0..20_000)
        .map(|i| {
            finding(
                "stale_login",
                Severity::Medium,
                Outcome::Fail,
                account_subject(&i.to_string(), Some("a@acme.example")),
            )
        })
        .collect();
    let r = report(findings);
    let mut out = Counting {
        bytes: 0,
        largest_write: 0,
    };
    write(&r, &mut out).unwrap();
    assert!(out.bytes > 20_000 * 1_000, "{} bytes", out.bytes);
    assert!(
        out.largest_write < 1_000,
        "largest write: {} bytes",
        out.largest_write
    );
}

#[test]
fn no_findings_no_lines() {
    assert!(bytes(&report(Vec::new())).is_empty());
}

#[test]
fn a_failed_write_names_the_file() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("No space left on device"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let r = report(vec![finding(
        "owner_count",
        Severity::Low,
        Outcome::Fail,
        Subject::Scope,
    )]);
    let e = write(&r, &mut Full).unwrap_err();
    assert!(e.contains("findings.ocsf.jsonl"), "{e}");
    assert!(e.contains("No space left on device"), "{e}");
}

/// The email_t pattern, as the vendored dictionary spells it.
fn email_t_regex() -> regex::Regex {
    let dictionary: Value = serde_json::from_str(include_str!(
        "../../../tests/it/ocsf/schema/dictionary.json"
    ))
    .unwrap();
    let pattern = dictionary["types"]["attributes"]["email_t"]["regex"]
        .as_str()
        .unwrap();
    regex::Regex::new(pattern).unwrap()
}

#[test]
fn email_t_examples() {
    let re = email_t_regex();
    for (s, ok) in [
        ("a@b.c", true),
        ("first.last+tag@sub.acme.example", true),
        ("o'brien@acme.example", true),
        ("x,y/z@acme.example", true),
        ("a@localhost", false),
        ("a@.example", false),
        ("a@b.", false),
        ("@acme.example", false),
        ("a@b@acme.example", false),
        ("a b@acme.example", false),
        ("jürgen@acme.example", false),
        ("a@acme_corp.example", false),
        ("a@acme.example\n", false),
        ("", false),
    ] {
        assert_eq!(is_email_t(s), ok, "{s:?}");
        assert_eq!(re.is_match(s), ok, "the schema's regex on {s:?}");
    }
}

proptest! {
    /// The hand-written check agrees with the schema's own pattern.
    #[test]
    fn email_t_agrees_with_the_schema_pattern(s in "[a-zA-Z0-9@.+,/_ü\\- \n\"'!~]{0,12}") {
        static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(email_t_regex);
        prop_assert_eq!(is_email_t(&s), RE.is_match(&s));
    }
}
