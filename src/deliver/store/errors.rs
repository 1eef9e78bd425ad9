//! object_store's errors in words people can act on: the operation, the object, the HTTP
//! status, the service's own error code and message — without the multi-kilobyte XML, and
//! without any secret (every message passes through [`crate::redact`] when it is made).

use crate::deliver::target::{DeliveryError, Target};

/// `op` (PUT, GET, …) of `location` (`s3://bucket/run/report.html`) failed with `e`.
pub(super) fn describe(e: &object_store::Error, op: &str, location: &str) -> DeliveryError {
    // object_store keeps the HTTP status and body in an error type it does not export; its
    // text says "… status code: 404 Not Found: <body>".
    let text = without_queries(&chain(e));
    let status = status_in(&text);
    let service = service_error(&text);
    let code = service.as_deref().map(|s| s.split(':').next().unwrap_or(s));
    let hint = hint(e, code);
    let what = match (status, service) {
        (Some(status), Some(service)) => format!("HTTP {status} {service}"),
        (Some(status), None) => format!("HTTP {status}"),
        (None, _) => text,
    };
    DeliveryError::new(
        Target::Store,
        format!("{op} {location} failed: {what}{hint}"),
    )
    .with_status(status)
}

/// What to check. S3 answers a bad key or signature with 403, like a missing permission, so
/// the service's error code decides between "refused" and "denied".
fn hint(e: &object_store::Error, code: Option<&str>) -> &'static str {
    const REFUSED: [&str; 5] = [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "InvalidToken",
        "AuthenticationFailed",
    ];
    match e {
        _ if code.is_some_and(|c| REFUSED.contains(&c)) => {
            " (the credentials were refused: check the access key, secret and session token in the environment)"
        }
        object_store::Error::Unauthenticated { .. } => {
            " (the credentials were refused: check the access key, secret and session token in the environment)"
        }
        object_store::Error::PermissionDenied { .. } => {
            " (access denied: these credentials may not write here; check the bucket policy or role)"
        }
        object_store::Error::NotFound { .. } => " (does the bucket or container exist?)",
        _ => "",
    }
}

/// URLs with their query strings cut: an Azure SAS token or a presigned signature travels
/// there (they are registered with redact too; this also keeps messages short).
fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_url, mut in_query) = (false, false);
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            (in_url, in_query) = (false, false);
        } else if !in_url && (text[i..].starts_with("http://") || text[i..].starts_with("https://"))
        {
            in_url = true;
        } else if in_url && !in_query && c == '?' {
            in_query = true;
            out.push_str("?…");
        }
        if !in_query {
            out.push(c);
        }
    }
    out
}

/// `Code: Message` from an S3/Azure/GCS XML error body (`<Code>NoSuchBucket</Code>…`), or
/// `None` when the body holds no such elements.
fn service_error(body: &str) -> Option<String> {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find("</")? + start;
        Some(
            body[start..end]
                .trim()
                .chars()
                .take(200)
                .collect::<String>(),
        )
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (Some(code), None) => Some(code),
        (None, Some(message)) => Some(message),
        (None, None) => None,
    }
}

/// The status in object_store's "status code: 403 Forbidden".
fn status_in(text: &str) -> Option<u16> {
    let at = text.find("status code: ")? + "status code: ".len();
    let digits = text.get(at..at + 3)?;
    digits.parse().ok().filter(|s| (100..600).contains(s))
}

/// An error and its causes on one line, each said once.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_extracted_from_xml() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>";
        assert_eq!(
            service_error(body).as_deref(),
            Some("NoSuchBucket: The specified bucket does not exist")
        );
        assert_eq!(service_error("<html>oops</html>"), None);
        assert_eq!(
            status_in(
                "Error performing PUT http://x/b/k in 2ms - Server returned non-2xx status code: 403 Forbidden: <Error>"
            ),
            Some(403)
        );
        assert_eq!(status_in("connection refused"), None);
        assert_eq!(
            without_queries(
                "PUT https://a.blob.core.windows.net/c/k?sv=2024&sig=abc in 2ms; see http://x/?q"
            ),
            "PUT https://a.blob.core.windows.net/c/k?… in 2ms; see http://x/?…"
        );
    }
}
