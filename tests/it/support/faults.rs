//! A loopback HTTP/1.1 server that answers from canned routes and, on demand, misbehaves the
//! ways real APIs and networks do: rate limits, 5xx with JSON or HTML, dropped connections,
//! truncated bodies, answers slower than the client's timeout.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `Retry-After: n`, Sent.dm's BUSINESS_002 envelope and `X-RateLimit-Reset`.
    RateLimitedRetryAfter(u64),
    /// Sentry's limiter: 429, a bare JSON string body, no Retry-After, `X-Sentry-Rate-Limit-Reset`.
    SentryRateLimited,
    /// A status with a body of the given content type.
    Status(u16, &'static str, &'static str),
    /// Close the connection without answering.
    Drop,
    /// 200 with the clean body cut in half (a complete HTTP message whose JSON does not parse).
    Truncated,
    /// 200 announcing the whole body, sending half, closing.
    CloseMidBody,
    /// Answer cleanly, but only after this long.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub path: String,
    /// Query pairs, sorted.
    pub query: Vec<(String, String)>,
    /// `Some(None)`: must not carry x-profile-id; `Some(Some(id))`: must carry it; `None`: either.
    pub profile: Option<Option<String>>,
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub faults: VecDeque<Fault>,
}

/// Sentry's concurrent limit, enforced: a request that arrives while `enforced` are in flight is
/// answered 429 at once; every other answer is delayed by `delay` and says `announced` in
/// `X-Sentry-Rate-Limit-ConcurrentLimit` (a server may announce more than it enforces, as a
/// shared limit does when another caller takes its share).
#[derive(Debug)]
pub struct Concurrent {
    pub enforced: usize,
    pub announced: usize,
    pub delay: Duration,
    in_flight: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
    limited: std::sync::atomic::AtomicUsize,
}

impl Concurrent {
    pub fn new(enforced: usize, announced: usize, delay: Duration) -> Concurrent {
        Concurrent {
            enforced,
            announced,
            delay,
            in_flight: Default::default(),
            peak: Default::default(),
            limited: Default::default(),
        }
    }

    /// The most requests that were in flight at once (429s not counted).
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests answered 429 for exceeding the enforced limit.
    pub fn limited(&self) -> usize {
        self.limited.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub struct FaultServer {
    pub uri: String,
    routes: Arc<Mutex<Vec<Route>>>,
    concurrent: Option<Arc<Concurrent>>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    pub async fn start(routes: Vec<Route>) -> FaultServer {
        FaultServer::start_with(routes, None).await
    }

    /// A server that also enforces and announces a concurrent limit.
    pub async fn start_limited(routes: Vec<Route>, concurrent: Concurrent) -> FaultServer {
        FaultServer::start_with(routes, Some(Arc::new(concurrent))).await
    }

    async fn start_with(routes: Vec<Route>, concurrent: Option<Arc<Concurrent>>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let uri = format!("http://{}", listener.local_addr().expect("addr"));
        let routes = Arc::new(Mutex::new(routes));
        let shared = Arc::clone(&routes);
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let limit = concurrent.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let routes = Arc::clone(&shared);
                let limit = limit.clone();
                tokio::spawn(async move {
                    let _ = handle(conn, routes, limit).await;
                });
            }
        });
        FaultServer {
            uri,
            routes,
            concurrent,
            hits,
            task,
        }
    }

    /// The concurrent limit it enforces, if any, with what it saw.
    pub fn concurrent(&self) -> Option<&Concurrent> {
        self.concurrent.as_deref()
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Faults not thrown yet, per route path and query: empty when every fault was exercised.
    pub fn unthrown(&self) -> Vec<String> {
        let routes = self.routes.lock().expect("routes");
        routes
            .iter()
            .filter(|r| !r.faults.is_empty())
            .map(|r| format!("{}?{:?}: {:?}", r.path, r.query, r.faults))
            .collect()
    }
}

