//! Replay: answer the sources' requests from an evidence archive instead of the network, so the
//! same fetch loops and parsers run on exactly what was recorded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::evidence::{
    MANIFEST_FILE, Manifest, ResponseRecord, scope_name_problem, source_name_problem,
};
use crate::files::{self, EVIDENCE_BODY, EVIDENCE_MANIFEST, Symlinks};
use crate::http::Answer;
use crate::timestamp::parse_timestamp;

/// A loaded, verified archive.
pub struct ReplayArchive {
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`, for the report's run metadata.
    pub manifest_sha256: String,
    dir: PathBuf,
    /// Per (source name, scope): the recorded answers in request order, and which are used.
    by_scope: HashMap<ScopeKey, Mutex<Vec<(ResponseRecord, bool)>>>,
}

/// (source name, scope)
type ScopeKey = (String, String);

/// What a replayed request gets.
pub enum Replayed {
    /// The recorded answer, and the SHA-256 of its body (checked against the file as read).
    Answer(Answer, Option<String>),
    /// The live run got no answer; the recorded reason.
    NoAnswer(String),
    /// Nothing in the archive matches this request.
    Missing(String),
}

impl ReplayArchive {
    /// Read `DIR/manifest.json` and check every body against its recorded size and SHA-256.
    /// A file that does not match is a fatal error: evidence that was altered proves nothing.
    /// The archive is untrusted input: names must be safe path components, files regular and
    /// bounded, and no path inside the archive may pass through a symbolic link.
    pub fn load(dir: &Path) -> Result<ReplayArchive, String> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let bytes = files::read_bounded(&manifest_path, EVIDENCE_MANIFEST, Symlinks::Refuse)
            .map_err(|e| format!("{e} (--replay takes a directory written by --evidence)"))?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is not an access-audit evidence manifest: {e}",
                manifest_path.display()
            )
        })?;
        if manifest.schema_version != 1 {
            return Err(format!(
                "{} has schema_version {}; this version of access-audit reads schema_version 1",
                manifest_path.display(),
                manifest.schema_version
            ));
        }
        check_names(&manifest)
            .map_err(|e| format!("evidence manifest {}: {e}", manifest_path.display()))?;
        check_bodies(dir, &manifest.responses)?;
        let mut by_scope: HashMap<(String, String), Vec<(ResponseRecord, bool)>> = HashMap::new();
        for r in &manifest.responses {
            by_scope
                .entry((r.source_name.clone(), r.scope.clone()))
                .or_default()
                .push((r.clone(), false));
        }
        Ok(ReplayArchive {
            manifest_sha256: hex::encode(Sha256::digest(&bytes)),
            manifest,
            dir: dir.to_path_buf(),
            by_scope: by_scope
                .into_iter()
                .map(|(k, v)| (k, Mutex::new(v)))
                .collect(),
        })
    }

    /// The recorded answer to the first not-yet-replayed request of this scope with this
    /// endpoint and URL.
    pub fn answer(&self, source_name: &str, scope: &str, endpoint: &str, url: &str) -> Replayed {
        let missing = || {
            Replayed::Missing(format!(
                "the evidence archive holds no {endpoint} answer for GET {url} (source {source_name}, scope {scope})"
            ))
        };
        let Some(entries) = self
            .by_scope
            .get(&(source_name.to_string(), scope.to_string()))
        else {
            return missing();
        };
        let Ok(mut entries) = entries.lock() else {
            return missing();
        };
        let Some((record, used)) = entries
            .iter_mut()
            .find(|(r, used)| !*used && r.endpoint == endpoint && r.url == url)
        else {
            return missing();
        };
        *used = true;
        let record = record.clone();
        drop(entries);
        let Some(file) = &record.file else {
            return Replayed::NoAnswer(
                record
                    .error
                    .unwrap_or_else(|| "no answer was recorded".into()),
            );
        };
        // Checked again as it is used: the file may have changed since `load`.
        let body = match read_body(&self.dir, file, &record) {
            Ok(b) => Bytes::from(b),
            Err(e) => return Replayed::Missing(e),
        };
        Replayed::Answer(
            Answer {
                status: record.status.unwrap_or(0),
                body,
                link: record.link,
                request_id: record.request_id,
                fetched_at: parse_timestamp(&record.fetched_at).unwrap_or_default(),
                retries: 0,
            },
            record.sha256,
        )
    }
}

/// Source and scope names from a hostile manifest: each must be what a recording run could have
/// written, one safe path component.
/// Every response's body read and checked against the manifest before anything is replayed,
/// so that an altered archive fails whole. Reading and hashing the bodies of a large archive
/// takes seconds; the responses are shared among the cores, and the first failure in the
/// manifest's order is the one reported.
fn check_bodies(dir: &Path, responses: &[ResponseRecord]) -> Result<(), String> {
    let check = |i: usize, r: &ResponseRecord| match &r.file {
        Some(file) => read_body(dir, file, r)
            .map(drop)
            .map_err(|e| format!("evidence archive {}: responses[{i}]: {e}", dir.display())),
        None if r.error.is_none() => Err(format!(
            "evidence archive {}: responses[{i}] has neither a file nor an error",
            dir.display()
        )),
        None => Ok(()),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = responses.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let running: Vec<_> = responses
            .chunks(per_thread)
            .enumerate()
            .map(|(n, chunk)| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .try_for_each(|(i, r)| check(n * per_thread + i, r))
                })
            })
            .collect();
        running
            .into_iter()
            .try_for_each(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

fn check_names(manifest: &Manifest) -> Result<(), String> {
    for (i, s) in manifest.sources.iter().enumerate() {
        if let Some(problem) = source_name_problem(&s.name) {
            return Err(format!("sources[{i}].name: {problem}"));
        }
    }
    for (i, r) in manifest.responses.iter().enumerate() {
        if let Some(problem) = source_name_problem(&r.source_name) {
            return Err(format!("responses[{i}].source_name: {problem}"));
        }
        if let Some(problem) = scope_name_problem(&r.scope) {
            return Err(format!("responses[{i}].scope: {problem}"));
        }
    }
    Ok(())
}

/// One recorded body, if it is what the manifest says: size checked against the cap and against
/// the file's size before a byte is read, then the SHA-256.
fn read_body(dir: &Path, file: &str, r: &ResponseRecord) -> Result<Vec<u8>, String> {
    if r.bytes > EVIDENCE_BODY.limit {
        return Err(format!(
            "the manifest says {file} has {} bytes, over the {} limit for an {}",
            r.bytes,
            EVIDENCE_BODY.limit_text(),
            EVIDENCE_BODY.what
        ));
    }
    let opened = files::open_inside(dir, file, EVIDENCE_BODY).map_err(|e| e.to_string())?;
    if opened.len() != r.bytes {
        return Err(format!(
            "{file} has {} bytes, the manifest says {}: the archive was altered",
            opened.len(),
            r.bytes
        ));
    }
    let body = opened.read().map_err(|e| e.to_string())?;
    if body.len() as u64 != r.bytes {
        return Err(format!(
            "{file} has {} bytes, the manifest says {}: the archive was altered",
            body.len(),
            r.bytes
        ));
    }
    let actual = hex::encode(Sha256::digest(&body));
    match &r.sha256 {
        Some(expected) if expected.eq_ignore_ascii_case(&actual) => Ok(body),
        Some(expected) => Err(format!(
            "{file} has SHA-256 {actual}, the manifest says {expected}: the archive was altered"
        )),
        None => Err(format!("{file} has no sha256 in the manifest")),
    }
}
