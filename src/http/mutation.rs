//! Requests that change something (remediation): sent once, never retried blindly. A request
//! that may have reached the server and got no final answer (a timeout after sending, a broken
//! connection, a 5xx) is reported as *ambiguous*: the caller re-reads what it changed instead
//! of sending it again. Only an answer that says it was not processed (429) is sent again,
//! after the wait the server asks for.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

use super::body::{header_str, read_capped};
use super::retry::server_requested_wait;
use super::{SourceClient, describe_reqwest_error};

/// At most this many 429s are waited out for one change before it is given up.
const MAX_RATE_LIMITED: u32 = 3;

/// One request of a remediation, as a source builds it.
#[derive(Debug, Clone)]
pub(crate) struct MutationRequest {
    /// What it is, as the evidence manifest names it (`sentry.member.delete`).
    pub endpoint: &'static str,
    pub method: Method,
    pub url: Url,
    /// Extra, non-secret headers (`x-profile-id`, `Idempotency-Key`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// A JSON body, when the request has one.
    pub body: Option<serde_json::Value>,
}

/// A final answer to a mutation (or to the read before it).
#[derive(Debug, Clone)]
pub(crate) struct MutationAnswer {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
    pub at: DateTime<Utc>,
    /// `X-Sandbox: true`: the server ran the request as a rehearsal (Sent.dm).
    pub sandbox: bool,
    /// `Idempotent-Replayed: true`: the server had already applied this idempotency key.
    pub replayed: bool,
}

/// No final answer.
#[derive(Debug, Clone)]
pub(crate) struct NotAnswered {
    pub message: String,
    /// The request may have reached the server (sent, then no answer): re-read, don't resend.
    pub ambiguous: bool,
}

impl SourceClient {
    /// Send `req`: paced by the client's limiter, waiting out at most [`MAX_RATE_LIMITED`] 429s
    /// (a 429 was not processed), otherwise once. A 5xx is returned as an answer; the caller
    /// decides that it is ambiguous.
    pub(crate) async fn send_once(
        &self,
        req: &MutationRequest,
    ) -> Result<MutationAnswer, NotAnswered> {
        let mut limited = 0;
        loop {
            // The ticket is let go at once: a change's answer is not read for rate-limit
            // windows (remediation clients are paced by the API's documented rate instead).
            drop(self.wait_turn("mutation").await);
            let mut builder = self
                .client
                .request(req.method.clone(), req.url.clone())
                .headers(self.auth.clone());
            for (k, v) in &req.headers {
                builder = builder.header(k, v);
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let (status, headers, body) = self.attempt_once(builder).await?;
            if status == StatusCode::TOO_MANY_REQUESTS && limited < MAX_RATE_LIMITED {
                limited += 1;
                let wait = server_requested_wait(status, &headers, Utc::now())
                    .unwrap_or_else(|| self.backoff(limited))
                    .min(self.settings.max_retry_wait);
                self.pause_all(wait).await;
                tracing::warn!(method = %req.method, url = %req.url, wait_ms = wait.as_millis() as u64, "rate limited; the request was not processed and is sent again after the wait");
                tokio::time::sleep(wait).await;
                continue;
            }
            let flag = |name: &str| {
                header_str(&headers, name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            };
            return Ok(MutationAnswer {
                status: status.as_u16(),
                body,
                request_id: header_str(&headers, "x-request-id"),
                at: Utc::now(),
                sandbox: flag("x-sandbox"),
                replayed: flag("idempotent-replayed"),
            });
        }
    }

    async fn attempt_once(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, Bytes), NotAnswered> {
        let resp = builder.send().await.map_err(|e| NotAnswered {
            message: describe_reqwest_error(&e),
            // Only a failed connect proves the request never left.
            ambiguous: !e.is_connect(),
        })?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(NotAnswered {
                message: super::client::refused_redirect(&self.base, status, resp.headers()),
                ambiguous: false,
            });
        }
        let headers = resp.headers().clone();
        let body = read_capped(resp, self.settings.max_response_bytes)
            .await
            .map_err(|f| NotAnswered {
                message: f.message,
                ambiguous: true,
            })?;
        Ok((status, headers, body))
    }
}
