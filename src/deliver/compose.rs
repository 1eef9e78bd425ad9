//! The message: a subject with the counts, a plain-text and an HTML summary (tables and inline
//! styles only — mail clients strip SVG and style sheets), and the reports as attachments.

use std::borrow::Cow;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use super::EmailJob;
use crate::deliver::email::Attachment;
use crate::model::{Finding, Outcome, ScopeStatus, Severity};
use crate::report::{Artifact, Report, plural, render_bytes};
use crate::templates::{EMAIL_HTML, EMAIL_TEXT};
use crate::text::escape_controls;

/// Findings listed per rule in the email; the attachments have them all.
pub const ROWS_PER_RULE: usize = 10;

pub const DEFAULT_SUBJECT: &str = "[access-audit] {{title}} {{as_of_date}}: {{failing}} failing{{#if scopes_failed}}, {{incomplete}}{{/if}}";

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    as_of_date: &'a str,
    generated_at: &'a str,
    verdict: String,
    complete: bool,
    stopped: &'a str,
    failing: usize,
    manual: usize,
    accounts: usize,
    scopes: usize,
    scopes_failed: usize,
    /// "1 scope incomplete", for the subject.
    incomplete: String,
    severities: Vec<SeverityCount>,
    failed_scopes: Vec<FailedScope<'a>>,
    rules: Vec<RuleSection<'a>>,
    attachments: String,
    skipped: Vec<String>,
    /// "3 new, 5 resolved since …", empty without a baseline.
    changes: String,
    new: usize,
    resolved: usize,
    /// "2 findings suppressed as accepted risk; 1 suppression expired", or empty.
    suppressions: String,
    /// Against a baseline: the first new and resolved findings, to lead with.
    new_findings: Vec<Row<'a>>,
    resolved_findings: Vec<Row<'a>>,
    output_dir: String,
    tool_version: &'a str,
}

#[derive(Serialize)]
struct SeverityCount {
    label: &'static str,
    count: usize,
    color: &'static str,
}

#[derive(Serialize)]
struct FailedScope<'a> {
    source_name: &'a str,
    scope: &'a str,
    error: String,
}

#[derive(Serialize)]
struct RuleSection<'a> {
    rule: &'a str,
    severity: &'static str,
    color: &'static str,
    count: usize,
    rows: Vec<Row<'a>>,
    more: usize,
}

#[derive(Serialize)]
struct Row<'a> {
    who: String,
    role: &'a str,
    place: String,
    detail: &'a str,
}

fn color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#7b1fa2",
        Severity::High => "#c62828",
        Severity::Medium => "#ef6c00",
        Severity::Low => "#b28704",
        Severity::Info => "#1565c0",
    }
}

fn rule_sections(findings: &[Finding]) -> Vec<RuleSection<'_>> {
    let mut out: Vec<RuleSection<'_>> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
    {
        let idx = match out.iter().position(|s| s.rule == f.rule) {
            Some(i) => i,
            None => {
                out.push(RuleSection {
                    rule: f.rule,
                    severity: f.severity.as_str(),
                    color: color(f.severity),
                    count: 0,
                    rows: Vec::new(),
                    more: 0,
                });
                out.len() - 1
            }
        };
        let section = &mut out[idx];
        section.count += 1;
        if section.rows.len() < ROWS_PER_RULE {
            section.rows.push(Row {
                who: who(f.name.as_deref(), f.email.as_deref(), &f.account_id),
                role: f.role.as_deref().unwrap_or(""),
                place: format!("{} / {}", f.source_name, f.scope),
                detail: &f.detail,
            });
        } else {
            section.more += 1;
        }
    }
    out
}

/// "Name <email>", or whichever of them there is.
fn who(name: Option<&str>, email: Option<&str>, account_id: &str) -> String {
    match (name, email) {
        (Some(n), Some(e)) if n != e => format!("{n} <{e}>"),
        (_, Some(e)) => e.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => account_id.to_string(),
    }
}

