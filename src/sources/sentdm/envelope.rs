//! Sent.dm's answer envelope (`{"success", "data", "error", "meta"}`): the data of a good
//! answer, or a scope error with the code, request id and what the status means for the key.

use serde::Deserialize;

use crate::http::{Answer, from_json_lossy};
use crate::model::ScopeError;
use crate::sources::lenient::{opt_bool, opt_object, opt_string};
use crate::sources::{body_excerpt, local_error};

/// `{"success", "data", "error", "meta"}`, every part optional and lenient.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<T> {
    #[serde(default, deserialize_with = "opt_bool")]
    success: Option<bool>,
    #[serde(default = "Option::default")]
    pub(super) data: Option<T>,
    #[serde(default, deserialize_with = "opt_object")]
    error: Option<ApiError>,
    #[serde(default, deserialize_with = "opt_object")]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default, deserialize_with = "opt_string")]
    code: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default, deserialize_with = "opt_string")]
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Pagination {
    #[serde(default, deserialize_with = "opt_bool")]
    has_more: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    pub(super) total_count: Option<String>,
}

/// Decode an envelope, turning an error answer (or `success: false`) into a scope error.
pub(super) fn open<T: for<'de> Deserialize<'de>>(a: &Answer, what: &str) -> Result<T, ScopeError> {
    let parsed: Result<Envelope<T>, _> = from_json_lossy(&a.body);
    let request_id = |env_meta: Option<&Meta>| {
        env_meta
            .and_then(|m| m.request_id.clone())
            .or_else(|| a.request_id.clone())
    };
    match parsed {
        Ok(env) if a.is_success() && env.success != Some(false) => match env.data {
            Some(data) => Ok(data),
            None => Err(ScopeError {
                http_status: Some(a.status),
                code: None,
                message: format!("the answer has no `data` where the {what} should be"),
                request_id: request_id(env.meta.as_ref()),
            }),
        },
        Ok(env) => {
            let code = env.error.as_ref().and_then(|e| e.code.clone());
            let message = env
                .error
                .as_ref()
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| "no message".into());
            Err(ScopeError {
                http_status: Some(a.status),
                message: format!("{message}{}", hint(a.status, code.as_deref())),
                code,
                request_id: request_id(env.meta.as_ref()),
            })
        }
        Err(e) => {
            let message = if a.body.is_empty() {
                "empty body".to_string()
            } else if a.is_success() {
                format!(
                    "the {what} is not a Sent.dm envelope: {e} (body starts: {})",
                    body_excerpt(&a.body)
                )
            } else {
                format!("unexpected body: {}", body_excerpt(&a.body))
            };
            Err(ScopeError {
                http_status: Some(a.status),
                code: None,
                message: format!("{message}{}", hint(a.status, None)),
                request_id: a.request_id.clone(),
            })
        }
    }
}

fn hint(status: u16, code: Option<&str>) -> &'static str {
    match (status, code) {
        (401, _) => " (the API key is missing, invalid, expired or revoked)",
        (403, Some("AUTH_004")) | (403, None) => {
            " (the key's owner needs the developer role or higher in this organization or profile)"
        }
        (404, _) => " (no such organization or profile for this key)",
        _ => "",
    }
}

/// Whether another page is announced. `has_more` with an empty page contradicts itself: the
/// rest of the list cannot be had, so the list fails rather than end short.
pub(super) fn has_more(
    pagination: Option<&Pagination>,
    empty: bool,
    page: u32,
    what: &str,
) -> Result<bool, ScopeError> {
    let more = pagination.and_then(|p| p.has_more).unwrap_or(false);
    if more && empty {
        return Err(local_error(format!(
            "page {page} of the {what} is empty but says has_more; the rest of the list cannot be had"
        )));
    }
    Ok(more)
}

pub(super) fn missing_list(a: &Answer, field: &str) -> ScopeError {
    ScopeError {
        http_status: Some(a.status),
        code: None,
        message: format!(
            "the answer has no `{field}` list (body starts: {})",
            body_excerpt(&a.body)
        ),
        request_id: a.request_id.clone(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sources::sentdm::users::UsersData;
    use bytes::Bytes;
    use chrono::Utc;

    pub(crate) fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(body.to_string()),
            link: None,
            request_id: Some("hdr-id".into()),
            fetched_at: Utc::now(),
            retries: 0,
        }
    }

    #[test]
    fn envelope_errors_keep_code_and_request_id() {
        let body = r#"{"success":false,"data":null,"error":{"code":"AUTH_004","message":"You do not have access to this organization or profile","details":null,"doc_url":"x"},"meta":{"request_id":"req_7X9zKp2jDw"}}"#;
        let e = open::<UsersData>(&answer(403, body), "user list").unwrap_err();
        assert_eq!(e.http_status, Some(403));
        assert_eq!(e.code.as_deref(), Some("AUTH_004"));
        assert_eq!(e.request_id.as_deref(), Some("req_7X9zKp2jDw"));
        assert!(e.message.starts_with("You do not have access"));
        let e = open::<UsersData>(&answer(401, ""), "user list").unwrap_err();
        assert_eq!(
            (e.http_status, e.request_id.as_deref()),
            (Some(401), Some("hdr-id"))
        );
        assert!(e.message.starts_with("empty body"));
    }

    #[test]
    fn missing_users_list_is_an_error_not_an_empty_scope() {
        let e = open::<UsersData>(&answer(200, r#"{"success":true,"data":{}}"#), "user list")
            .and_then(|d| d.users.ok_or_else(|| local_error("missing".into())));
        assert!(e.is_err());
        let e = open::<UsersData>(&answer(200, r#"{"success":true,"data":null}"#), "user list")
            .unwrap_err();
        assert!(e.message.contains("no `data`"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::lenient::strategies::any_json;
    use crate::sources::sentdm::fetch::SenderProfilesData;
    use crate::sources::sentdm::users::UsersData;
    use bytes::Bytes;
    use chrono::Utc;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_body_and_status_is_handled(body in any_json(), status in 100u16..600) {
            let answer = Answer { status, body: Bytes::from(body.to_string()), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let _ = open::<UsersData>(&answer, "user list");
            let _ = open::<SenderProfilesData>(&answer, "profile list");
        }
    }
}
