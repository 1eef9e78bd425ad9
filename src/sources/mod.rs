//! Sources: one folder per API, listed in [`registry`]. Each turns its configured scopes into
//! raw pages (through a [`Fetcher`], live or replayed) and its raw pages into
//! [`Account`](crate::model::Account)s. What a source must provide is [`Source`] and
//! [`SourceSettings`] (`source.rs`); what every source shares is here: the fetcher, the page and
//! scope budgets (`pages.rs`), the `[[sources]]` keys they all take (`config.rs`), the spec the
//! manifest records (`spec.rs`), the probe of `check-config --connect` (`probe.rs`).

pub(crate) mod config;
pub(crate) mod evidence;
pub(crate) mod lenient;
pub(crate) mod link;
pub(crate) mod pages;
pub(crate) mod probe;
pub(crate) mod registry;
pub(crate) mod remediate;
pub(crate) mod replay;
pub mod sentdm;
pub mod sentry;
pub(crate) mod source;
pub(crate) mod spec;
#[cfg(test)]
mod testapi;
mod threads;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use crate::http::{Answer, ConcurrencyLimit, SourceClient};
use crate::model::{PageRecord, Provenance, ScopeError, ScopeResult, Shard};
use crate::progress::Progress;
use crate::stop::StopSignal;
use evidence::{EvidenceRecorder, RecordKey};
pub(crate) use pages::{
    MAX_DISCOVERY_PAGES, MAX_PAGES_PER_SCOPE, PageBudget, ScopeAccounts, check_progress,
};
use replay::{ReplayArchive, Replayed};
use sha2::{Digest, Sha256};
pub(crate) use source::{Probe, SecretKeys, Source, SourceSettings};
use spec::{SourceConfig, SourceSpec};

/// An endpoint we call, named as in the evidence manifest (`sentry.members`). Each source names
/// its own; replay matches recorded answers by this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint(&'static str);