fn suppression_line(report: &Report) -> String {
    use crate::review::suppressions::State;
    let mut parts = Vec::new();
    if report.summary.suppressed > 0 {
        let n = report.summary.suppressed;
        parts.push(format!(
            "{n} finding{} suppressed as accepted risk",
            plural(n)
        ));
    }
    for (state, word) in [(State::Expired, "expired"), (State::Unused, "unused")] {
        let n = report
            .suppressions
            .iter()
            .filter(|s| s.state == state)
            .count();
        if n > 0 {
            parts.push(format!("{n} suppression{} {word}", plural(n)));
        }
    }
    parts.join("; ")
}

fn artifact_of(a: Attachment) -> Artifact {
    match a {
        Attachment::Html => Artifact::Html,
        Attachment::Csv => Artifact::FindingsCsv,
        Attachment::Accounts => Artifact::AccountsCsv,
        Attachment::Json => Artifact::Json,
    }
}

/// The view with every string escaped by [`escape_controls`]: names, emails, roles, scopes, details,
/// API error messages, and whatever else a custom text template may print.
fn text_view(view: &View<'_>) -> Result<serde_json::Value, String> {
    fn escape_all(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(escaped) = escape_controls(s) {
                    *s = escaped;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(escape_all),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(escape_all),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(view)
        .map_err(|e| format!("cannot prepare the plain-text email: {e}"))?;
    escape_all(&mut value);
    Ok(value)
}

pub fn compose(report: &Report, job: &EmailJob<'_>) -> Result<Message, String> {
    let cfg = job.config;
    // Attachments first: the body says which ones were left out for size.
    let limit = u64::from(cfg.max_attachment_mb) * 1024 * 1024;
    let mut attached = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0u64;
    for a in &cfg.attach {
        let artifact = artifact_of(*a);
        let bytes = render_bytes(report, artifact, job.templates)?;
        let size = bytes.len() as u64;
        if total + size > limit {
            skipped.push(format!(
                "{} ({:.1} MB): over the {} MB attachment limit (email.max_attachment_mb)",
                artifact.file_name(),
                size as f64 / 1_048_576.0,
                cfg.max_attachment_mb
            ));
            continue;
        }
        total += size;
        attached.push((artifact, bytes));
    }

    let as_of_date = report.as_of.get(..10).unwrap_or(&report.as_of);
    let failed_scopes: Vec<FailedScope<'_>> = report
        .scopes
        .iter()
        .filter(|s| s.status == ScopeStatus::Failed)
        .map(|s| FailedScope {
            source_name: &s.source_name,
            scope: &s.scope,
            error: s
                .error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        })
        .collect();
    let n_failed = report.summary.scopes_failed;
    let view = View {
        title: &report.title,
        as_of_date,
        generated_at: &report.generated_at,
        verdict: report.verdict(),
        complete: report.complete,
        stopped: report.run.stopped.as_deref().unwrap_or(""),
        failing: report.summary.failing,
        manual: report.summary.manual,
        accounts: report.summary.accounts,
        scopes: report.summary.scopes,
        scopes_failed: n_failed,
        incomplete: format!("{n_failed} scope{} incomplete", plural(n_failed)),
        severities: Severity::ALL
            .iter()
            .rev()
            .map(|s| SeverityCount {
                label: s.as_str(),
                count: report.summary.by_severity.get(s.as_str()),
                color: color(*s),
            })
            .collect(),
        failed_scopes,
        rules: rule_sections(&report.findings),
        changes: report.changes.as_ref().map_or_else(String::new, |c| {
            format!(
                "{} new, {} resolved since {}",
                c.new,
                c.resolved.len(),
                c.baseline_as_of
            )
        }),
        new: report.changes.as_ref().map_or(0, |c| c.new),
        resolved: report.changes.as_ref().map_or(0, |c| c.resolved.len()),
        suppressions: suppression_line(report),
        new_findings: report
            .findings
            .iter()
            .filter(|f| {
                f.change == Some(crate::model::Change::New)
                    && !f.suppressed
                    && f.outcome == Outcome::Fail
            })
            .take(ROWS_PER_RULE)
            .map(|f| Row {
                who: who(f.name.as_deref(), f.email.as_deref(), &f.account_id),
                role: f.rule,
                place: format!("{} / {}", f.source_name, f.scope),
                detail: &f.detail,
            })
            .collect(),
        resolved_findings: report
            .changes
            .iter()
            .flat_map(|c| c.resolved.iter())
            .take(ROWS_PER_RULE)
            .map(|b| Row {
                who: who(b.name.as_deref(), b.email.as_deref(), &b.account_id),
                role: &b.rule,
                place: format!("{} / {}", b.source_name, b.scope),
                detail: &b.detail,
            })
            .collect(),
        attachments: attached
            .iter()
            .map(|(a, _)| a.file_name())
            .collect::<Vec<_>>()
            .join(", "),
        skipped,
        output_dir: job.output_dir.display().to_string(),
        tool_version: &report.tool.version,
    };
    let subject_template = cfg.subject.as_deref().unwrap_or(DEFAULT_SUBJECT);
    // Text is not escaped by its templates the way HTML is: the values are, before rendering.
    let text_view = text_view(&view)?;
    // A subject is one line, whatever the template itself holds.
    let subject: String = job
        .templates
        .render_text_str(subject_template, &text_view)?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = job.templates.render(EMAIL_TEXT, &text_view)?;
    let html = job.templates.render(EMAIL_HTML, &view)?;

    let from: Mailbox = cfg
        .from
        .as_deref()
        .ok_or("email.from is not set")?
        .parse()
        .map_err(|e| format!("email.from is not a valid address: {e}"))?;
    // Message-ID and Date for threading and sorting; Auto-Submitted (RFC 3834) so that
    // auto-responders do not answer a machine and mail rules can tell it from a person.
    let mut builder = Message::builder()
        .from(from)
        .subject(subject.trim())
        .message_id(None)
        .date_now()
        .header(AutoSubmitted::auto_generated());
    for to in &cfg.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| format!("email.to address `{to}` is not valid: {e}"))?;
        builder = builder.to(mailbox);
    }
    let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html));
    for (artifact, bytes) in attached {
        let content_type = ContentType::parse(artifact.content_type())
            .map_err(|e| format!("bad content type for {}: {e}", artifact.file_name()))?;
        let part: SinglePart =
            MailAttachment::new(artifact.file_name().to_string()).body(bytes, content_type);
        body = body.singlepart(part);
    }
    builder
        .multipart(body)
        .map_err(|e| format!("cannot build the email: {e}"))
}

/// `Auto-Submitted: auto-generated` (RFC 3834): this message was sent by a program.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AutoSubmitted(String);

impl AutoSubmitted {
    fn auto_generated() -> AutoSubmitted {
        AutoSubmitted("auto-generated".to_string())
    }
}

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.trim().to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_that_forge_lines_or_reorder_text_are_shown_as_escapes() {
        assert_eq!(escape_controls("Zoë López"), "Zoë López");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("Eve\n  - ceo@acme.example [owner]\r\tx"),
            "Eve\\n  - ceo@acme.example [owner]\\r\\tx"
        );
        assert_eq!(
            escape_controls("\u{1b}[2K\u{7f}\u{85}\u{0}"),
            "\\u{1b}[2K\\u{7f}\\u{85}\\u{0}"
        );
        assert_eq!(
            escape_controls("a\u{2028}b\u{2029}c\u{202a}\u{202e}d\u{2066}\u{2069}"),
            "a\\u{2028}b\\u{2029}c\\u{202a}\\u{202e}d\\u{2066}\\u{2069}"
        );
        // Right-to-left text itself, and backslashes, are left as they are.
        assert_eq!(escape_controls("שרה \\ Sarah"), "שרה \\ Sarah");
    }
}
