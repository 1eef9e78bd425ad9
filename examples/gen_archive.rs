//! Generates a large evidence archive (CONTRACT section 7) for benchmarks: Sentry organizations
//! of 1,000 members (ten pages each, linked by cursors) and a Sent.dm organization with profiles
//! of 100 users, mixed. The answers are written through the same evidence recorder a live run
//! uses, so `run --replay` reads them exactly as it would a recorded run.
//!
//! `--worst-case` makes the harder mix of issue #16: Sent.dm profiles of 1,000 users in one page
//! each, and most accounts carrying a finding (three in four last logged in 100–400 days ago), so
//! findings, not accounts, dominate the reports.
//!
//! cargo run --release --example gen_archive -- --accounts 1000000 --out target/bench/archive-1m

use std::path::PathBuf;
use std::sync::Arc;

use access_audit::evidence::Answer;
use access_audit::evidence::{EvidenceRecorder, RecordKey};
use access_audit::evidence::{Selection, SourceSpec};
use access_audit::evidence::{sentdm, sentry};
use bytes::Bytes;
use chrono::{TimeDelta, TimeZone, Utc};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Accounts in the archive, all sources together
    #[arg(long, default_value_t = 1_000_000)]
    accounts: usize,
    /// Share of the accounts that come from Sent.dm, in percent
    #[arg(long, default_value_t = 20)]
    sentdm_percent: usize,
    /// Issue #16's worst case: Sent.dm profiles of 1,000 users, most accounts with a finding
    #[arg(long)]
    worst_case: bool,
    /// Directory to create (must not exist or be empty)
    #[arg(long)]
    out: PathBuf,
}

const SENTRY_BASE: &str = "https://sentry.io";
const SENTDM_BASE: &str = "https://api.sent.dm";
const MEMBERS_PER_ORG: usize = 1_000;
const USERS_PER_PROFILE: usize = 100;
const USERS_PER_PROFILE_WORST: usize = 1_000;

/// Whether an account last logged in 100–400 days ago (stale): three in four in the worst case,
/// one in ten otherwise.
fn stale(h: u64, worst: bool) -> bool {
    if worst {
        h % 20 < 15
    } else {
        matches!(h % 20, 1 | 2)
    }
}

