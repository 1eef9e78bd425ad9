//! The one HTTP client every source uses: timeouts, retries with backoff and jitter, the
//! servers' rate-limit headers, and client-side pacing.
//!
//! It knows nothing of the APIs' bodies beyond "is this JSON?": it returns the final answer
//! (a status and the raw body), and the source modules decide what that answer means.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

/// First backoff step; doubled on each retry.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Same-origin redirects followed before giving up; cross-origin ones are never followed.
const MAX_REDIRECTS: usize = 3;

/// How hard a source may be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// Scopes fetched at once.
    pub concurrency: usize,
    /// Client-side pacing; `None` = only what the server's headers ask for.
    pub requests_per_minute: Option<u32>,
    pub burst: u32,
    pub request_timeout: Duration,
    /// Attempts per request, first one included.
    pub max_attempts: u32,
    /// The longest single wait before a retry, whatever a server asks for.
    pub max_retry_wait: Duration,
    /// The largest answer body read; a larger one fails the scope.
    pub max_response_bytes: u64,
}

/// Default cap on one answer's body. A Sentry page of 100 members is ~100 KB and a Sent.dm
/// user list of 10,000 users ~5 MB; 32 MiB leaves room without letting a server fill memory.
pub const DEFAULT_MAX_RESPONSE_MB: u32 = 32;

/// What a source gets unless its API asks for something else (`Source::fetch_defaults`) or the
/// config overrides it: a few scopes at a time, paced by what the server's headers say.
impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            concurrency: 4,
            requests_per_minute: None,
            burst: 1,
            request_timeout: Duration::from_secs(30),
            max_attempts: 5,
            max_retry_wait: Duration::from_secs(60),
            max_response_bytes: u64::from(DEFAULT_MAX_RESPONSE_MB) << 20,
        }
    }
}

/// A final answer from a server.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// The `Link` response header (Sentry pagination).
    pub link: Option<String>,
    /// `X-Request-Id`, when the server sent one.
    pub request_id: Option<String>,
    pub fetched_at: DateTime<Utc>,
    /// How many attempts were retried before this answer.
    pub retries: u32,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// No usable answer came: the connection failed or timed out on every attempt, or the one
/// answer cannot be used (too large, a redirect to another origin).
#[derive(Debug, Clone)]
pub struct NoAnswer {
    pub message: String,
    pub attempts: u32,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.attempts {
            0 | 1 => f.write_str(&self.message),
            n => write!(f, "{} (after {n} attempts)", self.message),
        }
    }
}

impl std::error::Error for NoAnswer {}

/// Why one attempt gave no usable answer, and whether another attempt may fare better.
struct Failed {
    message: String,
    retry: bool,
}

impl Failed {
    fn retry(message: String) -> Failed {
        Failed {
            message,
            retry: true,
        }
    }

    fn last(message: String) -> Failed {
        Failed {
            message,
            retry: false,
        }
    }
}

/// A client bound to one source: its pacing, its retry budget, its credentials.
pub struct SourceClient {
    client: reqwest::Client,
    settings: FetchSettings,
    auth: HeaderMap,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Set when a server says "no more until …" (rate-limit reset); every task of the source waits.
    paused_until: Arc<Mutex<Option<Instant>>>,
    backoff_base: Duration,
    /// The configured `base_url`: the one origin that receives the credentials.
    base: Url,
}

