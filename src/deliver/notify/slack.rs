//! The Slack message: Block Kit, readable on a phone. A header with the verdict's colour and the
//! title; the verdict line; failing findings by severity beside the totals; what changed since
//! the baseline; the scopes that could not be audited, by name; a link to the report.
//!
//! Every value that came from elsewhere (the title, source and scope names) is escaped for
//! Slack's mrkdwn, so a name cannot ping `<!channel>` or forge a link.

use serde_json::{Value, json};

use super::NotifySummary;
use crate::model::format_time;

/// Slack's limits: header text 150 characters, section text 3000.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
/// Failed scopes named one by one; the rest are counted.
const SCOPES_NAMED: usize = 10;

/// The Slack incoming-webhook payload for `summary`.
pub fn slack_message(summary: &NotifySummary) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": truncate(&format!("{} {}", mood(summary), summary.title), HEADER_MAX)}}),
        section(&format!("*{}*", escape(&summary.verdict))),
        json!({"type": "section", "fields": count_fields(summary)}),
    ];
    if let Some(c) = &summary.changes {
        blocks.push(section(&format!(
            "*Since the baseline* of {}: {} new, {} resolved",
            escape(&c.baseline_as_of),
            c.new,
            c.resolved
        )));
    }
    if !summary.complete {
        blocks.push(section(&incomplete_text(summary)));
    }
    if let Some(url) = &summary.report_url {
        blocks.push(section(&report_link(url)));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "As of {} · fail_on {} · access-audit {}",
            format_time(&summary.as_of), summary.fail_on, escape(&summary.tool_version)
        )}]}),
    );
    json!({
        // The notification text (and what screen readers and old clients show).
        "text": format!("{}: {}", escape(&summary.title), escape(&summary.verdict)),
        "blocks": blocks,
    })
}

/// 🔴 failing findings at or above fail_on, ⚠️ incomplete, ✅ clean.
fn mood(summary: &NotifySummary) -> &'static str {
    if summary.failing_at_or_above > 0 {
        ":red_circle:"
    } else if !summary.complete {
        ":warning:"
    } else {
        ":white_check_mark:"
    }
}

/// Failing findings per severity, then the totals: ten fields at most, Slack's limit.
fn count_fields(summary: &NotifySummary) -> Vec<Value> {
    let s = &summary.summary;
    let mut fields: Vec<Value> = s
        .by_severity
        .0
        .iter()
        .map(|(severity, n)| field(&capitalise(severity), *n))
        .collect();
    fields.push(field("To verify by hand", s.manual));
    fields.push(field("Suppressed", s.suppressed));
    fields.push(field("Accounts", s.accounts));
    fields.push(json!({"type": "mrkdwn", "text": format!(
        "*Scopes audited*\n{} of {}", s.scopes - s.scopes_failed.min(s.scopes), s.scopes)}));
    fields.truncate(10);
    fields
}

fn field(label: &str, n: usize) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{label}*\n{n}")})
}

fn incomplete_text(summary: &NotifySummary) -> String {
    let mut names: Vec<String> = summary
        .failed_scopes
        .iter()
        .take(SCOPES_NAMED)
        .map(|s| {
            let status = s
                .http_status
                .map_or_else(|| "no answer".to_string(), |st| format!("HTTP {st}"));
            format!("`{}/{}` ({status})", code(&s.source_name), code(&s.scope))
        })
        .collect();
    let rest = summary.failed_scopes.len().saturating_sub(SCOPES_NAMED);
    if rest > 0 {
        names.push(format!("and {rest} more"));
    }
    let text = if names.is_empty() {
        ":warning: *Incomplete*: the run stopped before every scope was audited".to_string()
    } else {
        format!(
            ":warning: *Incomplete*: could not audit {}. Their accounts are not in the report.",
            names.join(", ")
        )
    };
    truncate(&text, SECTION_MAX)
}

/// A clickable link for a web address; other addresses (`s3://…`) are shown as text, since
/// Slack links only http(s).
fn report_link(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        // `|` and `>` would end the link early; they are percent-encoded in a real URL anyway.
        let safe = url
            .replace('|', "%7C")
            .replace('>', "%3E")
            .replace('<', "%3C");
        truncate(&format!("<{safe}|Open the report>"), SECTION_MAX)
    } else {
        truncate(&format!("Report: `{}`", code(url)), SECTION_MAX)
    }
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}})
}

/// Slack's mrkdwn escaping: `&`, `<`, `>` (what makes links, mentions and `<!channel>`).
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped for inside `code`: a backtick would end it.
fn code(text: &str) -> String {
    escape(text).replace('`', "'")
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_blocks_mentions_and_links() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
        assert_eq!(code("a`b<c"), "a'b&lt;c");
        assert_eq!(capitalise("critical"), "Critical");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn only_web_addresses_become_links() {
        assert_eq!(
            report_link("https://r.example/a|b"),
            "<https://r.example/a%7Cb|Open the report>"
        );
        assert_eq!(
            report_link("s3://bucket/run/report.html"),
            "Report: `s3://bucket/run/report.html`"
        );
    }
}
