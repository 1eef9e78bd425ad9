//! Sources: one module per API. Each turns its configured scopes into raw pages (through a
//! [`Fetcher`], live or replayed) and its raw pages into [`Account`](crate::model::Account)s.

pub mod evidence;
pub mod lenient;
pub mod link;
pub mod replay;
pub mod sentdm;
pub mod sentry;
pub mod spec;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use crate::http::{Answer, SourceClient};
use crate::model::{Account, ScopeError, ScopeResult, SourceKind};
use crate::progress::Progress;
use crate::stop::StopSignal;
use evidence::{EvidenceRecorder, RecordKey};
use replay::{ReplayArchive, Replayed};
use sha2::{Digest, Sha256};
use spec::{SourceConfig, SourceSpec};

/// The endpoints we call, named as in the evidence manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    SentryOrganizations,
    SentryMembers,
    SentryUsers,
    /// `GET /api/0/organizations/{slug}/`: only when a rule needs the organization's settings.
    SentryOrganization,
    SentdmMe,
    SentdmSenderProfiles,
    SentdmProfiles,
    SentdmUsers,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::SentryOrganizations => "sentry.organizations",
            Endpoint::SentryMembers => "sentry.members",
            Endpoint::SentryUsers => "sentry.users",
            Endpoint::SentryOrganization => "sentry.organization",
            Endpoint::SentdmMe => "sentdm.me",
            Endpoint::SentdmSenderProfiles => "sentdm.sender_profiles",
            Endpoint::SentdmProfiles => "sentdm.profiles",
            Endpoint::SentdmUsers => "sentdm.users",
        }
    }
}

/// Scope name under which discovery requests (listing organizations or profiles) are recorded
/// and, when they fail, reported.
pub const SENTRY_DISCOVERY_SCOPE: &str = "_organizations";
pub const SENTDM_DISCOVERY_SCOPE: &str = "_profiles";

/// One request, as the sources describe it.
pub struct PageRequest<'a> {
    pub scope: &'a str,
    pub endpoint: Endpoint,
    pub url: Url,
    /// Extra, non-secret headers (Sent.dm's `x-profile-id`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Where pages come from: the network (optionally recording evidence), or an archive.
pub enum PageSource {
    Live {
        client: Box<SourceClient>,
        recorder: Option<Arc<EvidenceRecorder>>,
    },
    Replay(Arc<ReplayArchive>),
}

/// Fetches pages for one source, and stops handing them out once the run is stopped.
pub struct Fetcher {
    pub source: PageSource,
    pub stop: StopSignal,
}

/// Why a page could not be had at all (no HTTP answer to interpret).
#[derive(Debug, Clone)]
pub struct NoPage(pub String);

impl From<NoPage> for ScopeError {
    fn from(e: NoPage) -> ScopeError {
        local_error(e.0)
    }
}

/// A scope error found on our side: no HTTP status or request id to show.
pub fn local_error(message: String) -> ScopeError {
    ScopeError {
        http_status: None,
        code: None,
        message,
        request_id: None,
    }
}

/// Pages one scope may take. A real organization stays far below (1,000 Sentry pages are
/// 100,000 members); a server that never stops paginating is ended within minutes.
pub const MAX_PAGES_PER_SCOPE: usize = 1_000;
/// Body bytes one scope may take, all pages together: what bounds the memory a hostile server
/// can make one scope hold (every account string comes out of these bytes).
pub const MAX_BYTES_PER_SCOPE: u64 = 256 << 20;
/// Pages of a discovery list (organizations, profiles): 10,000 entries at 100 a page.
pub const MAX_DISCOVERY_PAGES: usize = 100;

/// Counts what one paginated list has taken and ends it at the caps above.
pub struct PageBudget {
    what: &'static str,
    max_pages: usize,
    pages: usize,
    bytes: u64,
}

