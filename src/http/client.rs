//! Building the `reqwest` clients: who we say we are, deadlines, which redirects are followed
//! (same-origin ones for a source, none for a delivery target), and no proxy for loopback.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use url::Url;

use super::body::header_str;

/// Same-origin redirects followed before giving up; cross-origin ones are never followed.
const MAX_REDIRECTS: usize = 3;

/// The client for one source, whose credentials go to `base`'s origin only.
/// `follow_redirects`: a read follows same-origin redirects; a change follows none (a 307
/// would send it a second time, to an address nobody reviewed).
pub(super) fn source_client(
    timeout: Duration,
    base: &Url,
    follow_redirects: bool,
) -> Result<reqwest::Client, String> {
    let policy = if follow_redirects {
        same_origin_redirects()
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("access-audit/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(policy);
    if crate::cfg::values::is_loopback_host(base) {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A client for one delivery target (a webhook, a Pushgateway, an object store): nothing
/// follows a redirect (the URL itself may be the credential, and an answer from elsewhere is
/// no delivery), every request has `timeout`, and a loopback target never goes through a
/// proxy, which would see the request in clear.
pub(crate) fn delivery_client(
    loopback: bool,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    delivery_client_builder(loopback, timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// [`delivery_client`] before it is built, for a caller that adds its own settings.
pub(crate) fn delivery_client_builder(loopback: bool, timeout: Duration) -> reqwest::ClientBuilder {
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

/// Why a redirect the policy did not follow (to another origin) is no usable answer.
pub(super) fn refused_redirect(base: &Url, status: StatusCode, headers: &HeaderMap) -> String {
    let location = header_str(headers, "location")
        .map(|l| shown_location(base, &l))
        .unwrap_or_else(|| "nowhere (no Location header)".into());
    format!(
        "the server answered HTTP {} redirecting to {location}; access-audit sends credentials only to the \
         configured base_url ({}) and follows no redirect to another origin: if the API has moved, set \
         base_url to its new address",
        status.as_u16(),
        base.origin().ascii_serialization()
    )
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
