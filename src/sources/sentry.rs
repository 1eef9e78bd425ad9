//! Sentry: `GET /api/0/organizations/{slug}/members/` (cursor-paginated; joined members and
//! pending invites) per organization, `/users/?project=…` when the audit is limited to projects,
//! and `GET /api/0/organizations/` to discover organizations for `organizations = "all"`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::lenient::{opt_bool, opt_object, opt_string, true_keys};
use super::link::next_cursor;
use super::{
    Endpoint, MAX_DISCOVERY_PAGES, MAX_PAGES_PER_SCOPE, PageBudget, PageRequest,
    SENTRY_DISCOVERY_SCOPE, ScopeAccounts, SourceContext, body_excerpt, check_progress,
    local_error,
};
use crate::http::{Answer, from_json_lossy};
use crate::model::{Account, ScopeError, ScopeResult, SourceKind, later_of, status};
use crate::sources::spec::{Selection, SourceSpec};
use crate::timestamp::parse_timestamp;

/// Sentry's maximum page size. Constant across pages: the cursor encodes it.
const PER_PAGE: &str = "100";

/// A member as `/members/` and `/users/` return it. Every field is optional and lenient.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_object")]
    user: Option<User>,
    #[serde(default, deserialize_with = "opt_string")]
    org_role: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    role: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pending: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    expired: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    date_created: Option<String>,
    #[serde(default, deserialize_with = "true_keys")]
    flags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, rename = "has2fa", deserialize_with = "opt_bool")]
    has2fa: Option<bool>,
    #[serde(default, deserialize_with = "opt_string")]
    last_login: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    last_active: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Organization {
    #[serde(default, deserialize_with = "opt_string")]
    slug: Option<String>,
}

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

pub async fn fetch(ctx: &SourceContext<'_>) -> Vec<ScopeResult> {
    let spec = ctx.spec;
    let mut results = Vec::new();
    let orgs: Vec<String> = match spec.organizations() {
        Selection::List(orgs) => orgs.clone(),
        Selection::All => match discover_organizations(ctx).await {
            Ok(discovered) => {
                // An organization whose slug cannot be used fails alone, under its place in
                // the list; the others are audited.
                for (n, error) in discovered.unusable {
                    let scope = format!("{SENTRY_DISCOVERY_SCOPE}[{n}]");
                    results.push(scope_result(spec, &scope, Err(error)));
                }
                discovered.slugs
            }
            Err(e) => {
                tracing::error!(source = %spec.name, error = %e, "cannot list the token's organizations");
                results.push(scope_result(spec, SENTRY_DISCOVERY_SCOPE, Err(e)));
                return results;
            }
        },
    };
    let orgs = ctx.select(orgs);
    results.extend(
        ctx.fetch_scopes(&orgs, |org| async move {
            scope_result(spec, org, fetch_org(ctx, org).await)
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
        source: SourceKind::Sentry,
        source_name: spec.name.clone(),
        scope: scope.to_string(),
        outcome,
    }
}

/// `{base}/api/0/organizations/[{slug}/{tail}/]`
fn org_url(base: &str, slug: Option<&str>, tail: Option<&str>) -> Result<Url, ScopeError> {
    let mut url = Url::parse(&format!("{base}/"))
        .map_err(|e| local_error(format!("bad base URL {base}: {e}")))?;
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|_| local_error(format!("bad base URL {base}")))?;
        segs.pop_if_empty().extend(["api", "0", "organizations"]);
        if let Some(slug) = slug {
            segs.push(slug);
        }
        if let Some(tail) = tail {
            segs.push(tail);
        }
        segs.push("");
    }
    Ok(url)
}

