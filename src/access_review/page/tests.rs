use chrono::{TimeZone, Utc};

use super::*;
use crate::access_review::validate::tests::state;

const HOSTILE: &str = "<script>alert('x')</script> & \"Bob\"";

fn sign() -> SignOff {
    SignOff {
        by: format!("{HOSTILE} <ceo@acme.example>"),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 5).unwrap(),
        statement: Some(format!("I attest. {HOSTILE}")),
        report_sha256: "a".repeat(64),
        evidence_manifest_sha256: None,
        decisions_sha256: "d".repeat(64),
    }
}

fn decided(hostile_justification: bool) -> State {
    let mut s = state();
    let rows: Vec<_> = s.reviewers.values().flatten().cloned().collect();
    for r in rows {
        let decision = if r.failing {
            Decision::Keep
        } else {
            Decision::Revoke
        };
        s.decisions.insert(
            r.key.clone(),
            DecisionRecord {
                decision,
                new_role: None,
                justification: hostile_justification.then(|| HOSTILE.to_string()),
                decided_by: "eng@acme.example".into(),
                collected_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap(),
                file: "w.xlsx".into(),
            },
        );
    }
    s
}

fn run() -> RunHead {
    RunHead {
        title: HOSTILE.into(),
        as_of: Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 2).unwrap(),
        run_dir: "/runs/<q4>".into(),
    }
}

#[test]
fn every_value_on_the_page_is_escaped_and_nothing_runs() {
    let html = render(&decided(true), &run(), &sign());
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Bob&quot;"));
    assert!(html.contains("/runs/&lt;q4&gt;"));
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "self-contained"
    );
    // The sign-off block: who, when to the second, the statement, the digests.
    assert!(html.contains("&lt;ceo@acme.example&gt;"));
    assert!(html.contains("2026-11-22 10:00:05 UTC"));
    assert!(html.contains("I attest."));
    assert!(html.contains(&"a".repeat(64)) && html.contains(&"d".repeat(64)));
    assert!(html.contains("none: the run kept no evidence archive"));
    assert!(html.contains("counter(pages)") && html.contains("break-inside:avoid"));
}

#[test]
fn the_page_lists_exceptions_revocations_and_own_accounts() {
    let html = render(&decided(false), &run(), &sign());
    // state(): account 1 is failing (kept here: an exception), 3 is eng's own.
    assert!(
        html.contains("1 account kept although a failing finding applies"),
        "{html}"
    );
    assert!(html.contains("3 changes of access requested"), "{html}");
    assert!(html.contains("<h2>Self-review</h2>"));
    assert!(
        html.contains("<td>eng@acme.example</td><td>revoke</td>"),
        "{html}"
    );
}

#[test]
fn the_decisions_csv_has_one_neutralised_row_per_account() {
    let csv = String::from_utf8(decisions_csv(&decided(false)).unwrap()).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert_eq!(
        lines[0],
        "key,who,where,decision,new_role,justification,reviewer,decided_at"
    );
    // The test accounts are named `=HYPERLINK("x")`: kept as text.
    assert!(lines[1].contains("'=HYPERLINK"), "{csv}");
}
