//! Checking a ledger: the chain line by line, then the files the records refer to.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::append::{open_read, regular};
use super::{GENESIS, MAX_LINE, Record, SCHEMA_VERSION, ledger_path, sha256_hex};
use crate::files::{Bound, Symlinks};

/// A file a record refers to, as [`super::append`] hashed it.
const REF_FILE: Bound = Bound {
    what: "file the ledger refers to",
    limit: 16 * 1024 * 1024 * 1024,
};

/// One thing wrong, at a line of the ledger (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) line: u64,
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What [`verify`] found.
#[derive(Debug, Default)]
pub(crate) struct Verification {
    pub(crate) path: PathBuf,
    pub(crate) lines: u64,
    /// The last line's `seq` and SHA-256: compare with a copy kept elsewhere.
    pub(crate) head: Option<(u64, String)>,
    /// Empty when the ledger verifies.
    pub(crate) problems: Vec<Problem>,
    /// Referenced files found with their recorded SHA-256.
    pub(crate) refs_ok: usize,
    /// Referenced files no longer on disk: (line, path).
    pub(crate) unavailable: Vec<(u64, String)>,
    /// References to a path that a later record refers to again.
    pub(crate) superseded: usize,
}

impl Verification {
    pub(crate) fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The chain as read so far.
struct Chain {
    /// The line before: its `seq` (unknown when it did not parse), where it ended, its SHA-256.
    prev: Option<(Option<u64>, u64, String)>,
    /// Path → (line, recorded SHA-256) of the latest record referring to it.
    refs: HashMap<String, (u64, String)>,
    v: Verification,
}

/// Verify the ledger in `dir`, calling `visit` with every line that parses (line number,
/// record). `Err` when the ledger cannot be read at all.
pub(crate) fn verify(
    dir: &Path,
    mut visit: impl FnMut(u64, &Record),
) -> Result<Verification, String> {
    let path = ledger_path(dir);
    let file = open_read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "there is no ledger at {}: nothing has been recorded there",
                path.display()
            )
        } else {
            format!("cannot open the ledger {}: {e}", path.display())
        }
    })?;
    regular(&file, &path)?;
    let mut chain = Chain {
        prev: None,
        refs: HashMap::new(),
        v: Verification {
            path: path.clone(),
            ..Verification::default()
        },
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("cannot read the ledger {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        chain.v.lines += 1;
        let line = chain.v.lines;
        if buf.last() != Some(&b'\n') {
            if buf.len() > MAX_LINE {
                chain.problem(
                    line,
                    format!("longer than {MAX_LINE} bytes: not a ledger record"),
                );
                skip_rest_of_line(&mut reader, &path)?;
                chain.prev = None;
                continue;
            }
            chain.problem(
                line,
                format!(
                    "incomplete: the ledger ends without a newline (a write was interrupted); cut it off with \
                     truncate -s {} {}",
                    chain.bytes_before(),
                    path.display()
                ),
            );
            break;
        }
        buf.pop();
        chain.line(line, &buf, &mut visit);
    }
    chain.check_refs();
    Ok(chain.v)
}

impl Chain {
    fn problem(&mut self, line: u64, message: String) {
        self.v.problems.push(Problem { line, message });
    }

    /// Bytes before the current line, when every line before it was whole.
    fn bytes_before(&self) -> u64 {
        self.prev.as_ref().map_or(0, |(_, end, _)| *end)
    }

    /// One whole line (without `\n`).
    fn line(&mut self, line: u64, bytes: &[u8], visit: &mut impl FnMut(u64, &Record)) {
        let sha = sha256_hex(bytes);
        let end = self.bytes_before() + bytes.len() as u64 + 1;
        let record = match serde_json::from_slice::<Record>(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.problem(line, format!("not a ledger record: {e}"));
                self.prev = Some((None, end, sha));
                return;
            }
        };
        if record.schema_version != SCHEMA_VERSION {
            self.problem(
                line,
                format!(
                    "schema_version {} is not {SCHEMA_VERSION}, the one this access-audit reads",
                    record.schema_version
                ),
            );
        }
        self.check_link(line, &record);
        for r in &record.refs {
            if self
                .refs
                .insert(r.path.clone(), (line, r.sha256.clone()))
                .is_some()
            {
                self.v.superseded += 1;
            }
        }
        visit(line, &record);
        self.v.head = Some((record.seq, sha.clone()));
        self.prev = Some((Some(record.seq), end, sha));
    }

    /// `seq` one more than the line before, `prev_sha256` that line's SHA-256.
    fn check_link(&mut self, line: u64, record: &Record) {
        let (want_seq, want_prev) = match &self.prev {
            None => (Some(1), GENESIS.to_string()),
            Some((seq, _, sha)) => (seq.map(|s| s + 1), sha.clone()),
        };
        if let Some(want_seq) = want_seq
            && record.seq != want_seq
        {
            self.problem(
                line,
                format!(
                    "seq is {}, expected {want_seq}: a line before it was removed, added or moved",
                    record.seq
                ),
            );
        }
        if record.prev_sha256 != want_prev {
            let what = if line == 1 {
                "the first record's prev_sha256 must be the SHA-256 of the empty string".to_string()
            } else {
                format!(
                    "line {} has SHA-256 {want_prev}: line {} was changed, or a line was removed or moved",
                    line - 1,
                    line - 1
                )
            };
            self.problem(
                line,
                format!("prev_sha256 is {}, but {what}", record.prev_sha256),
            );
        }
    }

    /// Every referenced path, against the latest record that refers to it.
    fn check_refs(&mut self) {
        let mut refs: Vec<(String, (u64, String))> = self.refs.drain().collect();
        refs.sort_by(|a, b| (a.1.0, &a.0).cmp(&(b.1.0, &b.0)));
        for (path, (line, recorded)) in refs {
            let found = crate::files::open_bounded(Path::new(&path), REF_FILE, Symlinks::Refuse)
                .and_then(crate::files::Opened::sha256);
            match found {
                Ok(now) if now == recorded => self.v.refs_ok += 1,
                Ok(now) => self.problem(
                    line,
                    format!(
                        "{path} was changed: its SHA-256 is {now}, the ledger recorded {recorded}"
                    ),
                ),
                Err(e) if e.is_not_found() => self.v.unavailable.push((line, path)),
                Err(e) => self.problem(line, format!("{path} cannot be checked: {}", e.reason())),
            }
        }
    }
}

/// After an over-long line: read on to its end, a bounded buffer at a time.
fn skip_rest_of_line(reader: &mut impl BufRead, path: &Path) -> Result<(), String> {
    loop {
        let buf = reader
            .fill_buf()
            .map_err(|e| format!("cannot read the ledger {}: {e}", path.display()))?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        reader.consume(n);
    }
}
