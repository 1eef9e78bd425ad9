//! `[store]`: every file of the run, uploaded to object storage (S3, GCS, Azure Blob, or a
//! local directory) into one folder — the reports under their own names, the evidence archive
//! under `evidence/`, the email preview under `email/` — with `manifest.sha256` beside them.
//!
//! Every object is verified after it is written: it is read back and its SHA-256 compared with
//! the local file's (on S3 the PUT also carries `x-amz-checksum-sha256`, which S3 checks on
//! receipt). An upload that fails or does not verify is an error (the run's exit 5); the local
//! files are never touched. The whole upload runs under one deadline (`timeout`), each request
//! under its own, and object_store retries a failed request at most 3 times.
//!
//! Three steps, each called by the run at its own stage: [`validate`] the table when the config
//! is read; [`Store::connect`] before any request (reads the cloud's environment and refuses a
//! plain-http endpoint that is not loopback); [`Store::upload_files`] once every file is written.

mod backend;
mod errors;
mod location;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use backend::CloudEnv;
pub use location::Scheme;
use location::parse_target;

use super::target::{DeliveryError, Target};
use crate::cfg::values::HumanDuration;
use crate::files::Bound;

/// Written beside the run's files: `sha256  path` per line, as `sha256sum -c` reads it.
pub const MANIFEST: &str = "manifest.sha256";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(6 * 3600));
/// Files uploaded at once.
const CONCURRENCY: usize = 4;
/// A file of the run folder is read whole; the largest is report.json.
const RUN_FILE: Bound = Bound {
    what: "run file",
    ..crate::files::REPORT_JSON_FILE
};

/// `[store]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    url: String,
    include: Option<Vec<Include>>,
    timeout: Option<HumanDuration>,
}

/// Which of the run's files are uploaded, by kind; a file's kind follows from its object path
/// ([`Include::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Include {
    /// report.html, the CSVs, report.json, people.csv: everything not below.
    Reports,
    /// `evidence/…`: the evidence archive.
    Evidence,
    /// `email/…` and `*.eml`: the email as sent or previewed.
    Email,
}

impl Include {
    pub const ALL: [Include; 3] = [Include::Reports, Include::Evidence, Include::Email];

    /// The kind of a file, by its object path (relative to the stored folder).
    pub fn of(rel: &Path) -> Include {
        let first = rel.components().next().and_then(|c| c.as_os_str().to_str());
        match first {
            Some("evidence") => Include::Evidence,
            Some("email") => Include::Email,
            _ if rel.extension().is_some_and(|e| e == "eml") => Include::Email,
            _ => Include::Reports,
        }
    }
}

/// `[store]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// As written, `{date}`/`{as_of}` placeholders included.
    pub url: String,
    pub scheme: Scheme,
    pub include: Vec<Include>,
    /// The whole upload's deadline.
    pub timeout: Duration,
}

/// Check `[store]`. `Err((key, message))` names the key at fault within the table.
pub fn validate(raw: RawStore) -> Result<StoreSettings, (&'static str, String)> {
    let sample = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let target = parse_target(&raw.url, &sample).map_err(|m| ("url", m))?;
    let include = match raw.include {
        None => Include::ALL.to_vec(),
        Some(list) if list.is_empty() => {
            return Err((
                "include",
                "the list is empty: expected any of \"reports\", \"evidence\", \"email\" (or remove the key for all)".into(),
            ));
        }
        Some(list) => list.iter().fold(Vec::new(), |mut out, i| {
            if !out.contains(i) {
                out.push(*i);
            }
            out
        }),
    };
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => t.within(TIMEOUT_RANGE).map_err(|m| ("timeout", m))?,
    };
    Ok(StoreSettings {
        url: raw.url.trim().to_string(),
        scheme: target.scheme,
        include,
        timeout,
    })
}

/// One file of the run to upload: read from `file` inside the local directory `dir`, stored as
/// `object` in the folder. The reports keep their names (`report.html` from the output
/// directory); the evidence archive, which may be anywhere, goes under `evidence/`; the email
/// preview under `email/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    /// A local directory, as the operator named it (it may itself be a link).
    pub dir: PathBuf,
    /// Relative to `dir`: plain components, none of them a link, ending in a regular file.
    pub file: PathBuf,
    /// Relative to the stored folder; also what `include` sorts by ([`Include::of`]).
    pub object: PathBuf,
}

impl RunFile {
    /// `dir/file`, stored as `object`.
    pub fn new(dir: &Path, file: impl Into<PathBuf>, object: impl Into<PathBuf>) -> RunFile {
        RunFile {
            dir: dir.to_path_buf(),
            file: file.into(),
            object: object.into(),
        }
    }

    /// `dir/file`, stored under the same relative path.
    pub fn same_path(dir: &Path, file: impl Into<PathBuf>) -> RunFile {
        let file = file.into();
        RunFile {
            dir: dir.to_path_buf(),
            object: file.clone(),
            file,
        }
    }
}

