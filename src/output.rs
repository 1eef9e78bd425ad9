//! Files that appear whole or not at all: written to a temporary file in the same directory,
//! flushed to disk, then renamed over the final name. A killed run leaves at most a stray
//! `.access-audit-*.tmp`, never a half-written report or evidence file. A report set is
//! replaced as a whole ([`FileSet`]), and an output directory is locked by the run that writes
//! into it ([`lock_dir`]).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `path` atomically; `fill` streams the content.
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    let dir = parent_of(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let tmp = stage(dir, path, fill)?;
    tmp.persist(path)
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Write the content for `path` to a temporary file in `dir`, flushed to disk. Dropped without
/// being persisted, the temporary file is removed.
fn stage(
    dir: &Path,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<tempfile::NamedTempFile, String> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".access-audit-").suffix(".tmp");
    // Reports and evidence are for other people and processes to read (subject to the umask),
    // not private scratch files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    let err = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut out = std::io::BufWriter::with_capacity(1 << 16, WriteBehind::new(tmp));
    fill(&mut out)?;
    out.flush().map_err(|e| err(&e))?;
    let tmp = out.into_inner().map_err(|e| err(e.error()))?.file;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    Ok(tmp)
}

/// A file that asks the kernel to start writing its pages to disk as it grows, every
/// [`WriteBehind::EVERY`] bytes, without waiting for them. A large report is hundreds of
/// megabytes; left to the final `fsync`, all of it would go to disk only after the last byte was
/// rendered, and the disk would idle while the cores render. The final `fsync` is still what
/// makes the file durable, and what reports an error.
struct WriteBehind {
    file: tempfile::NamedTempFile,
    /// Bytes written, and bytes whose writeback has been started.
    written: u64,
    started: u64,
}

impl WriteBehind {
    const EVERY: u64 = 8 << 20;

