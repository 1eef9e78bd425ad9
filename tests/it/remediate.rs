//! Remediation end to end through the real binary, against loopback mocks of both APIs'
//! mutation endpoints with their real error envelopes: a live run → a review decided and
//! signed off → `remediate plan` (refusals: the only owner, an account changed since the run,
//! a role neither API assigns) → `apply` refused without `--yes`, over `--max`, on an edited
//! plan → a rehearsal (Sent.dm's sandbox; Sentry only read) → `apply --yes` (a timeout after a
//! DELETE was received settled by reading, an account changed since the plan, Sentry's 403 for
//! an owner, Sent.dm's 403 AUTH_004, 404 RESOURCE_006 and a 429 BUSINESS_002 waited out) →
//! `remediate verify` against a later run → `ledger verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::common::*;

const SEC: &str = "security@acme.example";
const P: &str = "660e8400-e29b-41d4-a716-446655440001";
const WRITE_TOKEN: &str = "sntryu_WRITE_TOKEN_member_admin_must_never_leak";
const WRITE_KEY: &str = "sk_test_WRITE_KEY_admin_must_never_leak";
const SIGNER: &str = "Ada Lovelace <ada@acme.example>";

fn config(dir: &Path, base: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            r#"
[[sources]]
type = "sentry"
name = "sentry"
base_url = "{base}"
token_env = "SENTRY_AUTH_TOKEN"
remediate_token_env = "SENTRY_WRITE_TOKEN"
remediate_requests_per_minute = 600
organizations = ["acme"]
request_timeout = "1s"

[[sources]]
type = "sentdm"
name = "sentdm"
base_url = "{base}"
api_key_env = "SENTDM_API_KEY"
remediate_api_key_env = "SENTDM_WRITE_KEY"
remediate_requests_per_minute = 600
profiles = ["{P}"]

[review]
default_reviewer = "{SEC}"
ledger_dir = "{ledger}"
"#,
            ledger = dir.join("ledger").display()
        ),
    )
}

fn cmd(config: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .env("SENTRY_WRITE_TOKEN", WRITE_TOKEN)
        .env("SENTDM_WRITE_KEY", WRITE_KEY)
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .assert()
}

fn out(a: &assert_cmd::assert::Assert) -> String {
    let o = a.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn member(id: u32, role: &str) -> Value {
    let mut m = sentry_member(id, role, true, Some("2026-10-30T00:00:00Z"));
    m["isOnlyOwner"] = json!(false);
    m
}

fn sent_user(id: &str, role: &str) -> Value {
    sentdm_user(
        id,
        role,
        "active",
        "2026-01-01T00:00:00Z",
        Some("2026-10-30T00:00:00Z"),
    )
}

/// The population of the run: Sentry `acme` with two owners (1, 7), members 2, 3, 5, 6 and an
/// invitation 4; Sent.dm's organization with d1, d2, d4 and profile P with d3.
async fn mount_lists(server: &MockServer) {
    let invite = sentry_invite(4, "2026-10-25T00:00:00Z", false);
    let members = vec![
        member(1, "owner"),
        member(2, "member"),
        member(3, "member"),
        invite,
        member(5, "member"),
        member(6, "member"),
        member(7, "owner"),
    ];
    mount_sentry_org(server, "acme", vec![members]).await;
    let org = vec![
        sent_user("d1", "developer"),
        sent_user("d2", "admin"),
        sent_user("d4", "developer"),
    ];
    mount_sentdm_users(server, None, 200, sentdm_ok(json!({ "users": org }))).await;
    let profile = vec![sent_user("d3", "developer")];
    mount_sentdm_users(server, Some(P), 200, sentdm_ok(json!({ "users": profile }))).await;
}

/// What the reviewer decided, by row key; every other row is kept.
fn decisions() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("sentry/acme/1", "revoke", ""),
        ("sentry/acme/2", "revoke", ""),
        ("sentry/acme/3", "change_role", "manager"),
        ("sentry/acme/4", "revoke", ""),
        ("sentry/acme/5", "revoke", ""),
        ("sentry/acme/6", "revoke", ""),
        ("sentry/acme/7", "revoke", ""),
        ("sentdm/organization/d1", "revoke", ""),
        ("sentdm/organization/d2", "change_role", "developer"),
        ("sentdm/organization/d4", "revoke", ""),
        (
            concat!("sentdm/", "660e8400-e29b-41d4-a716-446655440001", "/d3"),
            "change_role",
            "superuser",
        ),
    ]
}

