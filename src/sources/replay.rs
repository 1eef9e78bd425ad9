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

/// A loaded archive: its manifest checked and every body present with its recorded size.
/// Bodies are checked against their SHA-256 as they are replayed, and the rest by
/// [`ReplayArchive::verify_unreplayed`] after the replay.
pub struct ReplayArchive {
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`, for the report's run metadata.
    pub manifest_sha256: String,
    dir: PathBuf,
    /// Per (source name, scope): the indexes of its recorded answers in `manifest.responses`,
    /// in request order, and which are used.
    by_scope: HashMap<ScopeKey, Mutex<Vec<(usize, bool)>>>,
    /// Bodies found altered as they were replayed, by index in `manifest.responses`.
    altered: Mutex<Vec<(usize, String)>>,
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
    /// Read `DIR/manifest.json` and check that every body is there with its recorded size.
    /// The archive is untrusted input: names must be safe path components, files regular and
    /// bounded, and no path inside the archive may pass through a symbolic link.
    ///
    /// Each body's SHA-256 is checked once, as it is replayed, and the bodies no request asked
    /// for by [`verify_unreplayed`](Self::verify_unreplayed) after the replay: a file that does not
    /// match is a fatal error either way, since evidence that was altered proves nothing.
    /// Hashing every body here and again as it is used read and hashed a large archive twice.
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
        check_present(dir, &manifest.responses)?;
        let mut by_scope: HashMap<(String, String), Vec<(usize, bool)>> = HashMap::new();
        for (i, r) in manifest.responses.iter().enumerate() {
            by_scope
                .entry((r.source_name.clone(), r.scope.clone()))
                .or_default()
                .push((i, false));
        }
        Ok(ReplayArchive {
            manifest_sha256: hex::encode(Sha256::digest(&bytes)),
            manifest,
            dir: dir.to_path_buf(),
            by_scope: by_scope
                .into_iter()
                .map(|(k, v)| (k, Mutex::new(v)))
                .collect(),
            altered: Mutex::new(Vec::new()),
        })
    }

    /// After the replay: every body no request asked for checked against its SHA-256, and the
    /// first altered body in the manifest's order — found now or as it was replayed — reported.
    pub fn verify_unreplayed(&self) -> Result<(), String> {
        let mut unused = Vec::new();
        for entries in self.by_scope.values() {
            let entries = entries.lock().unwrap_or_else(|p| p.into_inner());
            unused.extend(entries.iter().filter(|(_, used)| !used).map(|(i, _)| *i));
        }
        unused.sort_unstable();
        let mut first = check_bodies(&self.dir, &self.manifest.responses, &unused).err();
        let altered = self.altered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((i, e)) = altered.iter().min_by_key(|(i, _)| *i)
            && first.as_ref().is_none_or(|(j, _)| i < j)
        {
            first = Some((*i, e.clone()));
        }
        match first {
            None => Ok(()),
            Some((i, e)) => Err(format!(
                "evidence archive {}: responses[{i}]: {e}",
                self.dir.display()
            )),
        }
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
        let responses = &self.manifest.responses;
        let Some((index, used)) = entries.iter_mut().find(|(i, used)| {
            !*used && responses[*i].endpoint == endpoint && responses[*i].url == url
        }) else {
            return missing();
        };
        *used = true;
        let index = *index;
        drop(entries);
        let record = &responses[index];
        let Some(file) = &record.file else {
            return Replayed::NoAnswer(
                record
                    .error
                    .clone()
                    .unwrap_or_else(|| "no answer was recorded".into()),
            );
        };
        // Checked as it is used, the one time it is read.
        let body = match read_body(&self.dir, file, record) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                self.altered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((index, e.clone()));
                return Replayed::Missing(e);
            }
        };
        Replayed::Answer(
            Answer {
                status: record.status.unwrap_or(0),
                body,
                link: record.link.clone(),
                request_id: record.request_id.clone(),
                fetched_at: parse_timestamp(&record.fetched_at).unwrap_or_default(),
                retries: 0,
            },
            record.sha256.clone(),
        )
    }
}

/// Every body that is to be replayed is there, a regular file inside the archive of the size
/// the manifest says, before anything is replayed: the cheap part of the check, so that a
/// missing or truncated file fails the run at once.
fn check_present(dir: &Path, responses: &[ResponseRecord]) -> Result<(), String> {
    for (i, r) in responses.iter().enumerate() {
        let fail = |e: String| format!("evidence archive {}: responses[{i}]: {e}", dir.display());
        match &r.file {
            Some(file) => {
                open_body(dir, file, r).map_err(fail)?;
            }
            None if r.error.is_none() => {
                return Err(fail("has neither a file nor an error".into()));
            }
            None => {}
        }
    }
    Ok(())
}

/// The bodies at `indexes` read and checked against the manifest, shared among the cores;
/// the first failure in the manifest's order, with its index.
fn check_bodies(
    dir: &Path,
    responses: &[ResponseRecord],
    indexes: &[usize],
) -> Result<(), (usize, String)> {
    let check = |&i: &usize| match &responses[i].file {
        Some(file) => read_body(dir, file, &responses[i])
            .map(drop)
            .map_err(|e| (i, e)),
        None => Ok(()),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = indexes.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let running: Vec<_> = indexes
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || chunk.iter().try_for_each(check)))
            .collect();
        running
            .into_iter()
            .try_for_each(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

/// Source and scope names from a hostile manifest: each must be what a recording run could have
/// written, one safe path component.
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

fn check_size(bytes: u64, file: &str) -> Result<(), String> {
    if bytes > EVIDENCE_BODY.limit {
        return Err(format!(
            "the manifest says {file} has {bytes} bytes, over the {} limit for an {}",
            EVIDENCE_BODY.limit_text(),
            EVIDENCE_BODY.what
        ));
    }
    Ok(())
}

fn same_size(actual: u64, expected: u64, file: &str) -> Result<(), String> {
    if actual != expected {
        return Err(format!(
            "{file} has {actual} bytes, the manifest says {expected}: the archive was altered"
        ));
    }
    Ok(())
}

/// One recorded body opened, if it is a regular file inside the archive, within the cap, of the
/// size the manifest says; nothing read yet.
fn open_body(dir: &Path, file: &str, r: &ResponseRecord) -> Result<files::Opened, String> {
    check_size(r.bytes, file)?;
    let opened = files::open_inside(dir, file, EVIDENCE_BODY).map_err(|e| e.to_string())?;
    same_size(opened.len(), r.bytes, file)?;
    Ok(opened)
}

/// One recorded body, if it is what the manifest says: size checked against the cap and against
/// the file's size before a byte is read, then the SHA-256.
fn read_body(dir: &Path, file: &str, r: &ResponseRecord) -> Result<Vec<u8>, String> {
    let body = open_body(dir, file, r)?.read().map_err(|e| e.to_string())?;
    same_size(body.len() as u64, r.bytes, file)?;
    let actual = hex::encode(Sha256::digest(&body));
    match &r.sha256 {
        Some(expected) if expected.eq_ignore_ascii_case(&actual) => Ok(body),
        Some(expected) => Err(format!(
            "{file} has SHA-256 {actual}, the manifest says {expected}: the archive was altered"
        )),
        None => Err(format!("{file} has no sha256 in the manifest")),
    }
}
