//! Sentry's error bodies, read into a scope error with everything the server told us, and
//! what a status means for the token.

use serde::Deserialize;

use crate::http::{Answer, from_json_lossy};
use crate::model::ScopeError;
use crate::sources::body_excerpt;
use crate::sources::lenient::opt_string;

/// Sentry's error body: `{"detail": "…"}`, `{"detail": {"code", "message"}}`, `{"detail": ["…"]}`,
/// or (the rate limiter) a bare JSON string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Detail { detail: Detail },
    Bare(String),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Detail {
    Text(String),
    Object {
        #[serde(default, deserialize_with = "opt_string")]
        code: Option<String>,
        #[serde(default, deserialize_with = "opt_string")]
        message: Option<String>,
    },
    List(Vec<serde_json::Value>),
}

/// A page that is not what we asked for.
pub(super) fn malformed(
    page: &Answer,
    index: usize,
    what: &str,
    e: &serde_json::Error,
) -> ScopeError {
    ScopeError {
        http_status: Some(page.status),
        code: None,
        message: format!(
            "page {} is not a {what}: {e} (body starts: {})",
            index + 1,
            body_excerpt(&page.body)
        ),
        request_id: page.request_id.clone(),
    }
}

/// Turn a non-2xx answer into a scope error with everything the server told us.
pub fn error_from_answer(a: &Answer) -> ScopeError {
    let (code, message) = detail(a);
    let hint = match a.status {
        401 => " (the token is invalid, expired, or its user was deactivated)",
        403 => " (the token lacks the member:read scope, or its user is not in this organization)",
        404 => " (no such organization, or it lives in another region)",
        _ => "",
    };
    ScopeError {
        http_status: Some(a.status),
        code,
        message: format!("{message}{hint}"),
        request_id: a.request_id.clone(),
    }
}

/// What an error body says: its code, if any, and its message.
pub(super) fn detail(a: &Answer) -> (Option<String>, String) {
    match from_json_lossy::<ErrorBody>(&a.body) {
        Ok(ErrorBody::Detail {
            detail: Detail::Text(t),
        }) => (None, t),
        Ok(ErrorBody::Detail {
            detail: Detail::Object { code, message },
        }) => (code, message.unwrap_or_else(|| "no message".into())),
        Ok(ErrorBody::Detail {
            detail: Detail::List(items),
        }) => (
            None,
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Ok(ErrorBody::Bare(s)) => (None, s),
        Err(_) if a.body.is_empty() => (None, "empty body".into()),
        Err(_) => (None, format!("unexpected body: {}", body_excerpt(&a.body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sentry::members::tests::answer;

    #[test]
    fn error_bodies_of_every_shape() {
        let e = error_from_answer(&answer(
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        ));
        assert_eq!(e.http_status, Some(403));
        assert!(e.message.starts_with("You do not have permission"));
        let e = error_from_answer(&answer(
            401,
            r#"{"detail":{"code":"sso-required","message":"Must login via SSO","extra":{}}}"#,
        ));
        assert_eq!(
            (
                e.code.as_deref(),
                e.message.starts_with("Must login via SSO")
            ),
            (Some("sso-required"), true)
        );
        let e = error_from_answer(&answer(400, r#"{"detail":["The name cannot be blank."]}"#));
        assert_eq!(e.message, "The name cannot be blank.");
        let e = error_from_answer(&answer(
            429,
            r#""You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds""#,
        ));
        assert!(e.message.starts_with("You are attempting"));
        let e = error_from_answer(&answer(502, "<html><body>Bad Gateway</body></html>"));
        assert!(e.message.contains("Bad Gateway"));
        let e = error_from_answer(&answer(500, ""));
        assert_eq!(e.message, "empty body");
    }
}
