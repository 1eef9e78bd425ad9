//! The evidence archive: every final API answer, byte for byte, plus a
//! manifest that says what was asked, when, and the SHA-256 of what came back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Tool;
use crate::model::format_time;
pub(crate) use crate::output::probe_writable;
use crate::output::write_bytes;
use crate::sources::spec::SourceSpec;

pub(crate) const MANIFEST_FILE: &str = "manifest.json";

/// Created first, with `O_EXCL`, by the run that records into the directory, and kept: it claims
/// the directory so that two runs given one `--evidence DIR` cannot both record into it. It holds
/// the recording process's pid and start time. Replay reads only the manifest and the files it
/// lists, so the marker is ignored there.
pub(crate) const CLAIM_FILE: &str = ".access-audit-evidence";

/// The longest source name: a short label for reports and a directory of the archive.
pub(crate) const MAX_SOURCE_NAME: usize = 64;
/// The longest scope name: Sentry slugs are accepted up to 100 characters in the config.
pub(crate) const MAX_SCOPE_NAME: usize = 100;

/// Why `name` cannot be a source name, if it cannot. Source names become directories of the
/// archive (`<source>/<scope>/NNNN.json`), so each must be one harmless path component on every
/// filesystem: ASCII letters, digits, `-` and `_`, starting with a letter or digit. No dots at
/// all rules out `.`, `..` and `manifest.json`.
pub(crate) fn source_name_problem(name: &str) -> Option<String> {
    (!is_component(name, MAX_SOURCE_NAME, |c| c.is_ascii_alphanumeric())).then(|| {
        format!(
            "`{}` is not a usable source name: expected 1 to {MAX_SOURCE_NAME} ASCII letters, digits, `-` or `_`, \
             starting with a letter or digit, such as \"sentry-eu\" (it names a directory of the evidence archive)",
            shown(name)
        )
    })
}

/// Why `name` cannot be a scope name, if it cannot: as [`source_name_problem`], except that a
/// scope may start with `_` (the pseudo-scopes `_organizations`, `_profiles`) and be longer.
pub(crate) fn scope_name_problem(name: &str) -> Option<String> {
    (!is_component(name, MAX_SCOPE_NAME, |c| c.is_ascii_alphanumeric() || c == '_')).then(|| {
        format!(
            "`{}` is not a usable scope name: expected 1 to {MAX_SCOPE_NAME} ASCII letters, digits, `-` or `_` \
             (it names a directory of the evidence archive)",
            shown(name)
        )
    })
}

fn is_component(name: &str, max: usize, first_ok: impl Fn(char) -> bool) -> bool {
    name.len() <= max
        && name.chars().next().is_some_and(first_ok)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A name as it can be shown in one line of an error: control characters escaped, not endless.
fn shown(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

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
    /// The request's method, for a request that is not a plain read (remediation's archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request's non-secret headers and JSON body, as `{"headers", "body"}` (remediation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// What a recorded request was, independent of how it was answered.
pub struct RecordKey<'a> {
    pub source_name: &'a str,
    pub scope: &'a str,
    pub endpoint: &'a str,
    pub url: &'a str,
    /// `None` for the GETs of a run; remediation names every method.
    pub method: Option<&'a str>,
    pub request: Option<&'a str>,
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
    /// Claim `dir` for this run: created if missing, the claim marker created with `O_EXCL`
    /// before anything else, then refused if it holds anything besides our marker. Of two runs
    /// given the same new directory, exactly one gets it; evidence of runs never mixes.
    pub fn create(dir: &Path) -> Result<EvidenceRecorder, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create evidence directory {}: {e}", dir.display()))?;
        let started_at = Utc::now();
        let marker = claim(dir, &started_at)?;
        if let Err(e) = only_the_marker(dir) {
            // Not ours to record into: give the claim back so the message stays the true one.
            let _ = std::fs::remove_file(&marker);
            return Err(e);
        }
        Ok(EvidenceRecorder {
            dir: dir.to_path_buf(),
            started_at,
            state: Mutex::new(RecorderState::default()),
        })
    }

    /// Store one final answer: the SHA-256 of the body kept (`None` when no answer came), or an
    /// error message if the body could not be written.
    pub fn record(
        &self,
        key: &RecordKey<'_>,
        answer: Result<&crate::http::Answer, &str>,
        fetched_at: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
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
                // The names become directories here; replay refuses what this would not write.
                if let Some(problem) =
                    source_name_problem(key.source_name).or_else(|| scope_name_problem(key.scope))
                {
                    return Err(format!("the answer cannot be kept as evidence: {problem}"));
                }
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
                    method: key.method.map(str::to_string),
                    request: key.request.map(str::to_string),
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
                method: key.method.map(str::to_string),
                request: key.request.map(str::to_string),
            },
        };
        let mut state = self
            .state
            .lock()
            .map_err(|_| "evidence recorder poisoned".to_string())?;
        let sha256 = record.sha256.clone();
        state.responses.push(record);
        Ok(sha256)
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

