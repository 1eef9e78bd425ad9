//! Reading an answer: its body within the cap, its JSON, the headers the client and the sources
//! read.

use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::{Failed, describe_reqwest_error};

/// Read a body, but no more than `max` bytes: a server cannot make us hold more, whatever it
/// announces or streams.
pub(super) async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Bytes, Failed> {
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

/// Parse JSON; if the bytes are not valid UTF-8 (a name mangled somewhere upstream), read them
/// with invalid sequences replaced by U+FFFD rather than losing the whole page.
///
/// The body is checked as UTF-8 once, whole (borrowed as it is when valid), and parsed as text:
/// parsing the bytes would check every string in them again, one at a time.
pub(crate) fn from_json_lossy<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, serde_json::Error> {
    serde_json::from_str(&text_lossy(body))
}

/// The body as text: borrowed when it is valid UTF-8, else a copy with invalid sequences
/// replaced by U+FFFD. `String::from_utf8_lossy` alone does the same, but checks a valid body
/// several times slower than `str::from_utf8`.
pub(crate) fn text_lossy(body: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    }
}

/// Every `Link` header line, joined: RFC 9110 lets a server split one field over several lines,
/// and reading only the first would end pagination early.
pub(super) fn link_header(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

pub(super) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A count in a header: a fraction is cut off (a count of requests left is never rounded up).
pub(super) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_number(headers, name).map(|f| f as u64)
}

/// A reset time in epoch seconds: a fraction is rounded up, so that a wait for a reset at
/// `…0.7` does not end seven tenths of a second early.
pub(super) fn header_epoch(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_number(headers, name).map(|f| f.ceil() as u64)
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    header_str(headers, name)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 0.0)
}
