//! Fetch benchmarks against a loopback mock (the real pipeline, in process):
//!
//! 1. Latency-bound: every answer takes 50 ms; 200 Sentry organizations of 3 pages, and a
//!    Sent.dm organization with 100 profiles (pacing lifted); no budget headers, so concurrency
//!    stays as configured. Wall time vs the ideal: the discovery pages, then the scopes `c` at a
//!    time, each scope's pages one after the other (cursors): `ceil(scopes / c) × pages × 50 ms`.
//! 2. Rate-limit-bound: the mock enforces Sent.dm's shape (N requests/minute, burst N/4,
//!    X-RateLimit-* headers, 429 BUSINESS_002 past it); 300 profiles. Wall time vs the budget's
//!    minimum, and the share of 429s.
//! 3. Sentry's limiter: 100 organizations of 3 pages at 50 ms, the mock enforcing a concurrent
//!    limit and a fixed one-second window with Sentry's headers and 429s. Default settings
//!    against a sequential client, the peak of requests in flight the server saw, the 429 share.
//! 4. Memory while fetching: the real binary, in its own process, fetches 100 and 400
//!    organizations of 3 pages at concurrency 16, with and without keeping the evidence; its
//!    peak RSS against the accounts it must hold and the bodies it read.
//!
//! cargo bench --bench fetch            (add `-- quick` for a smaller run, `-- only=1,3` for some)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param};
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

/// The three member pages every organization has, serialized once: the mock's own JSON work
/// would otherwise compete with the client for the machine's two cores.
fn member_pages() -> Vec<Vec<u8>> {
    (0..3usize)
        .map(|p| {
            let page = Value::Array((0..100).map(|i| member(p * 100 + i)).collect());
            serde_json::to_vec(&page).expect("page")
        })
        .collect()
}

/// The page a members request asks for (its cursor), and the `Link` header that answers it.
fn member_page(req: &Request) -> (usize, String) {
    let org = req.url.path().split('/').nth(4).unwrap_or("x").to_string();
    let page = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .and_then(|(_, c)| c.split(':').nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0usize)
        .min(2);
    let next = if page < 2 {
        format!("100:{}:0", page + 1)
    } else {
        "end".into()
    };
    let link = format!(
        "<https://us.sentry.io/api/0/organizations/{org}/members/?&cursor={next}>; rel=\"next\"; results=\"{}\"; cursor=\"{next}\"",
        page < 2
    );
    (page, link)
}

async fn mount_sentry(server: &MockServer, delay: Duration) {
    let pages = member_pages();
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/0/organizations/[^/]+/members/$"))
        .respond_with(move |req: &Request| {
            let (page, link) = member_page(req);
            ResponseTemplate::new(200)
                .set_body_raw(pages[page].clone(), "application/json")
                .insert_header("link", link.as_str())
                .set_delay(delay)
        })
        .mount(server)
        .await;
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

/// When the run's last source finished fetching (its `source fetched` event): the fetch alone,
/// without the rules and the report the run writes after it.
static FETCHED: Mutex<Option<Instant>> = Mutex::new(None);

struct FetchedAt;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for FetchedAt {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct IsFetched(bool);
        impl tracing::field::Visit for IsFetched {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "source fetched" {
                    self.0 = true;
                }
            }
        }
        let mut fetched = IsFetched(false);
        event.record(&mut fetched);
        if fetched.0 {
            *FETCHED.lock().expect("fetched") = Some(Instant::now());
        }
    }
}