impl PageBudget {
    pub fn new(what: &'static str, max_pages: usize) -> PageBudget {
        PageBudget {
            what,
            max_pages,
            pages: 0,
            bytes: 0,
        }
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Count a received page; an error once the bytes are spent.
    pub fn take(&mut self, answer: &Answer) -> Result<(), ScopeError> {
        self.pages += 1;
        self.bytes = self.bytes.saturating_add(answer.body.len() as u64);
        if self.bytes > MAX_BYTES_PER_SCOPE {
            return Err(local_error(format!(
                "the {} took more than {} MiB over {} pages; stopped so that a server cannot exhaust memory",
                self.what,
                MAX_BYTES_PER_SCOPE >> 20,
                self.pages
            )));
        }
        Ok(())
    }

    /// Before asking for another page: an error once the pages are spent.
    pub fn another(&self) -> Result<(), ScopeError> {
        if self.pages >= self.max_pages {
            return Err(local_error(format!(
                "the {} has more than {} pages and the server still says there are more; stopped to \
                 end what would otherwise be an endless loop",
                self.what, self.max_pages
            )));
        }
        Ok(())
    }
}

/// A page that brought entries, none of them new, means the server is not advancing through
/// the list (it ignores the page parameter or repeats a cursor's page): what it would go on to
/// send cannot be trusted to be the rest of the list.
pub fn check_progress(
    page: usize,
    received: usize,
    new: usize,
    what: &str,
) -> Result<(), ScopeError> {
    if received > 0 && new == 0 {
        return Err(local_error(format!(
            "page {page} of the {what} repeats {received} entries already received and nothing new; the \
             server is not advancing through the list, so it cannot be read completely"
        )));
    }
    Ok(())
}

/// Flag on an account the API sent without an id: it is kept and reported, never merged.
pub const NO_API_ID: &str = "api:no-id";

/// One scope's accounts as their pages arrive. Accounts with the same API id are one account
/// (offset pagination can send a row twice when the list changes under it): the later copy is
/// dropped and the merge logged. An account without an API id is never merged with another:
/// it keeps a derived id made unique within the scope, and the flag [`NO_API_ID`].
pub struct ScopeAccounts<'a> {
    source_name: &'a str,
    scope: &'a str,
    accounts: Vec<Account>,
    ids: std::collections::HashSet<String>,
    merged: Vec<String>,
    unidentified: usize,
}

impl<'a> ScopeAccounts<'a> {
    pub fn new(source_name: &'a str, scope: &'a str) -> Self {
        ScopeAccounts {
            source_name,
            scope,
            accounts: Vec::new(),
            ids: std::collections::HashSet::new(),
            merged: Vec::new(),
            unidentified: 0,
        }
    }

    /// Add one page of accounts (`true` = the id came from the API) and check it brought
    /// something new.
    pub fn add_page(
        &mut self,
        page: usize,
        accounts: Vec<(Account, bool)>,
        what: &str,
    ) -> Result<(), ScopeError> {
        let received = accounts.len();
        let before = self.accounts.len();
        self.accounts.reserve(received);
        for (account, identified) in accounts {
            self.add(account, identified);
        }
        check_progress(page, received, self.accounts.len() - before, what)
    }

    fn add(&mut self, mut account: Account, identified: bool) {
        if identified {
            if self.ids.insert(account.account_id.clone()) {
                self.accounts.push(account);
            } else {
                self.merged.push(account.account_id);
            }
            return;
        }
        self.unidentified += 1;
        let base = account.account_id.clone();
        let mut n = 1;
        while !self.ids.insert(account.account_id.clone()) {
            n += 1;
            account.account_id = format!("{base}#{n}");
        }
        account.flags.push(NO_API_ID.to_string());
        self.accounts.push(account);
    }

