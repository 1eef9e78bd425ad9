//! Appending one record: lock the folder, read and check the last line, write the new one with
//! `O_APPEND`, flush it to disk.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{
    Entry, GENESIS, LOCK_FILE, LOCK_WAIT, MAX_LINE, Record, Ref, SCHEMA_VERSION, ledger_path,
    sha256_hex,
};
use crate::files::{Bound, Symlinks};

/// A file a record refers to: a report.json can be gigabytes.
const REF_FILE: Bound = Bound {
    what: "file the ledger refers to",
    limit: 16 * 1024 * 1024 * 1024,
};

/// Append `entry` to the ledger in `dir` (created if missing) and return the record written.
/// The error names the ledger file and what is wrong; nothing was appended then.
pub(crate) fn append(dir: &Path, entry: Entry) -> Result<Record, String> {
    append_at(dir, entry, Utc::now())
}

/// [`append`] with the record's time given (tests write ledgers that span quarters).
pub(crate) fn append_at(dir: &Path, entry: Entry, at: DateTime<Utc>) -> Result<Record, String> {
    let refs = hash_refs(&entry.refs)?;
    let run_dir = absolute_dir(&entry.run_dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the ledger folder {}: {e}", dir.display()))?;
    let _lock = lock(dir)?;
    let path = ledger_path(dir);
    let mut file = open_for_append(&path)?;
    let (seq, prev_sha256) = match last_line(&mut file, &path)? {
        None => (1, GENESIS.to_string()),
        Some((record, bytes)) => (record.seq + 1, sha256_hex(&bytes)),
    };
    let record = Record {
        schema_version: SCHEMA_VERSION,
        seq,
        at: crate::model::format_time(&at),
        kind: entry.kind,
        run_id: entry.run_id,
        run_dir,
        refs,
        summary: entry.summary,
        prev_sha256,
    };
    write_line(&mut file, &path, &record)?;
    Ok(record)
}

/// Whether the ledger in `dir` can take another record: missing, empty, or ending in a whole
/// record. Checked before a run starts, so that a torn ledger fails the run at once (exit 1).
pub(crate) fn check_tail(dir: &Path) -> Result<(), String> {
    let path = ledger_path(dir);
    let mut file = match open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot open the ledger {}: {e}", path.display())),
    };
    last_line(&mut file, &path).map(drop)
}

/// Each file's absolute path and SHA-256, streamed.
fn hash_refs(paths: &[PathBuf]) -> Result<Vec<Ref>, String> {
    paths
        .iter()
        .map(|p| {
            let path = absolute_file(p)?;
            let sha256 = crate::files::open_bounded(Path::new(&path), REF_FILE, Symlinks::Refuse)
                .and_then(crate::files::Opened::sha256)
                .map_err(|e| {
                    format!(
                        "cannot record {} in the ledger: {}",
                        p.display(),
                        e.reason()
                    )
                })?;
            Ok(Ref { path, sha256 })
        })
        .collect()
}

/// `dir` canonicalized, as UTF-8.
fn absolute_dir(dir: &Path) -> Result<String, String> {
    let abs = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot resolve the run folder {}: {e}", dir.display()))?;
    utf8(abs)
}

/// The file's folder canonicalized, then its own name (not followed: it may not be a link).
fn absolute_file(path: &Path) -> Result<String, String> {
    let (Some(name), parent) = (path.file_name(), path.parent()) else {
        return Err(format!("{} is not a file name", path.display()));
    };
    let parent = match parent {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent)
        .map_err(|e| format!("cannot resolve the folder of {}: {e}", path.display()))?;
    utf8(dir.join(name))
}

fn utf8(path: PathBuf) -> Result<String, String> {
    path.into_os_string().into_string().map_err(|p| {
        format!(
            "{} is not a UTF-8 path: the ledger records paths as text",
            p.display()
        )
    })
}

/// The folder's lock, held until dropped. Another append holds it for milliseconds; waiting
/// up to [`LOCK_WAIT`] covers that, and a stuck holder fails this append with a clear message.
fn lock(dir: &Path) -> Result<File, String> {
    let path = dir.join(LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    no_follow(&mut options);
    let file = options
        .open(&path)
        .map_err(|e| format!("cannot open the ledger lock {}: {e}", path.display()))?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "the ledger {} is locked by another process (it holds {}) for over {}s; nothing was appended",
                    dir.display(),
                    path.display(),
                    LOCK_WAIT.as_secs()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock the ledger {}: {e}", path.display()));
            }
        }
    }
}