/// One object written and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredObject {
    /// Relative to the stored folder, `/`-separated: `evidence/sentry/acme/0001.json`.
    pub path: String,
    /// Where it lives: `s3://bucket/prefix/evidence/sentry/acme/0001.json`.
    pub url: String,
    /// Hex SHA-256 of the bytes, the same locally and as read back from the store.
    pub sha256: String,
    pub bytes: u64,
}

/// What was uploaded. Every object in it was read back and matched its local SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreReceipt {
    /// The run folder's URL, ending in `/`: for links in the email and notifications.
    pub folder_url: String,
    /// Sorted by path; the manifest is not among them.
    pub objects: Vec<StoredObject>,
    pub manifest: StoredObject,
}

impl StoreReceipt {
    /// The URL of an uploaded file (`report.html`), if it was uploaded.
    pub fn url_of(&self, path: &str) -> Option<&str> {
        self.objects
            .iter()
            .find(|o| o.path == path)
            .map(|o| o.url.as_str())
    }
}

/// A store, connected: its client, the run folder's prefix in it, and what to upload.
#[derive(Debug)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    folder_url: String,
    include: Vec<Include>,
    timeout: Duration,
}

/// Connect to the store and upload the run's `files` (relative to `run_dir`) in one step,
/// credentials from the process environment.
pub async fn upload(
    settings: &StoreSettings,
    run_dir: &Path,
    files: &[PathBuf],
    as_of: &DateTime<Utc>,
) -> Result<StoreReceipt, DeliveryError> {
    Store::connect(settings, as_of, &CloudEnv::from_process())?
        .upload(run_dir, files)
        .await
}

impl Store {
    /// Fill the URL's placeholders for `as_of`, read the cloud's settings from `env` and build
    /// the client. Nothing is sent yet, except that cloud credential providers may fetch a
    /// token lazily on first use.
    pub fn connect(
        settings: &StoreSettings,
        as_of: &DateTime<Utc>,
        env: &CloudEnv,
    ) -> Result<Store, DeliveryError> {
        let target = parse_target(&settings.url, as_of)
            .map_err(|m| DeliveryError::new(Target::Store, m).at_key("store", "url"))?;
        let store = backend::build(target.scheme, &target.url, env, settings.timeout)?;
        let mut folder_url = target.url.to_string();
        if !folder_url.ends_with('/') {
            folder_url.push('/');
        }
        Ok(Store {
            store,
            prefix: target.prefix,
            folder_url,
            include: settings.include.clone(),
            timeout: settings.timeout,
        })
    }

    /// The run folder's URL, ending in `/`, known before anything is uploaded.
    pub fn folder_url(&self) -> &str {
        &self.folder_url
    }

    /// Where the object at `rel` (`report.html`) is once uploaded, known before the upload:
    /// the same URL the receipt will give.
    pub fn url_of(&self, rel: &str) -> String {
        format!("{}{rel}", self.folder_url)
    }

    /// Whether `include` takes this kind of file.
    pub fn includes(&self, kind: Include) -> bool {
        self.include.contains(&kind)
    }

    /// Upload the included `files` (paths relative to `run_dir`, stored under the same paths)
    /// as [`Store::upload_files`] does.
    pub async fn upload(
        &self,
        run_dir: &Path,
        files: &[PathBuf],
    ) -> Result<StoreReceipt, DeliveryError> {
        let files: Vec<RunFile> = files
            .iter()
            .map(|f| RunFile::same_path(run_dir, f))
            .collect();
        self.upload_files(&files).await
    }

    /// Upload the included `files` (each read inside its own directory, stored at its object
    /// path) and `manifest.sha256`, which lists every object, each verified, within the
    /// deadline. The first failure stops the upload and is returned; local files are only read.
    pub async fn upload_files(&self, files: &[RunFile]) -> Result<StoreReceipt, DeliveryError> {
        self.upload_files_listed_in(files, MANIFEST).await
    }

    /// [`Store::upload_files`] with the manifest written as `listed_in` (relative to the
    /// folder): a later upload into a run's folder — the review's files, the ledger with the
    /// review's records — lists what it stored without replacing the run's `manifest.sha256`.
    pub async fn upload_files_listed_in(
        &self,
        files: &[RunFile],
        listed_in: &str,
    ) -> Result<StoreReceipt, DeliveryError> {
        let selected = self.select(files, listed_in)?;
        let work = async {
            let mut objects: Vec<StoredObject> = futures::stream::iter(
                selected
                    .iter()
                    .map(|(dir, file, object)| self.put_file(dir, file, object)),
            )
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
            objects.sort_by(|a, b| a.path.cmp(&b.path));
            let listing: String = objects
                .iter()
                .map(|o| format!("{}  {}\n", o.sha256, o.path))
                .collect();
            let manifest = self.put_verified(listed_in, Bytes::from(listing)).await?;
            Ok(StoreReceipt {
                folder_url: self.folder_url.clone(),
                objects,
                manifest,
            })
        };
        tokio::time::timeout(self.timeout, work).await.unwrap_or_else(|_| {
            Err(DeliveryError::new(
                Target::Store,
                format!(
                    "the upload to {} did not finish within {} (store.timeout); objects written so far stay, \
                     without a manifest",
                    self.folder_url,
                    humantime::format_duration(self.timeout)
                ),
            ))
        })
    }

