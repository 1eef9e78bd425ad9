//! Find the line of a key in a TOML document, so every config error can point at it.

use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySegment {
    Key(String),
    Index(usize),
}

/// Render a path the way users write it: `sources[1].token_env`.
pub(crate) fn render_path(path: &[KeySegment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            KeySegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            KeySegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The path serde reports for an error, as key segments.
pub(crate) fn path_segments(path: &serde_path_to_error::Path) -> Vec<KeySegment> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Map { key } => Some(KeySegment::Key(key.clone())),
            Segment::Seq { index } => Some(KeySegment::Index(*index)),
            Segment::Enum { variant } => Some(KeySegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where the deepest existing part of `path` is written, if the document parses.
pub(crate) fn line_of_path(text: &str, path: &[KeySegment]) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut best: Option<usize> = None;
    let mut table: &DeTable<'_> = root.get_ref();
    let mut value: Option<&DeValue<'_>> = None;
    for seg in path {
        match (seg, value) {
            (KeySegment::Key(k), None) => {
                let Some((key, v)) = find_key(table, k) else {
                    break;
                };
                best = Some(key.span().start);
                value = Some(v.get_ref());
                if let DeValue::Table(t) = v.get_ref() {
                    table = t;
                    value = None;
                }
            }
            (KeySegment::Key(k), Some(DeValue::Table(t))) => {
                table = t;
                let Some((key, v)) = find_key(table, k) else {
                    break;
                };
                best = Some(key.span().start);
                value = Some(v.get_ref());
            }
            (KeySegment::Index(i), Some(DeValue::Array(items))) => {
                let Some(item) = items.get(*i) else { break };
                best = Some(item.span().start);
                match item.get_ref() {
                    DeValue::Table(t) => {
                        table = t;
                        value = None;
                    }
                    other => value = Some(other),
                }
            }
            _ => break,
        }
    }
    best.map(|offset| line_of_offset(text, offset))
}

type Entry<'a, 'i> = (
    &'a toml::Spanned<toml::de::DeString<'i>>,
    &'a toml::Spanned<DeValue<'i>>,
);

fn find_key<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<Entry<'a, 'i>> {
    table.iter().find(|(key, _)| key.get_ref().as_ref() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_array_items() {
        let text = "[report]\ntitle = \"x\"\n\n[[sources]]\ntype = \"sentry\"\n\n[[sources]]\ntype = \"sentdm\"\nprofiles = [\"a\",\n \"b\"]\n";
        let path = |segs: &[&str]| -> Vec<KeySegment> {
            segs.iter()
                .map(|s| {
                    s.parse::<usize>()
                        .map(KeySegment::Index)
                        .unwrap_or_else(|_| KeySegment::Key(s.to_string()))
                })
                .collect()
        };
        assert_eq!(line_of_path(text, &path(&["report", "title"])), Some(2));
        assert_eq!(
            line_of_path(text, &path(&["sources", "1", "type"])),
            Some(8)
        );
        assert_eq!(
            line_of_path(text, &path(&["sources", "1", "profiles", "1"])),
            Some(10)
        );
        assert_eq!(
            line_of_path(text, &path(&["sources", "0", "missing"])),
            Some(4)
        );
        assert_eq!(line_of_path(text, &path(&["nothing"])), None);
        assert_eq!(
            render_path(&path(&["sources", "1", "profiles", "1"])),
            "sources[1].profiles[1]"
        );
    }
}
