//! Reading files that this run did not write: the config, secrets, suppressions, the roster,
//! templates, baselines, reports to merge and evidence archives. Any of them may be wrong or
//! hostile — a FIFO that blocks the open forever, `/dev/zero` that never ends, a 50 GB file, a
//! symlink out of an archive — so every such read goes through this module: regular files only,
//! at most a stated number of bytes, and an error that names the file, what it is for and the
//! limit.
//!
//! One module on purpose: the bounds, the errors and the two ways in (a file the operator
//! named, [`open_bounded`]; a path from an archive's manifest, [`open_inside`]) share the same
//! refusals, and whoever checks that no outside file escapes them should find them in one file.
//! Its tests are in `files/tests.rs`.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// What a file is for (said in errors) and the most that is read of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub what: &'static str,
    pub limit: u64,
}

/// A token, an API key or an SMTP URL is well under 1 KiB; 64 KiB leaves room for anything
/// real and refuses a file that was mounted by mistake.
pub(crate) const SECRET_FILE: Bound = Bound {
    what: "secret file",
    limit: 64 * KIB,
};

/// A config with thousands of organization slugs is still well under 1 MiB.
pub(crate) const CONFIG_FILE: Bound = Bound {
    what: "config file",
    limit: 4 * MIB,
};

/// Tens of thousands of accepted-risk entries of a few hundred bytes each.
pub(crate) const SUPPRESSIONS_FILE: Bound = Bound {
    what: "suppressions file",
    limit: 64 * MIB,
};

/// An HR export of a million people at ~150 bytes a row is ~150 MB.
pub(crate) const ROSTER_FILE: Bound = Bound {
    what: "roster",
    limit: GIB,
};

/// A report or email template is tens of KiB.
pub(crate) const TEMPLATE_FILE: Bound = Bound {
    what: "template",
    limit: 4 * MIB,
};

/// A report.json of a million accounts is ~500 MB (compact JSON, every finding and account);
/// 4 GiB leaves room for several million before a baseline or a merge input is refused.
pub(crate) const REPORT_JSON_FILE: Bound = Bound {
    what: "report.json",
    limit: 4 * GIB,
};

/// One manifest entry is ~400 bytes and a million accounts take ~10,000 pages: ~4 MB.
/// 256 MiB is room for tens of millions of accounts.
pub(crate) const EVIDENCE_MANIFEST: Bound = Bound {
    what: "evidence manifest",
    limit: 256 * MIB,
};

/// One recorded API answer: a page of 100 members is 100–300 KB. The cap is the largest
/// answer a live run can be configured to accept (`max_response_mb` at most 1024), so whatever
/// was recorded can be replayed, and a hostile manifest cannot make replay hash or hold more.
pub(crate) const EVIDENCE_BODY: Bound = Bound {
    what: "evidence body",
    limit: 1024 * MIB,
};

/// A PEM CA certificate (`email.smtp_ca_file`) is a few KiB; a bundle is under 1 MiB.
pub(crate) const PEM_FILE: Bound = Bound {
    what: "CA certificate file",
    limit: 4 * MIB,
};

/// Whether the file's own name may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symlinks {
    /// Follow it: Kubernetes mounts secrets and ConfigMaps as links into `..data/`. The target
    /// must still be a regular file.
    Follow,
    /// Refuse it: inside an evidence archive a link could point anywhere on the machine.
    Refuse,
}

/// Why a file was not read.
#[derive(Debug)]
pub enum Problem {
    Io(std::io::Error),
    Symlink,
    /// What the file is instead: "a FIFO", "a directory", …
    NotRegular(&'static str),
    /// Over the limit; the size when the metadata said so before reading.
    TooLarge(Option<u64>),
    /// Not a plain relative path of normal components inside the directory.
    Outside,
    NotUtf8,
}

#[derive(Debug)]
pub struct ReadError {
    pub path: PathBuf,
    pub bound: Bound,
    pub problem: Problem,
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(&self.problem, Problem::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }

