//! Text from outside, made safe to show where one line must stay one line: plain-text email,
//! text logs. The characters that let a value forge lines or reorder what a reader sees are shown
//! as escapes (`\n`, `\r`, `\t`, else `\u{1b}`); everything else, backslashes included, as it is.

use std::borrow::Cow;

/// Control characters (C0 with newline, CR, tab and ESC; DEL; C1), the line and paragraph
/// separators, and the bidi embeddings, overrides and isolates.
pub(crate) fn forges_text(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character that [`forges_text`] shown as an escape.
pub(crate) fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(forges_text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if forges_text(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for HTML element content and attribute values: the pages access-audit writes by hand
/// (review.html, plan.html, the ledger's evidence pack) escape every value through this.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain text"), "plain text");
        assert_eq!(
            escape_controls("bad\nlevel=ERROR forged\u{1b}[31m"),
            "bad\\nlevel=ERROR forged\\u{1b}[31m"
        );
        assert_eq!(escape_controls("a\u{202e}b\r\t"), "a\\u{202e}b\\r\\t");
        assert_eq!(escape_controls("DOMAIN\\user"), "DOMAIN\\user");
    }
}
