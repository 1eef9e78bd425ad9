//! Finding every error of a config file, not just the first: each key in error is taken out of
//! the parsed document (so its default applies) and the document read again. These are the
//! document surgery and the rules for which later errors only repeat an earlier one.

use super::*;

/// Whether `later` adds nothing to `earlier`: the same key again, or an error at a table whose
/// key `earlier` had a bad value (taking that value out made it "missing"). An unknown key taken
/// out leaves nothing missing, so its table's own errors are still reported.
pub(super) fn follows_from(earlier: &ConfigError, later: &ConfigError) -> bool {
    let (Some(e), Some(l)) = (&earlier.key, &later.key) else {
        return earlier.key.is_none() && later.key.is_none() && earlier.message == later.message;
    };
    if e == l {
        return true;
    }
    let unknown_key = earlier.message.starts_with("unknown field")
        || earlier.message.contains("belongs to type =");
    let inside = e
        .strip_prefix(l.as_str())
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
    inside && !unknown_key
}

/// A rendered key (`sources[1].organizations[0]`) as its segments.
pub(super) fn key_path(rendered: &str) -> Vec<KeySegment> {
    let mut path = Vec::new();
    for part in rendered.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            path.push(KeySegment::Key(name.to_string()));
        }
        for index in pieces {
            match index.trim_end_matches(']').parse() {
                Ok(i) => path.push(KeySegment::Index(i)),
                Err(_) => return Vec::new(),
            }
        }
    }
    path
}

/// Take the key at `path` out of the document, so that its default applies. An array item is
/// not taken out alone (the items after it would change index): a value's whole array is
/// (`email.to[1]` → `email.to`), a table's never (`sources[1]`). Whether anything was removed.
pub(super) fn remove_key(table: &mut DeTable<'_>, path: &[KeySegment]) -> bool {
    let mut path = path;
    // Items of an array of values: take out the array.
    while let Some((KeySegment::Index(_), parent)) = path.split_last() {
        if item_is_table(table, path) {
            return false;
        }
        path = parent;
    }
    let Some((KeySegment::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut document = DeValue::Table(std::mem::take(table));
    let removed = remove_in(&mut document, parents, last);
    if let DeValue::Table(t) = document {
        *table = t;
    }
    removed
}

/// Take `last` out of the table at `parents` under `value`.
fn remove_in(value: &mut DeValue<'_>, parents: &[KeySegment], last: &str) -> bool {
    match (parents.split_first(), value) {
        (None, DeValue::Table(t)) => {
            let found = t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == last)
                .map(|(k, _)| k.clone());
            found.is_some_and(|k| t.remove(&k).is_some())
        }
        (Some((KeySegment::Key(k), rest)), DeValue::Table(t)) => {
            find_mut(t, k).is_some_and(|v| remove_in(v, rest, last))
        }
        (Some((KeySegment::Index(i), rest)), DeValue::Array(items)) => items
            .get_mut(*i)
            .is_some_and(|v| remove_in(v.get_mut(), rest, last)),
        _ => false,
    }
}

fn find_mut<'a, 'i>(table: &'a mut DeTable<'i>, name: &str) -> Option<&'a mut DeValue<'i>> {
    table
        .iter_mut()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(_, v)| v.get_mut())
}

/// Whether the array item at `path` (ending with an index) is a table.
fn item_is_table(root: &DeTable<'_>, path: &[KeySegment]) -> bool {
    let mut value: Option<&DeValue<'_>> = None;
    let mut table = root;
    for seg in path {
        let next = match (seg, value) {
            (KeySegment::Key(k), None) => find(table, k),
            (KeySegment::Key(k), Some(DeValue::Table(t))) => find(t, k),
            (KeySegment::Index(i), Some(DeValue::Array(items))) => {
                items.get(*i).map(|v| v.get_ref())
            }
            _ => None,
        };
        let Some(next) = next else { return false };
        value = Some(next);
        if let DeValue::Table(t) = next {
            table = t;
            value = None;
        }
    }
    value.is_none()
}

fn find<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<&'a DeValue<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(_, v)| v.get_ref())
}