fn ts(days_ago: i64, salt: u64) -> String {
    let t = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap()
        - TimeDelta::days(days_ago)
        - TimeDelta::seconds((salt % 86_400) as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn member(id: u64, worst: bool) -> Value {
    let h = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let role = match h % 100 {
        0 => "owner",
        1 | 2 => "manager",
        3 => "admin",
        _ => "member",
    };
    if h % 50 == 7 {
        let email = format!("invitee{id}@contractor.example");
        return json!({"id": id.to_string(), "email": email, "name": email, "user": null, "orgRole": "member", "role": "member",
            "pending": true, "expired": h.is_multiple_of(3), "flags": {"sso:linked": false}, "dateCreated": ts((h % 60) as i64, h),
            "inviteStatus": "approved", "inviterName": "Ops"});
    }
    let last_login = match h % 20 {
        0 => Value::Null,
        _ if stale(h, worst) => json!(ts(100 + (h % 300) as i64, h)),
        _ => json!(ts((h % 60) as i64, h)),
    };
    json!({
        "id": id.to_string(), "email": format!("user{id}@acme.example"), "name": format!("User {id}"),
        "user": {"id": (id * 7).to_string(), "name": format!("User {id}"), "username": format!("user{id}@acme.example"),
                 "email": format!("user{id}@acme.example"), "avatarUrl": "https://gravatar.com/avatar/0?s=32&d=mm",
                 "isActive": true, "hasPasswordAuth": true, "isManaged": false, "dateJoined": ts(900, h),
                 "lastLogin": last_login, "has2fa": !h.is_multiple_of(7), "lastActive": null, "isSuperuser": false, "isStaff": false,
                 "experiments": {}, "avatar": {"avatarType": "letter_avatar", "avatarUuid": null, "avatarUrl": null}},
        "orgRole": role, "role": role, "roleName": role, "pending": false, "expired": false,
        "flags": {"idp:provisioned": false, "idp:role-restricted": false, "sso:linked": true, "sso:invalid": false,
                  "member-limit:restricted": false, "partnership:restricted": false},
        "dateCreated": ts(900, h), "inviteStatus": "approved", "inviterName": "Ops"
    })
}

fn sentdm_user(id: u64, worst: bool) -> Value {
    let h = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (role, status) = match h % 20 {
        0 => ("admin", "active"),
        1 => ("developer", "invited"),
        2 => ("billing", "suspended"),
        _ => ("developer", "active"),
    };
    let login = if h % 10 == 3 {
        Value::Null
    } else if worst && stale(h, worst) {
        json!(ts(100 + (h % 300) as i64, h).replace('Z', "0+00:00"))
    } else {
        json!(ts((h % 150) as i64, h).replace('Z', "0+00:00"))
    };
    json!({"id": format!("00000000-0000-4000-8000-{id:012x}"), "email": format!("sent{id}@acme.example"), "name": format!("Sent {id}"),
           "role": role, "status": status, "invited_at": ts((h % 30) as i64 + 1, h).replace('Z', "0+00:00"),
           "last_login_at": login, "created_at": ts(400, h).replace('Z', "0+00:00"), "updated_at": ts(10, h).replace('Z', "0+00:00")})
}

fn answer(body: Vec<u8>, link: Option<String>) -> Answer {
    Answer {
        status: 200,
        body: Bytes::from(body),
        link,
        request_id: None,
        fetched_at: Utc::now(),
        retries: 0,
    }
}

fn link(org: &str, next: Option<&str>) -> String {
    let base = format!("https://us.sentry.io/api/0/organizations/{org}/members/?per_page=100");
    match next {
        Some(c) => format!("<{base}&cursor={c}>; rel=\"next\"; results=\"true\"; cursor=\"{c}\""),
        None => format!("<{base}&cursor=end>; rel=\"next\"; results=\"false\"; cursor=\"end\""),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let recorder = Arc::new(EvidenceRecorder::create(&args.out)?);
    let sentdm_accounts = args.accounts * args.sentdm_percent / 100;
    let sentry_accounts = args.accounts - sentdm_accounts;

    let mut orgs = Vec::new();
    let mut next_id = 1u64;
    let mut remaining = sentry_accounts;
    while remaining > 0 {
        let org = format!("org-{:05}", orgs.len());
        let n = remaining.min(MEMBERS_PER_ORG);
        let members: Vec<Value> = (0..n as u64)
            .map(|i| member(next_id + i, args.worst_case))
            .collect();
        next_id += n as u64;
        remaining -= n;
        let first = sentry::members_url(SENTRY_BASE, &org).map_err(|e| e.message)?;
        let pages: Vec<&[Value]> = members.chunks(100).collect();
        for (i, page) in pages.iter().enumerate() {
            let cursor = (i > 0).then(|| format!("100:{i}:0"));
            let url = sentry::page_url(&first, cursor.as_deref());
            let next = (i + 1 < pages.len()).then(|| format!("100:{}:0", i + 1));
            let body = serde_json::to_vec(page)?;
            let key = RecordKey {
                source_name: "sentry",
                scope: &org,
                endpoint: "sentry.members",
                url: url.as_str(),
                method: None,
                request: None,
            };
            recorder.record(
                &key,
                Ok(&answer(body, Some(link(&org, next.as_deref())))),
                Utc::now(),
            )?;
        }
        orgs.push(org);
    }

    let per_profile = if args.worst_case {
        USERS_PER_PROFILE_WORST
    } else {
        USERS_PER_PROFILE
    };
    let profiles: Vec<String> = (0..sentdm_accounts.div_ceil(per_profile))
        .map(|i| format!("10000000-0000-4000-8000-{i:012x}"))
        .collect();
    if sentdm_accounts > 0 {
        // The organization scope has no users of its own here; every user sits in a profile.
        let pages: Vec<&[String]> = profiles.chunks(100).collect();
        for (i, chunk) in pages.iter().enumerate() {
            let body = json!({"success": true, "data": {"sender_profiles": chunk.iter().map(|id| json!({"id": id, "name": id})).collect::<Vec<_>>(),
                "pagination": {"page": i + 1, "page_size": 100, "total_count": profiles.len(), "has_more": i + 1 < pages.len()}},
                "error": null, "meta": {"request_id": format!("req_p{i}")}});
            let url =
                sentdm::sender_profiles_url(SENTDM_BASE, i as u32 + 1).map_err(|e| e.message)?;
            let key = RecordKey {
                source_name: "sentdm",
                scope: "_profiles",
                endpoint: "sentdm.sender_profiles",
                url: url.as_str(),
                method: None,
                request: None,
            };
            recorder.record(
                &key,
                Ok(&answer(serde_json::to_vec(&body)?, None)),
                Utc::now(),
            )?;
        }
        let users_url = sentdm::users_url(SENTDM_BASE).map_err(|e| e.message)?;
        let empty = json!({"success": true, "data": {"users": []}, "error": null, "meta": {"request_id": "req_org"}});
        let key = RecordKey {
            source_name: "sentdm",
            scope: "organization",
            endpoint: "sentdm.users",
            url: users_url.as_str(),
            method: None,
            request: None,
        };
        recorder.record(
            &key,
            Ok(&answer(serde_json::to_vec(&empty)?, None)),
            Utc::now(),
        )?;
        let mut left = sentdm_accounts;
        for profile in &profiles {
            let n = left.min(per_profile);
            left -= n;
            let users: Vec<Value> = (0..n as u64)
                .map(|i| sentdm_user(next_id + i, args.worst_case))
                .collect();
            next_id += n as u64;
            let body = json!({"success": true, "data": {"users": users}, "error": null, "meta": {"request_id": "req_u"}});
            let key = RecordKey {
                source_name: "sentdm",
                scope: profile,
                endpoint: "sentdm.users",
                url: users_url.as_str(),
                method: None,
                request: None,
            };
            recorder.record(
                &key,
                Ok(&answer(serde_json::to_vec(&body)?, None)),
                Utc::now(),
            )?;
        }
    }

    let mut sources = vec![SourceSpec {
        name: "sentry".into(),
        base_url: SENTRY_BASE.into(),
        settings: Arc::new(sentry::Settings {
            organizations: Selection::List(orgs.clone()),
            projects: vec![],
        }),
    }];
    if sentdm_accounts > 0 {
        sources.push(SourceSpec {
            name: "sentdm".into(),
            base_url: SENTDM_BASE.into(),
            settings: Arc::new(sentdm::Settings {
                profiles: Selection::All,
                invite_ttl_days: 7,
            }),
        });
    }
    recorder.finish(sources)?;
    eprintln!(
        "wrote {}: {} accounts ({} Sentry in {} organizations, {} Sent.dm in {} profiles)",
        args.out.display(),
        args.accounts,
        sentry_accounts,
        orgs.len(),
        sentdm_accounts,
        profiles.len()
    );
    Ok(())
}
