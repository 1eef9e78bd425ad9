use chrono::{TimeZone, Utc};

use super::*;
use crate::access_review::campaign::tests::{account, finding, settings};
use crate::access_review::campaign::{self};
use crate::access_review::returned::Field;
use crate::access_review::state::{STATE_VERSION, State};

const ENG: &str = "eng@acme.example";

/// A review of four accounts for eng@ (1: failing, 2: clean, 3: eng's own) and one for the
/// default reviewer.
pub(crate) fn state() -> State {
    let accounts = [
        account("acme", "1", "a@acme.example"),
        account("acme", "2", "b@acme.example"),
        account("acme", "3", ENG),
        account("other", "9", "z@acme.example"),
    ];
    let findings = [finding("acme", "1", "fail", false)];
    let t = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let mut reviewers = campaign::assign(&settings(), &accounts, &findings);
    // `start` routes eng's own account to another reviewer; it stays with eng only when nobody
    // else could review it. That is the case these tests need: put it back on eng's sheet.
    let own = reviewers
        .values_mut()
        .find_map(|rows| {
            let i = rows.iter().position(|r| r.email == ENG)?;
            Some(rows.remove(i))
        })
        .expect("eng's own account is under review");
    reviewers.entry(ENG.into()).or_default().push(own);
    State {
        run_id: "0123456789abcdef".into(),
        state_version: STATE_VERSION,
        review_id: "r1".into(),
        report_sha256: "abc".into(),
        created_at: t,
        due_at: t,
        missing_scopes: vec![],
        reviewers,
        decisions: Default::default(),
        superseded: vec![],
        signed_off: None,
    }
}

fn field(value: &str, row: usize) -> Field {
    Field {
        value: Some(value.into()),
        sheet: "_review".into(),
        row,
        col: 1,
    }
}

/// eng@'s worksheet as written, every row undecided.
fn sheet(state: &State) -> Returned {
    let rows = &state.reviewers[ENG];
    Returned {
        file: "eng.xlsx".into(),
        sheet: "Review".into(),
        meta: [field("r1", 1), field("abc", 2), field(ENG, 3)],
        meta_keys: Some(rows.iter().map(|r| r.key.clone()).collect()),
        header: COLUMNS.iter().map(|c| c.to_string()).collect(),
        header_row: 1,
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut cells: Vec<String> = r.identity().iter().map(|c| c.to_string()).collect();
                cells.extend([String::new(), String::new(), String::new()]);
                (i + 2, cells)
            })
            .collect(),
    }
}

fn decide(sheet: &mut Returned, row: usize, decision: &str, new_role: &str, why: &str) {
    let cells = &mut sheet.rows[row].1;
    cells[DECISION_COL] = decision.into();
    cells[NEW_ROLE_COL] = new_role.into();
    cells[JUSTIFICATION_COL] = why.into();
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap()
}

/// The one problem of `sheet`, as printed.
fn problem(state: &State, sheet: &Returned) -> String {
    let checked = check(state, sheet, now());
    assert_eq!(checked.problems.len(), 1, "{:#?}", checked.problems);
    checked.problems[0].to_string()
}

#[test]
fn valid_decisions_are_taken_and_blank_rows_stay_undecided() {
    let state = state();
    let mut s = sheet(&state);
    decide(&mut s, 0, "keep", "", "break-glass admin, approved by CISO");
    decide(
        &mut s,
        1,
        "Change_Role",
        "member",
        "no longer leads the team",
    );
    let checked = check(&state, &s, now());
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    let got: Vec<(&str, Decision)> = checked
        .decisions
        .iter()
        .map(|(k, d)| (k.as_str(), d.decision))
        .collect();
    assert_eq!(
        got,
        [
            ("sentry/acme/1", Decision::Keep),
            ("sentry/acme/2", Decision::ChangeRole)
        ]
    );
    assert_eq!(checked.decisions[1].1.new_role.as_deref(), Some("member"));
    assert_eq!(checked.decisions[0].1.decided_by, ENG);
}

#[test]
fn sorted_rows_are_fine() {
    let state = state();
    let mut s = sheet(&state);
    s.rows.reverse();
    assert!(check(&state, &s, now()).problems.is_empty());
}

