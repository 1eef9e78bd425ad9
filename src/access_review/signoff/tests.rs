use chrono::{TimeZone, Utc};

use super::*;
use crate::access_review::campaign::Decision;
use crate::access_review::validate::tests::state;

fn record(decision: Decision, why: Option<&str>) -> DecisionRecord {
    DecisionRecord {
        decision,
        new_role: None,
        justification: why.map(str::to_string),
        decided_by: "eng@acme.example".into(),
        collected_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap(),
        file: "eng@acme.example.xlsx".into(),
    }
}

#[test]
fn the_decisions_digest_is_stable_and_changes_with_a_decision() {
    let mut s = state();
    let keys: Vec<String> = s
        .reviewers
        .values()
        .flatten()
        .map(|r| r.key.clone())
        .collect();
    // Inserted in one order and in the other: the same bytes.
    for k in &keys {
        s.decisions
            .insert(k.clone(), record(Decision::Revoke, None));
    }
    let mut t = state();
    for k in keys.iter().rev() {
        t.decisions
            .insert(k.clone(), record(Decision::Revoke, None));
    }
    let a = decisions_json(&s.decisions).unwrap();
    assert_eq!(a, decisions_json(&t.decisions).unwrap());
    assert_eq!(
        sha256_hex(&a),
        sha256_hex(&decisions_json(&s.decisions).unwrap())
    );
    // A fixed digest: the canonical form must not drift between versions.
    let mut one = std::collections::BTreeMap::new();
    one.insert(
        "sentry/acme/1".to_string(),
        record(Decision::Keep, Some("on call")),
    );
    assert_eq!(
        String::from_utf8(decisions_json(&one).unwrap()).unwrap(),
        "{\"sentry/acme/1\":{\"decision\":\"keep\",\"new_role\":null,\"justification\":\"on call\",\
         \"decided_by\":\"eng@acme.example\",\"collected_at\":\"2026-11-21T09:30:00Z\",\
         \"file\":\"eng@acme.example.xlsx\"}}\n"
    );
    t.decisions
        .insert(keys[0].clone(), record(Decision::Keep, Some("needed")));
    assert_ne!(a, decisions_json(&t.decisions).unwrap());
}

#[test]
fn outstanding_rows_are_listed_per_reviewer_with_own_accounts_marked() {
    let mut s = state();
    let text = outstanding(&s).unwrap();
    assert!(text.contains("4 rows not decided yet"), "{text}");
    assert!(text.contains("eng@acme.example: 3 undecided"), "{text}");
    assert!(text.contains("sentry/acme/3 (their own account"), "{text}");
    let keys: Vec<String> = s
        .reviewers
        .values()
        .flatten()
        .map(|r| r.key.clone())
        .collect();
    for k in keys {
        s.decisions.insert(k, record(Decision::Revoke, None));
    }
    assert_eq!(outstanding(&s), None);
}

#[test]
fn more_than_twenty_missing_rows_are_counted() {
    let mut s = state();
    let row = s.reviewers.values().flatten().next().unwrap().clone();
    let many: Vec<_> = (0..25)
        .map(|i| {
            let mut r = row.clone();
            r.key = format!("k{i}");
            r
        })
        .collect();
    s.reviewers = [("x@acme.example".to_string(), many)].into();
    let text = outstanding(&s).unwrap();
    assert!(text.contains("k19") && !text.contains("k20"), "{text}");
    assert!(text.contains("… and 5 more"), "{text}");
}

#[test]
fn the_signer_is_a_name_and_an_address() {
    assert_eq!(
        check_signer("Ada Lovelace <ada@acme.example>").unwrap(),
        "Ada Lovelace <ada@acme.example>"
    );
    assert!(
        check_signer("ada@acme.example")
            .unwrap_err()
            .contains("has no name")
    );
    assert!(
        check_signer("Ada <not an address>")
            .unwrap_err()
            .contains("is not `Name <email>`")
    );
}

#[test]
fn a_second_sign_off_names_the_first() {
    let mut s = state();
    assert_eq!(already_signed(&s), None);
    s.signed_off = Some(SignOff {
        by: "Ada <ada@acme.example>".into(),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 5).unwrap(),
        statement: None,
        report_sha256: "abc".into(),
        evidence_manifest_sha256: None,
        decisions_sha256: "def".into(),
    });
    let text = already_signed(&s).unwrap();
    assert!(
        text.contains("already signed off by Ada <ada@acme.example> at 2026-11-22 10:00:05 UTC"),
        "{text}"
    );
}
