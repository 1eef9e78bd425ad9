//! Fetch benchmarks against a loopback mock (the real pipeline, in process):
//!
//! 1. Latency-bound: every answer takes 50 ms; 200 Sentry organizations of 3 pages, and a
//!    Sent.dm organization with 100 profiles (pacing lifted). Wall time vs the ideal
//!    `requests × 50 ms / concurrency`, and the speed-up over concurrency 1.
//! 2. Rate-limit-bound: the mock enforces Sent.dm's shape (N requests/minute, burst N/4,
//!    X-RateLimit-* headers, 429 BUSINESS_002 past it); 300 profiles. Wall time vs the budget's
//!    minimum, and the share of 429s.
//!
//! cargo bench --bench fetch            (add `-- quick` for a smaller run)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LATENCY: Duration = Duration::from_millis(50);

fn member(id: usize) -> Value {
    json!({"id": id.to_string(), "email": format!("u{id}@acme.example"), "name": format!("U {id}"),
           "user": {"id": id.to_string(), "has2fa": true, "lastLogin": "2026-11-01T00:00:00Z", "lastActive": null},
           "orgRole": "member", "pending": false, "expired": false, "flags": {}, "dateCreated": "2025-01-01T00:00:00Z"})
}

fn profile_id(i: usize) -> String {
    format!("20000000-0000-4000-8000-{i:012x}")
}

async fn mount_sentry(server: &MockServer, orgs: usize, delay: Duration) {
    for p in 0..3usize {
        let link = move |org: &str| {
            let next = if p < 2 {
                format!("100:{}:0", p + 1)
            } else {
                "end".into()
            };
            format!(
                "<https://us.sentry.io/api/0/organizations/{org}/members/?&cursor={next}>; rel=\"next\"; results=\"{}\"; cursor=\"{next}\"",
                p < 2
            )
        };
        // One mock per page serves every organization: the body does not depend on the org.
        let body = Value::Array((0..100).map(|i| member(p * 100 + i)).collect());
        let m =
            Mock::given(method("GET")).and(path_regex(r"^/api/0/organizations/[^/]+/members/$"));
        let m = if p == 0 {
            m.and(query_param_is_missing("cursor"))
        } else {
            m.and(query_param("cursor", format!("100:{p}:0")))
        };
        let body = body.clone();
        m.respond_with(move |req: &Request| {
            let org = req.url.path().split('/').nth(4).unwrap_or("x").to_string();
            ResponseTemplate::new(200)
                .set_body_json(body.clone())
                .insert_header("link", link(&org).as_str())
                .set_delay(delay)
        })
        .mount(server)
        .await;
    }
    let _ = orgs;
}