/// Follow `rel="next"` cursors from `first`, rebuilding every URL on our own base, and hand
/// each page to `on_page` as it arrives (so a page's body is dropped once it is parsed).
/// Returns the number of pages and the retries they needed.
async fn fetch_pages(
    ctx: &SourceContext<'_>,
    scope: &str,
    endpoint: Endpoint,
    first: Url,
    mut budget: PageBudget,
    mut on_page: impl FnMut(usize, &Answer) -> Result<(), ScopeError>,
) -> Result<(usize, u32), ScopeError> {
    let mut retries = 0u32;
    let mut seen_cursors = HashSet::new();
    let mut cursor: Option<String> = None;
    let page_error = |n: usize, mut err: ScopeError| {
        err.message = format!("page {n} of {}: {}", endpoint.as_str(), err.message);
        err
    };
    loop {
        let pages = budget.pages();
        let req = PageRequest {
            scope,
            endpoint,
            url: page_url(&first, cursor.as_deref()),
            headers: Vec::new(),
        };
        let answer = ctx
            .fetcher
            .get(&ctx.spec.name, &req)
            .await
            .map_err(|e| page_error(pages + 1, ScopeError::from(e)))?;
        if !answer.is_success() {
            let err = error_from_answer(&answer);
            return Err(if pages == 0 {
                err
            } else {
                page_error(pages + 1, err)
            });
        }
        budget.take(&answer)?;
        on_page(pages, &answer)?;
        retries += answer.retries;
        match answer.link.as_deref().and_then(next_cursor) {
            None => return Ok((budget.pages(), retries)),
            Some(c) if !seen_cursors.insert(c.clone()) => {
                return Err(local_error(format!(
                    "the server returned cursor {c} twice; pagination would never end, so the list cannot be trusted"
                )));
            }
            Some(c) => {
                budget.another()?;
                cursor = Some(c);
            }
        }
    }
}

/// The URL of a page: the first page's URL plus the cursor, on our own base.
pub fn page_url(first: &Url, cursor: Option<&str>) -> Url {
    let mut url = first.clone();
    if let Some(c) = cursor {
        url.query_pairs_mut().append_pair("cursor", c);
    }
    url
}

/// The first page of an organization's member list.
pub fn members_url(base: &str, org: &str) -> Result<Url, ScopeError> {
    let mut url = org_url(base, Some(org), Some("members"))?;
    url.query_pairs_mut().append_pair("per_page", PER_PAGE);
    Ok(url)
}

/// What `GET /api/0/organizations/` listed: the slugs to audit, and the entries that cannot
/// be audited (their place in the list, 1-based, and why).
struct Discovered {
    slugs: Vec<String>,
    unusable: Vec<(usize, ScopeError)>,
}

async fn discover_organizations(ctx: &SourceContext<'_>) -> Result<Discovered, ScopeError> {
    let mut url = org_url(&ctx.spec.base_url, None, None)?;
    url.query_pairs_mut().append_pair("per_page", PER_PAGE);
    let mut found = Discovered {
        slugs: Vec::new(),
        unusable: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut listed = 0usize;
    let budget = PageBudget::new("organization list", MAX_DISCOVERY_PAGES);
    fetch_pages(ctx, SENTRY_DISCOVERY_SCOPE, Endpoint::SentryOrganizations, url, budget, |i, page| {
        let orgs: Vec<Organization> =
            from_json_lossy(&page.body).map_err(|e| malformed(page, i, "organization list", &e))?;
        let received = orgs.len();
        let mut new = 0;
        for org in orgs {
            listed += 1;
            match org.slug {
                Some(slug) if is_safe_slug(&slug) => {
                    if seen.insert(slug.clone()) {
                        found.slugs.push(slug);
                        new += 1;
                    }
                }
                other => {
                    new += 1;
                    found.unusable.push((listed, local_error(format!(
                        "entry {listed} of the organization list has no usable slug ({other:?}); that \
                         organization is not audited"
                    ))));
                }
            }
        }
        check_progress(i + 1, received, new, "organization list")
    })
    .await?;
    if listed == 0 {
        return Err(local_error(format!(
            "the token can see no organization at {}: nothing would be audited. Check that base_url is \
             the token's region (us.sentry.io, de.sentry.io) or list the organizations by slug",
            ctx.spec.base_url
        )));
    }
    tracing::info!(source = %ctx.spec.name, organizations = found.slugs.len(),
        unusable = found.unusable.len(), "organizations discovered");
    Ok(found)
}

fn is_safe_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['.', '_'])
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn fetch_org(ctx: &SourceContext<'_>, org: &str) -> Result<Vec<Account>, ScopeError> {
    let spec = ctx.spec;
    let started = std::time::Instant::now();
    let (endpoint, url) = if spec.projects.is_empty() {
        (Endpoint::SentryMembers, members_url(&spec.base_url, org)?)
    } else {
        // The seed endpoint: everyone with access to the listed projects, in one unpaginated answer.
        let mut url = org_url(&spec.base_url, Some(org), Some("users"))?;
        {
            let mut q = url.query_pairs_mut();
            for p in &spec.projects {
                q.append_pair("project", p);
            }
        }
        (Endpoint::SentryUsers, url)
    };
    let mut parser = MemberPages::new(&spec.name, org);
    let budget = PageBudget::new("member list", MAX_PAGES_PER_SCOPE);
    let (pages, retries) = fetch_pages(ctx, org, endpoint, url, budget, |i, page| {
        parser.add(i, page)
    })
    .await?;
    let mut accounts = parser.finish();
    if ctx.org_details && fetch_uses_sso(ctx, org).await? {
        for a in &mut accounts {
            a.flags.push(ORG_AUTH_PROVIDER.to_string());
        }
    }
    tracing::info!(source = %spec.name, scope = org, pages, accounts = accounts.len(), retries,
        duration_ms = started.elapsed().as_millis() as u64, "scope fetched");
    Ok(accounts)
}