impl Endpoint {
    pub const fn new(name: &'static str) -> Endpoint {
        Endpoint(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

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
    /// Requests retried, over every scope of every source that shares the counter.
    pub retries: RetryCount,
    /// Every answer handed out, per scope, and what the source noted about its scopes.
    pub provenance: ProvenanceLog,
}

/// What one source's fetcher saw of each scope, for the report's statement of how every
/// population was obtained: the pages (logged by [`Fetcher::get`] itself, so no source can
/// forget one), and the names and totals the source read from the API.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceLog(Arc<std::sync::Mutex<std::collections::HashMap<String, Provenance>>>);

impl ProvenanceLog {
    fn with(&self, scope: &str, change: impl FnOnce(&mut Provenance)) {
        // A poisoned lock only loses provenance, never accounts: the statement then shows fewer
        // pages, which the account count contradicts visibly.
        if let Ok(mut log) = self.0.lock() {
            change(log.entry(scope.to_string()).or_default());
        }
    }

    /// The scope's name for people, as discovery listed it.
    pub fn name(&self, scope: &str, name: &str) {
        let name: String = name.chars().take(MAX_DISPLAY_NAME_CHARS).collect();
        self.with(scope, |p| p.display_name = Some(name));
    }

    /// The number of accounts the API says the scope's list holds.
    pub fn reported_total(&self, scope: &str, total: u64) {
        self.with(scope, |p| p.reported_total = Some(total));
    }

    /// Everything logged for `scope`, removed from the log.
    pub fn take(&self, scope: &str) -> Provenance {
        self.0
            .lock()
            .ok()
            .and_then(|mut log| log.remove(scope))
            .unwrap_or_default()
    }
}

/// A display name longer than this is cut: it comes from the API, and reports show it.
const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Requests retried during a run, counted as answers (or final failures) come back; shared by
/// every source's [`Fetcher`] so the run can report one total.
#[derive(Debug, Clone, Default)]
pub struct RetryCount(Arc<std::sync::atomic::AtomicU32>);

impl RetryCount {
    fn add(&self, n: u32) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn total(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
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
pub(crate) fn local_error(message: String) -> ScopeError {
    ScopeError {
        http_status: None,
        code: None,
        message,
        request_id: None,
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
        let (answer, sha256) = self.fetch_page(source_name, req).await?;
        self.provenance.with(req.scope, |p| {
            p.pages.push(PageRecord {
                endpoint: req.endpoint.as_str().to_string(),
                url: req.url.to_string(),
                status: answer.status,
                fetched_at: answer.fetched_at,
                request_id: answer.request_id.clone(),
                bytes: answer.body.len() as u64,
                sha256,
            })
        });
        Ok(answer)
    }

    /// One answer, and the SHA-256 of its body as kept in the evidence archive, if it is kept.
    async fn fetch_page(
        &self,
        source_name: &str,
        req: &PageRequest<'_>,
    ) -> Result<(Answer, Option<String>), NoPage> {
        match &self.source {
            PageSource::Live { client, recorder } => {
                let mut sha256 = None;
                let result = client
                    .get(req.endpoint.as_str(), &req.url, &req.headers, true)
                    .await;
                self.retries.add(match &result {
                    Ok(answer) => answer.retries,
                    Err(failed) => failed.attempts.saturating_sub(1),
                });
                let result = result.map_err(|e| crate::redact::redact(&e.to_string()).into_owned());
                if let Some(recorder) = recorder {
                    let key = RecordKey {
                        source_name,
                        scope: req.scope,
                        endpoint: req.endpoint.as_str(),
                        url: req.url.as_str(),
                        method: None,
                        request: None,
                    };
                    let fetched_at = result
                        .as_ref()
                        .map_or_else(|_| Utc::now(), |a| a.fetched_at);
                    let answer = result.as_ref().map_err(String::as_str);
                    // An answer we cannot keep as evidence must not be used: the archive would
                    // no longer prove the report.
                    sha256 = recorder.record(&key, answer, fetched_at).map_err(NoPage)?;
                }
                // The archive keeps the bytes as received; what flows on to reports and logs
                // has every known secret masked (a server may echo the key it was sent).
                result.map(|a| (redacted(a), sha256)).map_err(NoPage)
            }
            PageSource::Replay(archive) => {
                match archive.answer(
                    source_name,
                    req.scope,
                    req.endpoint.as_str(),
                    req.url.as_str(),
                ) {
                    Replayed::Answer(a, sha256) => Ok((a, sha256)),
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

/// Everything a source module needs to fetch and normalise.
pub struct SourceContext<'a> {
    pub spec: &'a SourceSpec,
    pub concurrency: usize,
    pub fetcher: Fetcher,
    pub as_of: DateTime<Utc>,
    /// Audit only the scopes of this shard.
    pub shard: Option<Shard>,
    pub progress: Progress,
    /// Fetch each scope's own settings too, where the API has them (a rule needs them: Sentry
    /// organizations' SSO for `sso_not_linked`).
    pub scope_details: bool,
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

    /// Fetch `scopes`, as many at a time as the source's limit allows (live: adapted to the
    /// server's budget headers; replayed: `concurrency`), and return their results in the
    /// order given (reports must not depend on which answer came first).
    pub async fn fetch_scopes<'s, F, Fut>(
        &'s self,
        scopes: &'s [String],
        fetch: F,
    ) -> Vec<ScopeResult>
    where
        F: Fn(&'s str) -> Fut + Sync,
        Fut: std::future::Future<Output = ScopeResult>,
    {
        use futures::StreamExt;
        if self.parallel_replay(scopes.len()) {
            let mut fetched = self.fetch_on_threads(scopes, &fetch);
            fetched.sort_by_key(|(i, _)| *i);
            return fetched.into_iter().map(|(_, r)| r).collect();
        }
        let limit = self.scope_limit();
        // Each scope holds a permit of the limit until its last page, so the scopes running
        // never outnumber the limit; the stream holds up to the ceiling, waiting for permits.
        // By index: a closure taking `&String` makes the compiler fail to prove the whole fetch
        // `Send` (a known limit of its higher-ranked lifetimes), which `SourceSettings::fetch`
        // promises.
        let pending = (0..scopes.len()).map(|i| {
            let turn = Arc::clone(&limit).acquire();
            let pending = fetch(&scopes[i]);
            async move {
                let permit = turn.await;
                let result = pending.await;
                drop(permit);
                self.progress
                    .scope_done(result.outcome.as_ref().map_or(0, Vec::len));
                (i, result)
            }
        });
        // The stream polls its futures first in the order it takes them, so they queue for
        // their turn in the order given.
        let mut fetched: Vec<(usize, ScopeResult)> = futures::stream::iter(pending)
            .buffer_unordered(limit.ceiling())
            .collect()
            .await;
        fetched.sort_by_key(|(i, _)| *i);
        if limit.peak() > self.concurrency {
            tracing::info!(source = %self.spec.name, start = self.concurrency, peak = limit.peak(),
                "the server's budget headers allowed more scopes at once than configured");
        }
        fetched.into_iter().map(|(_, r)| r).collect()
    }

    /// The live client's adaptive limit, or a fixed one of `concurrency` for a replay.
    fn scope_limit(&self) -> Arc<ConcurrencyLimit> {
        match &self.fetcher.source {
            PageSource::Live { client, .. } => client.scope_limit(),
            PageSource::Replay(_) => {
                Arc::new(ConcurrencyLimit::new(self.concurrency, self.concurrency))
            }
        }
    }
}

/// Which of `count` shards a scope belongs to: a stable hash of source name and scope, so the
/// same scope lands in the same shard on every run and every machine.
pub(crate) fn shard_of(source_name: &str, scope: &str, count: u32) -> u32 {
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
pub(crate) async fn fetch_source(ctx: SourceContext<'_>) -> Vec<ScopeResult> {
    let started = std::time::Instant::now();
    let mut results = ctx.spec.settings.fetch(&ctx).await;
    for r in &mut results {
        r.provenance = ctx.fetcher.provenance.take(&r.scope);
    }
    // A source that yields no scope at all audited nothing: that is a coverage failure, never
    // a clean result (a shard may legitimately hold none of a source's scopes).
    if results.is_empty() && ctx.shard.is_none() {
        results.push(ctx.spec.scope_result(
            ctx.spec.source().discovery_scope(),
            Err(local_error(
                "the source yielded no scope to audit; nothing of it was audited".into(),
            )),
        ));
    }
    let accounts: usize = results
        .iter()
        .map(|r| r.outcome.as_ref().map_or(0, Vec::len))
        .sum();
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    // Why a run was slower than its requests: requests held back until the server's rate-limit
    // window reset.
    let (window_waits, window_wait) = match &ctx.fetcher.source {
        PageSource::Live { client, .. } => client.window_waits(),
        PageSource::Replay(_) => (0, std::time::Duration::ZERO),
    };
    tracing::info!(
        source = %ctx.spec.name,
        scopes = results.len(),
        failed,
        accounts,
        duration_ms = started.elapsed().as_millis() as u64,
        window_waits,
        window_wait_ms = window_wait.as_millis() as u64,
        "source fetched"
    );
    results
}

/// Build the live page source for a configured source: its API's auth header, its fetch
/// settings, its base URL.
pub(crate) fn live_source(
    source: &SourceConfig,
    secret: &secrecy::SecretString,
    recorder: Option<Arc<EvidenceRecorder>>,
) -> Result<PageSource, String> {
    use secrecy::ExposeSecret;
    let mut auth = reqwest::header::HeaderMap::new();
    let (name, value) = source.spec.source().auth_header(secret.expose_secret());
    let value = HeaderValue::from_str(&value).map_err(|_| {
        format!(
            "the secret of source `{}` contains characters that cannot be sent in an HTTP header",
            source.spec.name
        )
    })?;
    auth.insert(name, value);
    let client = SourceClient::new(source.fetch.clone(), auth, &source.spec.base_url)?;
    Ok(PageSource::Live {
        client: Box::new(client),
        recorder,
    })
}

/// A short, printable excerpt of a body that is not what we expected (an HTML error page, …).
pub(crate) fn body_excerpt(body: &[u8]) -> String {
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