async fn mount_sentdm(server: &MockServer, profiles: usize, delay: Duration) {
    let ids: Vec<String> = (0..profiles).map(profile_id).collect();
    for (page, chunk) in ids.chunks(100).enumerate() {
        let body = json!({"success": true, "data": {"sender_profiles": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "pagination": {"page": page + 1, "has_more": (page + 1) * 100 < profiles}}, "meta": {"request_id": "r"}});
        Mock::given(method("GET"))
            .and(path("/v3/sender-profiles"))
            .and(query_param("page", (page + 1).to_string()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(body)
                    .set_delay(delay),
            )
            .mount(server)
            .await;
    }
    let users = json!({"success": true, "data": {"users": (0..10).map(|i| json!({"id": format!("u{i}"), "email": format!("s{i}@acme.example"),
        "role": "developer", "status": "active", "invited_at": "2026-01-01T00:00:00+00:00", "last_login_at": "2026-11-10T00:00:00+00:00",
        "created_at": "2026-01-01T00:00:00+00:00"})).collect::<Vec<_>>()}, "meta": {"request_id": "r"}});
    Mock::given(method("GET"))
        .and(path("/v3/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(users)
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

async fn run(config: &str, dir: &std::path::Path) -> (Duration, u8) {
    let cfg = dir.join("bench.toml");
    std::fs::write(&cfg, config).expect("config");
    let out = dir.join("out");
    let cli = access_audit::Cli::try_parse_from([
        "access-audit",
        "-qq",
        "--config",
        cfg.to_str().unwrap(),
        "run",
        "--as-of",
        "2026-11-20T00:00:00Z",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ])
    .expect("args");
    let started = Instant::now();
    let status = access_audit::execute(cli).await.expect("run");
    (started.elapsed(), status.code())
}

fn token_dir(dir: &std::path::Path) -> String {
    std::fs::write(dir.join("token"), "bench-token\n").expect("token");
    dir.join("token").display().to_string()
}

async fn latency_bound(orgs: usize, profiles: usize) {
    println!(
        "\n## 1. Latency-bound fetch: every answer after {} ms",
        LATENCY.as_millis()
    );
    let server = MockServer::start().await;
    mount_sentry(&server, orgs, LATENCY).await;
    mount_sentdm(&server, profiles, LATENCY).await;
    let dir = tempfile::tempdir().expect("tmp");
    let token = token_dir(dir.path());
    let org_list: Vec<String> = (0..orgs).map(|i| format!("\"org-{i}\"")).collect();
    println!("| source | requests | concurrency | wall | ideal | wall / ideal | speed-up vs 1 |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, requests, sequential_prefix) in [
        ("sentry", orgs * 3, 0usize),
        (
            "sentdm",
            profiles + 1 + profiles.div_ceil(100),
            profiles.div_ceil(100),
        ),
    ] {
        let mut base = None;
        for c in [1usize, 4, 8, 16] {
            let config = if name == "sentry" {
                format!(
                    "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_file = \"{token}\"\norganizations = [{}]\nconcurrency = {c}\n",
                    server.uri(),
                    org_list.join(",")
                )
            } else {
                format!(
                    "[[sources]]\ntype = \"sentdm\"\nbase_url = \"{}\"\napi_key_file = \"{token}\"\nprofiles = \"all\"\nconcurrency = {c}\nrequests_per_minute = 1000000\nburst = 100000\n",
                    server.uri()
                )
            };
            let (wall, code) = run(&config, dir.path()).await;
            assert_eq!(code, 0, "bench run must be clean");
            // Discovery pages are sequential; the scopes after them run `c` at a time. For Sentry
            // the three pages of an organization are sequential, the organizations concurrent.
            let ideal = LATENCY.mul_f64(
                sequential_prefix as f64 + (requests - sequential_prefix) as f64 / c as f64,
            );
            let speedup = base.map_or(1.0, |b: Duration| b.as_secs_f64() / wall.as_secs_f64());
            base.get_or_insert(wall);
            println!(
                "| {name} | {requests} | {c} | {:.2} s | {:.2} s | {:.2} | {:.1}× ({:.0} % of {c}×) |",
                wall.as_secs_f64(),
                ideal.as_secs_f64(),
                wall.as_secs_f64() / ideal.as_secs_f64(),
                speedup,
                100.0 * speedup / c as f64
            );
        }
    }
}

/// Sent.dm's limiter: a token bucket of `burst` refilled at `per_minute`, with its headers,
/// shared by every endpoint (as Sent.dm's is per organization).
struct Limiter {
    state: Arc<Mutex<(f64, Instant)>>,
    per_minute: f64,
    burst: f64,
    body: Value,
    served: Arc<Mutex<(usize, usize)>>,
}

impl Respond for Limiter {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let mut st = self.state.lock().expect("limiter");
        let now = Instant::now();
        let refill = now.duration_since(st.1).as_secs_f64() * self.per_minute / 60.0;
        st.0 = (st.0 + refill).min(self.burst);
        st.1 = now;
        let reset_in = ((1.0 - st.0.min(1.0)) * 60.0 / self.per_minute).max(0.0);
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
            + reset_in;
        let mut served = self.served.lock().expect("served");
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            served.0 += 1;
            ResponseTemplate::new(200)
                .set_body_json(self.body.clone())
                .insert_header(
                    "x-ratelimit-limit",
                    format!("{}", self.per_minute as u64).as_str(),
                )
                .insert_header(
                    "x-ratelimit-remaining",
                    format!("{}", st.0.floor() as u64).as_str(),
                )
                .insert_header(
                    "x-ratelimit-reset",
                    format!("{}", reset.ceil() as u64).as_str(),
                )
        } else {
            served.1 += 1;
            ResponseTemplate::new(429)
                .set_body_json(json!({"success": false, "error": {"code": "BUSINESS_002", "message": "Rate limit exceeded"}}))
                .insert_header("retry-after", format!("{}", reset_in.ceil().max(1.0) as u64).as_str())
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", format!("{}", reset.ceil() as u64).as_str())
        }
    }
}

async fn rate_limit_bound(profiles: usize, per_minute: u32) {
    let burst = per_minute / 4;
    println!(
        "\n## 2. Rate-limit-bound fetch: {per_minute} requests/minute, burst {burst}, {profiles} profiles"
    );
    let server = MockServer::start().await;
    let served = Arc::new(Mutex::new((0usize, 0usize)));
    let ids: Vec<String> = (0..profiles).map(profile_id).collect();
    let pages: Vec<Value> = ids
        .chunks(100)
        .enumerate()
        .map(|(page, chunk)| json!({"success": true, "data": {"sender_profiles": chunk.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "pagination": {"page": page + 1, "has_more": (page + 1) * 100 < profiles}}}))
        .collect();
    let limiter_state = Arc::new(Mutex::new((f64::from(burst), Instant::now())));
    for (i, body) in pages.into_iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/v3/sender-profiles"))
            .and(query_param("page", (i + 1).to_string()))
            .respond_with(Limiter {
                state: Arc::clone(&limiter_state),
                per_minute: f64::from(per_minute),
                burst: f64::from(burst),
                body,
                served: Arc::clone(&served),
            })
            .mount(&server)
            .await;
    }
    let users = json!({"success": true, "data": {"users": []}});
    Mock::given(method("GET"))
        .and(path("/v3/users"))
        .respond_with(Limiter {
            state: Arc::clone(&limiter_state),
            per_minute: f64::from(per_minute),
            burst: f64::from(burst),
            body: users,
            served: Arc::clone(&served),
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let token = token_dir(dir.path());
    let config = format!(
        "[[sources]]\ntype = \"sentdm\"\nbase_url = \"{}\"\napi_key_file = \"{token}\"\nprofiles = \"all\"\nconcurrency = 8\nrequests_per_minute = {per_minute}\nburst = {burst}\n",
        server.uri()
    );
    let (wall, code) = run(&config, dir.path()).await;
    let (ok, limited) = *served.lock().expect("served");
    let requests = profiles + 1 + profiles.div_ceil(100);
    let minimum = (requests as f64 - f64::from(burst)).max(0.0) * 60.0 / f64::from(per_minute);
    println!("| requests | wall | budget minimum | wall / minimum | 429 answers | exit |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| {requests} | {:.2} s | {minimum:.2} s | {:.3} | {limited} of {} ({:.2} %) | {code} |",
        wall.as_secs_f64(),
        wall.as_secs_f64() / minimum,
        ok + limited,
        100.0 * limited as f64 / (ok + limited) as f64
    );
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let (orgs, profiles, rl_profiles, rpm) = if quick {
        (40, 20, 100, 600)
    } else {
        (200, 100, 300, 600)
    };
    latency_bound(orgs, profiles).await;
    rate_limit_bound(rl_profiles, rpm).await;
}
