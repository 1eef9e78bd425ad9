//! `report.json` exactly as `serde_json` writes the [`Report`], with its two long lists — the
//! findings and the accounts — rendered in blocks on every core and written in order.
//!
//! At a million accounts and as many findings, report.json is most of a gigabyte and its
//! writer was the last to finish, on one core, while the other had nothing left to do. The
//! report is written without its lists first (a small text), the places of the two empty lists
//! are found in it, and the lists' elements go there, each rendered as `serde_json` would have
//! written it inside the whole (by [`super::compact_json`], which writes the same bytes
//! faster): the bytes are the same (a test compares them).

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::model::Accounts;

/// Where the two lists are in the report written without them. Keys and structure are written
/// as is, and every `"` inside a string is escaped, so this text can only be the report's own
/// `findings` and `accounts`, next to each other as the struct declares them.
const EMPTY_LISTS: &[u8] = br#""findings":[],"accounts":[]"#;

/// Elements rendered per thread at a time: large enough that starting threads costs nothing
/// next to rendering, small enough that the blocks held at once (two sets: one being written,
/// one being rendered) stay a few megabytes.
const BLOCK: usize = 4096;

pub(super) fn write(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let shell = serde_json::to_vec(&without_lists(report))?;
    let Some(at) = only_place(&shell) else {
        // Not expected; the plain way is always right, only slower.
        return serde_json::to_writer(&mut *out, report).map_err(io::Error::from);
    };
    let findings_open = at + br#""findings":["#.len();
    out.write_all(&shell[..findings_open])?;
    write_elements(report.findings.iter(), out)?;
    out.write_all(br#"],"accounts":["#)?;
    write_elements(report.accounts.iter(), out)?;
    // From the `]` that closes the empty accounts list on.
    out.write_all(&shell[at + EMPTY_LISTS.len() - 1..])
}

/// The report with empty lists; everything else as it is.
fn without_lists(r: &Report) -> Report {
    Report {
        schema_version: r.schema_version,
        tool: r.tool.clone(),
        title: r.title.clone(),
        generated_at: r.generated_at,
        as_of: r.as_of,
        complete: r.complete,
        summary: r.summary.clone(),
        scopes: r.scopes.clone(),
        findings: Vec::new(),
        accounts: Accounts::default(),
        suppressions: r.suppressions.clone(),
        changes: r.changes.clone(),
        people: r.people.clone(),
        run: r.run.clone(),
    }
}

/// The one place of the empty lists, or `None` if there is not exactly one.
fn only_place(shell: &[u8]) -> Option<usize> {
    let mut found = shell
        .windows(EMPTY_LISTS.len())
        .enumerate()
        .filter(|(_, w)| *w == EMPTY_LISTS)
        .map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// `items` as the inside of a JSON array (`a,b,c`): rendered `BLOCK` at a time on each core,
/// written in their order. One batch is written out while the next is rendered, so the cores
/// do not wait for the file; the two sets of buffers are kept from one batch to the next.
fn write_elements<'a, T: Serialize + Sync + 'a>(
    items: impl Iterator<Item = &'a T>,
    out: &mut impl Write,
) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    write_in_batches(items, out, cores, BLOCK)
}

/// [`write_elements`] on `cores` threads, `block` elements per thread at a time.
fn write_in_batches<'a, T: Serialize + Sync + 'a>(
    items: impl Iterator<Item = &'a T>,
    out: &mut impl Write,
    cores: usize,
    block: usize,
) -> io::Result<()> {
    let mut rendering: Vec<Vec<u8>> = vec![Vec::new(); cores];
    let mut rendered: Vec<Vec<u8>> = vec![Vec::new(); cores];
    // How many of `rendered` hold a chunk not written yet.
    let mut ready = 0;
    let mut items = items.peekable();
    let mut first = true;
    while ready > 0 || items.peek().is_some() {
        let batch: Vec<&T> = items.by_ref().take(block * cores).collect();
        let per_thread = batch.len().div_ceil(cores).max(1);
        let (results, written) = std::thread::scope(|s| {
            let running: Vec<_> = batch
                .chunks(per_thread)
                .zip(rendering.iter_mut())
                .map(|(chunk, buf)| s.spawn(move || render(chunk, buf)))
                .collect();
            let written = write_chunks(&rendered[..ready], &mut first, out);
            let results: Vec<io::Result<()>> = running
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            (results, written)
        });
        written?;
        // One result per chunk, in order, each rendered into the buffer of its place.
        ready = results.len();
        results.into_iter().collect::<io::Result<Vec<()>>>()?;
        std::mem::swap(&mut rendering, &mut rendered);
    }
    Ok(())
}

/// Rendered chunks, each after a comma but the list's first.
fn write_chunks(chunks: &[Vec<u8>], first: &mut bool, out: &mut impl Write) -> io::Result<()> {
    for chunk in chunks {
        if !*first {
            out.write_all(b",")?;
        }
        *first = false;
        out.write_all(chunk)?;
    }
    Ok(())
}

/// Elements separated by commas, as `serde_json` writes them inside an array, into `buf`
/// (through [`super::compact_json`], which writes the same bytes faster).
fn render<T: Serialize>(chunk: &[&T], buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    for (i, item) in chunk.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        super::compact_json::append(*item, buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any number of threads and block sizes, any length: the elements in order, each after a
    /// comma but the first, as `serde_json` writes the inside of the array.
    #[test]
    fn batches_come_out_in_order_whatever_the_threads_and_blocks() {
        for len in 0..=40 {
            let items: Vec<String> = (0..len).map(|i| format!("item \"{i}\"")).collect();
            let whole = serde_json::to_vec(&items).unwrap();
            let inside = &whole[1..whole.len() - 1];
            for cores in 1..=5 {
                for block in 1..=4 {
                    let mut out = Vec::new();
                    write_in_batches(items.iter(), &mut out, cores, block).unwrap();
                    assert_eq!(
                        out, inside,
                        "{len} items, {cores} threads, blocks of {block}"
                    );
                }
            }
        }
    }

    /// A file that stops taking bytes: the error comes back, and what was written before it
    /// are whole elements.
    #[test]
    fn a_write_that_fails_stops_the_list_with_its_error() {
        struct FailsAfter(Vec<u8>, usize);
        impl Write for FailsAfter {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0.len() + buf.len() > self.1 {
                    return Err(io::Error::other("disk full"));
                }
                self.0.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let items: Vec<u32> = (0..100).collect();
        let mut out = FailsAfter(Vec::new(), 50);
        let err = write_in_batches(items.iter(), &mut out, 2, 3).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        let text = String::from_utf8(out.0).unwrap();
        assert!(text.len() <= 50 && !text.is_empty(), "{text}");
        // Whole elements (and perhaps the comma before the next), never part of one.
        let whole = (0..100)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let elements = text.trim_end_matches(',');
        assert!(whole.starts_with(elements), "{text}");
        assert!(
            whole[elements.len()..].starts_with(','),
            "cut inside an element: {text}"
        );
    }

    fn written(report: &Report) -> Vec<u8> {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        out
    }

    /// The sample report, with lists long enough to span blocks and threads, and hostile text
    /// in them (quotes, backslashes, control characters, the very text searched for).
    #[test]
    fn the_same_bytes_as_serde_writes_the_whole_report() {
        let mut report = crate::deliver::sample::report();
        assert_eq!(written(&report), serde_json::to_vec(&report).unwrap());
        let hostile = r#""findings":[],"accounts":[] \ "\u{1}"#;
        let base = report.accounts.iter().next().unwrap().clone();
        let finding = report.findings[0].clone();
        for i in 0..(BLOCK * 3 + 7) {
            let mut a = base.clone();
            a.account_id = format!("{i}").into();
            a.name = Some(format!("{hostile}{i}").into());
            report.accounts.push(a);
            let mut f = finding.clone();
            f.detail = format!("{hostile}{i}").into();
            report.findings.push(f);
        }
        report.title = hostile.into();
        let shell = serde_json::to_vec(&without_lists(&report)).unwrap();
        assert!(
            only_place(&shell).is_some(),
            "the lists are found, not written the plain way"
        );
        assert_eq!(written(&report), serde_json::to_vec(&report).unwrap());
        report.findings.clear();
        report.accounts = Accounts::default();
        assert_eq!(written(&report), serde_json::to_vec(&report).unwrap());
    }
}