#[cfg(unix)]
fn no_follow(options: &mut std::fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut std::fs::OpenOptions) {}

/// The ledger for appending: created if missing, never through a symbolic link, a regular file.
fn open_for_append(path: &Path) -> Result<File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).append(true).create(true);
    no_follow(&mut options);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let file = options.open(path).map_err(|e| {
        format!(
            "cannot open the ledger {} for appending: {e}",
            path.display()
        )
    })?;
    regular(&file, path)?;
    Ok(file)
}

/// The ledger for reading, never through a symbolic link.
pub(super) fn open_read(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    options.open(path)
}

pub(super) fn regular(file: &File, path: &Path) -> Result<(), String> {
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the ledger {}: {e}", path.display()))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(format!(
            "the ledger {} is not a regular file",
            path.display()
        ))
    }
}

/// The last record and its exact bytes (without `\n`); `None` for an empty file. A file that
/// does not end in `\n`, or whose last line is not a record, is refused with how to repair it.
fn last_line(file: &mut File, path: &Path) -> Result<Option<(Record, Vec<u8>)>, String> {
    let err = |e: std::io::Error| format!("cannot read the ledger {}: {e}", path.display());
    let len = file.seek(SeekFrom::End(0)).map_err(err)?;
    if len == 0 {
        return Ok(None);
    }
    // The last line and its `\n`, and one byte before it to see where it starts.
    let window = len.min(MAX_LINE as u64 + 2);
    file.seek(SeekFrom::Start(len - window)).map_err(err)?;
    let mut tail = Vec::with_capacity(window as usize);
    file.take(window).read_to_end(&mut tail).map_err(err)?;
    let Some((&b'\n', body)) = tail.split_last() else {
        let start = tail
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(len - window, |i| len - window + i as u64 + 1);
        return Err(torn(path, start, len));
    };
    let start = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if window == len => 0,
        None => {
            return Err(format!(
                "the last line of the ledger {} is longer than {} bytes: not a record this tool wrote; run `access-audit ledger verify`",
                path.display(),
                MAX_LINE
            ));
        }
    };
    let line = body[start..].to_vec();
    let offset = len - window + start as u64;
    match serde_json::from_slice::<Record>(&line) {
        Ok(record) => Ok(Some((record, line))),
        Err(e) => Err(format!(
            "the last line of the ledger {} (from byte {offset}) is not a ledger record ({e}); nothing is appended after it. \
             Run `access-audit ledger verify`; if that line is the remains of an interrupted write, keep a copy of the \
             file and cut the line off: truncate -s {offset} {}",
            path.display(),
            path.display()
        )),
    }
}

/// The message for a ledger that ends without `\n`.
fn torn(path: &Path, start: u64, len: u64) -> String {
    format!(
        "the ledger {} ends with an incomplete line (bytes {start}..{len}, no newline: a write was interrupted); \
         nothing is appended after it. Run `access-audit ledger verify`, keep a copy of the file, and cut the \
         incomplete line off: truncate -s {start} {}",
        path.display(),
        path.display()
    )
}

/// The record as one compact line and its `\n`, in one write, flushed to disk.
fn write_line(file: &mut File, path: &Path, record: &Record) -> Result<(), String> {
    let mut line =
        serde_json::to_vec(record).map_err(|e| format!("cannot serialise a ledger record: {e}"))?;
    if line.len() > MAX_LINE {
        return Err(format!(
            "a ledger record of {} bytes is over the {MAX_LINE}-byte limit of a line; its summary is too large",
            line.len()
        ));
    }
    line.push(b'\n');
    let err = |e: std::io::Error| format!("cannot append to the ledger {}: {e}", path.display());
    let before = file.metadata().map_err(err)?.len();
    if let Err(e) = file.write_all(&line).and_then(|()| file.sync_all()) {
        // A partial line (disk full) is cut off again, so that the next append is not refused.
        let _ = file.set_len(before);
        return Err(err(e));
    }
    Ok(())
}