    pub fn finish(self) -> Vec<Account> {
        if !self.merged.is_empty() {
            let shown: Vec<&str> = self.merged.iter().take(20).map(String::as_str).collect();
            tracing::warn!(source = self.source_name, scope = self.scope, count = self.merged.len(),
                ids = %shown.join(", "), "accounts listed twice with the same id were merged");
        }
        if self.unidentified > 0 {
            tracing::warn!(
                source = self.source_name,
                scope = self.scope,
                count = self.unidentified,
                flag = NO_API_ID,
                "accounts without an id were kept and flagged; they cannot be matched across runs"
            );
        }
        self.accounts
    }
}

impl Fetcher {
    pub async fn get(&self, source_name: &str, req: &PageRequest<'_>) -> Result<Answer, NoPage> {
        let stopped = || {
            NoPage(format!(
                "not audited: the run was stopped ({}) before this scope was fetched completely",
                self.stop
                    .reason()
                    .unwrap_or_else(|| "stop requested".into())
            ))
        };
        if self.stop.is_stopped() {
            return Err(stopped());
        }
        tokio::select! {
            biased;
            () = self.stop.stopped() => Err(stopped()),
            result = self.fetch(source_name, req) => result,
        }
    }

    async fn fetch(&self, source_name: &str, req: &PageRequest<'_>) -> Result<Answer, NoPage> {
        match &self.source {
            PageSource::Live { client, recorder } => {
                let result = client
                    .get(&req.url, &req.headers, true)
                    .await
                    .map_err(|e| crate::redact::redact(&e.to_string()).into_owned());
                if let Some(recorder) = recorder {
                    let key = RecordKey {
                        source_name,
                        scope: req.scope,
                        endpoint: req.endpoint.as_str(),
                        url: req.url.as_str(),
                    };
                    let fetched_at = result
                        .as_ref()
                        .map_or_else(|_| Utc::now(), |a| a.fetched_at);
                    let answer = result.as_ref().map_err(String::as_str);
                    // An answer we cannot keep as evidence must not be used: the archive would
                    // no longer prove the report.
                    recorder.record(&key, answer, fetched_at).map_err(NoPage)?;
                }
                // The archive keeps the bytes as received; what flows on to reports and logs
                // has every known secret masked (a server may echo the key it was sent).
                result.map(redacted).map_err(NoPage)
            }
            PageSource::Replay(archive) => {
                match archive.answer(
                    source_name,
                    req.scope,
                    req.endpoint.as_str(),
                    req.url.as_str(),
                ) {
                    Replayed::Answer(a) => Ok(a),
                    Replayed::NoAnswer(msg) | Replayed::Missing(msg) => Err(NoPage(msg)),
                }
            }
        }
    }
}

fn redacted(mut answer: Answer) -> Answer {
    use crate::redact::{redact, redact_bytes};
    answer.body = redact_bytes(answer.body);
    answer.link = answer.link.map(|l| redact(&l).into_owned());
    answer.request_id = answer.request_id.map(|r| redact(&r).into_owned());
    answer
}

/// One shard of a scaled-out run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Everything a source module needs to fetch and normalise.
pub struct SourceContext<'a> {
    pub spec: &'a SourceSpec,
    pub concurrency: usize,
    pub fetcher: Fetcher,
    pub as_of: DateTime<Utc>,
    /// Audit only the scopes of this shard.
    pub shard: Option<Shard>,
    pub progress: Progress,
    /// Fetch each Sentry organization's settings too (for `sso_not_linked`).
    pub org_details: bool,
}

