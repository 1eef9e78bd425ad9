//! The page walk: profile discovery (`/v3/sender-profiles` page by page, or `/v3/profiles`),
//! then `/v3/users` for the organization and each profile (`x-profile-id`).

use std::collections::HashSet;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::config::is_hyphenated_uuid;
use super::envelope::{Pagination, has_more, missing_list, open};
use super::users::{UsersData, ambiguous_user, normalise};
use super::{DISCOVERY_SCOPE, PROFILES, SENDER_PROFILES, Settings, USERS};
use crate::http::Answer;
use crate::model::{Account, ScopeError, ScopeResult};
use crate::sources::lenient::{opt_object, opt_string};
use crate::sources::pages::ScopeText;
use crate::sources::spec::Selection;
use crate::sources::{
    Endpoint, MAX_DISCOVERY_PAGES, MAX_PAGES_PER_SCOPE, PageBudget, PageRequest, ScopeAccounts,
    SourceContext, check_progress, local_error,
};

/// The scope name of the organization's own user list.
pub const ORGANIZATION_SCOPE: &str = "organization";
const PAGE_SIZE: &str = "100";

#[derive(Debug, Deserialize)]
pub(super) struct SenderProfilesData {
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
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
}

/// The organization's users, and each child profile's: the listed profiles, or every one.
pub(super) async fn fetch(ctx: &SourceContext<'_>, settings: &Settings) -> Vec<ScopeResult> {
    let spec = ctx.spec;
    let mut results = Vec::new();
    let mut scopes = vec![ORGANIZATION_SCOPE.to_string()];
    match &settings.profiles {
        Selection::List(ids) => scopes.extend(ids.iter().cloned()),
        Selection::All => match discover_profiles(ctx).await {
            Ok(found) => {
                // A profile whose id cannot be used fails alone, under its place in the list.
                for (n, error) in found.unusable {
                    let scope = format!("{DISCOVERY_SCOPE}[{n}]");
                    results.push(spec.scope_result(&scope, Err(error)));
                }
                for (id, name) in &found.names {
                    ctx.fetcher.provenance.name(id, name);
                }
                scopes.extend(found.ids);
            }
            Err(e) => {
                // The organization itself can still be audited; the missing profile list is
                // reported as a failed scope so the run is marked incomplete.
                tracing::error!(source = %spec.name, error = %e, "cannot list the organization's profiles");
                results.push(spec.scope_result(DISCOVERY_SCOPE, Err(e)));
            }
        },
    }
    let scopes = ctx.select(scopes);
    results.extend(
        ctx.fetch_scopes(&scopes, |scope| async move {
            spec.scope_result(scope, fetch_users(ctx, settings, scope).await)
        })
        .await,
    );
    results
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

/// What profile discovery listed: the ids to audit, and the entries that cannot be audited
/// (their place in the list, 1-based, and why).
#[derive(Default)]
struct Profiles {
    ids: Vec<String>,
    /// Profile names, by id: reports show profiles by name with the id alongside.
    names: Vec<(String, String)>,
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
        let answer = get(ctx, DISCOVERY_SCOPE, SENDER_PROFILES, url, None).await?;
        if page == 1 && answer.status == 404 {
            tracing::info!(source = %ctx.spec.name, "/v3/sender-profiles answered 404; listing /v3/profiles instead");
            let url = endpoint_url(base, "profiles")?;
            let answer = get(ctx, DISCOVERY_SCOPE, PROFILES, url, None).await?;
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
                        if let Some(name) = item.name {
                            self.names.push((id.clone(), name));
                        }
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

/// `GET /v3/users` for one scope. The endpoint does not page today; should it ever say
/// `has_more`, we ask for further pages, and a page that repeats what came before fails the
/// scope (the server ignores `page`).
async fn fetch_users(
    ctx: &SourceContext<'_>,
    settings: &Settings,
    scope: &str,
) -> Result<Vec<Account>, ScopeError> {
    let started = std::time::Instant::now();
    let spec = ctx.spec;
    let profile = (scope != ORGANIZATION_SCOPE).then_some(scope);
    let mut collected = ScopeAccounts::new(&spec.name, scope);
    let mut text = ScopeText::new(&spec.name, scope);
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
        let answer = get(ctx, scope, USERS, url, profile).await?;
        retries += answer.retries;
        budget.take(&answer)?;
        let data: UsersData = open(&answer, "user list").map_err(|e| ambiguous_user(&answer, e))?;
        let users = data
            .users
            .ok_or_else(|| missing_list(&answer, "data.users"))?;
        let empty = users.is_empty();
        let page_accounts = users
            .into_iter()
            .map(|u| normalise(&mut text, settings.invite_ttl_days, u, ctx.as_of))
            .collect();
        collected.add_page(page as usize, page_accounts, "user list")?;
        if let Some(t) = data
            .pagination
            .as_ref()
            .and_then(|p| p.total_count.as_deref())
            .and_then(|t| t.parse().ok())
        {
            total_count = Some(t);
            ctx.fetcher.provenance.reported_total(scope, t);
        }
        if !has_more(data.pagination.as_ref(), empty, page, "user list")? {
            break collected.finish();
        }
        budget.another()?;
        page += 1;
    };
    // The API's own count is the check of completeness and accuracy: fewer accounts means
    // the list was cut short, more means it counts something else than it lists.
    if let Some(total) = total_count
        && accounts.len() as u64 != total
    {
        let n = accounts.len();
        return Err(local_error(if (n as u64) < total {
            format!(
                "the API reports {total} users but only {n} could be fetched; the list is incomplete"
            )
        } else {
            format!(
                "the API reports {total} users but lists {n}; the list does not match its own count"
            )
        }));
    }
    tracing::info!(source = %spec.name, scope, pages = page, accounts = accounts.len(), retries,
        duration_ms = started.elapsed().as_millis() as u64, "scope fetched");
    Ok(accounts)
}