/// Fill the CSV worksheet as a reviewer would.
fn fill_csv(path: &Path) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let wanted = decisions();
    for (i, r) in records.iter().enumerate() {
        let mut cells: Vec<String> = r.iter().map(str::to_string).collect();
        if i >= 2 {
            let (d, role) = wanted
                .iter()
                .find(|(k, _, _)| *k == cells[0])
                .map_or(("keep", ""), |(_, d, r)| (*d, *r));
            cells[12] = d.into();
            cells[13] = role.into();
            cells[14] = "reviewed with the team lead".into();
        }
        w.write_record(&cells).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

/// A run, reviewed and signed off.
fn signed_off_run(config: &Path, dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let evidence = dir.join("evidence");
    let a = cmd(
        config,
        &[
            "run",
            "--evidence",
            evidence.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
            "--format",
            "json",
            "--as-of",
            AS_OF,
        ],
    );
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 3)), "{}", out(&a));
    let r = run.to_str().unwrap();
    cmd(config, &["review", "start", r]).code(0);
    let sheet = run.join(format!("review/worksheets/{SEC}.csv"));
    fill_csv(&sheet);
    let c = cmd(config, &["review", "collect", r, sheet.to_str().unwrap()]);
    assert_eq!(c.get_output().status.code(), Some(0), "{}", out(&c));
    cmd(config, &["review", "sign-off", r, "--by", SIGNER]).code(0);
    run
}

/// The write token's identity, and reads of single members and users as the plan and apply
/// make them. `changed` flips member 6 to admin (a change between plan and apply).
struct State {
    changed: AtomicBool,
    deleted_4: AtomicBool,
    patches_d2: AtomicU32,
}