/// Run the pipeline on `config`: the fetch's time, the whole run's, and its exit code.
async fn run_timed(config: &str, dir: &std::path::Path) -> (Duration, Duration, u8) {
    *FETCHED.lock().expect("fetched") = None;
    let started = Instant::now();
    let (wall, code) = run(config, dir).await;
    let fetched = FETCHED
        .lock()
        .expect("fetched")
        .map_or(wall, |t| t - started);
    (fetched, wall, code)
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
    mount_sentry(&server, LATENCY).await;
    mount_sentdm(&server, profiles, LATENCY).await;
    let dir = tempfile::tempdir().expect("tmp");
    let token = token_dir(dir.path());
    let org_list: Vec<String> = (0..orgs).map(|i| format!("\"org-{i}\"")).collect();
    println!(
        "| source | requests | concurrency | fetch | ideal (discovery + ceil(scopes / c) × pages, × 50 ms) | fetch / ideal | speed-up vs 1 | whole run (+ rules, report.json) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    // (source, requests, discovery pages, scopes, pages per scope)
    for (name, requests, discovery, scopes, pages) in [
        ("sentry", orgs * 3, 0usize, orgs, 3usize),
        (
            "sentdm",
            profiles + 1 + profiles.div_ceil(100),
            profiles.div_ceil(100),
            profiles + 1,
            1,
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
            let (fetch, whole, code) = run_timed(&config, dir.path()).await;
            assert_eq!(code, 0, "bench run must be clean");
            // Discovery pages are sequential; then the scopes run `c` at a time, each holding its
            // slot for all its pages (cursors are sequential): the critical path is
            // ceil(scopes / c) rounds of `pages` answers.
            let rounds = scopes.div_ceil(c) * pages;
            let ideal = LATENCY * (discovery + rounds) as u32;
            let speedup = base.map_or(1.0, |b: Duration| b.as_secs_f64() / fetch.as_secs_f64());
            base.get_or_insert(fetch);
            println!(
                "| {name} | {requests} | {c} | {:.2} s | {:.2} s | {:.2} | {:.1}× ({:.0} % of {c}×) | {:.2} s |",
                fetch.as_secs_f64(),
                ideal.as_secs_f64(),
                fetch.as_secs_f64() / ideal.as_secs_f64(),
                speedup,
                100.0 * speedup / c as f64,
                whole.as_secs_f64()
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

/// Sentry's limiter, as its middleware applies it to one caller: at most `concurrent` requests
/// in flight and `per_window` in each fixed one-second window, every answer carrying the
/// `X-Sentry-Rate-Limit-*` headers, a 429 with a bare JSON string past either limit. A request
/// is in flight from its arrival until its (delayed) answer leaves.
struct SentryLimiter {
    state: Arc<Mutex<SentryState>>,
    concurrent: usize,
    per_window: u64,
    delay: Duration,
    pages: Vec<Vec<u8>>,
}

#[derive(Default)]
struct SentryState {
    /// When each request in flight will have been answered.
    answered_at: Vec<Instant>,
    window: u64,
    used: u64,
    peak: usize,
    served: usize,
    limited: usize,
}

impl Respond for SentryLimiter {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut st = self.state.lock().expect("limiter");
        st.answered_at.retain(|t| *t > now);
        if st.window != epoch {
            st.window = epoch;
            st.used = 0;
        }
        let in_flight = st.answered_at.len() + 1;
        let reset = (epoch + 1).to_string();
        let limited = in_flight > self.concurrent || st.used >= self.per_window;
        if !limited {
            st.used += 1;
            st.answered_at.push(now + self.delay);
            st.peak = st.peak.max(in_flight);
            st.served += 1;
        } else {
            st.limited += 1;
        }
        let concurrent_remaining = self.concurrent.saturating_sub(in_flight).to_string();
        let remaining = self.per_window.saturating_sub(st.used).to_string();
        let answer = if limited {
            ResponseTemplate::new(429).set_body_raw(
                format!("\"You are attempting to use this endpoint too frequently. Limit is {} requests in 1 seconds\"", self.per_window),
                "text/html; charset=utf-8",
            )
        } else {
            let (page, link) = member_page(req);
            ResponseTemplate::new(200)
                .set_body_raw(self.pages[page].clone(), "application/json")
                .insert_header("link", link.as_str())
                .set_delay(self.delay)
        };
        answer
            .insert_header(
                "x-sentry-rate-limit-limit",
                self.per_window.to_string().as_str(),
            )
            .insert_header("x-sentry-rate-limit-remaining", remaining.as_str())
            .insert_header("x-sentry-rate-limit-reset", reset.as_str())
            .insert_header(
                "x-sentry-rate-limit-concurrentlimit",
                self.concurrent.to_string().as_str(),
            )
            .insert_header(
                "x-sentry-rate-limit-concurrentremaining",
                concurrent_remaining.as_str(),
            )
    }
}

/// One run against a fresh Sentry limiter: wall time, the peak in flight, 429s of all answers.
async fn sentry_limited(
    orgs: usize,
    concurrent: usize,
    per_window: u64,
    keys: &str,
) -> (Duration, usize, usize, usize) {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(SentryState::default()));
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/0/organizations/[^/]+/members/$"))
        .respond_with(SentryLimiter {
            state: Arc::clone(&state),
            concurrent,
            per_window,
            delay: LATENCY,
            pages: member_pages(),
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let token = token_dir(dir.path());
    let org_list: Vec<String> = (0..orgs).map(|i| format!("\"org-{i}\"")).collect();
    let config = format!(
        "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_file = \"{token}\"\norganizations = [{}]\n{keys}",
        server.uri(),
        org_list.join(",")
    );
    let (wall, code) = run(&config, dir.path()).await;
    assert_eq!(code, 0, "bench run must be clean");
    let st = state.lock().expect("limiter");
    (wall, st.peak, st.limited, st.served + st.limited)
}

async fn sentry_limiter(orgs: usize) {
    println!(
        "\n## 3. Sentry's limiter: {orgs} organizations of 3 pages, every answer after {} ms",
        LATENCY.as_millis()
    );
    let requests = orgs * 3;
    // A sequential client: one request at a time, as a script would.
    let (sequential, ..) =
        sentry_limited(orgs, 25, 1000, "concurrency = 1\nmax_concurrency = 1\n").await;
    println!(
        "sequential client (concurrency = 1, max_concurrency = 1): {:.2} s",
        sequential.as_secs_f64()
    );
    println!(
        "| server limits | settings | requests | wall | ideal at the ceiling | speed-up vs sequential | peak in flight | 429 answers |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (concurrent, per_window, keys, label) in [
        (25usize, 1000u64, "", "defaults (4, up to 16)"),
        (25, 1000, "max_concurrency = 64\n", "max_concurrency = 64"),
        (6, 1000, "", "defaults (4, up to 16)"),
        (25, 40, "", "defaults (4, up to 16)"),
    ] {
        let (wall, peak, limited, answers) =
            sentry_limited(orgs, concurrent, per_window, keys).await;
        // The best a client could do: the ceiling or the server's limit at once, whichever is
        // lower, three sequential pages each; or the window's pace, whichever is slower.
        let ceiling = if keys.is_empty() { 16 } else { 64 }.min(concurrent);
        let rounds = LATENCY * (orgs.div_ceil(ceiling) * 3) as u32;
        let paced = Duration::from_secs_f64((requests as f64 / per_window as f64 - 1.0).max(0.0));
        let ideal = rounds.max(paced);
        println!(
            "| {concurrent} at once, {per_window}/s | {label} | {requests} | {:.2} s | {:.2} s | {:.1}× | {peak} | {limited} of {answers} ({:.2} %) |",
            wall.as_secs_f64(),
            ideal.as_secs_f64(),
            sequential.as_secs_f64() / wall.as_secs_f64(),
            100.0 * limited as f64 / answers as f64
        );
    }
}

/// The binary's peak RSS (KiB) and exit code, run in its own process with `args`. It is reaped
/// by `wait4`, which also gives its own resource usage (`Child::wait` gives no RSS).
#[allow(clippy::zombie_processes)]
fn child_peak_rss(args: &[&str]) -> (u64, i32) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_access-audit"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn access-audit");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: a plain rusage struct, zeroed, filled by wait4 for the child just spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for that one child; `status` and `usage` outlive the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (u64::try_from(usage.ru_maxrss).unwrap_or(0), code)
}

async fn fetch_memory() {
    println!(
        "\n## 4. Memory while fetching: Sentry organizations of 3 pages of 100 members, concurrency 16"
    );
    let server = MockServer::start().await;
    mount_sentry(&server, Duration::from_millis(5)).await;
    let page_bytes: usize = member_pages().iter().map(Vec::len).sum();
    println!(
        "| organizations | accounts held | bodies read | evidence kept | peak RSS | peak RSS per 1,000 accounts |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for orgs in [100usize, 400] {
        for keep in [false, true] {
            let dir = tempfile::tempdir().expect("tmp");
            let token = token_dir(dir.path());
            let org_list: Vec<String> = (0..orgs).map(|i| format!("\"org-{i}\"")).collect();
            let cfg = dir.path().join("bench.toml");
            std::fs::write(
                &cfg,
                format!(
                    "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_file = \"{token}\"\norganizations = [{}]\nconcurrency = 16\n",
                    server.uri(),
                    org_list.join(",")
                ),
            )
            .expect("config");
            let out = dir.path().join("out").display().to_string();
            let evidence = dir.path().join("evidence").display().to_string();
            let cfg = cfg.display().to_string();
            let mut args = vec![
                "-qq",
                "--config",
                &cfg,
                "run",
                "--as-of",
                "2026-11-20T00:00:00Z",
            ];
            args.extend(["--out", &out, "--format", "json"]);
            if keep {
                args.extend(["--evidence", &evidence]);
            }
            let args: Vec<String> = args.into_iter().map(str::to_string).collect();
            let (rss_kb, code) = tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                child_peak_rss(&args)
            })
            .await
            .expect("child");
            assert_eq!(code, 0, "bench run must be clean");
            let accounts = orgs * 300;
            println!(
                "| {orgs} | {accounts} | {:.0} MB | {} | {:.0} MB | {:.2} MB |",
                (orgs * page_bytes) as f64 / 1e6,
                if keep { "yes" } else { "no" },
                rss_kb as f64 / 1024.0,
                rss_kb as f64 / 1024.0 / (accounts as f64 / 1000.0)
            );
        }
    }
}

#[tokio::main]
async fn main() {
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(FetchedAt.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .init();
    let quick = std::env::args().any(|a| a == "quick");
    let (orgs, profiles, rl_profiles, rpm, limited_orgs) = if quick {
        (40, 20, 100, 600, 40)
    } else {
        (200, 100, 300, 600, 100)
    };
    let only = std::env::args().find_map(|a| a.strip_prefix("only=").map(str::to_string));
    let wanted = |n: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == n));
    if wanted("1") {
        latency_bound(orgs, profiles).await;
    }
    if wanted("2") {
        rate_limit_bound(rl_profiles, rpm).await;
    }
    if wanted("3") {
        sentry_limiter(limited_orgs).await;
    }
    if wanted("4") {
        fetch_memory().await;
    }
}
