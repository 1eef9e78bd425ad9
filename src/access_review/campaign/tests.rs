use serde_json::json;

use super::*;
use crate::access_review::config::{ReviewSettings, Reviewer};

pub(crate) fn settings() -> ReviewSettings {
    ReviewSettings {
        default_reviewer: "security@acme.example".into(),
        due_days: 14,
        revoke_within_days: 7,
        cadence_days: 92,
        ledger_dir: "ledger".into(),
        reviewers: vec![Reviewer {
            email: "eng@acme.example".into(),
            scopes: vec!["sentry/acme*".into()],
        }],
    }
}

pub(crate) fn account(scope: &str, id: &str, email: &str) -> Account {
    serde_json::from_value(json!({
        "source": "sentry", "source_name": "sentry", "scope": scope, "account_id": id,
        "user_id": null, "email": email, "name": "=HYPERLINK(\"x\")", "role": "admin",
        "privileged": true, "status": "active", "mfa": false, "last_login_at": null,
        "last_active_at": null, "last_seen_at": "2026-01-02T03:04:05Z", "invited_at": null,
        "created_at": null
    }))
    .unwrap()
}

pub(crate) fn finding(scope: &str, id: &str, outcome: &str, suppressed: bool) -> FindingRecord {
    serde_json::from_value(json!({
        "id": "f1", "rule": "admin_without_2fa", "severity": "high", "outcome": outcome,
        "source": "sentry", "source_name": "sentry", "scope": scope, "account_id": id,
        "email": null, "name": null, "role": "admin", "status": "active", "last_seen_at": null,
        "detail": "admin without two-factor authentication", "suppressed": suppressed
    }))
    .unwrap()
}

#[test]
fn accounts_go_to_the_first_matching_reviewer_or_the_default() {
    let accounts = [
        account("acme", "1", "a@acme.example"),
        account("acme-labs", "2", "b@acme.example"),
        account("other", "3", "c@acme.example"),
    ];
    let by = assign(&settings(), &accounts, &[]);
    let keys = |who: &str| by[who].iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys("eng@acme.example"),
        ["sentry/acme/1", "sentry/acme-labs/2"]
    );
    assert_eq!(keys("security@acme.example"), ["sentry/other/3"]);
    let row = &by["security@acme.example"][0];
    assert_eq!(
        (
            row.mfa.as_str(),
            row.privileged.as_str(),
            row.last_seen.as_str()
        ),
        ("no", "yes", "2026-01-02T03:04:05Z")
    );
    assert_eq!(
        row.name, "=HYPERLINK(\"x\")",
        "kept as text, never a formula"
    );
}

/// Nobody reviews their own access: the row goes to the default reviewer, or to another
/// configured one when the holder is the default; it stays only when there is nobody else.
#[test]
fn a_reviewers_own_account_goes_to_someone_else() {
    let accounts = [
        account("acme", "1", "ENG@acme.example"),
        account("other", "2", "security@acme.example"),
        account("acme", "3", "x@acme.example"),
    ];
    let by = assign(&settings(), &accounts, &[]);
    let keys = |who: &str| by[who].iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys("security@acme.example"), ["sentry/acme/1"]);
    assert_eq!(
        keys("eng@acme.example"),
        ["sentry/other/2", "sentry/acme/3"]
    );
    let mut alone = settings();
    alone.reviewers.clear();
    let by = assign(&alone, &accounts[1..2], &[]);
    assert_eq!(
        by["security@acme.example"].len(),
        1,
        "nobody else to review it"
    );
}

#[test]
fn revoke_is_recommended_only_for_an_unsuppressed_failing_finding() {
    let accounts = [
        account("acme", "1", "a@acme.example"),
        account("acme", "2", "b@acme.example"),
        account("acme", "3", "c@acme.example"),
        account("acme", "4", "d@acme.example"),
    ];
    let findings = [
        finding("acme", "1", "fail", false),
        finding("acme", "2", "fail", true),
        finding("acme", "3", "manual", false),
    ];
    let by = assign(&settings(), &accounts, &findings);
    let rows = &by["eng@acme.example"];
    let got: Vec<(Decision, bool)> = rows.iter().map(|r| (r.recommended, r.failing)).collect();
    assert_eq!(
        got,
        [
            (Decision::Revoke, true),
            (Decision::Keep, false),
            (Decision::Keep, false),
            (Decision::Keep, false)
        ]
    );
    assert_eq!(
        rows[0].findings,
        "admin_without_2fa: admin without two-factor authentication"
    );
    assert!(rows[1].findings.contains("(suppressed)"));
    assert_eq!(rows[3].findings, "");
}

#[test]
fn long_text_is_cut_to_what_a_cell_holds() {
    let long = "x".repeat(40_000);
    let c = cell(&long);
    assert_eq!(c.chars().count(), 32_767);
    assert!(c.ends_with("[cut]"));
    assert_eq!(Decision::parse(" Change_Role "), Some(Decision::ChangeRole));
    assert_eq!(Decision::parse("delete"), None);
}
