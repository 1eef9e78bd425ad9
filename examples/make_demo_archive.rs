//! Builds `examples/demo-evidence/`: a realistic evidence archive recorded by the real pipeline.
//!
//! It serves invented but realistic Sentry and Sent.dm data from a loopback mock, runs
//! `access-audit run --evidence` against it, then rewrites the archive's base URLs and times to
//! those of a production run, so that the archive reads as if recorded against sentry.io and
//! api.sent.dm on 2026-11-20. Bodies are kept byte for byte (their SHA-256 stays valid).
//!
//! cargo run --example make_demo_archive -- examples/demo-evidence

use std::path::{Path, PathBuf};

use access_audit::evidence::Manifest;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use clap::Parser;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const PROFILE_MARKETING: &str = "3f2b8c1e-7a4d-4e59-9b1a-2c6d8e0f4a71";
const PROFILE_SUPPORT: &str = "8d9e0f1a-2b3c-4d5e-8f70-81a2b3c4d5e6";
const PROFILE_PARTNER: &str = "c0ffee00-1234-4abc-9def-0123456789ab";

fn recorded_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap()
}

/// xorshift64*: deterministic, so the archive is the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jonas", "Keiko",
    "Liam", "Maya", "Nnamdi", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jansen", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Usman", "Varga", "Wójcik", "Yilmaz",
];

fn iso(t: DateTime<Utc>, micros: bool) -> String {
    if micros {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    } else {
        // Sent.dm's .NET timestamps carry 7 fractional digits, which chrono cannot format directly.
        format!(
            "{}.{:07}+00:00",
            t.format("%Y-%m-%dT%H:%M:%S"),
            t.timestamp_subsec_nanos() / 100
        )
    }
}