/// The files of the archive in `dir`, as paths relative to it: `manifest.json` first, then every
/// body the manifest lists (`<source>/<scope>/NNNN.json`) in its order, each once; and the
/// manifest's SHA-256. This is what replay reads, so a copy of exactly these files replays.
///
/// Read-only, from the manifest rather than a directory walk: the listing is exactly the
/// archive (not the claim marker or anything else found beside it), bounded by the manifest's
/// own cap, and nothing on disk is followed. The manifest is read without following a link;
/// each listed file must have the shape the recorder writes (safe names, no other components).
pub fn archive_files(dir: &Path) -> Result<(Vec<String>, String), String> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = crate::files::read_bounded(
        &path,
        crate::files::EVIDENCE_MANIFEST,
        crate::files::Symlinks::Refuse,
    )
    .map_err(|e| e.to_string())?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is not an access-audit evidence manifest: {e}",
            path.display()
        )
    })?;
    let mut files = vec![MANIFEST_FILE.to_string()];
    let mut seen = std::collections::HashSet::new();
    for (i, r) in manifest.responses.iter().enumerate() {
        let Some(file) = &r.file else { continue };
        if !is_recorded_file(&r.source_name, &r.scope, file) {
            return Err(format!(
                "evidence manifest {}: responses[{i}].file `{}` is not <source>/<scope>/NNNN.json",
                path.display(),
                shown(file)
            ));
        }
        if seen.insert(file.as_str()) {
            files.push(file.clone());
        }
    }
    Ok((files, hex::encode(Sha256::digest(&bytes))))
}

/// `file` is `<source>/<scope>/NNNN.json` for these names, as [`EvidenceRecorder::record`]
/// writes it.
fn is_recorded_file(source_name: &str, scope: &str, file: &str) -> bool {
    let names_ok =
        source_name_problem(source_name).is_none() && scope_name_problem(scope).is_none();
    let number = file
        .strip_prefix(source_name)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(scope))
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_suffix(".json"));
    names_ok && number.is_some_and(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Create the claim marker; fails if another run (or an earlier one) already has.
fn claim(dir: &Path, started_at: &DateTime<Utc>) -> Result<PathBuf, String> {
    let marker = dir.join(CLAIM_FILE);
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!(
                "evidence directory {} is already claimed by another run ({} exists); evidence of different runs \
                 must not mix: name a new directory",
                dir.display(),
                marker.display()
            ));
        }
        Err(e) => {
            return Err(format!(
                "evidence directory {} is not writable: cannot create {}: {e}",
                dir.display(),
                marker.display()
            ));
        }
    };
    let note =
        serde_json::json!({"pid": std::process::id(), "started_at": format_time(started_at)});
    std::io::Write::write_all(&mut file, format!("{note}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(marker)
}

fn only_the_marker(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read evidence directory {}: {e}", dir.display()))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| format!("cannot read evidence directory {}: {e}", dir.display()))?;
        if entry.file_name() != CLAIM_FILE {
            return Err(format!(
                "evidence directory {} is not empty; evidence of different runs must not mix: name a new directory",
                dir.display()
            ));
        }
    }
    Ok(())
}
