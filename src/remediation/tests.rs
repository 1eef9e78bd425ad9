//! The pure parts of planning and verifying: what is refused before and after reading an
//! account, the owner kept across a plan's own changes, the digest that seals a plan, and the
//! verdict of a later run.

use chrono::{TimeZone, Utc};

use super::build::{changed_since, is_own, keep_an_owner, refusal_after_reading, target_of};
use super::plan::{ActionRecord, Change, Plan, ReviewRef};
use crate::access_review::campaign::Decision;
use crate::model::{Account, AccountStatus, SourceKind};
use crate::sources::remediate::{Current, Identity, Read};

fn account(id: &str, role: &str, status: AccountStatus) -> Account {
    Account {
        source: SourceKind::Sentry,
        source_name: "sentry".into(),
        scope: "acme".into(),
        account_id: id.into(),
        user_id: Some(format!("u{id}").into()),
        email: Some(format!("user{id}@acme.example").into()),
        name: None,
        role: Some(role.into()),
        privileged: role == "owner",
        status,
        mfa: Some(true),
        last_login_at: None,
        last_active_at: None,
        last_seen_at: None,
        invited_at: None,
        created_at: None,
        flags: Vec::new(),
    }
}

fn change(a: &Account, action: ActionRecord) -> Change {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
    Change {
        id: format!("c{}", a.account_id),
        target: target_of(&format!("sentry/acme/{}", a.account_id), a),
        action,
        decision: Decision::Revoke,
        reviewer: "sec@acme.example".into(),
        justification: None,
        decided_at: at,
        checked_at: at,
        idempotency_key: "k".into(),
    }
}

#[test]
fn an_account_that_changed_since_the_review_is_named_with_what_changed() {
    let reviewed = account("2", "member", AccountStatus::Active);
    let target = target_of("sentry/acme/2", &reviewed);
    assert_eq!(changed_since(&target, &reviewed), None);
    let promoted = account("2", "owner", AccountStatus::Active);
    let said = changed_since(&target, &promoted).unwrap_or_default();
    assert!(said.contains("role member → owner"), "{said}");
    let mut moved = reviewed.clone();
    moved.email = Some("someone-else@acme.example".into());
    assert!(
        changed_since(&target, &moved)
            .unwrap_or_default()
            .contains("email")
    );
    // An invitation that expired is still the invitation the reviewer saw.
    let invite = account("4", "member", AccountStatus::Invited);
    let target = target_of("sentry/acme/4", &invite);
    assert_eq!(
        changed_since(&target, &account("4", "member", AccountStatus::Expired)),
        None
    );
    assert!(changed_since(&target, &account("4", "member", AccountStatus::Active)).is_some());
}

#[test]
fn the_write_credentials_own_account_and_the_only_owner_are_never_changed() {
    let me = account("9", "owner", AccountStatus::Active);
    let target = target_of("sentry/acme/9", &me);
    let found = |only_owner| {
        Read::Found(Box::new(Current {
            account: me.clone(),
            only_owner,
        }))
    };
    let identity = Identity {
        user_id: Some("u9".into()),
        email: None,
    };
    assert!(is_own(&identity, &me));
    let by_email = Identity {
        user_id: None,
        email: Some("USER9@acme.example ".into()),
    };
    assert!(is_own(&by_email, &me));
    let said = refusal_after_reading(&target, &ActionRecord::Remove, &found(false), &identity);
    assert!(said.unwrap_or_default().contains("acts as"));
    let other = Identity::default();
    let said = refusal_after_reading(&target, &ActionRecord::Remove, &found(true), &other);
    assert!(said.unwrap_or_default().contains("only owner"));
    let stays = ActionRecord::ChangeRole {
        to_role: "owner".into(),
    };
    assert_eq!(
        refusal_after_reading(&target, &stays, &found(true), &other),
        None
    );
    let gone = refusal_after_reading(&target, &ActionRecord::Remove, &Read::Gone, &other);
    assert!(gone.unwrap_or_default().contains("no longer exists"));
}

