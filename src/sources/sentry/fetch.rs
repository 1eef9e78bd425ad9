//! The page walk: organization discovery, each organization's member (or project user) list
//! cursor by cursor on our own base URL, and the organization's settings when a rule needs them.

use std::collections::HashSet;

use serde::Deserialize;
use url::Url;

use super::errors::{error_from_answer, malformed};
use super::members::{MemberPages, ORG_AUTH_PROVIDER};
use super::{DISCOVERY_SCOPE, MEMBERS, ORGANIZATION, ORGANIZATIONS, Settings, USERS};
use crate::http::{Answer, from_json_lossy};
use crate::model::{Account, ScopeError, ScopeResult};
use crate::sources::lenient::{opt_bool, opt_string};
use crate::sources::link::next_cursor;
use crate::sources::spec::Selection;
use crate::sources::{
    Endpoint, MAX_DISCOVERY_PAGES, MAX_PAGES_PER_SCOPE, PageBudget, PageRequest, SourceContext,
    check_progress, local_error,
};

/// Sentry's maximum page size. Constant across pages: the cursor encodes it.
const PER_PAGE: &str = "100";

#[derive(Debug, Deserialize)]
struct Organization {
    #[serde(default, deserialize_with = "opt_string")]
    slug: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
}

/// Every organization's members: the listed ones, or every one the token can see.
pub(super) async fn fetch(ctx: &SourceContext<'_>, settings: &Settings) -> Vec<ScopeResult> {
    let spec = ctx.spec;
    let mut results = Vec::new();
    let orgs: Vec<String> = match &settings.organizations {
        Selection::List(orgs) => orgs.clone(),
        Selection::All => match discover_organizations(ctx).await {
            Ok(discovered) => {
                // An organization whose slug cannot be used fails alone, under its place in
                // the list; the others are audited.
                for (n, error) in discovered.unusable {
                    let scope = format!("{DISCOVERY_SCOPE}[{n}]");
                    results.push(spec.scope_result(&scope, Err(error)));
                }
                discovered.slugs
            }
            Err(e) => {
                tracing::error!(source = %spec.name, error = %e, "cannot list the token's organizations");
                results.push(spec.scope_result(DISCOVERY_SCOPE, Err(e)));
                return results;
            }
        },
    };
    let orgs = ctx.select(orgs);
    results.extend(
        ctx.fetch_scopes(&orgs, |org| async move {
            spec.scope_result(org, fetch_org(ctx, settings, org).await)
        })
        .await,
    );
    results
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
    fetch_pages(ctx, DISCOVERY_SCOPE, ORGANIZATIONS, url, budget, |i, page| {
        let orgs: Vec<Organization> =
            from_json_lossy(&page.body).map_err(|e| malformed(page, i, "organization list", &e))?;
        let received = orgs.len();
        let mut new = 0;
        for org in orgs {
            listed += 1;
            match org.slug {
                Some(slug) if is_safe_slug(&slug) => {
                    if seen.insert(slug.clone()) {
                        // The organization's name is what people know it by; the slug is its id.
                        if let Some(name) = org.name.as_deref().filter(|n| *n != slug) {
                            ctx.fetcher.provenance.name(&slug, name);
                        }
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

async fn fetch_org(
    ctx: &SourceContext<'_>,
    settings: &Settings,
    org: &str,
) -> Result<Vec<Account>, ScopeError> {
    let spec = ctx.spec;
    let started = std::time::Instant::now();
    let (endpoint, url) = if settings.projects.is_empty() {
        (MEMBERS, members_url(&spec.base_url, org)?)
    } else {
        // The seed endpoint: everyone with access to the listed projects, in one unpaginated answer.
        let mut url = org_url(&spec.base_url, Some(org), Some("users"))?;
        {
            let mut q = url.query_pairs_mut();
            for p in &settings.projects {
                q.append_pair("project", p);
            }
        }
        (USERS, url)
    };
    let mut parser = MemberPages::new(&spec.name, org);
    let budget = PageBudget::new("member list", MAX_PAGES_PER_SCOPE);
    let (pages, retries) = fetch_pages(ctx, org, endpoint, url, budget, |i, page| {
        parser.add(i, page)
    })
    .await?;
    let mut accounts = parser.finish();
    if ctx.scope_details && fetch_uses_sso(ctx, org).await? {
        let flag: std::sync::Arc<str> = ORG_AUTH_PROVIDER.into();
        for a in &mut accounts {
            a.flags.push(flag.clone());
        }
    }
    tracing::info!(source = %spec.name, scope = org, pages, accounts = accounts.len(), retries,
        duration_ms = started.elapsed().as_millis() as u64, "scope fetched");
    Ok(accounts)
}

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
        endpoint: ORGANIZATION,
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

#[cfg(test)]
mod tests {
    use super::*;

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
