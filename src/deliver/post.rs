//! One HTTP delivery — a webhook POST, a Pushgateway PUT — with a bounded number of attempts.
//!
//! The URL is treated as a secret throughout (a Slack webhook URL *is* the credential): it is
//! never logged or put in an error, only its `scheme://host`. Nothing follows a redirect, every
//! attempt has a timeout, a 429, a 408, a 5xx or a transport failure is retried after a backoff
//! (or the server's `Retry-After`, capped), and of an answer's body at most [`BODY_HEAD`] bytes
//! are read, to quote in the error.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use url::Url;

use super::target::{DeliveryError, Target, shown_origin};

/// Bytes of an answer's body read at most (quoted in errors).
const BODY_HEAD: usize = 2048;
/// Characters of that body quoted in an error.
const QUOTED: usize = 300;

/// How often and how patiently a delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// First backoff step; doubled on each retry, with jitter.
    pub backoff_base: Duration,
    /// The longest wait before a retry, whatever a server asks for.
    pub max_wait: Duration,
    /// Each attempt's deadline, connection to last byte.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 3,
            backoff_base: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(20),
        }
    }
}

/// A URL to deliver to, with the client that may reach it. Its `Debug` shows the origin only.
#[derive(Clone)]
pub(super) struct Endpoint {
    target: Target,
    url: Url,
    shown: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("target", &self.target)
            .field("origin", &self.shown)
            .finish_non_exhaustive()
    }
}

/// A delivery that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub status: u16,
    pub attempts: u32,
}

impl Endpoint {
    pub(super) fn new(
        target: Target,
        url: Url,
        timeout: Duration,
    ) -> Result<Endpoint, DeliveryError> {
        let loopback = crate::cfg::values::is_loopback_host(&url);
        let client = crate::http::delivery_client(loopback, timeout)
            .map_err(|m| DeliveryError::new(target, m))?;
        Ok(Endpoint {
            target,
            shown: shown_origin(&url),
            url,
            client,
        })
    }

    /// `scheme://host[:port]`: what may be said of this URL.
    pub(super) fn origin(&self) -> &str {
        &self.shown
    }

    /// The URL with `path` appended (the Pushgateway's `/metrics/job/…`).
    pub(super) fn join_path(&self, path: &str) -> Endpoint {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
        Endpoint {
            url,
            ..self.clone()
        }
    }

    /// Send `body`, retrying what is worth retrying.
    pub(super) async fn send(
        &self,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
        retry: &Retry,
    ) -> Result<Accepted, DeliveryError> {
        let attempts = retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let request = self
                .client
                .request(method.clone(), self.url.clone())
                .headers(headers.clone())
                .timeout(retry.timeout)
                .body(body.clone());
            let failure = match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    return Ok(Accepted {
                        status: resp.status().as_u16(),
                        attempts: attempt,
                    });
                }
                Ok(resp) => self.refusal(resp).await,
                Err(e) => Failure {
                    message: crate::http::describe_reqwest_error(&e),
                    status: None,
                    wait: None,
                    retry: true,
                },
            };
            if last || !failure.retry {
                let tries = if attempt == 1 {
                    String::new()
                } else {
                    format!(" after {attempt} attempts")
                };
                return Err(DeliveryError::new(
                    self.target,
                    format!(
                        "{method} to {} failed{tries}: {}",
                        self.shown, failure.message
                    ),
                )
                .with_status(failure.status));
            }
            let wait = failure
                .wait
                .unwrap_or_else(|| backoff(retry.backoff_base, attempt))
                .min(retry.max_wait);
            tracing::warn!(target_name = %self.target, origin = %self.shown, attempt,
                wait_ms = wait.as_millis() as u64, error = %super::target::clean(&failure.message),
                "delivery attempt failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// What a non-2xx answer means: its status, the start of its body, and whether to retry.
    async fn refusal(&self, resp: reqwest::Response) -> Failure {
        let status = resp.status();
        if status.is_redirection() {
            return Failure {
                message: format!(
                    "the server answered HTTP {} with a redirect, which is not followed (the URL may be out of date)",
                    status.as_u16()
                ),
                status: Some(status.as_u16()),
                wait: None,
                retry: false,
            };
        }
        let wait = crate::http::server_requested_wait(status, resp.headers(), Utc::now());
        let head = body_head(resp).await;
        let quoted: String = String::from_utf8_lossy(&head)
            .chars()
            .take(QUOTED)
            .collect();
        let quoted = quoted.trim();
        Failure {
            message: if quoted.is_empty() {
                format!("HTTP {}", status.as_u16())
            } else {
                format!("HTTP {}: {quoted}", status.as_u16())
            },
            status: Some(status.as_u16()),
            wait,
            retry: retryable(status),
        }
    }
}

struct Failure {
    message: String,
    status: Option<u16>,
    wait: Option<Duration>,
    retry: bool,
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// base × 2^(attempt-1), scaled by a random 50–100 %.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.mul_f64(rand::random_range(0.5..=1.0))
}

/// At most [`BODY_HEAD`] bytes of a body; the rest is never read (the connection is dropped).
async fn body_head(mut resp: reqwest::Response) -> Bytes {
    let mut head = bytes::BytesMut::new();
    while head.len() < BODY_HEAD {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_HEAD - head.len();
                head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    head.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_retried() {
        for s in [429, 408, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 413] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_within_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let full = base * (1 << (attempt - 1));
            let got = backoff(base, attempt);
            assert!(got >= full / 2 && got <= full, "{attempt}: {got:?}");
        }
    }

    #[test]
    fn joined_paths_keep_the_base_path() {
        let url = Url::parse("https://push.example/prefix/").unwrap();
        let e = Endpoint::new(Target::Pushgateway, url, Duration::from_secs(1)).unwrap();
        assert_eq!(
            e.join_path("/metrics/job/access_audit").url.as_str(),
            "https://push.example/prefix/metrics/job/access_audit"
        );
        assert!(
            !format!("{e:?}").contains("prefix"),
            "Debug shows the origin only"
        );
    }
}
