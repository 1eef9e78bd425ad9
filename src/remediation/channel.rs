//! One source's connection for remediation: its write credential, its own (slower) pace, its
//! API's [`Remediator`], and every request and answer recorded as evidence when asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::http::{FetchSettings, MutationAnswer, MutationRequest, NotAnswered, SourceClient};
use crate::sources::evidence::{EvidenceRecorder, RecordKey};
use crate::sources::remediate::{Action, Identity, Read, Remediator};
use crate::sources::spec::{SourceConfig, SourceSpec};

pub(crate) struct Channel {
    pub(crate) spec: SourceSpec,
    pub(crate) remediator: &'static dyn Remediator,
    client: SourceClient,
    base: Url,
    recorder: Option<Arc<EvidenceRecorder>>,
    /// Set when an answer could not be kept as evidence (the command then exits 5).
    lost_evidence: AtomicBool,
}

impl Channel {
    /// `secret`: the source's write credential (`remediate_token_env`, …).
    pub(crate) fn open(
        source: &SourceConfig,
        secret: &SecretString,
        recorder: Option<Arc<EvidenceRecorder>>,
    ) -> Result<Channel, String> {
        let spec = source.spec.clone();
        let remediator = spec.source().remediator().ok_or_else(|| {
            format!(
                "source `{}`: access-audit cannot change access in {}",
                spec.name,
                spec.kind()
            )
        })?;
        let rate = source
            .remediate
            .as_ref()
            .map_or(30, |r| r.requests_per_minute);
        let settings = FetchSettings {
            concurrency: 1,
            requests_per_minute: Some(rate),
            burst: 1,
            ..source.fetch.clone()
        };
        let (name, value) = spec.source().auth_header(secret.expose_secret());
        let value = HeaderValue::from_str(&value).map_err(|_| {
            format!(
                "the write credential of source `{}` contains characters that cannot be sent in an HTTP header",
                spec.name
            )
        })?;
        let mut auth = HeaderMap::new();
        auth.insert(name, value);
        let client = SourceClient::new(settings, auth, &spec.base_url)?.without_redirects()?;
        let base = Url::parse(&spec.base_url)
            .map_err(|e| format!("source `{}`: bad base_url: {e}", spec.name))?;
        Ok(Channel {
            spec,
            remediator,
            client,
            base,
            recorder,
            lost_evidence: AtomicBool::new(false),
        })
    }

    /// Send one request, and keep it and its answer as evidence. An answer that cannot be
    /// kept is still returned — the change happened or not regardless — and the failure to
    /// keep it is logged and counted against the command.
    async fn send(
        &self,
        scope: &str,
        req: &MutationRequest,
    ) -> Result<MutationAnswer, NotAnswered> {
        let result = self.client.send_once(req).await;
        if let Some(recorder) = &self.recorder {
            let body = request_text(req);
            let key = RecordKey {
                source_name: &self.spec.name,
                scope,
                endpoint: req.endpoint,
                url: req.url.as_str(),
                method: Some(req.method.as_str()),
                request: body.as_deref(),
            };
            let answer = result.as_ref().map(crate::sources::remediate::as_answer);
            let answer = answer.as_ref().map_err(|e| e.message.as_str());
            let at = result.as_ref().map_or_else(|_| Utc::now(), |a| a.at);
            if let Err(e) = recorder.record(&key, answer, at) {
                tracing::error!(error = %e, url = %req.url, "an answer could not be kept as evidence");
                self.lost_evidence.store(true, Ordering::Relaxed);
            }
        }
        // The archive keeps the bytes as received; what flows on — into the plan, the log,
        // the ledger, the terminal — has every known secret masked (a server may echo one).
        result
            .map(|mut a| {
                a.body = crate::redact::redact_bytes(a.body);
                a.request_id = a.request_id.map(|r| crate::redact::redact(&r).into_owned());
                a
            })
            .map_err(|mut e| {
                e.message = crate::redact::redact(&e.message).into_owned();
                e
            })
    }

    /// Some answer could not be kept as evidence.
    pub(crate) fn lost_evidence(&self) -> bool {
        self.lost_evidence.load(Ordering::Relaxed)
    }

    /// Who the write credential acts as, where the API can say.
    pub(crate) async fn identity(&self) -> Result<Identity, String> {
        let Some(req) = self.remediator.identity_request(&self.base) else {
            return Ok(Identity::default());
        };
        let answer = self
            .send(self.spec.source().discovery_scope(), &req)
            .await
            .map_err(|e| e.message)?;
        self.remediator.identity(&answer)
    }

    /// The account as the API shows it now.
    pub(crate) async fn read(&self, scope: &str, account_id: &str, as_of: DateTime<Utc>) -> Read {
        let req = match self.remediator.read_request(&self.base, scope, account_id) {
            Ok(req) => req,
            Err(e) => return Read::Failed(e),
        };
        match self.send(scope, &req).await {
            Ok(answer) => self.remediator.read(&self.spec, scope, &answer, as_of),
            Err(e) => Read::Failed(e.message),
        }
    }

    /// Send the change once.
    pub(crate) async fn change(
        &self,
        scope: &str,
        account_id: &str,
        action: &Action,
        sandbox: bool,
        idempotency_key: &str,
    ) -> Result<MutationAnswer, NotAnswered> {
        let req = self
            .remediator
            .change_request(
                &self.base,
                scope,
                account_id,
                action,
                sandbox,
                idempotency_key,
            )
            .map_err(|message| NotAnswered {
                message,
                ambiguous: false,
            })?;
        self.send(scope, &req).await
    }
}

/// What the evidence keeps of a request besides its method and URL: its non-secret headers
/// (`x-profile-id`, `Idempotency-Key`; the credential is never among them) and its body.
fn request_text(req: &MutationRequest) -> Option<String> {
    if req.headers.is_empty() && req.body.is_none() {
        return None;
    }
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_string(), serde_json::Value::String(value))
        })
        .collect();
    let text = serde_json::json!({ "headers": headers, "body": req.body });
    Some(text.to_string())
}