fn person(rng: &mut Rng, n: usize, domain: &str) -> (String, String) {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let local: String = format!("{first}.{last}{n}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' => 'e',
            'í' => 'i',
            'ü' => 'u',
            'ó' | 'ö' => 'o',
            'ë' => 'e',
            'ł' => 'l',
            other => other,
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    (format!("{first} {last}"), format!("{local}@{domain}"))
}

/// Members of a Sentry org: owners, managers, legacy admins, billing, members; stale,
/// never-logged-in and 2FA-less accounts; pending, overdue and expired invites.
fn sentry_members(rng: &mut Rng, count: usize, first_id: u64, domain: &str) -> Vec<Value> {
    let now = recorded_at();
    let mut out = Vec::new();
    for i in 0..count {
        let id = first_id + i as u64;
        let (mut name, email) = person(rng, i, domain);
        let role = match i {
            0..=2 => "owner",
            3..=6 => "manager",
            7..=8 => "admin",
            9 => "billing",
            _ => "member",
        };
        let has2fa = match i {
            1 | 5 | 8 => false,
            _ => rng.below(100) >= 12,
        };
        let joined = now
            - TimeDelta::days(30 + rng.below(1500) as i64)
            - TimeDelta::seconds(rng.below(86_400) as i64);
        let roll = rng.below(100);
        let (last_login, last_active) = if i == 12 || (roll < 5 && i > 12) {
            (None, None) // never logged in, joined long ago
        } else if roll < 15 {
            let t = now
                - TimeDelta::days(95 + rng.below(300) as i64)
                - TimeDelta::seconds(rng.below(86_400) as i64);
            (Some(t), None) // stale
        } else if roll < 20 {
            let login = now - TimeDelta::days(200 + rng.below(100) as i64);
            let active = now
                - TimeDelta::days(rng.below(20) as i64)
                - TimeDelta::seconds(rng.below(86_400) as i64);
            (Some(login), Some(active)) // old login, recent session: not stale
        } else {
            let t = now
                - TimeDelta::days(rng.below(60) as i64)
                - TimeDelta::seconds(rng.below(86_400) as i64);
            (Some(t), Some(t + TimeDelta::minutes(rng.below(600) as i64)))
        };
        let date_created = if i == 20 {
            now - TimeDelta::days(3)
        } else {
            joined
        };
        let (last_login, last_active) = if i == 20 {
            (None, None)
        } else {
            (last_login, last_active)
        }; // new, in grace
        if i == 15 {
            name = "<img src=x onerror=alert('pwned')>".to_string();
        }
        if i == 16 {
            name = "=HYPERLINK(\"http://evil.example/\",\"Click me\")".to_string();
        }
        out.push(json!({
            "id": id.to_string(),
            "email": email,
            "name": name,
            "user": {
                "id": (2_200_000 + id * 7).to_string(),
                "name": name,
                "username": email,
                "email": email,
                "avatarUrl": format!("https://gravatar.com/avatar/{:032x}?s=32&d=mm", rng.next()),
                "isActive": true,
                "hasPasswordAuth": rng.below(3) > 0,
                "isManaged": false,
                "dateJoined": iso(joined - TimeDelta::days(10), true),
                "lastLogin": last_login.map(|t| iso(t, true)),
                "has2fa": has2fa,
                "lastActive": last_active.map(|t| iso(t, true)),
                "isSuperuser": false,
                "isStaff": false,
                "experiments": {},
                "avatar": {"avatarType": "letter_avatar", "avatarUuid": null, "avatarUrl": null}
            },
            "orgRole": role,
            "pending": false,
            "expired": false,
            "flags": {"idp:provisioned": false, "idp:role-restricted": false, "sso:linked": rng.below(2) == 0,
                      "sso:invalid": false, "member-limit:restricted": false, "partnership:restricted": false},
            "dateCreated": iso(date_created, true),
            "inviteStatus": "approved",
            "inviterName": "Ada Andersen",
            "role": role,
            "roleName": role[..1].to_uppercase() + &role[1..]
        }));
    }
    out
}

fn sentry_invites(rng: &mut Rng, first_id: u64, ages_days: &[(i64, bool)]) -> Vec<Value> {
    let now = recorded_at();
    ages_days
        .iter()
        .enumerate()
        .map(|(i, (age, expired))| {
            let (_, email) = person(rng, 900 + i, "contractor.example");
            json!({
                "id": (first_id + i as u64).to_string(), "email": email, "name": email, "user": null,
                "orgRole": "member", "pending": true, "expired": expired,
                "flags": {"idp:provisioned": false, "idp:role-restricted": false, "sso:linked": false, "sso:invalid": false,
                          "member-limit:restricted": false, "partnership:restricted": false},
                "dateCreated": iso(now - TimeDelta::days(*age) - TimeDelta::hours(3), true),
                "inviteStatus": "approved", "inviterName": "Ben Bauer", "role": "member", "roleName": "Member"
            })
        })
        .collect()
}

fn link(org: &str, next: Option<&str>) -> String {
    let base = format!("https://us.sentry.io/api/0/organizations/{org}/members/?per_page=100");
    let prev = format!(
        "<{base}&cursor=100:-1:1>; rel=\"previous\"; results=\"false\"; cursor=\"100:-1:1\""
    );
    match next {
        Some(c) => {
            format!("{prev}, <{base}&cursor={c}>; rel=\"next\"; results=\"true\"; cursor=\"{c}\"")
        }
        None => format!(
            "{prev}, <{base}&cursor=100:99:0>; rel=\"next\"; results=\"false\"; cursor=\"100:99:0\""
        ),
    }
}

async fn mount_org(server: &MockServer, org: &str, members: Vec<Value>) {
    let pages: Vec<Vec<Value>> = members.chunks(100).map(<[Value]>::to_vec).collect();
    let n = pages.len();
    for (i, page) in pages.into_iter().enumerate() {
        let next = (i + 1 < n).then(|| format!("100:{}:0", i + 1));
        let m =
            Mock::given(method("GET")).and(path(format!("/api/0/organizations/{org}/members/")));
        let m = if i == 0 {
            m.and(query_param_is_missing("cursor"))
        } else {
            m.and(query_param("cursor", format!("100:{i}:0")))
        };
        m.respond_with(
            ResponseTemplate::new(200)
                .set_body_json(Value::Array(page))
                .insert_header("link", link(org, next.as_deref()).as_str()),
        )
        .mount(server)
        .await;
    }
}

struct NoProfile;
impl Match for NoProfile {
    fn matches(&self, r: &Request) -> bool {
        !r.headers.contains_key("x-profile-id")
    }
}

fn envelope(data: Value, request_id: &str) -> Value {
    json!({"success": true, "data": data, "error": null,
           "meta": {"request_id": request_id, "timestamp": iso(recorded_at(), false), "version": "v3"}})
}

fn sentdm_users(rng: &mut Rng, n: usize, specs: &[(&str, &str, i64, Option<i64>)]) -> Vec<Value> {
    let now = recorded_at();
    specs
        .iter()
        .enumerate()
        .map(|(i, (role, status, invited_days, login_days))| {
            let (name, email) = person(rng, n * 100 + i, "acme.example");
            let invited = now - TimeDelta::days(*invited_days) - TimeDelta::seconds(rng.below(86_400) as i64);
            let id = format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", rng.next() as u32, rng.below(65536), rng.below(4096), rng.below(4096), rng.next() & 0xffff_ffff_ffff);
            json!({
                "id": id, "email": email, "name": name, "role": role, "status": status,
                "invited_at": iso(invited, false),
                "last_login_at": login_days.map(|d| iso(now - TimeDelta::days(d) - TimeDelta::seconds(rng.below(86_400) as i64), false)),
                "created_at": iso(invited, false),
                "updated_at": iso(invited + TimeDelta::days(1), false)
            })
        })
        .collect()
}

async fn mount_users(
    server: &MockServer,
    profile: Option<&str>,
    status: u16,
    body: Value,
    request_id: &str,
) {
    let m = Mock::given(method("GET")).and(path("/v3/users"));
    let m = match profile {
        Some(p) => m.and(header("x-profile-id", p)),
        None => m.and(NoProfile),
    };
    m.respond_with(
        ResponseTemplate::new(status)
            .set_body_json(body)
            .insert_header("x-request-id", request_id),
    )
    .mount(server)
    .await;
}

#[derive(Parser)]
struct Args {
    /// Where to write the archive (replaced if it exists)
    dest: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut rng = Rng(0x5eed_a11c_e0ff_1ce5);
    let server = MockServer::start().await;

    // Sentry: acme (3 pages), acme-labs (1 page), acme-legacy (token not a member: 403).
    let mut acme = sentry_members(&mut rng, 236, 4_412_000, "acme.example");
    acme.extend(sentry_invites(
        &mut rng,
        4_413_900,
        &[
            (1, false),
            (3, false),
            (5, false),
            (12, false),
            (26, false),
            (40, true),
            (75, true),
        ],
    ));
    mount_org(&server, "acme", acme).await;
    let mut labs = sentry_members(&mut rng, 38, 5_120_000, "acme-labs.example");
    labs.extend(sentry_invites(
        &mut rng,
        5_121_900,
        &[(2, false), (9, false)],
    ));
    mount_org(&server, "acme-labs", labs).await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme-legacy/members/"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"detail": "You do not have permission to perform this action."}),
            ),
        )
        .mount(&server)
        .await;

    // Sent.dm: the organization and three profiles over two pages; one profile denies access.
    let page = |ids: &[(&str, &str)], page: u32, more: bool| {
        envelope(
            json!({
                "sender_profiles": ids.iter().map(|(id, name)| json!({
                    "id": id, "organization_id": "7c60d51f-0b1e-4f8a-9d2c-3e4f5a6b7c8d", "name": name,
                    "short_name": name.chars().take(3).collect::<String>().to_uppercase(), "description": null,
                    "created_at": iso(recorded_at() - TimeDelta::days(400), false)
                })).collect::<Vec<_>>(),
                "pagination": {"page": page, "page_size": 100, "total_count": 3, "total_pages": 2, "has_more": more, "cursors": null}
            }),
            &format!("req_profiles_{page}"),
        )
    };
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(
                    &[
                        (PROFILE_MARKETING, "Marketing"),
                        (PROFILE_SUPPORT, "Support"),
                    ],
                    1,
                    true,
                ))
                .insert_header("x-request-id", "req_profiles_1"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/sender-profiles"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(&[(PROFILE_PARTNER, "Partner API")], 2, false))
                .insert_header("x-request-id", "req_profiles_2"),
        )
        .mount(&server)
        .await;
    let org_users = sentdm_users(
        &mut rng,
        1,
        &[
            ("admin", "active", 420, Some(2)),
            ("admin", "active", 300, Some(140)),
            ("developer", "active", 200, Some(5)),
            ("developer", "active", 150, None),
            ("billing", "active", 380, Some(30)),
            ("developer", "invited", 3, None),
            ("developer", "invited", 19, None),
            ("developer", "suspended", 500, Some(200)),
        ],
    );
    mount_users(
        &server,
        None,
        200,
        envelope(json!({"users": org_users}), "req_users_org"),
        "req_users_org",
    )
    .await;
    let marketing = sentdm_users(
        &mut rng,
        2,
        &[
            ("admin", "active", 250, Some(1)),
            ("developer", "active", 90, Some(12)),
            ("developer", "active", 120, Some(100)),
            ("billing", "invited", 10, None),
            ("developer", "active", 5, None),
            ("developer", "rejected", 60, None),
        ],
    );
    mount_users(
        &server,
        Some(PROFILE_MARKETING),
        200,
        envelope(json!({"users": marketing}), "req_users_mkt"),
        "req_users_mkt",
    )
    .await;
    let support = sentdm_users(
        &mut rng,
        3,
        &[
            ("admin", "active", 600, Some(95)),
            ("developer", "active", 30, Some(3)),
            ("developer", "active", 45, Some(8)),
            ("developer", "invited", 2, None),
            ("developer", "active", 700, Some(1)),
        ],
    );
    mount_users(
        &server,
        Some(PROFILE_SUPPORT),
        200,
        envelope(json!({"users": support}), "req_users_sup"),
        "req_users_sup",
    )
    .await;
    mount_users(
        &server,
        Some(PROFILE_PARTNER),
        403,
        json!({"success": false, "data": null,
               "error": {"code": "AUTH_004", "message": "You do not have access to this organization or profile", "details": null,
                         "doc_url": "https://docs.sent.dm/errors/AUTH_004"},
               "meta": {"request_id": "req_7X9zKp2jDw", "timestamp": iso(recorded_at(), false), "version": "v3"}}),
        "req_7X9zKp2jDw",
    )
    .await;

    // Record with the real pipeline.
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("sentry-token"), "demo-sentry-token\n")?;
    std::fs::write(work.path().join("sentdm-key"), "demo-sentdm-key\n")?;
    let config = format!(
        r#"
[[sources]]
type = "sentry"
base_url = "{uri}"
token_file = "{dir}/sentry-token"
organizations = ["acme", "acme-labs", "acme-legacy"]

[[sources]]
type = "sentdm"
base_url = "{uri}"
api_key_file = "{dir}/sentdm-key"
profiles = "all"
"#,
        uri = server.uri(),
        dir = work.path().display()
    );
    let config_path = work.path().join("access-audit.toml");
    std::fs::write(&config_path, config)?;
    let evidence = work.path().join("evidence");
    let cli = access_audit::Cli::try_parse_from([
        "access-audit",
        "--config",
        config_path.to_str().ok_or("path")?,
        "run",
        "--evidence",
        evidence.to_str().ok_or("path")?,
        "--out",
        work.path().join("out").to_str().ok_or("path")?,
        "--format",
        "json",
        "--no-email",
    ])?;
    let status = access_audit::execute(cli).await?;
    eprintln!("recording run finished with exit status {}", status.code());

    rewrite(&evidence, &server.uri())?;
    if args.dest.exists() {
        std::fs::remove_dir_all(&args.dest)?;
    }
    copy_dir(&evidence, &args.dest)?;
    eprintln!("wrote {}", args.dest.display());
    Ok(())
}