async fn mount_mutations(server: &MockServer, state: Arc<State>) {
    let bearer = format!("Bearer {WRITE_TOKEN}");
    let sentry_auth = || header("authorization", bearer.as_str());
    Mock::given(method("GET"))
        .and(path("/api/0/"))
        .and(sentry_auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"version": "0", "user": {"id": "999", "email": "ops@acme.example"}}),
        ))
        .mount(server)
        .await;
    let member_path = |id: u32| path(format!("/api/0/organizations/acme/members/{id}/"));
    // Reads of members.
    let mut only_owner = member(1, "owner");
    only_owner["isOnlyOwner"] = json!(true);
    for (id, body) in [
        (1, only_owner),
        (2, member(2, "member")),
        (3, member(3, "member")),
        (7, member(7, "owner")),
    ] {
        Mock::given(method("GET"))
            .and(member_path(id))
            .and(sentry_auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
    // Member 5 was made admin after the run.
    Mock::given(method("GET"))
        .and(member_path(5))
        .respond_with(ResponseTemplate::new(200).set_body_json(member(5, "admin")))
        .mount(server)
        .await;
    let s = state.clone();
    Mock::given(method("GET"))
        .and(member_path(6))
        .respond_with(move |_: &Request| {
            let role = if s.changed.load(Ordering::SeqCst) {
                "admin"
            } else {
                "member"
            };
            ResponseTemplate::new(200).set_body_json(member(6, role))
        })
        .mount(server)
        .await;
    // The invitation: gone once its DELETE was received.
    let s = state.clone();
    let invite = sentry_invite(4, "2026-10-25T00:00:00Z", false);
    Mock::given(method("GET"))
        .and(member_path(4))
        .respond_with(move |_: &Request| {
            if s.deleted_4.load(Ordering::SeqCst) {
                ResponseTemplate::new(404)
                    .set_body_json(json!({"detail": "The requested resource does not exist"}))
            } else {
                ResponseTemplate::new(200).set_body_json(invite.clone())
            }
        })
        .mount(server)
        .await;
    // Changes.
    Mock::given(method("DELETE"))
        .and(member_path(2))
        .and(sentry_auth())
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
    let mut promoted = member(3, "manager");
    promoted["orgRole"] = json!("manager");
    Mock::given(method("PUT"))
        .and(member_path(3))
        .and(body_partial_json(json!({"orgRole": "manager"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(promoted))
        .mount(server)
        .await;
    // The DELETE of the invitation is received, then the answer never comes in time.
    let s = state.clone();
    Mock::given(method("DELETE"))
        .and(member_path(4))
        .respond_with(move |_: &Request| {
            s.deleted_4.store(true, Ordering::SeqCst);
            ResponseTemplate::new(204).set_delay(Duration::from_secs(3))
        })
        .mount(server)
        .await;
    Mock::given(method("DELETE"))
        .and(member_path(7))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(
                    json!({"detail": "You cannot remove the only owner of this organization."}),
                )
                .insert_header("x-request-id", "req-sentry-403"),
        )
        .mount(server)
        .await;
    mount_sentdm_mutations(server, state).await;
}

async fn mount_sentdm_mutations(server: &MockServer, state: Arc<State>) {
    let key = || header("x-api-key", WRITE_KEY);
    let sandboxed = |body: Value| {
        ResponseTemplate::new(200)
            .set_body_json(sentdm_ok(body))
            .insert_header("x-sandbox", "true")
    };
    for (id, role) in [("d1", "developer"), ("d2", "admin")] {
        Mock::given(method("GET"))
            .and(path(format!("/v3/users/{id}")))
            .and(key())
            .and(NoHeader("x-profile-id"))
            .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(sent_user(id, role))))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v3/users/d3"))
        .and(header("x-profile-id", P))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(sentdm_ok(sent_user("d3", "developer"))),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/users/d4"))
        .respond_with(ResponseTemplate::new(404).set_body_json(sentdm_error(
            "RESOURCE_006",
            "User not found",
            "req_d4",
        )))
        .mount(server)
        .await;
    // Rehearsals: the sandbox answers without effect.
    Mock::given(method("DELETE"))
        .and(path("/v3/users/d1"))
        .and(body_partial_json(json!({"sandbox": true})))
        .respond_with(sandboxed(Value::Null))
        .mount(server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v3/users/d2"))
        .and(body_partial_json(
            json!({"sandbox": true, "role": "developer"}),
        ))
        .respond_with(sandboxed(sent_user("d2", "developer")))
        .mount(server)
        .await;
    // The changes themselves.
    Mock::given(method("DELETE"))
        .and(path("/v3/users/d1"))
        .and(key())
        .and(body_partial_json(json!({"sandbox": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(Value::Null)))
        .mount(server)
        .await;
    let s = state.clone();
    Mock::given(method("PATCH"))
        .and(path("/v3/users/d2"))
        .and(body_partial_json(
            json!({"sandbox": false, "role": "developer"}),
        ))
        .and(wiremock::matchers::header_exists("idempotency-key"))
        .respond_with(move |_: &Request| {
            if s.patches_d2.fetch_add(1, Ordering::SeqCst) == 0 {
                ResponseTemplate::new(429)
                    .set_body_json(sentdm_error(
                        "BUSINESS_002",
                        "Rate limit exceeded",
                        "req_429",
                    ))
                    .insert_header("retry-after", "1")
            } else {
                ResponseTemplate::new(200).set_body_json(sentdm_ok(sent_user("d2", "developer")))
            }
        })
        .mount(server)
        .await;
}

fn requests_changing(received: &[Request]) -> Vec<String> {
    received
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.url.path(),
                String::from_utf8_lossy(&r.body)
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_rehearse_apply_and_verify_with_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    mount_lists(&server).await;
    let config = config(dir.path(), &server.uri());
    let run = signed_off_run(&config, dir.path());
    let state = Arc::new(State {
        changed: AtomicBool::new(false),
        deleted_4: AtomicBool::new(false),
        patches_d2: AtomicU32::new(0),
    });
    mount_mutations(&server, state.clone()).await;
    let r = run.to_str().unwrap();

    // The plan: six changes, and every other decision with its reason.
    let planned = cmd(&config, &["remediate", "plan", r]);
    assert_eq!(
        planned.get_output().status.code(),
        Some(0),
        "{}",
        out(&planned)
    );
    let plan = read_json(&run.join("remediation/plan.json"));
    let ids: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"]["row_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "sentdm/organization/d1",
            "sentdm/organization/d2",
            "sentry/acme/2",
            "sentry/acme/3",
            "sentry/acme/4",
            "sentry/acme/6",
            "sentry/acme/7"
        ],
        "{}",
        out(&planned)
    );
    let reasons: Vec<(String, String)> = plan["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"]["row_key"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |key: &str| {
        reasons
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("sentry/acme/1").contains("only owner"),
        "{reasons:?}"
    );
    assert!(
        reason("sentry/acme/5").contains("changed since the review (role member → admin)"),
        "{reasons:?}"
    );
    assert!(
        reason(&format!("sentdm/{P}/d3")).contains("`superuser` is not a role sentdm assigns"),
        "{reasons:?}"
    );
    assert!(
        reason("sentdm/organization/d4").contains("no longer exists"),
        "{reasons:?}"
    );
    assert!(run.join("remediation/plan.html").is_file());
    assert!(
        requests_changing(&server.received_requests().await.unwrap()).is_empty(),
        "plan changes nothing"
    );

    // Nothing is sent without --yes; nor over --max; nor from an edited plan.
    let plan_path = run.join("remediation/plan.json");
    let p = plan_path.to_str().unwrap();
    let before = server.received_requests().await.unwrap().len();
    let unconfirmed = cmd(&config, &["remediate", "apply", p]).code(2);
    assert!(
        out(&unconfirmed).contains("Nothing was sent"),
        "{}",
        out(&unconfirmed)
    );
    cmd(&config, &["remediate", "apply", p, "--dry-run"]).code(2);
    let capped = cmd(&config, &["remediate", "apply", p, "--yes", "--max", "3"]).code(1);
    assert!(
        out(&capped).contains("7 changes still to make, more than --max 3: nothing was sent"),
        "{}",
        out(&capped)
    );
    let original = std::fs::read_to_string(&plan_path).unwrap();
    std::fs::write(
        &plan_path,
        original.replace("\"to_role\": \"manager\"", "\"to_role\": \"owner\""),
    )
    .unwrap();
    let edited = cmd(&config, &["remediate", "apply", p, "--yes"]).code(1);
    assert!(
        out(&edited).contains("does not verify") && out(&edited).contains("plan.json"),
        "{}",
        out(&edited)
    );
    std::fs::write(&plan_path, &original).unwrap();
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        before,
        "nothing sent"
    );

    // The rehearsal: Sent.dm's sandbox gets the changes, Sentry's members are only read.
    let rehearsal = cmd(&config, &["remediate", "apply", p, "--dry-run", "--yes"]);
    let said = out(&rehearsal);
    assert!(said.contains("nothing was changed"), "{said}");
    let sent = requests_changing(&server.received_requests().await.unwrap()[before..]);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter()
            .all(|s| s.contains("\"sandbox\":true") && s.contains("/v3/users/")),
        "{sent:?}"
    );
    // Member 7 passes the checks (two owners); the rehearsal does not know Sentry will refuse.
    assert_eq!(rehearsal.get_output().status.code(), Some(0), "{said}");

    // Apply, after member 6 was made admin.
    state.changed.store(true, Ordering::SeqCst);
    let before = server.received_requests().await.unwrap().len();
    let applied = cmd(&config, &["remediate", "apply", p, "--yes"]);
    let said = out(&applied);
    assert_eq!(applied.get_output().status.code(), Some(4), "{said}");
    let log = read_json(&run.join(format!(
        "remediation/applied-{}.json",
        plan["plan_id"].as_str().unwrap()
    )));
    let status = |id: &str| {
        log["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|a| a["change_id"] == id && a["dry_run"] == false)
            .map(|a| {
                (
                    a["status"].as_str().unwrap().to_string(),
                    a["message"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(status("c0001").0, "applied");
    assert_eq!(status("c0002").0, "applied");
    assert_eq!(status("c0003").0, "applied");
    assert_eq!(status("c0004").0, "applied");
    let (s4, m4) = status("c0005");
    assert_eq!(s4, "applied", "{m4}");
    assert!(
        m4.contains("reading the account afterwards shows the change made"),
        "{m4}"
    );
    let (s6, m6) = status("c0006");
    assert_eq!(s6, "refused");
    assert!(m6.contains("role member → admin"), "{m6}");
    let (s7, m7) = status("c0007");
    assert_eq!(s7, "refused");
    assert!(
        m7.contains("HTTP 403") && m7.contains("only owner") && m7.contains("req-sentry-403"),
        "{m7}"
    );
    let sent = requests_changing(&server.received_requests().await.unwrap()[before..]);
    let deletes_of_4 = sent.iter().filter(|s| s.contains("members/4/")).count();
    assert_eq!(
        deletes_of_4, 1,
        "a DELETE whose answer timed out is not sent again: {sent:?}"
    );
    assert_eq!(
        sent.iter().filter(|s| s.contains("/v3/users/d2")).count(),
        2,
        "the 429 waited out: {sent:?}"
    );
    assert!(
        !sent
            .iter()
            .any(|s| s.contains("members/6/") || s.contains("members/1/")),
        "{sent:?}"
    );
    assert!(
        !said.contains(WRITE_TOKEN) && !said.contains(WRITE_KEY),
        "{said}"
    );

    // Every request and answer is evidence, with its method.
    let evidence: Vec<PathBuf> = std::fs::read_dir(run.join("remediation/evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("apply-")
        })
        .collect();
    assert_eq!(evidence.len(), 1);
    let manifest = read_json(&evidence[0].join("manifest.json"));
    let methods: Vec<&str> = manifest["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.contains(&"DELETE") && methods.contains(&"PUT") && methods.contains(&"PATCH"),
        "{methods:?}"
    );
    let timed_out = manifest["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "DELETE" && r["url"].as_str().unwrap().ends_with("members/4/"))
        .unwrap();
    assert!(
        timed_out["status"].is_null() && timed_out["error"].as_str().unwrap().contains("timed out"),
        "{timed_out}"
    );

    // Applied again: what is done is not sent again.
    let before = server.received_requests().await.unwrap().len();
    cmd(&config, &["remediate", "apply", p, "--yes"]).code(4);
    let again = requests_changing(&server.received_requests().await.unwrap()[before..]);
    assert_eq!(
        again.len(),
        1,
        "only member 7's DELETE is tried again: {again:?}"
    );

    // A later run shows what is gone and what changed.
    let later = dir.path().join("later");
    later_run(&run, &later);
    let verified = cmd(
        &config,
        &[
            "remediate",
            "verify",
            r,
            "--against",
            later.to_str().unwrap(),
        ],
    );
    let said = out(&verified);
    assert_eq!(verified.get_output().status.code(), Some(4), "{said}");
    let v = read_json(&run.join("remediation/verification.json"));
    let results: Vec<(&str, &str)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["change_id"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("c0001", "verified"),
            ("c0002", "verified"),
            ("c0003", "verified"),
            ("c0004", "verified"),
            ("c0005", "verified"),
            ("c0006", "not_verified"),
            ("c0007", "not_verified")
        ]
    );
    assert_eq!(v["rows"][0]["within_deadline"], true);

    // The ledger holds the plan, each change made or refused, and the verification.
    let ledger = std::fs::read_to_string(dir.path().join("ledger/ledger.jsonl")).unwrap();
    let kinds: Vec<String> = ledger
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "remediation_plan").count(), 1);
    assert_eq!(
        kinds.iter().filter(|k| *k == "remediation_change").count(),
        7 + 2
    );
    assert_eq!(kinds.last().map(String::as_str), Some("remediation_verify"));
    cmd(&config, &["ledger", "verify"]).code(0);

    // The period pack shows the time to revoke against revoke_within_days.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let pack = dir.path().join("pack");
    let p = pack.to_str().unwrap();
    cmd(
        &config,
        &[
            "ledger", "report", "--from", &today, "--to", &today, "--out", p,
        ],
    )
    .code(0);
    let report = read_json(&pack.join("ledger-report.json"));
    let revocations = &report["revocations"];
    assert_eq!(revocations["revoke_within_days"], 7);
    assert_eq!(revocations["made"], 5, "{revocations}");
    assert_eq!(revocations["late"], 0);
    assert_eq!(
        revocations["not_made"], 2,
        "member 6 and 7, each tried twice"
    );
    assert_eq!(revocations["verifications"][0]["verified"], 5);
    let html = std::fs::read_to_string(pack.join("ledger-report.html")).unwrap();
    assert!(
        html.contains("Revocations (due within 7 days of sign-off)"),
        "{html}"
    );

    // The next run checks the open plan by itself: replayed from the first run's evidence (as of
    // now: a run as of before the plan could not show it), it still lists everyone, so nothing
    // is verified — and the ledger records that it looked.
    let next = dir.path().join("next");
    let replayed = cmd(
        &config,
        &[
            "run",
            "--replay",
            dir.path().join("evidence").to_str().unwrap(),
            "--as-of",
            "now",
            "--out",
            next.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(
        matches!(replayed.get_output().status.code(), Some(0 | 3)),
        "{}",
        out(&replayed)
    );
    let v = read_json(&run.join("remediation/verification.json"));
    assert_eq!(v["against"], next.to_str().unwrap());
    assert_eq!(v["verified"], 0, "{v}");
    let ledger = std::fs::read_to_string(dir.path().join("ledger/ledger.jsonl")).unwrap();
    let last: Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "remediation_verify");
}

/// The run's report.json as a later run would show it: the removed accounts gone, the changed
/// roles changed; member 6 and 7 untouched.
fn later_run(run: &Path, later: &Path) {
    let mut report = read_json(&run.join("report.json"));
    let gone = ["2", "4", "d1"];
    let accounts = report["accounts"].as_array_mut().unwrap();
    accounts.retain(|a| !gone.contains(&a["account_id"].as_str().unwrap()));
    for a in accounts.iter_mut() {
        match a["account_id"].as_str().unwrap() {
            "3" => a["role"] = json!("manager"),
            "d2" => a["role"] = json!("developer"),
            _ => {}
        }
    }
    // A run a minute after the changes were made.
    let as_of = chrono::Utc::now() + chrono::Duration::minutes(1);
    report["as_of"] = json!(as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    std::fs::create_dir_all(later).unwrap();
    std::fs::write(
        later.join("report.json"),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_review_not_signed_off_makes_no_plan() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    replay_demo(&run, &[]).code(4);
    let config = config(dir.path(), "http://127.0.0.1:9");
    cmd(
        &config,
        &[
            "review",
            "start",
            run.to_str().unwrap(),
            "--allow-incomplete",
        ],
    )
    .code(0);
    let refused = cmd(&config, &["remediate", "plan", run.to_str().unwrap()]).code(1);
    assert!(
        out(&refused).contains("is not signed off"),
        "{}",
        out(&refused)
    );
    assert!(!run.join("remediation/plan.json").exists());

    // A sign-off written into state.json by hand, with every digest right, is not one the
    // ledger recorded: the ledger's record of the review state no longer matches, and nothing
    // is planned on it.
    use sha2::Digest;
    let state_path = run.join("review/state.json");
    let mut state = read_json(&state_path);
    let report = std::fs::read(run.join("report.json")).unwrap();
    let decisions = format!("{}\n", serde_json::to_string(&state["decisions"]).unwrap());
    state["signed_off"] = json!({
        "by": "Mallory <m@evil.example>",
        "at": "2026-11-21T00:00:00Z",
        "report_sha256": hex::encode(sha2::Sha256::digest(&report)),
        "decisions_sha256": hex::encode(sha2::Sha256::digest(decisions.as_bytes())),
    });
    std::fs::write(&state_path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let forged = cmd(&config, &["remediate", "plan", run.to_str().unwrap()]).code(1);
    assert!(
        out(&forged).contains("state.json was changed"),
        "{}",
        out(&forged)
    );
    assert!(!run.join("remediation/plan.json").exists());
}
