//! RFC 8288 `Link` header parsing, as Sentry uses it for cursor pagination:
//! `<url>; rel="next"; results="true"; cursor="100:1:0", <url>; rel="previous"; …`

/// One `<url>; key="value"; …` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkEntry {
    pub url: String,
    /// Parameters in order, keys lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl LinkEntry {
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a whole header. Malformed entries are skipped rather than failing the rest.
pub(crate) fn parse_link_header(header: &str) -> Vec<LinkEntry> {
    let mut entries = Vec::new();
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let url = after[..end].trim().to_string();
        let mut tail = &after[end + 1..];
        let mut params = Vec::new();
        // Parameters run until a `,` that is outside quotes.
        loop {
            tail = tail.trim_start();
            if !tail.starts_with(';') {
                break;
            }
            tail = tail[1..].trim_start();
            let key_end = tail.find(['=', ';', ',']).unwrap_or(tail.len());
            let key = tail[..key_end].trim().to_ascii_lowercase();
            tail = &tail[key_end..];
            let mut value = String::new();
            if let Some(stripped) = tail.strip_prefix('=') {
                tail = stripped.trim_start();
                if let Some(quoted) = tail.strip_prefix('"') {
                    let mut chars = quoted.char_indices();
                    let mut consumed = quoted.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    value.push(escaped);
                                }
                            }
                            '"' => {
                                consumed = i + 1;
                                break;
                            }
                            other => value.push(other),
                        }
                    }
                    tail = &quoted[consumed.min(quoted.len())..];
                } else {
                    let v_end = tail.find([';', ',']).unwrap_or(tail.len());
                    value = tail[..v_end].trim().to_string();
                    tail = &tail[v_end..];
                }
            }
            if !key.is_empty() {
                params.push((key, value));
            }
        }
        entries.push(LinkEntry { url, params });
        rest = tail;
    }
    entries
}

/// Sentry's next cursor: the `rel="next"` entry, unless it says `results="false"`. The cursor
/// comes from its `cursor` attribute, else from the URL's `cursor` query parameter. The URL
/// itself is never followed: its host may not be the one we were configured with.
///
/// Sentry always sends `results`; a `rel="next"` without it is followed rather than taken as
/// the end, because stopping there would report a short population as complete, while asking
/// for one page too many costs one request (an empty page ends the list; a repeated one fails
/// the scope).
pub fn next_cursor(header: &str) -> Option<String> {
    let entry = parse_link_header(header).into_iter().find(|e| {
        e.param("rel").is_some_and(|rel| {
            rel.split_whitespace()
                .any(|r| r.eq_ignore_ascii_case("next"))
        })
    })?;
    if entry
        .param("results")
        .is_some_and(|r| !r.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    if let Some(c) = entry.param("cursor").filter(|c| !c.is_empty()) {
        return Some(c.to_string());
    }
    let url = url::Url::parse(&entry.url)
        .or_else(|_| url::Url::parse("http://relative.invalid").and_then(|b| b.join(&entry.url)))
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTRY: &str = "<https://us.sentry.io/api/0/organizations/acme/members/?per_page=100&cursor=100:-1:1>; rel=\"previous\"; results=\"false\"; cursor=\"100:-1:1\", <https://us.sentry.io/api/0/organizations/acme/members/?per_page=100&cursor=100:1:0>; rel=\"next\"; results=\"true\"; cursor=\"100:1:0\"";

    #[test]
    fn sentry_header() {
        let entries = parse_link_header(SENTRY);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].param("rel"), Some("next"));
        assert_eq!(entries[1].param("cursor"), Some("100:1:0"));
        assert_eq!(next_cursor(SENTRY).as_deref(), Some("100:1:0"));
    }

    #[test]
    fn last_page_has_no_next() {
        let h = SENTRY.replace("results=\"true\"", "results=\"false\"");
        assert_eq!(next_cursor(&h), None);
        assert_eq!(next_cursor(""), None);
        assert_eq!(next_cursor("garbage"), None);
    }

    #[test]
    fn cursor_from_url_when_attribute_missing_and_odd_spacing() {
        let h = "<https://x/?&cursor=0:200:0>;rel=next;results=true";
        assert_eq!(next_cursor(h).as_deref(), Some("0:200:0"));
        let h = "<https://x/?&cursor=1>; rel=\"previous\"; results=\"false\" ,  <https://x/?&cursor=2> ; REL=\"next\" ; results=\"TRUE\"";
        assert_eq!(next_cursor(h).as_deref(), Some("2"));
    }

    #[test]
    fn next_without_results_is_followed() {
        let h = "<https://x/?&cursor=100:1:0>; rel=\"next\"; cursor=\"100:1:0\"";
        assert_eq!(next_cursor(h).as_deref(), Some("100:1:0"));
        let h = "<https://x/?&cursor=100:1:0>; rel=\"next\"; results=\"false\"; cursor=\"100:1:0\"";
        assert_eq!(next_cursor(h), None);
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        let h = "<https://x/a>; rel=\"next\"; title=\"a, b; c\"; results=\"true\"; cursor=\"9\"";
        let e = parse_link_header(h);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].param("title"), Some("a, b; c"));
        assert_eq!(next_cursor(h).as_deref(), Some("9"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any header at all: no panic.
        #[test]
        fn never_panics(header in ".{0,300}") {
            let _ = parse_link_header(&header);
            let _ = next_cursor(&header);
        }

        /// A well-formed Sentry header always yields its next cursor, whatever the cursor text,
        /// the host, and the order of the entries.
        #[test]
        fn finds_the_next_cursor(
            cursor in "[A-Za-z0-9:_-]{1,40}",
            host in "[a-z]{1,12}\\.[a-z]{2,5}",
            next_first in any::<bool>(),
            more in any::<bool>(),
        ) {
            let prev = format!("<https://{host}/api/0/x/?&cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\"");
            let next = format!(
                "<https://{host}/api/0/x/?&cursor={cursor}>; rel=\"next\"; results=\"{more}\"; cursor=\"{cursor}\""
            );
            let header = if next_first { format!("{next}, {prev}") } else { format!("{prev}, {next}") };
            prop_assert_eq!(next_cursor(&header), more.then(|| cursor.clone()));
        }
    }
}
