//! Sent.dm v3: `GET /v3/users` once per scope — the organization itself, and each child profile
//! through the organization key plus `x-profile-id`. Profiles come from `GET /v3/sender-profiles`
//! (page-numbered), or `GET /v3/profiles` where that endpoint is not there yet.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::lenient::{opt_bool, opt_object, opt_string};
use super::{
    Endpoint, MAX_DISCOVERY_PAGES, MAX_PAGES_PER_SCOPE, PageBudget, PageRequest,
    SENTDM_DISCOVERY_SCOPE, ScopeAccounts, SourceContext, body_excerpt, check_progress,
    local_error,
};
use crate::cfg::values::is_hyphenated_uuid;
use crate::http::{Answer, from_json_lossy};
use crate::model::{Account, ScopeError, ScopeResult, SourceKind, status};
use crate::sources::spec::{Selection, SourceSpec};
use crate::timestamp::{older_than_days, parse_timestamp};

/// The scope name of the organization's own user list.
pub const ORGANIZATION_SCOPE: &str = "organization";
const PAGE_SIZE: &str = "100";

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(default, deserialize_with = "opt_bool")]
    success: Option<bool>,
    #[serde(default = "Option::default")]
    data: Option<T>,
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
struct Pagination {
    #[serde(default, deserialize_with = "opt_bool")]
    has_more: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    total_count: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UsersData {
    users: Option<Vec<SentUser>>,
    #[serde(default, deserialize_with = "opt_object")]
    pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
struct SentUser {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    role: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    invited_at: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    last_login_at: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SenderProfilesData {
    sender_profiles: Option<Vec<ProfileItem>>,
    #[serde(default, deserialize_with = "opt_object")]
    pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
struct ProfilesData {
    profiles: Option<Vec<ProfileItem>>,
}

#[derive(Debug, Deserialize)]
struct ProfileItem {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
}

pub async fn fetch(ctx: &SourceContext<'_>) -> Vec<ScopeResult> {
    let spec = ctx.spec;
    let mut results = Vec::new();
    let mut scopes = vec![ORGANIZATION_SCOPE.to_string()];
    match spec.profiles() {
        Selection::List(ids) => scopes.extend(ids.iter().cloned()),
        Selection::All => match discover_profiles(ctx).await {
            Ok(found) => {
                // A profile whose id cannot be used fails alone, under its place in the list.
                for (n, error) in found.unusable {
                    let scope = format!("{SENTDM_DISCOVERY_SCOPE}[{n}]");
                    results.push(scope_result(spec, &scope, Err(error)));
                }
                scopes.extend(found.ids);
            }
            Err(e) => {
                // The organization itself can still be audited; the missing profile list is
                // reported as a failed scope so the run is marked incomplete.
                tracing::error!(source = %spec.name, error = %e, "cannot list the organization's profiles");
                results.push(scope_result(spec, SENTDM_DISCOVERY_SCOPE, Err(e)));
            }
        },
    }
    let scopes = ctx.select(scopes);
    results.extend(
        ctx.fetch_scopes(&scopes, |scope| async move {
            scope_result(spec, scope, fetch_users(ctx, scope).await)
        })
        .await,
    );
    results
}

fn scope_result(
    spec: &SourceSpec,
    scope: &str,
    outcome: Result<Vec<Account>, ScopeError>,
) -> ScopeResult {
    ScopeResult {
        source: SourceKind::Sentdm,
        source_name: spec.name.clone(),
        scope: scope.to_string(),
        outcome,
    }
}

/// One page of the sender-profile list.
pub fn sender_profiles_url(base: &str, page: u32) -> Result<Url, ScopeError> {
    let mut url = endpoint_url(base, "sender-profiles")?;
    url.query_pairs_mut()
        .append_pair("page", &page.to_string())
        .append_pair("page_size", PAGE_SIZE);
    Ok(url)
}

/// `GET /v3/users`; the scope travels in the `x-profile-id` header, not the URL.
pub fn users_url(base: &str) -> Result<Url, ScopeError> {
    endpoint_url(base, "users")
}

fn endpoint_url(base: &str, path: &str) -> Result<Url, ScopeError> {
    Url::parse(&format!("{base}/v3/{path}"))
        .map_err(|e| local_error(format!("bad base URL {base}: {e}")))
}

async fn get(
    ctx: &SourceContext<'_>,
    scope: &str,
    endpoint: Endpoint,
    url: Url,
    profile: Option<&str>,
) -> Result<Answer, ScopeError> {
    let mut headers = Vec::new();
    if let Some(p) = profile {
        let value = HeaderValue::from_str(p)
            .map_err(|_| local_error(format!("profile id `{p}` cannot be sent")))?;
        headers.push((HeaderName::from_static("x-profile-id"), value));
    }
    let req = PageRequest {
        scope,
        endpoint,
        url,
        headers,
    };
    Ok(ctx.fetcher.get(&ctx.spec.name, &req).await?)
}

/// Decode an envelope, turning an error answer (or `success: false`) into a scope error.
fn open<T: for<'de> Deserialize<'de>>(a: &Answer, what: &str) -> Result<T, ScopeError> {
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

/// What profile discovery listed: the ids to audit, and the entries that cannot be audited
/// (their place in the list, 1-based, and why).
#[derive(Default)]
struct Profiles {
    ids: Vec<String>,
    seen: HashSet<String>,
    unusable: Vec<(usize, ScopeError)>,
    listed: usize,
}

/// Every child profile id: `/v3/sender-profiles` page by page, or `/v3/profiles` when the
/// former answers 404 (older API deployments).
async fn discover_profiles(ctx: &SourceContext<'_>) -> Result<Profiles, ScopeError> {
    let base = &ctx.spec.base_url;
    let mut found = Profiles::default();
    let mut budget = PageBudget::new("sender profile list", MAX_DISCOVERY_PAGES);
    let mut page = 1u32;
    loop {
        let url = sender_profiles_url(base, page)?;
        let answer = get(
            ctx,
            SENTDM_DISCOVERY_SCOPE,
            Endpoint::SentdmSenderProfiles,
            url,
            None,
        )
        .await?;
        if page == 1 && answer.status == 404 {
            tracing::info!(source = %ctx.spec.name, "/v3/sender-profiles answered 404; listing /v3/profiles instead");
            let url = endpoint_url(base, "profiles")?;
            let answer = get(
                ctx,
                SENTDM_DISCOVERY_SCOPE,
                Endpoint::SentdmProfiles,
                url,
                None,
            )
            .await?;
            let data: ProfilesData = open(&answer, "profile list")?;
            let items = data
                .profiles
                .ok_or_else(|| missing_list(&answer, "data.profiles"))?;
            found.add(1, items)?;
            break;
        }
        budget.take(&answer)?;
        let data: SenderProfilesData = open(&answer, "sender profile list")?;
        let items = data
            .sender_profiles
            .ok_or_else(|| missing_list(&answer, "data.sender_profiles"))?;
        let empty = items.is_empty();
        found.add(page as usize, items)?;
        if !has_more(data.pagination.as_ref(), empty, page, "sender profile list")? {
            break;
        }
        budget.another()?;
        page += 1;
    }
    tracing::info!(source = %ctx.spec.name, profiles = found.ids.len(),
        unusable = found.unusable.len(), "profiles discovered");
    Ok(found)
}

impl Profiles {
    fn add(&mut self, page: usize, items: Vec<ProfileItem>) -> Result<(), ScopeError> {
        let received = items.len();
        let mut new = 0;
        for item in items {
            self.listed += 1;
            new += 1;
            match item.id {
                Some(id) if is_hyphenated_uuid(&id) => {
                    let id = id.to_ascii_lowercase();
                    if self.seen.insert(id.clone()) {
                        self.ids.push(id);
                    } else {
                        new -= 1;
                    }
                }
                other => self.unusable.push((
                    self.listed,
                    local_error(format!(
                        "entry {} of the profile list has no usable id ({other:?}); that profile is not audited",
                        self.listed
                    )),
                )),
            }
        }
        check_progress(page, received, new, "profile list")
    }
}

/// Whether another page is announced. `has_more` with an empty page contradicts itself: the
/// rest of the list cannot be had, so the list fails rather than end short.
fn has_more(
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

fn missing_list(a: &Answer, field: &str) -> ScopeError {
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

/// `GET /v3/users` for one scope. The endpoint does not page today; should it ever say
/// `has_more`, we ask for further pages, and a page that repeats what came before fails the
/// scope (the server ignores `page`).
async fn fetch_users(ctx: &SourceContext<'_>, scope: &str) -> Result<Vec<Account>, ScopeError> {
    let started = std::time::Instant::now();
    let spec = ctx.spec;
    let profile = (scope != ORGANIZATION_SCOPE).then_some(scope);
    let mut collected = ScopeAccounts::new(&spec.name, scope);
    let mut budget = PageBudget::new("user list", MAX_PAGES_PER_SCOPE);
    let mut page = 1u32;
    let mut total_count: Option<u64> = None;
    let mut retries = 0;
    let accounts = loop {
        let mut url = users_url(&spec.base_url)?;
        if page > 1 {
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("page_size", PAGE_SIZE);
        }
        let answer = get(ctx, scope, Endpoint::SentdmUsers, url, profile).await?;
        retries += answer.retries;
        budget.take(&answer)?;
        let data: UsersData = open(&answer, "user list").map_err(|e| ambiguous_user(&answer, e))?;
        let users = data
            .users
            .ok_or_else(|| missing_list(&answer, "data.users"))?;
        let empty = users.is_empty();
        let page_accounts = users
            .into_iter()
            .map(|u| normalise(spec, scope, u, ctx.as_of))
            .collect();
        collected.add_page(page as usize, page_accounts, "user list")?;
        if let Some(t) = data
            .pagination
            .as_ref()
            .and_then(|p| p.total_count.as_deref())
            .and_then(|t| t.parse().ok())
        {
            total_count = Some(t);
        }
        if !has_more(data.pagination.as_ref(), empty, page, "user list")? {
            break collected.finish();
        }
        budget.another()?;
        page += 1;
    };
    if let Some(total) = total_count
        && (accounts.len() as u64) < total
    {
        return Err(local_error(format!(
            "the API reports {total} users but only {} could be fetched; the list is incomplete",
            accounts.len()
        )));
    }
    tracing::info!(source = %spec.name, scope, pages = page, accounts = accounts.len(), retries,
        duration_ms = started.elapsed().as_millis() as u64, "scope fetched");
    Ok(accounts)
}

/// A user list that does not parse: name the user whose fields are ambiguous (a key sent
/// twice) rather than the page alone, as for Sentry members.
fn ambiguous_user(answer: &Answer, err: ScopeError) -> ScopeError {
    #[derive(Deserialize)]
    struct RawUsers<'a> {
        #[serde(borrow)]
        users: Vec<&'a serde_json::value::RawValue>,
    }
    let text = String::from_utf8_lossy(&answer.body);
    let Ok(raw) = serde_json::from_str::<Envelope<RawUsers<'_>>>(&text) else {
        return err;
    };
    let Some(data) = raw.data else { return err };
    for (n, item) in data.users.iter().enumerate() {
        if let Err(e) = serde_json::from_str::<SentUser>(item.get()) {
            let id = serde_json::from_str::<serde_json::Value>(item.get())
                .ok()
                .and_then(|v| v.get("id").map(ToString::to_string))
                .unwrap_or_else(|| "unknown".into());
            return ScopeError {
                message: format!(
                    "user {} (id {id}): {e}; the answer is ambiguous, so the scope is not audited rather than \
                     guess which value holds",
                    n + 1
                ),
                ..err
            };
        }
    }
    err
}

fn time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(parse_timestamp)
}

/// The account, and whether its id is the user id the API gave.
fn normalise(spec: &SourceSpec, scope: &str, u: SentUser, as_of: DateTime<Utc>) -> (Account, bool) {
    let role = u
        .role
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty());
    let privileged = role
        .as_deref()
        .is_some_and(|r| matches!(r, "owner" | "admin"));
    let invited_at = time(u.invited_at.as_deref());
    let api_status = u
        .status
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    // Sent.dm invitations expire after invite_ttl_days, but the API keeps saying `invited`.
    let status = match invited_at {
        Some(t)
            if api_status == status::INVITED
                && older_than_days(t, as_of, spec.invite_ttl_days()) =>
        {
            status::EXPIRED.to_string()
        }
        _ => api_status,
    };
    let last_login_at = time(u.last_login_at.as_deref());
    let identified = u.id.as_deref().is_some_and(|id| !id.is_empty());
    let account_id = match &u.id {
        Some(id) if identified => id.clone(),
        _ => u
            .email
            .as_ref()
            .map(|e| format!("email:{e}"))
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let account = Account {
        source: SourceKind::Sentdm,
        source_name: spec.name.clone(),
        scope: scope.to_string(),
        account_id,
        user_id: u.id,
        email: u.email,
        name: u.name,
        role,
        privileged,
        status,
        mfa: None,
        last_login_at,
        last_active_at: None,
        last_seen_at: last_login_at,
        invited_at,
        created_at: time(u.created_at.as_deref()),
        flags: Vec::new(),
    };
    (account, identified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::TimeZone;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(body.to_string()),
            link: None,
            request_id: Some("hdr-id".into()),
            fetched_at: Utc::now(),
            retries: 0,
        }
    }

    fn spec() -> SourceSpec {
        SourceSpec {
            kind: SourceKind::Sentdm,
            name: "sentdm".into(),
            base_url: "https://api.sent.dm".into(),
            organizations: None,
            projects: vec![],
            profiles: Some(Selection::All),
            invite_ttl_days: Some(7),
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
    fn invited_past_ttl_is_expired_and_roles_are_open() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
        let body = r#"{"success":true,"data":{"users":[
            {"id":"u1","email":"a@x","name":"A","role":"Admin","status":"active","invited_at":"2025-09-11T21:50:49.7725221+00:00","last_login_at":"2026-03-11T19:50:49.7725233+00:00","created_at":"2025-09-11T21:50:49.7725237+00:00"},
            {"id":"u2","email":"b@x","role":"developer","status":"invited","invited_at":"2026-03-09T21:50:49.7725246+00:00","last_login_at":null},
            {"id":"u3","email":"c@x","role":"developer","status":"invited","invited_at":"2026-03-14T00:00:00+00:00"},
            {"id":"u4","email":"d@x","role":"Auditor","status":"SUSPENDED"}
        ]},"error":null,"meta":{"request_id":"r"}}"#;
        let data: UsersData = open(&answer(200, body), "user list").unwrap();
        let accounts: Vec<Account> = data
            .users
            .unwrap()
            .into_iter()
            .map(|u| normalise(&spec(), "organization", u, as_of).0)
            .collect();
        assert_eq!(
            (
                accounts[0].role.as_deref(),
                accounts[0].privileged,
                accounts[0].mfa
            ),
            (Some("admin"), true, None)
        );
        assert_eq!(accounts[0].last_seen_at, accounts[0].last_login_at);
        assert_eq!(accounts[1].status, "expired");
        assert_eq!(accounts[2].status, "invited");
        assert_eq!(
            (
                accounts[3].status.as_str(),
                accounts[3].role.as_deref(),
                accounts[3].privileged
            ),
            ("suspended", Some("auditor"), false)
        );
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
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::sources::sentry::properties::any_json;

    const FIELDS: [&str; 8] = [
        "id",
        "email",
        "name",
        "role",
        "status",
        "invited_at",
        "last_login_at",
        "created_at",
    ];

    proptest! {
        #[test]
        fn any_user_fields_are_kept(values in prop::collection::vec(any_json(), FIELDS.len())) {
            let user: serde_json::Map<String, Value> = FIELDS.iter().map(|k| (*k).to_string()).zip(values).collect();
            let body = json!({"success": true, "data": {"users": [user]}}).to_string();
            let answer = Answer { status: 200, body: Bytes::from(body), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let data: UsersData = open(&answer, "user list").unwrap();
            let spec = SourceSpec {
                kind: SourceKind::Sentdm, name: "s".into(), base_url: "https://x".into(), organizations: None,
                projects: vec![], profiles: None, invite_ttl_days: Some(7),
            };
            let accounts: Vec<Account> = data.users.unwrap().into_iter().map(|u| normalise(&spec, "organization", u, Utc::now()).0).collect();
            prop_assert_eq!(accounts.len(), 1);
        }

        #[test]
        fn any_body_and_status_is_handled(body in any_json(), status in 100u16..600) {
            let answer = Answer { status, body: Bytes::from(body.to_string()), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let _ = open::<UsersData>(&answer, "user list");
            let _ = open::<SenderProfilesData>(&answer, "profile list");
        }
    }
}
