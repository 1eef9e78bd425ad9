//! When to try again and how long to wait: exponential backoff with jitter, the wait a server
//! asks for (`Retry-After`, rate-limit reset headers), client-side pacing, and holding every
//! request of a source while its rate-limit window is spent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::SourceClient;
use super::adapt::Sent;
use super::body::{from_json_lossy, header_str, header_u64};

/// First backoff step; doubled on each retry.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(500);

impl SourceClient {
    /// Wait until the source may send: after a pause a server asked for, then for the pacing.
    pub(super) async fn wait_turn(&self) {
        let until = *self.paused_until.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
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

    /// When a server says the window is (nearly) spent, hold every request until it resets.
    pub(super) async fn note_rate_limit_headers(&self, headers: &HeaderMap, sent: Sent) {
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
        // Our requests sent after this one and still in flight will each spend one of what is
        // left: the window's last requests were overshooting it, sent before the answers
        // saying it was spent came back.
        let left = remaining.saturating_sub(self.concurrency.sent_after(sent));
        if let Some(wait) = slowdown(left, self.concurrency.current(), until_reset) {
            self.pause_all(wait.min(self.settings.max_retry_wait)).await;
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
    let reset = header_u64(headers, "x-sentry-rate-limit-reset")
        .or_else(|| header_u64(headers, "x-ratelimit-reset"))?;
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
