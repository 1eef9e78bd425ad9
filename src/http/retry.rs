//! When to try again and how long to wait: exponential backoff with jitter, the wait a server
//! asks for (`Retry-After`, rate-limit reset headers), client-side pacing, and holding every
//! request of a source while its rate-limit window is spent (`window.rs` counts it).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::SourceClient;
use super::body::{from_json_lossy, header_epoch, header_str};
use super::window::Ticket;

/// First backoff step; doubled on each retry.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(500);

impl SourceClient {
    /// Wait until the source may send: after a pause a server asked for, for the pacing, and
    /// for room in the server's rate-limit window.
    /// `endpoint` names the window the request counts against (Sentry keeps one per endpoint).
    pub(super) async fn wait_turn(&self, endpoint: &'static str) -> Ticket<'_> {
        loop {
            self.wait_for_pause().await;
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            let ticket = self.window.take(endpoint).await;
            // A 429 may have paused the source while this request waited for its window: it
            // would be sent into a later window than the one it was counted in.
            if !self.is_paused().await {
                return ticket;
            }
        }
    }

    async fn is_paused(&self) -> bool {
        self.paused_until
            .lock()
            .await
            .is_some_and(|until| until > Instant::now())
    }

    async fn wait_for_pause(&self) {
        let until = *self.paused_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Hold every request of the source for `wait` (never shortening a longer pause).
    pub(super) async fn pause_all(&self, wait: Duration) {
        // A server-controlled wait must not overflow the clock.
        let until = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + self.settings.max_retry_wait);
        let mut guard = self.paused_until.lock().await;
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }

    /// Count what the answer says the server's window has left. With client-side pacing
    /// (Sent.dm) the pacer already spends the budget evenly, and a token bucket's Remaining
    /// sits near zero by design; 429s are handled on their own.
    pub(super) fn note_rate_limit_headers(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        ticket: &Ticket<'_>,
    ) {
        if self.limiter.is_none() {
            self.window.observe(status, headers, ticket);
        }
    }

    /// Exponential backoff with jitter: base × 2^(attempt-1), scaled by a random 50–100 %.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let jitter = rand::random_range(0.5..=1.0);
        exp.mul_f64(jitter).min(self.settings.max_retry_wait)
    }
}

/// Why an answer should be retried, or `None` if it is final.
pub(super) fn retry_reason(
    status: StatusCode,
    body: &[u8],
    expect_json: bool,
) -> Option<&'static str> {
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

/// The wait a server asked for: `Retry-After` (seconds or an HTTP date), else the rate-limit
/// reset headers on a 429 (Sentry sends no Retry-After, only `X-Sentry-Rate-Limit-Reset`).
pub(crate) fn server_requested_wait(
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
    let reset = header_epoch(headers, "x-sentry-rate-limit-reset")
        .or_else(|| header_epoch(headers, "x-ratelimit-reset"))?;
    let reset = DateTime::<Utc>::from_timestamp(i64::try_from(reset).ok()?, 0)?;
    let wait = (reset - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.saturating_add(Duration::from_millis(250)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

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
        // A fractional reset is rounded up: the wait never ends before it.
        let h = headers(&[("x-ratelimit-reset", &format!("{}.3", epoch - 1))]);
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