#[test]
fn each_rule_names_file_sheet_row_and_column() {
    let state = state();
    type Edit = Box<dyn Fn(&mut Returned)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "invalid decision",
            Box::new(|s| decide(s, 1, "delete", "", "")),
            "eng.xlsx: sheet Review, row 3, column M (decision): `delete` is not a decision",
        ),
        (
            "keep of a failing account",
            Box::new(|s| decide(s, 0, "keep", "", " ")),
            "row 2, column O (justification): a keep of an account with a failing finding needs a justification",
        ),
        (
            "change_role without a role",
            Box::new(|s| decide(s, 1, "change_role", "", "why")),
            "row 3, column N (new_role): change_role needs the new role",
        ),
        (
            "change_role without a reason",
            Box::new(|s| decide(s, 1, "change_role", "member", "")),
            "row 3, column O (justification): change_role needs a justification",
        ),
        (
            "new role on a revoke",
            Box::new(|s| decide(s, 1, "revoke", "member", "")),
            "row 3, column N (new_role): a new role is only for change_role",
        ),
        (
            "self-review",
            Box::new(|s| decide(s, 2, "keep", "", "")),
            "row 4, column M (decision): this is eng@acme.example's own account",
        ),
        (
            "altered email",
            Box::new(|s| s.rows[1].1[2] = "x@evil.example".into()),
            "row 3, column C (email): changed from `b@acme.example` to `x@evil.example`",
        ),
        (
            "altered recommendation",
            Box::new(|s| s.rows[0].1[11] = "keep".into()),
            "row 2, column L (recommended): changed from `revoke` to `keep`",
        ),
        (
            "another review",
            Box::new(|s| s.meta[0] = field("r0", 1)),
            "sheet _review, row 1, column B (review_id): this worksheet belongs to another review (`r0`",
        ),
        (
            "another report",
            Box::new(|s| s.meta[1] = field("def", 2)),
            "sheet _review, row 2, column B (report_sha256): this worksheet belongs to another report.json",
        ),
        (
            "unknown reviewer",
            Box::new(|s| s.meta[2] = field("x@acme.example", 3)),
            "sheet _review, row 3, column B (reviewer): `x@acme.example` is not a reviewer",
        ),
        (
            "moved column",
            Box::new(|s| s.header.swap(13, 14)),
            "row 1, column N (new_role): the header reads `justification`",
        ),
        (
            "hidden keys changed",
            Box::new(|s| s.meta_keys.as_mut().unwrap().pop().map(drop).unwrap_or(())),
            "sheet _review, row 7, column A (row_keys): the row keys of this sheet were changed",
        ),
        (
            "removed row",
            Box::new(|s| {
                s.rows.remove(1);
                s.meta_keys = None;
            }),
            "row 3, column A (row_key): row `sentry/acme/2` was removed",
        ),
        (
            "added row",
            Box::new(|s| {
                let mut r = s.rows[0].clone();
                r.0 = 5;
                r.1[0] = "sentry/acme/77".into();
                s.rows.push(r);
            }),
            "row 5, column A (row_key): row `sentry/acme/77` is not in this review",
        ),
        (
            "duplicated row",
            Box::new(|s| {
                let mut r = s.rows[0].clone();
                r.0 = 5;
                s.rows.push(r);
            }),
            "row 5, column A (row_key): row `sentry/acme/1` appears twice",
        ),
        (
            "another reviewer's row",
            Box::new(|s| {
                s.rows[0].1 = state_other_row();
            }),
            "row 2, column A (row_key): row `sentry/other/9` is assigned to security@acme.example",
        ),
    ];
    for (case, edit, says) in cases {
        let mut s = sheet(&state);
        edit(&mut s);
        let checked = check(&state, &s, now());
        let all: Vec<String> = checked.problems.iter().map(ToString::to_string).collect();
        assert!(all.iter().any(|p| p.contains(says)), "{case}: {all:#?}");
        assert!(checked.decisions.is_empty(), "{case}");
    }
}

fn state_other_row() -> Vec<String> {
    let s = state();
    let mut cells: Vec<String> = s.reviewers["security@acme.example"][0]
        .identity()
        .iter()
        .map(|c| c.to_string())
        .collect();
    cells.extend([String::new(), String::new(), String::new()]);
    cells
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let state = state();
    let mut s = sheet(&state);
    decide(&mut s, 0, "keep", "", "");
    decide(&mut s, 1, "nope", "", "");
    s.rows[2].1[1] = "Someone Else".into();
    let checked = check(&state, &s, now());
    assert_eq!(checked.problems.len(), 3, "{:#?}", checked.problems);
    assert!(
        problem(&state, &{
            let mut t = sheet(&state);
            decide(&mut t, 1, "nope", "", "");
            t
        })
        .starts_with("eng.xlsx: sheet Review, row 3, column M (decision)")
    );
}

#[test]
fn a_decision_made_again_replaces_the_old_one_and_keeps_it() {
    let mut state = state();
    let mut s = sheet(&state);
    decide(&mut s, 1, "keep", "", "");
    let first = check(&state, &s, now()).decisions;
    for (k, d) in first {
        assert!(state.decide(&k, d).is_none());
    }
    decide(&mut s, 1, "revoke", "", "");
    let (k, d) = check(&state, &s, now()).decisions.remove(0);
    let old = state.decide(&k, d).unwrap();
    assert_eq!(old.decision, Decision::Keep);
    assert_eq!(state.decisions[&k].decision, Decision::Revoke);
    assert_eq!(state.superseded.len(), 1);
}

#[test]
fn status_counts_decided_rows_and_overdue() {
    use crate::access_review::status;
    let mut state = state();
    let st = status::of(&state, now());
    assert_eq!(st.outstanding(), 4);
    assert!(st.overdue, "due 2026-11-20, now 2026-11-21");
    let eng = st.lines.iter().find(|l| l.reviewer == ENG).unwrap();
    assert_eq!((eng.decided, eng.total, eng.own), (0, 3, 1));
    let all: Vec<String> = state
        .reviewers
        .values()
        .flatten()
        .map(|r| r.key.clone())
        .collect();
    for key in all {
        let record = DecisionRecord {
            decision: Decision::Revoke,
            new_role: None,
            justification: None,
            decided_by: ENG.into(),
            collected_at: now(),
            file: "f".into(),
        };
        state.decide(&key, record);
    }
    let st = status::of(&state, now());
    assert_eq!((st.outstanding(), st.overdue), (0, false));
    assert!(status::render(&state, &st).contains("done"));
}