/// Marks the accounts of an organization that has an SSO auth provider (not a Sentry flag: ours).
pub const ORG_AUTH_PROVIDER: &str = "org:auth-provider";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationDetails {
    #[serde(default, deserialize_with = "opt_bool")]
    has_auth_provider: Option<bool>,
}

/// `GET /api/0/organizations/{slug}/`: does the organization use SSO? A rule the user enabled
/// depends on it, so an answer we cannot read fails the scope rather than skipping the check.
async fn fetch_uses_sso(ctx: &SourceContext<'_>, org: &str) -> Result<bool, ScopeError> {
    let url = org_url(&ctx.spec.base_url, Some(org), None)?;
    let req = PageRequest {
        scope: org,
        endpoint: Endpoint::SentryOrganization,
        url,
        headers: Vec::new(),
    };
    let context = |mut e: ScopeError| {
        e.message = format!(
            "organization settings (needed by sso_not_linked; the token needs org:read): {}",
            e.message
        );
        e
    };
    let answer = ctx
        .fetcher
        .get(&ctx.spec.name, &req)
        .await
        .map_err(|e| context(ScopeError::from(e)))?;
    if !answer.is_success() {
        return Err(context(error_from_answer(&answer)));
    }
    let details: OrganizationDetails = from_json_lossy(&answer.body)
        .map_err(|e| context(malformed(&answer, 0, "organization", &e)))?;
    details.has_auth_provider.ok_or_else(|| {
        context(local_error(
            "the answer has no hasAuthProvider field".into(),
        ))
    })
}

/// Raw pages in, accounts out, one page at a time.
struct MemberPages<'a> {
    source_name: &'a str,
    org: &'a str,
    accounts: ScopeAccounts<'a>,
    bad_times: usize,
}

impl<'a> MemberPages<'a> {
    fn new(source_name: &'a str, org: &'a str) -> Self {
        MemberPages {
            source_name,
            org,
            accounts: ScopeAccounts::new(source_name, org),
            bad_times: 0,
        }
    }

    fn add(&mut self, index: usize, page: &Answer) -> Result<(), ScopeError> {
        let members: Vec<Member> =
            from_json_lossy(&page.body).map_err(|e| malformed_members(page, index, &e))?;
        let accounts = members
            .into_iter()
            .map(|m| normalise(self.source_name, self.org, m, &mut self.bad_times))
            .collect();
        self.accounts.add_page(index + 1, accounts, "member list")
    }

    fn finish(self) -> Vec<Account> {
        if self.bad_times > 0 {
            tracing::warn!(
                source = self.source_name,
                scope = self.org,
                count = self.bad_times,
                "timestamps that could not be read were treated as unknown"
            );
        }
        self.accounts.finish()
    }
}