#[test]
fn a_plan_never_removes_the_last_owner_of_a_scope() {
    let owners = [
        account("1", "owner", AccountStatus::Active),
        account("2", "owner", AccountStatus::Active),
        account("3", "member", AccountStatus::Active),
    ];
    let demote = ActionRecord::ChangeRole {
        to_role: "member".into(),
    };
    let changes = vec![
        change(&owners[0], ActionRecord::Remove),
        change(&owners[2], ActionRecord::Remove),
        change(&owners[1], demote),
    ];
    let (kept, refused) = keep_an_owner(changes, &owners, |_| Some("owner"));
    let kept: Vec<&str> = kept.iter().map(|c| c.target.account_id.as_str()).collect();
    assert_eq!(kept, ["1", "3"]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0.target.account_id, "2");
    assert!(
        refused[0].1.contains("without an owner"),
        "{}",
        refused[0].1
    );
    // A source whose API never lists owners has nothing to count.
    let changes = vec![
        change(&owners[0], ActionRecord::Remove),
        change(&owners[1], ActionRecord::Remove),
    ];
    let (kept, refused) = keep_an_owner(changes, &owners, |_| None);
    assert_eq!((kept.len(), refused.len()), (2, 0));
}

fn plan() -> Plan {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
    Plan {
        plan_version: super::plan::PLAN_VERSION,
        plan_id: "p1".into(),
        created_at: at,
        run_id: "r1".into(),
        review: ReviewRef {
            review_id: "rv".into(),
            report_sha256: "a".repeat(64),
            decisions_sha256: "b".repeat(64),
            evidence_manifest_sha256: None,
            signed_off_by: "Ada <ada@acme.example>".into(),
            signed_off_at: at,
        },
        sources: Vec::new(),
        changes: vec![change(
            &account("2", "member", AccountStatus::Active),
            ActionRecord::Remove,
        )],
        refused: Vec::new(),
        digest: String::new(),
    }
}

#[test]
fn a_plan_is_sealed_by_its_digest_and_refused_once_edited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let sealed = plan().seal().unwrap();
    std::fs::write(&path, super::plan::to_json(&sealed).unwrap()).unwrap();
    let read = super::plan::read(&path).unwrap();
    assert_eq!(read.digest, sealed.digest);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"remove\"", "\"change_role\", \"to_role\": \"owner\""),
    )
    .unwrap();
    let refused = super::plan::read(&path).unwrap_err();
    assert!(
        refused.contains("was edited after it was made"),
        "{refused}"
    );
    // A field the plan does not have is an edit too.
    std::fs::write(
        &path,
        text.replacen("\"plan_id\"", "\"extra\": 1,\n  \"plan_id\"", 1),
    )
    .unwrap();
    assert!(super::plan::read(&path).unwrap_err().contains("edited"));
}

fn candidate(a: &Account) -> super::build::Candidate {
    super::build::Candidate {
        target: target_of(&format!("sentry/acme/{}", a.account_id), a),
        decision: Decision::Revoke,
        new_role: None,
        reviewer: "sec@acme.example".into(),
        justification: None,
        decided_at: Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap(),
    }
}

#[test]
fn a_plan_accounts_for_every_decision_once_under_its_own_ids() {
    use super::trust::check_plan_shape;
    let two = account("2", "member", AccountStatus::Active);
    let three = account("3", "member", AccountStatus::Active);
    let mut p = plan();
    p.plan_id = "0123456789abcdef".into();
    p.changes[0].id = "c0001".into();
    p.changes[0].idempotency_key = "access-audit-0123456789abcdef-c0001".into();
    let both = [candidate(&two), candidate(&three)];
    // The decision on account 3 was dropped from the plan.
    let said = check_plan_shape(&p, &both).unwrap_err();
    assert!(
        said.contains("sentry/acme/3") && said.contains("does not say so"),
        "{said}"
    );
    // Listed as refused, it is accounted for.
    p.refused.push(super::build::refused_change(
        change(&three, ActionRecord::Remove),
        "why".into(),
    ));
    check_plan_shape(&p, &both).unwrap();
    // Listed twice, or not decided at all, or under an id or key of its own making: refused.
    let mut twice = p.clone();
    twice.refused.push(twice.refused[0].clone());
    assert!(
        check_plan_shape(&twice, &both)
            .unwrap_err()
            .contains("2 times")
    );
    assert!(
        check_plan_shape(&p, &both[..1])
            .unwrap_err()
            .contains("did not decide")
    );
    let mut key = p.clone();
    key.changes[0].idempotency_key = "access-audit-0123456789abcdef-c0002".into();
    assert!(check_plan_shape(&key, &both).is_err());
    let mut id = p.clone();
    id.plan_id = "../../x".into();
    assert!(
        check_plan_shape(&id, &both)
            .unwrap_err()
            .contains("plan id")
    );
}