impl SourceClient {
    /// `auth` holds the credential headers; they are marked sensitive so no debug output shows
    /// them, and they go to `base_url`'s origin only: a redirect elsewhere is not followed, and
    /// a loopback `base_url` never goes through a proxy (it would see the credentials in clear).
    pub fn new(
        settings: FetchSettings,
        mut auth: HeaderMap,
        base_url: &str,
    ) -> Result<SourceClient, String> {
        for value in auth.values_mut() {
            value.set_sensitive(true);
        }
        let base = Url::parse(base_url).map_err(|e| format!("bad base URL {base_url}: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("access-audit/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
            .redirect(same_origin_redirects());
        if crate::cfg::values::is_loopback_host(&base) {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let limiter = settings
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|rpm| {
                let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
                RateLimiter::direct(Quota::per_minute(rpm).allow_burst(burst))
            });
        Ok(SourceClient {
            client,
            settings,
            auth,
            limiter,
            paused_until: Arc::new(Mutex::new(None)),
            backoff_base: BACKOFF_BASE,
            base,
        })
    }

    /// Shorter backoff, for tests that exercise many retries.
    pub fn with_backoff_base(mut self, base: Duration) -> SourceClient {
        self.backoff_base = base;
        self
    }

    /// GET `url`, retrying what is worth retrying. `expect_json`: a 2xx whose body is not JSON
    /// (truncated, an HTML error page from a proxy) is retried too.
    pub async fn get(
        &self,
        url: &Url,
        extra: &[(HeaderName, HeaderValue)],
        expect_json: bool,
    ) -> Result<Answer, NoAnswer> {
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_turn().await;
            let mut req = self.client.get(url.clone()).headers(self.auth.clone());
            for (k, v) in extra {
                req = req.header(k, v);
            }
            let outcome = self.attempt(req).await;
            let last = attempt >= max_attempts;
            match outcome {
                Err(failed) => {
                    if last || !failed.retry {
                        return Err(NoAnswer {
                            message: failed.message,
                            attempts: attempt,
                        });
                    }
                    let wait = self.backoff(attempt);
                    tracing::warn!(url = %url, attempt, wait_ms = wait.as_millis() as u64, error = %failed.message, "request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Ok((status, headers, body)) => {
                    self.note_rate_limit_headers(&headers).await;
                    let retry_reason = retry_reason(status, &body, expect_json);
                    if let (Some(reason), false) = (retry_reason, last) {
                        let wait = server_requested_wait(status, &headers, Utc::now())
                            .unwrap_or_else(|| self.backoff(attempt))
                            .min(self.settings.max_retry_wait);
                        if status == StatusCode::TOO_MANY_REQUESTS {
                            self.pause_all(wait).await;
                        }
                        tracing::warn!(url = %url, status = status.as_u16(), attempt, wait_ms = wait.as_millis() as u64, reason, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Ok(Answer {
                        status: status.as_u16(),
                        link: link_header(&headers),
                        request_id: header_str(&headers, "x-request-id"),
                        body,
                        fetched_at: Utc::now(),
                        retries: attempt - 1,
                    });
                }
            }
        }
    }

    /// One request and its whole body, within the body cap; a redirect that was not followed
    /// (to another origin) is no usable answer.
    async fn attempt(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Failed> {
        let resp = req
            .send()
            .await
            .map_err(|e| Failed::retry(describe_reqwest_error(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(Failed::last(self.refused_redirect(status, resp.headers())));
        }
        let headers = resp.headers().clone();
        let body = read_capped(resp, self.settings.max_response_bytes).await?;
        Ok((status, headers, body))
    }

    fn refused_redirect(&self, status: StatusCode, headers: &HeaderMap) -> String {
        let location = header_str(headers, "location")
            .map(|l| shown_location(&self.base, &l))
            .unwrap_or_else(|| "nowhere (no Location header)".into());
        format!(
            "the server answered HTTP {} redirecting to {location}; access-audit sends credentials only to the \
             configured base_url ({}) and follows no redirect to another origin: if the API has moved, set \
             base_url to its new address",
            status.as_u16(),
            self.base.origin().ascii_serialization()
        )
    }

    async fn wait_turn(&self) {
        let until = *self.paused_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    async fn pause_all(&self, wait: Duration) {
        // A server-controlled wait must not overflow the clock.
        let until = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + self.settings.max_retry_wait);
        let mut guard = self.paused_until.lock().await;
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }

    /// When a server says the window is (nearly) spent, hold every request until it resets.
    async fn note_rate_limit_headers(&self, headers: &HeaderMap) {
        // With client-side pacing (Sent.dm) the limiter already spends the budget evenly, and a
        // token bucket's Remaining sits near zero by design; 429s are handled on their own.
        if self.limiter.is_some() {
            return;
        }
        let Some(remaining) = header_u64(headers, "x-sentry-rate-limit-remaining")
            .or_else(|| header_u64(headers, "x-ratelimit-remaining"))
        else {
            return;
        };
        let Some(until_reset) = reset_wait(headers, Utc::now()) else {
            return;
        };
        if let Some(wait) = slowdown(remaining, self.settings.concurrency, until_reset) {
            self.pause_all(wait.min(self.settings.max_retry_wait)).await;
        }
    }

    /// Exponential backoff with jitter: base × 2^(attempt-1), scaled by a random 50–100 %.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let jitter = rand::random_range(0.5..=1.0);
        exp.mul_f64(jitter).min(self.settings.max_retry_wait)
    }
}

/// How long to hold a source's requests given what the window has left: nothing while plenty
/// remains; the rest of the window when it is spent; and when fewer requests remain than run at
/// once, the window's remaining time spread over them, so the budget lasts until the reset.
fn slowdown(remaining: u64, concurrency: usize, until_reset: Duration) -> Option<Duration> {
    match remaining {
        0 => Some(until_reset),
        r if r <= concurrency as u64 => Some(until_reset / (r as u32 + 1)),
        _ => None,
    }
}

/// Why an answer should be retried, or `None` if it is final.
fn retry_reason(status: StatusCode, body: &[u8], expect_json: bool) -> Option<&'static str> {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some("rate limited");
    }
    if status == StatusCode::REQUEST_TIMEOUT {
        return Some("request timeout");
    }
    if status.is_server_error() {
        return Some("server error");
    }
    if status.is_success() && expect_json && from_json_lossy::<serde::de::IgnoredAny>(body).is_err()
    {
        return Some("body is not valid JSON");
    }
    None
}

/// Parse JSON; if the bytes are not valid UTF-8 (a name mangled somewhere upstream), read them
/// with invalid sequences replaced by U+FFFD rather than losing the whole page.
pub fn from_json_lossy<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, serde_json::Error> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) if std::str::from_utf8(body).is_ok() => Err(e),
        Err(_) => serde_json::from_str(&String::from_utf8_lossy(body)),
    }
}

/// The wait a server asked for: `Retry-After` (seconds or an HTTP date), else the rate-limit
/// reset headers on a 429 (Sentry sends no Retry-After, only `X-Sentry-Rate-Limit-Reset`).
pub fn server_requested_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if let Some(raw) = header_str(headers, "retry-after") {
        if let Ok(secs) = raw.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(when) = DateTime::parse_from_rfc2822(raw.trim()) {
            return Some(
                (when.with_timezone(&Utc) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return reset_wait(headers, now);
    }
    None
}

/// Time until the rate-limit window resets, from `X-Sentry-Rate-Limit-Reset` or `X-RateLimit-Reset`
/// (epoch seconds), plus a little so we arrive after the reset rather than on it.
fn reset_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let reset = header_u64(headers, "x-sentry-rate-limit-reset")
        .or_else(|| header_u64(headers, "x-ratelimit-reset"))?;
    let reset = DateTime::<Utc>::from_timestamp(i64::try_from(reset).ok()?, 0)?;
    let wait = (reset - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.saturating_add(Duration::from_millis(250)))
}

/// A client for one delivery target (a webhook, a Pushgateway, an object store): nothing
/// follows a redirect (the URL itself may be the credential, and an answer from elsewhere is
/// no delivery), every request has `timeout`, and a loopback target never goes through a
/// proxy, which would see the request in clear.
pub fn delivery_client(loopback: bool, timeout: Duration) -> Result<reqwest::Client, String> {
    delivery_client_builder(loopback, timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// [`delivery_client`] before it is built, for a caller that adds its own settings.
pub fn delivery_client_builder(loopback: bool, timeout: Duration) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("access-audit/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none());
    if loopback {
        builder.no_proxy()
    } else {
        builder
    }
}

/// Follow a redirect only within the origin of the first request: the credential headers are
/// on every request of the chain, and an answer from elsewhere is not this scope's population.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// A `Location` as it may be shown: resolved against the base, without user-info, query or
/// fragment (they can carry tokens), and with control characters escaped.
fn shown_location(base: &Url, location: &str) -> String {
    match base.join(location) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => format!("{:?}", location.chars().take(200).collect::<String>()),
    }
}

/// Read a body, but no more than `max` bytes: a server cannot make us hold more, whatever it
/// announces or streams.
async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Bytes, Failed> {
    let too_large = |got: u64| {
        Failed::last(format!(
            "the answer is larger than the {} MiB allowed ({got} bytes or more); raise the source's \
             max_response_mb if such answers are genuine",
            max / (1024 * 1024)
        ))
    };
    if let Some(announced) = resp.content_length().filter(|n| *n > max) {
        return Err(too_large(announced));
    }
    let capacity = resp.content_length().unwrap_or(0).min(1 << 20) as usize;
    let mut body = bytes::BytesMut::with_capacity(capacity);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Failed::retry(describe_reqwest_error(&e)))?
    {
        let total = (body.len() + chunk.len()) as u64;
        if total > max {
            return Err(too_large(total));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Every `Link` header line, joined: RFC 9110 lets a server split one field over several lines,
/// and reading only the first would end pagination early.
fn link_header(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map(|f| f as u64)
}

/// A transport error in words, with its cause chain (reqwest's top line alone says little).
/// The request URL is left out: for a webhook it is itself a secret.
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    let mut seen = Vec::new();
    while let Some(s) = source {
        let text = s.to_string();
        if !seen.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
            seen.push(text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            server_requested_wait(StatusCode::TOO_MANY_REQUESTS, &h, now),
            Some(Duration::from_secs(7))
        );
        let h = headers(&[("retry-after", "Sun, 01 Nov 2026 00:00:03 GMT")]);
        assert_eq!(
            server_requested_wait(StatusCode::SERVICE_UNAVAILABLE, &h, now),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn sentry_and_sentdm_reset_headers_on_429_only() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let epoch = now.timestamp() + 2;
        let h = headers(&[("x-sentry-rate-limit-reset", &epoch.to_string())]);
        assert_eq!(
            server_requested_wait(StatusCode::TOO_MANY_REQUESTS, &h, now),
            Some(Duration::from_millis(2250))
        );
        assert_eq!(
            server_requested_wait(StatusCode::BAD_GATEWAY, &h, now),
            None
        );
        let h = headers(&[("x-ratelimit-reset", &epoch.to_string())]);
        assert_eq!(
            server_requested_wait(StatusCode::TOO_MANY_REQUESTS, &h, now),
            Some(Duration::from_millis(2250))
        );
        // A reset in the past means "now".
        let h = headers(&[("x-ratelimit-reset", "1")]);
        assert_eq!(
            server_requested_wait(StatusCode::TOO_MANY_REQUESTS, &h, now),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn slowdown_spreads_what_is_left_of_the_window() {
        let w = Duration::from_secs(10);
        assert_eq!(slowdown(100, 4, w), None);
        assert_eq!(slowdown(5, 4, w), None);
        assert_eq!(slowdown(4, 4, w), Some(Duration::from_secs(2)));
        assert_eq!(slowdown(1, 4, w), Some(Duration::from_secs(5)));
        assert_eq!(slowdown(0, 4, w), Some(w));
    }

    #[test]
    fn what_is_retried() {
        assert!(retry_reason(StatusCode::TOO_MANY_REQUESTS, b"\"slow down\"", true).is_some());
        assert!(retry_reason(StatusCode::BAD_GATEWAY, b"<html>", true).is_some());
        assert!(retry_reason(StatusCode::REQUEST_TIMEOUT, b"", true).is_some());
        assert!(retry_reason(StatusCode::OK, b"[{\"id\":", true).is_some());
        assert!(retry_reason(StatusCode::OK, b"[]", true).is_none());
        for final_status in [
            StatusCode::FORBIDDEN,
            StatusCode::UNAUTHORIZED,
            StatusCode::NOT_FOUND,
            StatusCode::BAD_REQUEST,
        ] {
            assert!(
                retry_reason(final_status, b"{}", true).is_none(),
                "{final_status}"
            );
        }
    }
}
