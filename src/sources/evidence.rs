//! The evidence archive (CONTRACT section 7): every final API answer, byte for byte, plus a
//! manifest that says what was asked, when, and the SHA-256 of what came back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SourceSpec;
use crate::model::format_time;
pub use crate::output::probe_writable;
use crate::output::write_bytes;
use crate::report::Tool;

pub const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool: Tool,
    pub started_at: String,
    pub finished_at: String,
    pub sources: Vec<SourceSpec>,
    pub responses: Vec<ResponseRecord>,
}

/// One final answer (or the absence of one) in the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResponseRecord {
    pub source_name: String,
    pub scope: String,
    pub endpoint: String,
    pub url: String,
    /// `None` when no answer came (connection failure, timeout); `error` says what happened.
    pub status: Option<u16>,
    pub file: Option<String>,
    pub bytes: u64,
    pub sha256: Option<String>,
    pub fetched_at: String,
    pub request_id: Option<String>,
    /// The `Link` response header: Sentry's pagination lives there, not in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a recorded request was, independent of how it was answered.
pub struct RecordKey<'a> {
    pub source_name: &'a str,
    pub scope: &'a str,
    pub endpoint: &'a str,
    pub url: &'a str,
}

/// Writes bodies as they arrive and the manifest at the end.
pub struct EvidenceRecorder {
    dir: PathBuf,
    started_at: DateTime<Utc>,
    state: Mutex<RecorderState>,
}

#[derive(Default)]
struct RecorderState {
    counters: HashMap<(String, String), u32>,
    responses: Vec<ResponseRecord>,
}

impl EvidenceRecorder {
    /// Prepare `dir`: created if missing, refused if it already holds anything, so one run's
    /// evidence is never mixed with another's.
    pub fn create(dir: &Path) -> Result<EvidenceRecorder, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create evidence directory {}: {e}", dir.display()))?;
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read evidence directory {}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "evidence directory {} is not empty; evidence of different runs must not mix: name a new directory",
                dir.display()
            ));
        }
        probe_writable(dir)?;
        Ok(EvidenceRecorder {
            dir: dir.to_path_buf(),
            started_at: Utc::now(),
            state: Mutex::new(RecorderState::default()),
        })
    }

    /// Store one final answer. Returns an error message if the body could not be written.
    pub fn record(
        &self,
        key: &RecordKey<'_>,
        answer: Result<&crate::http::Answer, &str>,
        fetched_at: DateTime<Utc>,
    ) -> Result<(), String> {
        let number = {
            let mut state = self
                .state
                .lock()
                .map_err(|_| "evidence recorder poisoned".to_string())?;
            let n = state
                .counters
                .entry((key.source_name.to_string(), key.scope.to_string()))
                .or_insert(0);
            *n += 1;
            *n
        };
        let record = match answer {
            Ok(a) => {
                let rel = format!("{}/{}/{number:04}.json", key.source_name, key.scope);
                let path = self.dir.join(&rel);
                write_bytes(&path, &a.body)?;
                ResponseRecord {
                    source_name: key.source_name.to_string(),
                    scope: key.scope.to_string(),
                    endpoint: key.endpoint.to_string(),
                    url: key.url.to_string(),
                    status: Some(a.status),
                    file: Some(rel),
                    bytes: a.body.len() as u64,
                    sha256: Some(hex::encode(Sha256::digest(&a.body))),
                    fetched_at: format_time(&fetched_at),
                    request_id: a.request_id.clone(),
                    link: a.link.clone(),
                    error: None,
                }
            }
            Err(message) => ResponseRecord {
                source_name: key.source_name.to_string(),
                scope: key.scope.to_string(),
                endpoint: key.endpoint.to_string(),
                url: key.url.to_string(),
                status: None,
                file: None,
                bytes: 0,
                sha256: None,
                fetched_at: format_time(&fetched_at),
                request_id: None,
                link: None,
                error: Some(message.to_string()),
            },
        };
        let mut state = self
            .state
            .lock()
            .map_err(|_| "evidence recorder poisoned".to_string())?;
        state.responses.push(record);
        Ok(())
    }

    /// Write `manifest.json` and return its SHA-256.
    pub fn finish(&self, sources: Vec<SourceSpec>) -> Result<String, String> {
        let responses = {
            let state = self
                .state
                .lock()
                .map_err(|_| "evidence recorder poisoned".to_string())?;
            state.responses.clone()
        };
        let manifest = Manifest {
            schema_version: 1,
            tool: Tool::current(),
            started_at: format_time(&self.started_at),
            finished_at: format_time(&Utc::now()),
            sources,
            responses,
        };
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| format!("cannot serialise the manifest: {e}"))?;
        write_bytes(&self.dir.join(MANIFEST_FILE), &bytes)?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
