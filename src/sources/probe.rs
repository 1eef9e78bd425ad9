//! `check-config --connect`: one authenticated request per source, and what its answer means
//! for the user. The request is the source's ([`SourceSettings::probe`]); so are the meanings of
//! its refusals beyond the common ones ([`Source::refusal`]).

use super::spec::SourceConfig;
use super::{Fetcher, PageRequest, RetryCount, live_source};
use crate::stop::StopSignal;

/// The verdict on one source: `ok (…)` when the credentials work, `FAILED: …` otherwise.
pub(crate) async fn connect(s: &SourceConfig, secret: &secrecy::SecretString) -> String {
    let fetcher = match live_source(s, secret, None) {
        Ok(source) => Fetcher {
            provenance: Default::default(),
            source,
            stop: StopSignal::new(),
            retries: RetryCount::default(),
        },
        Err(e) => return format!("FAILED: {e}"),
    };
    let base = &s.spec.base_url;
    let probe = match s.spec.settings.probe(base) {
        Ok(p) => p,
        Err(e) => return format!("FAILED: {e}"),
    };
    let req = PageRequest {
        scope: "_connect",
        endpoint: probe.endpoint,
        url: probe.url.clone(),
        headers: Vec::new(),
    };
    let path = probe.url.path();
    match fetcher.get(&s.spec.name, &req).await {
        Err(e) => format!("FAILED: no answer from {base}: {}", e.0),
        Ok(a) if a.is_success() => format!("ok (GET {path} answered {})", a.status),
        Ok(a) => {
            let what = match a.status {
                401 => "bad credentials",
                status => s.spec.source().refusal(status).unwrap_or(match status {
                    404 => "not found (check base_url and the organization slug)",
                    _ => "unexpected answer",
                }),
            };
            format!("FAILED: {what}: HTTP {} from GET {path}", a.status)
        }
    }
}