/// A member page that does not parse. Every field is read leniently, so what fails inside a
/// member is ambiguity — the same key twice, with two values — and guessing which value holds
/// could hide an owner or a missing 2FA: the scope fails, naming the member and the key.
fn malformed_members(page: &Answer, index: usize, e: &serde_json::Error) -> ScopeError {
    let text = String::from_utf8_lossy(&page.body);
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(&text) else {
        return malformed(page, index, "member list", e);
    };
    for (n, item) in items.iter().enumerate() {
        if let Err(member_error) = serde_json::from_str::<Member>(item.get()) {
            let id = serde_json::from_str::<serde_json::Value>(item.get())
                .ok()
                .and_then(|v| v.get("id").map(ToString::to_string))
                .unwrap_or_else(|| "unknown".into());
            let mut err = malformed(page, index, "member list", e);
            err.message = format!(
                "page {}, member {} (id {id}): {member_error}; the answer is ambiguous, so the scope is not \
                 audited rather than guess which value holds",
                index + 1,
                n + 1
            );
            return err;
        }
    }
    malformed(page, index, "member list", e)
}

#[cfg(test)]
fn parse_pages(source_name: &str, org: &str, pages: &[Answer]) -> Result<Vec<Account>, ScopeError> {
    let mut parser = MemberPages::new(source_name, org);
    for (i, page) in pages.iter().enumerate() {
        parser.add(i, page)?;
    }
    Ok(parser.finish())
}

fn time(raw: Option<&str>, bad: &mut usize) -> Option<DateTime<Utc>> {
    let raw = raw?;
    let t = parse_timestamp(raw);
    if t.is_none() && !raw.trim().is_empty() {
        *bad += 1;
    }
    t
}

/// The account, and whether its id is the member id the API gave.
fn normalise(source_name: &str, org: &str, m: Member, bad_times: &mut usize) -> (Account, bool) {
    let user = m.user;
    let pending = m.pending.unwrap_or(user.is_none());
    let status = match (pending, m.expired.unwrap_or(false)) {
        (false, _) => status::ACTIVE,
        (true, false) => status::INVITED,
        (true, true) => status::EXPIRED,
    };
    let role = m
        .org_role
        .or(m.role)
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty());
    let privileged = role
        .as_deref()
        .is_some_and(|r| matches!(r, "owner" | "manager" | "admin"));
    let created_at = time(m.date_created.as_deref(), bad_times);
    let (user_id, mfa, last_login_at, last_active_at, user_email, user_name) = match user {
        Some(u) => (
            u.id,
            u.has2fa,
            time(u.last_login.as_deref(), bad_times),
            time(u.last_active.as_deref(), bad_times),
            u.email,
            u.name,
        ),
        None => (None, None, None, None, None, None),
    };
    let email = m.email.filter(|e| !e.is_empty()).or(user_email);
    let identified = m.id.as_deref().is_some_and(|id| !id.is_empty());
    let account_id = match m.id {
        Some(id) if identified => id,
        _ => user_id
            .as_ref()
            .map(|u| format!("user:{u}"))
            .or_else(|| email.as_ref().map(|e| format!("email:{e}")))
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let account = Account {
        source: SourceKind::Sentry,
        source_name: source_name.to_string(),
        scope: org.to_string(),
        account_id,
        user_id,
        email,
        name: m.name.filter(|n| !n.is_empty()).or(user_name),
        role,
        privileged,
        status: status.to_string(),
        mfa,
        last_login_at,
        last_active_at,
        last_seen_at: later_of(last_login_at, last_active_at),
        invited_at: if pending { created_at } else { None },
        created_at,
        flags: m.flags,
    };
    (account, identified)
}