    /// The problem without the path, for messages that already name the file.
    pub fn reason(&self) -> String {
        let Bound { what, limit } = self.bound;
        match &self.problem {
            Problem::Io(e) => e.to_string(),
            Problem::Symlink => "it is a symbolic link, which is not followed here".into(),
            Problem::NotRegular(kind) => format!("it is {kind}, not a regular file"),
            Problem::TooLarge(Some(size)) => format!(
                "it is {size} bytes, over the {} limit for a {what}",
                human(limit)
            ),
            Problem::TooLarge(None) => {
                format!("it holds more than the {} limit for a {what}", human(limit))
            }
            Problem::Outside => {
                "the path leaves the directory or is not a plain relative path".into()
            }
            Problem::NotUtf8 => "it is not UTF-8 text".into(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read {} {}: {}",
            self.bound.what,
            self.path.display(),
            self.reason()
        )
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.to_string()
    }
}

impl Bound {
    /// The limit for people: "64 MiB".
    pub fn limit_text(self) -> String {
        human(self.limit)
    }
}

/// "64 KiB", "4 GiB": limits are whole powers of 1024 here.
fn human(n: u64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// A regular file, open, whose size is within its bound.
#[derive(Debug)]
pub(crate) struct Opened {
    file: File,
    len: u64,
    path: PathBuf,
    bound: Bound,
}

impl Opened {
    /// The size `fstat` gave when the file was opened.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Read at most `limit + 1` bytes: the size from the metadata is not trusted, the file may
    /// grow while it is read.
    pub(crate) fn read(self) -> Result<Vec<u8>, ReadError> {
        let Opened {
            file,
            len,
            path,
            bound,
        } = self;
        let fail = |problem| ReadError {
            path: path.clone(),
            bound,
            problem,
        };
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(bound.limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| fail(Problem::Io(e)))?;
        if buf.len() as u64 > bound.limit {
            return Err(fail(Problem::TooLarge(None)));
        }
        Ok(buf)
    }
}

impl Opened {
    /// Stream the file through SHA-256 (never more than the bound): the hex digest. For files
    /// too large to hold, such as a report.json a ledger record refers to.
    pub(crate) fn sha256(self) -> Result<String, ReadError> {
        use sha2::Digest;
        let Opened {
            file, path, bound, ..
        } = self;
        let fail = |problem| ReadError {
            path: path.clone(),
            bound,
            problem,
        };
        let mut hasher = sha2::Sha256::new();
        let read = std::io::copy(&mut file.take(bound.limit.saturating_add(1)), &mut hasher)
            .map_err(|e| fail(Problem::Io(e)))?;
        if read > bound.limit {
            return Err(fail(Problem::TooLarge(None)));
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Open `path` for reading without blocking, refuse anything but a regular file within
/// `bound.limit` bytes, and read nothing yet.
pub(crate) fn open_bounded(
    path: &Path,
    bound: Bound,
    symlinks: Symlinks,
) -> Result<Opened, ReadError> {
    let fail = |problem| ReadError {
        path: path.to_path_buf(),
        bound,
        problem,
    };
    let file = open_no_block(path, symlinks).map_err(|e| {
        if symlinks == Symlinks::Refuse && is_symlink(path) {
            fail(Problem::Symlink)
        } else {
            fail(Problem::Io(e))
        }
    })?;
    // fstat the handle we read from, not the path, which may have changed since.
    let meta = file.metadata().map_err(|e| fail(Problem::Io(e)))?;
    if !meta.is_file() {
        return Err(fail(Problem::NotRegular(kind_of(&meta))));
    }
    if meta.len() > bound.limit {
        return Err(fail(Problem::TooLarge(Some(meta.len()))));
    }
    Ok(Opened {
        file,
        len: meta.len(),
        path: path.to_path_buf(),
        bound,
    })
}

/// The whole file, if it is a regular file of at most `bound.limit` bytes.
pub(crate) fn read_bounded(
    path: &Path,
    bound: Bound,
    symlinks: Symlinks,
) -> Result<Vec<u8>, ReadError> {
    open_bounded(path, bound, symlinks)?.read()
}

/// [`read_bounded`] for text.
pub(crate) fn read_bounded_text(
    path: &Path,
    bound: Bound,
    symlinks: Symlinks,
) -> Result<String, ReadError> {
    let bytes = read_bounded(path, bound, symlinks)?;
    String::from_utf8(bytes).map_err(|_| ReadError {
        path: path.to_path_buf(),
        bound,
        problem: Problem::NotUtf8,
    })
}

/// Open `root/rel` where `rel` comes from an untrusted manifest: a relative path of normal
/// components, none of them a symbolic link, ending in a regular file. `root` itself is what
/// the operator named and may be a link.
pub(crate) fn open_inside(root: &Path, rel: &str, bound: Bound) -> Result<Opened, ReadError> {
    let full = root.join(rel);
    let fail = |path: PathBuf, problem| ReadError {
        path,
        bound,
        problem,
    };
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(fail(full, Problem::Outside));
    }
    // Every directory on the way must be a real directory. The archive is checked as it lies
    // on disk; a concurrent writer racing this walk is outside what replay defends against.
    let mut dir = root.to_path_buf();
    let components: Vec<Component> = rel_path.components().collect();
    for c in &components[..components.len() - 1] {
        dir.push(c);
        if is_symlink(&dir) {
            return Err(fail(dir, Problem::Symlink));
        }
    }
    open_bounded(&full, bound, Symlinks::Refuse)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(unix)]
fn open_no_block(path: &Path, symlinks: Symlinks) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // A FIFO opened for reading blocks until a writer comes; O_NONBLOCK returns at once so that
    // fstat can refuse it. Reads of regular files ignore the flag.
    let mut flags = libc::O_NONBLOCK;
    if symlinks == Symlinks::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

/// Without O_NONBLOCK and O_NOFOLLOW: check the path first (racy, but the best portable check).
#[cfg(not(unix))]
fn open_no_block(path: &Path, symlinks: Symlinks) -> std::io::Result<File> {
    let meta = if symlinks == Symlinks::Refuse {
        std::fs::symlink_metadata(path)?
    } else {
        std::fs::metadata(path)?
    };
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "it is {}, not a regular file",
            kind_of(&meta)
        )));
    }
    File::open(path)
}

fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(all(test, unix))]
mod tests;