/// Make the archive read as a production recording: real base URLs, fixed times.
fn rewrite(dir: &Path, mock: &str) -> Result<(), Box<dyn std::error::Error>> {
    let path = dir.join("manifest.json");
    let mut manifest: Manifest = serde_json::from_slice(&std::fs::read(&path)?)?;
    // The production base URL of each source is its API's default one.
    for s in &mut manifest.sources {
        s.base_url = s.source().default_base_url().to_string();
    }
    // Concurrent fetching records scopes in any order; sort so the archive is reproducible.
    let order: Vec<String> = manifest.sources.iter().map(|s| s.name.clone()).collect();
    let rank = |name: &str| order.iter().position(|n| n == name).unwrap_or(usize::MAX);
    manifest.responses.sort_by(|a, b| {
        (rank(&a.source_name), &a.scope, &a.file).cmp(&(rank(&b.source_name), &b.scope, &b.file))
    });
    let start = recorded_at();
    manifest.started_at = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let n = manifest.responses.len() as i64;
    for (i, r) in manifest.responses.iter_mut().enumerate() {
        let base = manifest
            .sources
            .iter()
            .find(|s| s.name == r.source_name)
            .ok_or("source")?
            .source()
            .default_base_url();
        r.url = r.url.replacen(mock, base, 1);
        let t = start + TimeDelta::milliseconds(180 * (i as i64 + 1));
        r.fetched_at = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    manifest.finished_at = (start + TimeDelta::milliseconds(180 * (n + 2)))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