    fn new(file: tempfile::NamedTempFile) -> WriteBehind {
        WriteBehind {
            file,
            written: 0,
            started: 0,
        }
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let (from, len) = (self.started, self.written - self.started);
        // SAFETY: a valid, open descriptor and a range of it; the call only schedules writeback
        // and does not touch memory. Its result is advisory and ignored: `sync_all` decides.
        // Only SYNC_FILE_RANGE_WRITE: with the WAIT flags the kernel would report (and clear)
        // a writeback error here, where it is ignored, and the final fsync could then succeed.
        unsafe {
            libc::sync_file_range(
                self.file.as_file().as_raw_fd(),
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.started = self.written;
    }

    #[cfg(not(target_os = "linux"))]
    fn start_writeback(&mut self) {}
}

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= Self::EVERY {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// What writes one file of a [`FileSet::stage_all`]: sent to the thread that writes it.
pub(crate) type Fill<'a> = Box<dyn FnOnce(&mut dyn Write) -> Result<(), String> + Send + 'a>;

/// Files that replace their previous versions together or not at all: each is written in full
/// to a temporary file in the same directory and flushed to disk; only when every one of them
/// is complete are they renamed over the final names. A set dropped before [`FileSet::commit`]
/// (a write failed: disk full, quota, file-size limit) removes its temporaries and leaves every
/// previous file as it was. The renames themselves need no data space; they are the only step
/// that could be interrupted between two files of a set.
pub(crate) struct FileSet {
    dir: PathBuf,
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl FileSet {
    /// A set of files in `dir`, which is created if missing.
    pub(crate) fn new(dir: &Path) -> Result<FileSet, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
        Ok(FileSet {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
        })
    }

    /// Write the content of `dir/name` under a temporary name.
    pub(crate) fn stage(
        &mut self,
        name: &str,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
    ) -> Result<(), String> {
        let path = self.dir.join(name);
        let tmp = stage(&self.dir, &path, fill)?;
        self.staged.push((tmp, path));
        Ok(())
    }

    /// Write several files of the set at once, each on its own thread (a large report's files
    /// take seconds each to render, and a machine has more than one core), under temporary
    /// names as [`FileSet::stage`] does. If any fails, the first failure in `files`' order is
    /// returned and every temporary of this call is removed; the set stays in `files`' order.
    pub(crate) fn stage_all(&mut self, files: Vec<(&str, Fill<'_>)>) -> Result<(), String> {
        let dir = self.dir.as_path();
        let staged: Vec<Result<(tempfile::NamedTempFile, PathBuf), String>> =
            std::thread::scope(|threads| {
                let running: Vec<_> = files
                    .into_iter()
                    .map(|(name, fill)| {
                        threads.spawn(move || {
                            let path = dir.join(name);
                            stage(dir, &path, fill).map(|tmp| (tmp, path))
                        })
                    })
                    .collect();
                running
                    .into_iter()
                    // A writer that panicked is a bug: it ends the program as it would have
                    // on this thread.
                    .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
        let staged: Vec<_> = staged.into_iter().collect::<Result<_, _>>()?;
        self.staged.extend(staged);
        Ok(())
    }

    /// Rename every staged file into place, and make the renames durable. Returns the paths.
    pub(crate) fn commit(self) -> Result<Vec<PathBuf>, String> {
        let mut written = Vec::with_capacity(self.staged.len());
        for (tmp, path) in self.staged {
            tmp.persist(&path)
                .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
            written.push(path);
        }
        sync_dir(&self.dir)?;
        Ok(written)
    }
}

/// A rename is durable once its directory is flushed to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot flush directory {} to disk: {e}", dir.display()))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), String> {
    Ok(())
}

/// In every output directory; locked by the run or merge writing into it, for as long as it
/// runs. Never removed: removing a lock file lets a third run lock a new file while the second
/// still holds the old one.
pub(crate) const LOCK_FILE: &str = ".access-audit.lock";

/// An exclusive lock on an output directory, released when dropped (or when the process ends,
/// however it ends).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: std::fs::File,
}

/// Lock `dir` (which must exist) for this process, or fail at once if another run holds it:
/// two runs into one directory would leave a report set mixed from both.
pub(crate) fn lock_dir(dir: &Path) -> Result<DirLock, String> {
    let path = dir.join(LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "output directory {} is in use by another access-audit run (it holds {}): wait for it to finish, \
             or give this run another output directory",
            dir.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!(
            "cannot lock output directory {} ({}): {e}",
            dir.display(),
            path.display()
        )),
    }
}

/// Write bytes to `path` atomically.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically(path, |out| {
        out.write_all(bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}

/// Write to standard output. A reader that went away (`rules --format json | head`) is a
/// normal end, not an error: like other Unix tools, we stop writing and exit as planned.
pub(crate) fn to_stdout(text: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

/// Fail early, with a clear message, if files cannot be created in `dir`.
pub(crate) fn probe_writable(dir: &Path) -> Result<(), String> {
    tempfile::Builder::new()
        .prefix(".access-audit-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("directory {} is not writable: {e}", dir.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_readable_by_others_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_bytes(&path, b"one").unwrap();
        write_bytes(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // What the umask lets through, seen on a plainly created file (0o666 before the umask).
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let allowed = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o644 & allowed,
            "rw-r--r-- less the umask, not the 0600 of a temporary file"
        );
        // A failing writer leaves nothing under the final name.
        let other = dir.path().join("findings.csv");
        assert!(write_atomically(&other, |_| Err("boom".into())).is_err());
        assert!(!other.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "report.json and plain; the temporary file was removed"
        );
    }

    #[test]
    fn a_file_set_replaces_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a.html", "b.csv", "c.json"];
        for n in names {
            std::fs::write(dir.path().join(n), "old").unwrap();
        }
        let mut set = FileSet::new(dir.path()).unwrap();
        set.stage("a.html", |o| o.write_all(b"new").map_err(|e| e.to_string()))
            .unwrap();
        set.stage("b.csv", |o| o.write_all(b"new").map_err(|e| e.to_string()))
            .unwrap();
        assert!(set.stage("c.json", |_| Err("disk full".into())).is_err());
        drop(set);
        for n in names {
            assert_eq!(std::fs::read(dir.path().join(n)).unwrap(), b"old", "{n}");
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporaries"
        );

        let mut set = FileSet::new(dir.path()).unwrap();
        for n in names {
            set.stage(n, |o| o.write_all(b"new").map_err(|e| e.to_string()))
                .unwrap();
        }
        assert_eq!(set.commit().unwrap().len(), 3);
        for n in names {
            assert_eq!(std::fs::read(dir.path().join(n)).unwrap(), b"new", "{n}");
        }
    }

    #[test]
    fn an_output_directory_is_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path()).unwrap();
        let err = lock_dir(dir.path()).unwrap_err();
        assert!(
            err.contains("is in use by another access-audit run"),
            "{err}"
        );
        drop(held);
        assert!(lock_dir(dir.path()).is_ok(), "released when dropped");
        assert!(dir.path().join(LOCK_FILE).exists(), "the lock file is kept");
    }
}

/// Fill `{date}` (2026-11-20) and `{as_of}` (2026-11-20T060000Z, safe in file names) in a
/// directory path, so each scheduled run keeps its own folder.
pub(crate) fn expand_placeholders(
    path: &Path,
    as_of: &chrono::DateTime<chrono::Utc>,
) -> Result<std::path::PathBuf, String> {
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    if !text.contains('{') {
        return Ok(path.to_path_buf());
    }
    let date = as_of.format("%Y-%m-%d").to_string();
    let stamp = as_of.format("%Y-%m-%dT%H%M%SZ").to_string();
    let expanded = text.replace("{date}", &date).replace("{as_of}", &stamp);
    if let Some(start) = expanded.find('{') {
        let end = expanded[start..]
            .find('}')
            .map_or(expanded.len(), |e| start + e + 1);
        return Err(format!(
            "unknown placeholder `{}` in {}: expected {{date}} or {{as_of}}",
            &expanded[start..end],
            path.display()
        ));
    }
    Ok(expanded.into())
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn date_and_as_of_are_filled() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 11, 20, 6, 5, 9).unwrap();
        assert_eq!(
            expand_placeholders(Path::new("reports/{date}"), &t).unwrap(),
            Path::new("reports/2026-11-20")
        );
        assert_eq!(
            expand_placeholders(Path::new("/out/{as_of}/x"), &t).unwrap(),
            Path::new("/out/2026-11-20T060509Z/x")
        );
        assert_eq!(
            expand_placeholders(Path::new("plain"), &t).unwrap(),
            Path::new("plain")
        );
        assert!(
            expand_placeholders(Path::new("r/{month}"), &t)
                .unwrap_err()
                .contains("`{month}`")
        );
    }
}
