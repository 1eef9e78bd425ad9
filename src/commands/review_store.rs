//! A review mirrored to `[store]`: after each `review start`, `collect` and `sign-off` (and
//! `remediate plan`, `apply`, `verify`, whose files under `remediation/` go with it) has
//! recorded itself in the ledger, the ledger is uploaded to the run's stored folder as
//! `ledger/ledger.jsonl` (where `finish.rs` stores it with the run), and the review's files under
//! `review/` — so that the stored copy of the ledger, which `ledger verify`'s head is compared
//! with, includes the review's records, and the review's evidence outlives the run folder.
//!
//! The folder is the run's: `[store] url` with its placeholders filled from the report's as-of,
//! as the run filled them. The upload writes `review/manifest.sha256` (what this upload stored),
//! never the run's own `manifest.sha256`. The store is connected before the review command does
//! anything (a bad `[store]` is exit 1, nothing changed); an upload that fails is exit 5 with the
//! review saved, like any failed delivery.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::access_review::config::ReviewSettings;
use crate::access_review::{REVIEW_DIR, WORKSHEETS_DIR};
use crate::config::Config;
use crate::deliver::store::{CloudEnv, Include, RunFile, Store};
use crate::exit::ExitStatus;

/// The manifest of the review's upload, beside the review's files.
pub(super) const REVIEW_MANIFEST: &str = "review/manifest.sha256";

/// The files of `review/` that are stored; the worksheets are added from their folder.
const REVIEW_FILES: [&str; 6] = [
    crate::access_review::STATE_JSON,
    crate::access_review::signoff::REVIEW_HTML,
    crate::access_review::signoff::DECISIONS_CSV,
    crate::access_review::signoff::DECISIONS_JSON,
    crate::access_review::decisions_xlsx::DECISIONS_XLSX,
    crate::access_review::suppress::SUPPRESSIONS_TOML,
];

/// The most worksheets listed for an upload (one per reviewer).
const MAX_WORKSHEETS: usize = 10_000;

/// `[store]` connected for the run in `run_dir`, or `None` without `[store]`.
pub(super) fn connect(config: &Config, run_dir: &Path) -> Result<Option<Store>, Error> {
    let Some(settings) = &config.store else {
        return Ok(None);
    };
    // The folder's placeholders ({date}, {as_of}) are the run's: from its report's as-of.
    let (_, report) = super::review::read_report(run_dir)?;
    let store = Store::connect(settings, &report.as_of, &CloudEnv::from_process()).map_err(
        |e| match &e.key {
            Some(key) => {
                let path: Vec<&str> = key.split('.').collect();
                config.error_at(&path, e.message.clone()).into()
            }
            None => Error::Fatal(e.to_string()),
        },
    )?;
    Ok(Some(store))
}

/// Upload the ledger and the review's files; exit 5 (the review saved) when that fails.
pub(super) async fn mirror(store: &Store, settings: &ReviewSettings, run_dir: &Path) -> ExitStatus {
    // The ledger and the review's files are all of kind `reports` (`Include::of`).
    if !store.includes(Include::Reports) {
        tracing::warn!(
            "[store] include does not take reports: the review and the ledger are not stored"
        );
        return ExitStatus::Clean;
    }
    let files = match files(settings, run_dir) {
        Ok(files) => files,
        Err(e) => {
            tracing::error!(error = %e, "the review is saved, but its files could not be listed for [store]; nothing was stored");
            return ExitStatus::EmailFailed;
        }
    };
    match store.upload_files_listed_in(&files, REVIEW_MANIFEST).await {
        Ok(receipt) => {
            tracing::info!(url = %receipt.folder_url, objects = receipt.objects.len(), "the review and the ledger stored and verified");
            ExitStatus::Clean
        }
        Err(e) => {
            tracing::error!(error = %e, "the review is saved, but storing it and the ledger in [store] failed");
            ExitStatus::EmailFailed
        }
    }
}

/// The ledger (when it exists) and every review file on disk, with their object paths.
fn files(settings: &ReviewSettings, run_dir: &Path) -> Result<Vec<RunFile>, String> {
    let mut out = Vec::new();
    let ledger = crate::ledger::ledger_path(&settings.ledger_dir);
    if is_file(&ledger) {
        out.push(RunFile::new(
            &settings.ledger_dir,
            crate::ledger::LEDGER_FILE,
            crate::ledger::STORED_AS,
        ));
    }
    let review = Path::new(REVIEW_DIR);
    for name in REVIEW_FILES {
        let rel = review.join(name);
        if is_file(&run_dir.join(&rel)) {
            out.push(RunFile::same_path(run_dir, rel));
        }
    }
    for rel in worksheets(run_dir)? {
        out.push(RunFile::same_path(run_dir, rel));
    }
    for rel in remediation_files(run_dir)? {
        out.push(RunFile::same_path(run_dir, rel));
    }
    Ok(out)
}

/// `review/worksheets/*.xlsx` and `*.csv`, relative to the run folder.
fn worksheets(run_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rel = Path::new(REVIEW_DIR).join(WORKSHEETS_DIR);
    files_in(run_dir, &rel, |name| {
        Path::new(name)
            .extension()
            .is_some_and(|e| e == "xlsx" || e == "csv")
    })
}

/// `remediation/`'s plan, page, logs and verification (not its evidence archives, which are
/// folders of their own), relative to the run folder.
fn remediation_files(run_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rel = Path::new(crate::remediation::REMEDIATION_DIR);
    files_in(run_dir, rel, |name| {
        name.ends_with(".json") || name == crate::remediation::PLAN_HTML
    })
}

/// The regular files of `run_dir/rel` whose names `keep` takes (at most
/// [`MAX_WORKSHEETS`]), relative to the run folder, sorted; a folder that does not exist has
/// none.
fn files_in(
    run_dir: &Path,
    rel: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, String> {
    let dir = run_dir.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries.take(MAX_WORKSHEETS) {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name();
        if keep(&name.to_string_lossy()) && is_file(&entry.path()) {
            out.push(rel.join(&name));
        }
    }
    out.sort();
    Ok(out)
}

/// A regular file, not a link (`files::open_inside` refuses links anyway).
fn is_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_remediation_files_go_with_the_review_but_not_its_evidence_folders() {
        let dir = tempfile::tempdir().unwrap();
        let rem = dir.path().join("remediation");
        std::fs::create_dir_all(rem.join("evidence/apply-1")).unwrap();
        for name in [
            "plan.json",
            "plan.html",
            "applied-0123456789abcdef.json",
            "verification.json",
            ".lock",
        ] {
            std::fs::write(rem.join(name), b"x").unwrap();
        }
        let listed = super::remediation_files(dir.path()).unwrap();
        let names: Vec<String> = listed.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "remediation/applied-0123456789abcdef.json",
                "remediation/plan.html",
                "remediation/plan.json",
                "remediation/verification.json"
            ]
        );
        assert!(
            super::remediation_files(&dir.path().join("none"))
                .unwrap()
                .is_empty()
        );
    }
}