async fn handle(
    mut conn: TcpStream,
    routes: Arc<Mutex<Vec<Route>>>,
    limit: Option<Arc<Concurrent>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let profile = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("x-profile-id"))
        .map(|(_, v)| v.trim().to_string());
    let url = url::Url::parse(&format!("http://x{target}")).expect("target");
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    query.sort();

    let (route, fault) = {
        let mut routes = routes.lock().expect("routes");
        match routes.iter_mut().find(|r| {
            r.path == url.path()
                && r.query == query
                && match &r.profile {
                    None => true,
                    Some(expected) => *expected == profile,
                }
        }) {
            Some(r) => {
                let fault = r.faults.pop_front();
                (Some(r.clone()), fault)
            }
            None => (None, None),
        }
    };
    let Some(route) = route else {
        return respond(
            &mut conn,
            404,
            &[("content-type", "application/json")],
            b"{\"detail\":\"no such route in the test server\"}",
        )
        .await;
    };
    if let Some(limit) = limit {
        return answer_within(&mut conn, &route, &limit).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let headers: Vec<(&str, &str)> = route
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match fault {
        None => respond(&mut conn, route.status, &headers, &route.body).await,
        Some(Fault::RateLimitedRetryAfter(secs)) => {
            let reset = (now + secs).to_string();
            let body = br#"{"success":false,"data":null,"error":{"code":"BUSINESS_002","message":"Rate limit exceeded","details":null,"doc_url":null},"meta":{"request_id":"req_limited"}}"#;
            respond(
                &mut conn,
                429,
                &[
                    ("content-type", "application/json"),
                    ("retry-after", &secs.to_string()),
                    ("x-ratelimit-limit", "200"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset),
                ],
                body,
            )
            .await
        }
        Some(Fault::SentryRateLimited) => {
            let reset = (now + 1).to_string();
            respond(
                &mut conn,
                429,
                &[("content-type", "text/html; charset=utf-8"), ("x-sentry-rate-limit-limit", "40"), ("x-sentry-rate-limit-remaining", "0"), ("x-sentry-rate-limit-reset", &reset)],
                b"\"You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds\"",
            )
            .await
        }
        Some(Fault::Status(status, content_type, body)) => {
            respond(
                &mut conn,
                status,
                &[("content-type", content_type)],
                body.as_bytes(),
            )
            .await
        }
        Some(Fault::Drop) => Ok(()),
        Some(Fault::Truncated) => {
            let half = &route.body[..route.body.len() / 2];
            respond(&mut conn, 200, &headers, half).await
        }
        Some(Fault::CloseMidBody) => {
            let mut head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n",
                route.body.len()
            );
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            conn.write_all(head.as_bytes()).await?;
            conn.write_all(&route.body[..route.body.len() / 2]).await?;
            conn.flush().await
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            respond(&mut conn, route.status, &headers, &route.body).await
        }
    }
}

/// Answer `route` as a server enforcing `limit` does: 429 past it, else after the delay, with
/// the concurrent headers either way. In flight from arrival until the answer is written.
async fn answer_within(
    conn: &mut TcpStream,
    route: &Route,
    limit: &Concurrent,
) -> std::io::Result<()> {
    use std::sync::atomic::Ordering::SeqCst;
    let n = limit.in_flight.fetch_add(1, SeqCst) + 1;
    let remaining = limit.announced.saturating_sub(n).to_string();
    let announced = limit.announced.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("x-sentry-rate-limit-concurrentlimit", &announced),
        ("x-sentry-rate-limit-concurrentremaining", &remaining),
    ];
    let result = if n > limit.enforced {
        limit.limited.fetch_add(1, SeqCst);
        headers.push(("content-type", "text/html; charset=utf-8"));
        respond(
            conn,
            429,
            &headers,
            b"\"You are attempting to use this endpoint too frequently\"",
        )
        .await
    } else {
        limit.peak.fetch_max(n, SeqCst);
        tokio::time::sleep(limit.delay).await;
        headers.extend(route.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        respond(conn, route.status, &headers, &route.body).await
    };
    limit.in_flight.fetch_sub(1, SeqCst);
    result
}

async fn respond(
    conn: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.flush().await
}

/// Routes that answer exactly what an evidence archive recorded.
pub fn archive_routes(dir: &Path) -> Vec<Route> {
    let manifest = super::common::read_json(&dir.join("manifest.json"));
    let bases: Vec<(String, String)> = manifest["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["base_url"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut routes = Vec::new();
    for r in manifest["responses"].as_array().expect("responses") {
        let Some(file) = r["file"].as_str() else {
            continue;
        };
        let source = r["source_name"].as_str().unwrap_or_default();
        let base = &bases.iter().find(|(n, _)| n == source).expect("source").1;
        let rel = r["url"]
            .as_str()
            .unwrap_or_default()
            .strip_prefix(base.as_str())
            .expect("url under base")
            .to_string();
        let url = url::Url::parse(&format!("http://x{rel}")).expect("url");
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        query.sort();
        let scope = r["scope"].as_str().unwrap_or_default();
        let profile = (r["endpoint"] == "sentdm.users")
            .then(|| (scope != "organization").then(|| scope.to_string()));
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(link) = r["link"].as_str() {
            headers.push(("link".into(), link.into()));
        }
        if let Some(id) = r["request_id"].as_str() {
            headers.push(("x-request-id".into(), id.into()));
        }
        routes.push(Route {
            path: url.path().to_string(),
            query,
            profile,
            status: r["status"].as_u64().unwrap_or(500) as u16,
            body: std::fs::read(dir.join(file)).expect("body"),
            headers,
            faults: VecDeque::new(),
        });
    }
    routes
}