    /// The included files as (directory, `/`-separated file, `/`-separated object path),
    /// sorted by object path, each object once. Two different files for one object path are
    /// refused, as is a file stored as the manifest the upload writes itself.
    fn select<'f>(
        &self,
        files: &'f [RunFile],
        listed_in: &str,
    ) -> Result<Vec<(&'f Path, String, String)>, DeliveryError> {
        let mut out: Vec<(&Path, String, String)> = Vec::new();
        for f in files {
            let file = relative_path(&f.file)?;
            let object = relative_path(&f.object)?;
            if object == MANIFEST || object == listed_in {
                return Err(DeliveryError::new(
                    Target::Store,
                    format!(
                        "the run holds a file named {object} ({}), which the upload writes itself",
                        f.dir.join(&f.file).display()
                    ),
                ));
            }
            if self.include.contains(&Include::of(&f.object)) {
                out.push((f.dir.as_path(), file, object));
            }
        }
        out.sort_by(|a, b| (&a.2, a.0, &a.1).cmp(&(&b.2, b.0, &b.1)));
        out.dedup();
        if let Some(pair) = out.windows(2).find(|w| w[0].2 == w[1].2) {
            return Err(DeliveryError::new(
                Target::Store,
                format!(
                    "{} and {} would both be stored as {}",
                    pair[0].0.join(&pair[0].1).display(),
                    pair[1].0.join(&pair[1].1).display(),
                    pair[0].2
                ),
            ));
        }
        Ok(out)
    }

    async fn put_file(
        &self,
        dir: &Path,
        file: &str,
        object: &str,
    ) -> Result<StoredObject, DeliveryError> {
        let (dir, name) = (dir.to_path_buf(), file.to_string());
        // Reading may take a while for a large report.json: not on the runtime's threads.
        let read = tokio::task::spawn_blocking(move || {
            crate::files::open_inside(&dir, &name, RUN_FILE)?.read()
        })
        .await
        .map_err(|e| DeliveryError::new(Target::Store, format!("reading {file} stopped: {e}")))?;
        let bytes = read.map_err(|e| DeliveryError::new(Target::Store, e.to_string()))?;
        self.put_verified(object, Bytes::from(bytes)).await
    }

    /// PUT the bytes, then read them back and compare length and SHA-256.
    async fn put_verified(&self, rel: &str, bytes: Bytes) -> Result<StoredObject, DeliveryError> {
        let url = self.url_of(rel);
        let location = self.location(rel)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let len = bytes.len() as u64;
        self.store
            .put(&location, PutPayload::from(bytes))
            .await
            .map_err(|e| errors::describe(&e, "PUT", &url))?;
        self.verify(&location, &url, &sha256, len).await?;
        Ok(StoredObject {
            path: rel.to_string(),
            url,
            sha256,
            bytes: len,
        })
    }

    /// Read the object back, no more than `len + 1` bytes, and hash it.
    async fn verify(
        &self,
        location: &ObjectPath,
        url: &str,
        sha256: &str,
        len: u64,
    ) -> Result<(), DeliveryError> {
        let fail = |e: object_store::Error| errors::describe(&e, "GET (verification)", url);
        let mut stream = self.store.get(location).await.map_err(fail)?.into_stream();
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(fail)?;
            read += chunk.len() as u64;
            if read > len {
                break;
            }
            hasher.update(&chunk);
        }
        let got = hex::encode(hasher.finalize());
        if read != len || got != sha256 {
            let got = if read > len {
                "more".to_string()
            } else {
                format!("{read} bytes with SHA-256 {got}")
            };
            return Err(DeliveryError::new(
                Target::Store,
                format!(
                    "{url} does not verify: {len} bytes with SHA-256 {sha256} were written, {got} read back"
                ),
            ));
        }
        Ok(())
    }

    fn location(&self, rel: &str) -> Result<ObjectPath, DeliveryError> {
        let key = if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        };
        ObjectPath::parse(&key).map_err(|e| {
            DeliveryError::new(
                Target::Store,
                format!("`{key}` is not a valid object key: {e}"),
            )
        })
    }
}

/// `a/b/c.json` from a relative path of plain components; anything else is refused.
fn relative_path(file: &Path) -> Result<String, DeliveryError> {
    let parts: Option<Vec<&str>> = file
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    match parts {
        Some(parts) if !parts.is_empty() => Ok(parts.join("/")),
        _ => Err(DeliveryError::new(
            Target::Store,
            format!(
                "{} is not a plain relative path inside the run folder (UTF-8, no `..`, not absolute)",
                file.display()
            ),
        )),
    }
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