fn malformed(page: &Answer, index: usize, what: &str, e: &serde_json::Error) -> ScopeError {
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
    let (code, message) = match from_json_lossy::<ErrorBody>(&a.body) {
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
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(body.to_string()),
            link: None,
            request_id: None,
            fetched_at: Utc::now(),
            retries: 0,
        }
    }

    #[test]
    fn normalises_members_invites_and_old_servers() {
        let body = r#"[
          {"id":"1","email":"a@x.io","name":"A","user":{"id":"10","has2fa":false,"lastLogin":"2026-01-01T00:00:00Z","lastActive":"2026-02-01T00:00:00.5Z"},
           "orgRole":"Owner","role":"member","pending":false,"expired":false,"flags":{"sso:linked":true,"new:flag":true},"dateCreated":"2020-01-01T00:00:00Z"},
          {"id":"2","email":"b@x.io","name":"b@x.io","user":null,"orgRole":"member","pending":true,"expired":false,"dateCreated":"2026-10-01T00:00:00Z"},
          {"id":"3","email":"c@x.io","user":null,"role":"admin","pending":true,"expired":true,"dateCreated":"2026-01-01T00:00:00Z"},
          {"id":"4","email":"d@x.io","user":{"id":"40","emails":[{"email":"d@x.io"}],"has2fa":"maybe","lastLogin":"not a date"},"role":"manager","pending":false},
          {"id":"1","email":"dup@x.io","user":{"id":"10"}}
        ]"#;
        let accounts = parse_pages("sentry", "acme", &[answer(200, body)]).unwrap();
        assert_eq!(accounts.len(), 4, "duplicate member id 1 is dropped");
        let a = &accounts[0];
        assert_eq!(
            (a.role.as_deref(), a.privileged, a.status.as_str(), a.mfa),
            (Some("owner"), true, "active", Some(false))
        );
        assert_eq!(a.last_seen_at, a.last_active_at);
        assert_eq!(a.invited_at, None);
        assert_eq!(a.user_id.as_deref(), Some("10"));
        let b = &accounts[1];
        assert_eq!(
            (b.status.as_str(), b.mfa, b.user_id.as_deref()),
            ("invited", None, None)
        );
        assert!(b.invited_at.is_some());
        assert_eq!(accounts[2].status, "expired");
        assert_eq!(accounts[2].role.as_deref(), Some("admin"));
        let d = &accounts[3];
        assert_eq!((d.mfa, d.last_login_at, d.privileged), (None, None, true));
    }

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

    #[test]
    fn urls_are_built_on_our_base() {
        let u = org_url(
            "https://sentry.example.com/sentry",
            Some("acme"),
            Some("members"),
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://sentry.example.com/sentry/api/0/organizations/acme/members/"
        );
        let u = org_url("https://sentry.io", None, None).unwrap();
        assert_eq!(u.as_str(), "https://sentry.io/api/0/organizations/");
    }
}

#[cfg(test)]
pub(crate) mod properties {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Any JSON value, a few levels deep.
    pub fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z0-9:]{1,10}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const FIELDS: [&str; 12] = [
        "id",
        "email",
        "name",
        "user",
        "orgRole",
        "role",
        "pending",
        "expired",
        "flags",
        "dateCreated",
        "has2fa",
        "lastLogin",
    ];

    proptest! {
        /// A member object whose fields hold anything at all is kept, never a panic, never a
        /// page-level failure.
        #[test]
        fn any_member_fields_are_kept(values in prop::collection::vec(any_json(), FIELDS.len()), user in prop::collection::vec(any_json(), 6)) {
            let mut member = serde_json::Map::new();
            for (k, v) in FIELDS.iter().zip(values) {
                member.insert((*k).to_string(), v);
            }
            let user_obj: serde_json::Map<String, Value> =
                ["id", "has2fa", "lastLogin", "lastActive", "email", "name"].iter().map(|k| (*k).to_string()).zip(user).collect();
            member.insert("user".into(), Value::Object(user_obj));
            member.insert("id".into(), json!("1"));
            let body = Value::Array(vec![Value::Object(member)]).to_string();
            let page = Answer { status: 200, body: Bytes::from(body), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let accounts = parse_pages("sentry", "acme", &[page]).unwrap();
            prop_assert_eq!(accounts.len(), 1);
        }

        /// Any body at all: an error or accounts, never a panic.
        #[test]
        fn any_body_is_handled(body in any_json()) {
            let page = Answer { status: 200, body: Bytes::from(body.to_string()), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let _ = parse_pages("sentry", "acme", std::slice::from_ref(&page));
            let _ = error_from_answer(&page);
        }
    }

    #[test]
    fn invalid_utf8_and_control_characters_in_names_are_kept() {
        let mut body = br#"[{"id":"1","email":"a@x","name":"Bad "#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#" \u0007\u001b[31m","user":{"id":"9","has2fa":true}}]"#);
        let page = Answer {
            status: 200,
            body: Bytes::from(body),
            link: None,
            request_id: None,
            fetched_at: Utc::now(),
            retries: 0,
        };
        let accounts = parse_pages("sentry", "acme", &[page]).unwrap();
        assert_eq!(accounts.len(), 1);
        assert!(
            accounts[0]
                .name
                .as_deref()
                .unwrap()
                .starts_with("Bad \u{fffd}\u{fffd}")
        );
    }
}
