//! The one HTTP client every source uses: timeouts, retries with backoff and jitter, the
//! servers' rate-limit headers, and client-side pacing.
//!
//! It knows nothing of the APIs' bodies beyond "is this JSON?": it returns the final answer
//! (a status and the raw body), and the source modules decide what that answer means.
//!
//! Here: what a source may ask of it ([`FetchSettings`]), what it gives ([`Answer`],
//! [`NoAnswer`]) and the attempt loop ([`SourceClient::get`]). `client.rs` builds the `reqwest`
//! clients and their redirect policy (delivery targets use it too), `retry.rs` decides when to
//! try again and how long to wait, `window.rs` counts the server's rate-limit windows,
//! `adapt.rs` adapts the concurrency, `body.rs` reads an answer within its cap.

mod adapt;
mod body;
mod client;
mod mutation;
mod retry;
mod window;

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

pub(crate) use adapt::ConcurrencyLimit;
pub(crate) use body::{from_json_lossy, text_lossy};
use body::{header_str, link_header, read_capped};
pub(crate) use client::{delivery_client, delivery_client_builder};
pub(crate) use mutation::{MutationAnswer, MutationRequest, NotAnswered};
use retry::retry_reason;
pub(crate) use retry::{BACKOFF_BASE, server_requested_wait};

/// How hard a source may be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// Scopes fetched at once to begin with, and throughout when the server sends no budget
    /// headers.
    pub concurrency: usize,
    /// The most scopes fetched at once, however much room the server's headers announce.
    pub max_concurrency: usize,
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
pub(crate) const DEFAULT_MAX_RESPONSE_MB: u32 = 32;

/// What a source gets unless its API asks for something else (`Source::fetch_defaults`) or the
/// config overrides it: a few scopes at a time, more while the server's budget headers say there
/// is room (up to 16: Sentry's example concurrent limit is 25, and others share it), paced by
/// what those headers say.
impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            concurrency: 4,
            max_concurrency: 16,
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
    /// Set when a server answers 429 ("no more until …"); every task of the source waits.
    paused_until: Arc<Mutex<Option<Instant>>>,
    backoff_base: Duration,
    /// How many scopes run at once, adapted to what the server's headers say.
    concurrency: Arc<ConcurrencyLimit>,
    /// What the server's rate-limit windows have left for us, and when they reset.
    window: window::WindowBudget,
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
        let client = client::source_client(settings.request_timeout, &base, true)?;
        let limiter = settings
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|rpm| {
                let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
                RateLimiter::direct(Quota::per_minute(rpm).allow_burst(burst))
            });
        let concurrency = Arc::new(ConcurrencyLimit::new(
            settings.concurrency,
            settings.max_concurrency,
        ));
        let max_retry_wait = settings.max_retry_wait;
        Ok(SourceClient {
            client,
            concurrency,
            settings,
            auth,
            limiter,
            window: window::WindowBudget::new(max_retry_wait),
            paused_until: Arc::new(Mutex::new(None)),
            backoff_base: BACKOFF_BASE,
            base,
        })
    }

    /// The same client, following no redirect at all: for changes (remediation), which must
    /// reach the URL that was planned or nothing.
    pub(crate) fn without_redirects(mut self) -> Result<SourceClient, String> {
        self.client = client::source_client(self.settings.request_timeout, &self.base, false)?;
        Ok(self)
    }

    /// Shorter backoff, for tests that exercise many retries.
    pub fn with_backoff_base(mut self, base: Duration) -> SourceClient {
        self.backoff_base = base;
        self
    }

    /// The limit the source's scopes take turns under.
    pub(crate) fn scope_limit(&self) -> Arc<ConcurrencyLimit> {
        Arc::clone(&self.concurrency)
    }

    /// How many requests waited for a spent rate-limit window, and how long in all.
    pub(crate) fn window_waits(&self) -> (u64, Duration) {
        self.window.waited()
    }

    /// GET `url`, retrying what is worth retrying. `endpoint` names the API endpoint (the
    /// server's rate-limit window may be per endpoint). `expect_json`: a 2xx whose body is not
    /// JSON (truncated, an HTML error page from a proxy) is retried too.
    pub async fn get(
        &self,
        endpoint: &'static str,
        url: &Url,
        extra: &[(HeaderName, HeaderValue)],
        expect_json: bool,
    ) -> Result<Answer, NoAnswer> {
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ticket = self.wait_turn(endpoint).await;
            let mut req = self.client.get(url.clone()).headers(self.auth.clone());
            for (k, v) in extra {
                req = req.header(k, v);
            }
            let (in_flight, sent) = self.concurrency.sending();
            let outcome = self.attempt(req).await;
            drop(in_flight);
            if let Ok((status, headers, _)) = &outcome {
                self.note_rate_limit_headers(*status, headers, &ticket);
            }
            // Answered (or failed): it can spend no more of a window, whatever waits follow.
            drop(ticket);
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
                    let paced = self.limiter.is_some();
                    self.concurrency.observe(status, &headers, sent, paced);
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
            return Err(Failed::last(client::refused_redirect(
                &self.base,
                status,
                resp.headers(),
            )));
        }
        let headers = resp.headers().clone();
        let body = read_capped(resp, self.settings.max_response_bytes).await?;
        Ok((status, headers, body))
    }
}

/// A transport error in words, with its cause chain (reqwest's top line alone says little).
/// The request URL is left out: for a webhook it is itself a secret.
pub(crate) fn describe_reqwest_error(e: &reqwest::Error) -> String {
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