impl SourceContext<'_> {
    /// The scopes this run audits, out of all the source has; counted for the progress bar.
    pub fn select(&self, scopes: Vec<String>) -> Vec<String> {
        let selected: Vec<String> = match self.shard {
            Some(shard) => scopes
                .into_iter()
                .filter(|s| shard_of(&self.spec.name, s, shard.count) == shard.index)
                .collect(),
            None => scopes,
        };
        self.progress.add_scopes(selected.len());
        selected
    }

    /// Fetch `scopes`, up to `concurrency` at a time, and return their results in the order
    /// given (reports must not depend on which answer came first).
    pub async fn fetch_scopes<'s, F, Fut>(
        &'s self,
        scopes: &'s [String],
        fetch: F,
    ) -> Vec<ScopeResult>
    where
        F: Fn(&'s str) -> Fut,
        Fut: std::future::Future<Output = ScopeResult>,
    {
        use futures::StreamExt;
        let mut fetched: Vec<(usize, ScopeResult)> =
            futures::stream::iter(scopes.iter().enumerate())
                .map(|(i, scope)| {
                    let pending = fetch(scope);
                    async move {
                        let result = pending.await;
                        self.progress
                            .scope_done(result.outcome.as_ref().map_or(0, Vec::len));
                        (i, result)
                    }
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        fetched.sort_by_key(|(i, _)| *i);
        fetched.into_iter().map(|(_, r)| r).collect()
    }
}

/// Which of `count` shards a scope belongs to: a stable hash of source name and scope, so the
/// same scope lands in the same shard on every run and every machine.
pub fn shard_of(source_name: &str, scope: &str, count: u32) -> u32 {
    let digest = Sha256::new()
        .chain_update(source_name.as_bytes())
        .chain_update([0u8])
        .chain_update(scope.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

/// Fetch one source's every scope. Never fails as a whole: failures are per scope.
pub async fn fetch_source(ctx: SourceContext<'_>) -> Vec<ScopeResult> {
    let started = std::time::Instant::now();
    let mut results = match ctx.spec.kind {
        SourceKind::Sentry => sentry::fetch(&ctx).await,
        SourceKind::Sentdm => sentdm::fetch(&ctx).await,
    };
    // A source that yields no scope at all audited nothing: that is a coverage failure, never
    // a clean result (a shard may legitimately hold none of a source's scopes).
    if results.is_empty() && ctx.shard.is_none() {
        results.push(ScopeResult {
            source: ctx.spec.kind,
            source_name: ctx.spec.name.clone(),
            scope: discovery_scope(ctx.spec.kind).to_string(),
            outcome: Err(local_error(
                "the source yielded no scope to audit; nothing of it was audited".into(),
            )),
        });
    }
    let accounts: usize = results
        .iter()
        .map(|r| r.outcome.as_ref().map_or(0, Vec::len))
        .sum();
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    tracing::info!(
        source = %ctx.spec.name,
        scopes = results.len(),
        failed,
        accounts,
        duration_ms = started.elapsed().as_millis() as u64,
        "source fetched"
    );
    results
}

/// The pseudo-scope under which a source's discovery is recorded and reported.
pub fn discovery_scope(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Sentry => SENTRY_DISCOVERY_SCOPE,
        SourceKind::Sentdm => SENTDM_DISCOVERY_SCOPE,
    }
}

/// Build the live page source for a configured source.
pub fn live_source(
    source: &SourceConfig,
    secret: &secrecy::SecretString,
    recorder: Option<Arc<EvidenceRecorder>>,
) -> Result<PageSource, String> {
    use secrecy::ExposeSecret;
    let mut auth = reqwest::header::HeaderMap::new();
    let (name, value) = match source.spec.kind {
        SourceKind::Sentry => (
            "authorization",
            format!("Bearer {}", secret.expose_secret()),
        ),
        SourceKind::Sentdm => ("x-api-key", secret.expose_secret().to_string()),
    };
    let value = HeaderValue::from_str(&value).map_err(|_| {
        format!(
            "the secret of source `{}` contains characters that cannot be sent in an HTTP header",
            source.spec.name
        )
    })?;
    auth.insert(HeaderName::from_static(name), value);
    let client = SourceClient::new(source.fetch.clone(), auth, &source.spec.base_url)?;
    Ok(PageSource::Live {
        client: Box::new(client),
        recorder,
    })
}

/// A short, printable excerpt of a body that is not what we expected (an HTML error page, …).
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let squeezed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = squeezed.chars().take(160).collect();
    if squeezed.chars().count() > 160 {
        out.push('…');
    }
    out
}
