//! The message: a subject with the counts, a plain-text and an HTML summary (tables and inline
//! styles only — mail clients strip SVG and style sheets), and the reports as attachments.

use std::borrow::Cow;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use super::EmailJob;
use crate::deliver::email::{Attachment, EmailConfig};
use crate::model::{Outcome, Severity, format_human};
use crate::report::view::{
    FindingRow, RuleGroup, ScopeNames, ScopeRow, change_rows, rule_groups, scope_rows,
    severity_counts, suppression_line,
};
use crate::report::{Artifact, Report, counted, plural, render_bytes};
use crate::templates::{EMAIL_HTML, EMAIL_TEXT};
use crate::text::escape_controls;

/// Findings listed per rule in the email; the attachments have them all.
pub(crate) const ROWS_PER_RULE: usize = 10;

pub(crate) const DEFAULT_SUBJECT: &str = "[access-audit] {{title}} {{as_of_date}}: {{failing}} failing{{#if scopes_failed}}, {{incomplete}}{{/if}}";

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    as_of_date: String,
    generated_at: String,
    verdict: String,
    complete: bool,
    stopped: &'a str,
    failing: usize,
    manual: usize,
    accounts: usize,
    scopes: usize,
    scopes_failed: usize,
    /// "7 scopes", "1 scope".
    scopes_text: String,
    scopes_failed_text: String,
    /// "1 scope incomplete", for the subject.
    incomplete: String,
    severities: Vec<SeverityCount>,
    failed_scopes: Vec<ScopeRow<'a>>,
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
    new_findings: Vec<FindingRow<'a>>,
    resolved_findings: Vec<FindingRow<'a>>,
    /// Where the reports are on the machine that ran: the pod, often gone by the time it is read.
    output_dir: String,
    /// The stored `report.html` (`s3://bucket/run/report.html`), or empty when the reports are
    /// not stored (no `[store]`, or the upload failed): then `output_dir` is where they are.
    report_url: String,
    tool_version: &'a str,
}

#[derive(Serialize)]
struct SeverityCount {
    label: &'static str,
    count: usize,
    color: &'static str,
}

/// A rule's failing findings as the message lists them.
#[derive(Serialize)]
struct RuleSection<'a> {
    #[serde(flatten)]
    group: RuleGroup<'a>,
    color: &'static str,
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

fn rule_sections<'a>(report: &'a Report, names: &ScopeNames<'a>) -> Vec<RuleSection<'a>> {
    rule_groups(report, names, Outcome::Fail, ROWS_PER_RULE)
        .into_iter()
        .map(|group| RuleSection {
            color: color(group.severity),
            group,
        })
        .collect()
}

fn artifact_of(a: Attachment) -> Artifact {
    match a {
        Attachment::Html => Artifact::Html,
        Attachment::Csv => Artifact::FindingsCsv,
        Attachment::Accounts => Artifact::AccountsCsv,
        Attachment::Json => Artifact::Json,
        Attachment::Xlsx => Artifact::Xlsx,
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

pub(crate) fn compose(report: &Report, job: &EmailJob<'_>) -> Result<Message, String> {
    let cfg = job.config;
    // Attachments first: the body says which ones were left out for size.
    let (attached, skipped) = attachments(report, job)?;
    let mut view = summary_view(report, job.output_dir);
    view.report_url = job.report_url.unwrap_or_default().to_string();
    view.attachments = attached
        .iter()
        .map(|(a, _)| a.file_name())
        .collect::<Vec<_>>()
        .join(", ");
    view.skipped = skipped;
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

    let mut body = MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html));
    for (artifact, bytes) in attached {
        let content_type = ContentType::parse(artifact.content_type())
            .map_err(|e| format!("bad content type for {}: {e}", artifact.file_name()))?;
        let part: SinglePart =
            MailAttachment::new(artifact.file_name().to_string()).body(bytes, content_type);
        body = body.singlepart(part);
    }
    envelope(cfg, subject.trim())?
        .multipart(body)
        .map_err(|e| format!("cannot build the email: {e}"))
}

/// Reports rendered for attaching.
type Rendered = Vec<(Artifact, Vec<u8>)>;

/// The reports to attach, rendered, within `email.max_attachment_mb` together; and a line for
/// each one left out for size.
fn attachments(report: &Report, job: &EmailJob<'_>) -> Result<(Rendered, Vec<String>), String> {
    let cfg = job.config;
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
    Ok((attached, skipped))
}

/// What the templates are given, but for the attachments.
fn summary_view<'a>(report: &'a Report, output_dir: &std::path::Path) -> View<'a> {
    let n_failed = report.summary.scopes_failed;
    let names = ScopeNames::of(report);
    let changes = change_rows(report, &names, ROWS_PER_RULE);
    let (new, resolved) = changes.as_ref().map_or((0, 0), |c| (c.new, c.resolved));
    let (changes, new_findings, resolved_findings) = match changes {
        Some(c) => (c.summary, c.new_rows, c.resolved_rows),
        None => (String::new(), Vec::new(), Vec::new()),
    };
    View {
        title: &report.title,
        as_of_date: report.as_of.format("%Y-%m-%d").to_string(),
        generated_at: format_human(&report.generated_at),
        verdict: report.verdict(),
        complete: report.complete,
        stopped: report.run.stopped.as_deref().unwrap_or(""),
        failing: report.summary.failing,
        manual: report.summary.manual,
        accounts: report.summary.accounts,
        scopes: report.summary.scopes,
        scopes_failed: n_failed,
        scopes_text: counted(report.summary.scopes, "scope"),
        scopes_failed_text: counted(n_failed, "scope"),
        incomplete: format!("{n_failed} scope{} incomplete", plural(n_failed)),
        severities: severity_counts(report)
            .into_iter()
            .map(|(s, count)| SeverityCount {
                label: s.as_str(),
                count,
                color: color(s),
            })
            .collect(),
        failed_scopes: scope_rows(report, &names)
            .into_iter()
            .filter(|s| !s.ok)
            .collect(),
        rules: rule_sections(report, &names),
        changes,
        new,
        resolved,
        suppressions: suppression_line(report),
        new_findings,
        resolved_findings,
        attachments: String::new(),
        skipped: Vec::new(),
        output_dir: output_dir.display().to_string(),
        report_url: String::new(),
        tool_version: &report.tool.version,
    }
}

/// From, To and the headers that are not the content.
fn envelope(cfg: &EmailConfig, subject: &str) -> Result<lettre::message::MessageBuilder, String> {
    let mut builder = headers(cfg, subject)?;
    for to in &cfg.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| format!("email.to address `{to}` is not valid: {e}"))?;
        builder = builder.to(mailbox);
    }
    Ok(builder)
}

/// From (`email.from`), the subject (made one line: control characters become spaces) and the
/// headers that are not the content; no recipient. Every message access-audit sends starts here.
pub(crate) fn headers(
    cfg: &EmailConfig,
    subject: &str,
) -> Result<lettre::message::MessageBuilder, String> {
    let from: Mailbox = cfg
        .from
        .as_deref()
        .ok_or("email.from is not set")?
        .parse()
        .map_err(|e| format!("email.from is not a valid address: {e}"))?;
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // Message-ID and Date for threading and sorting; Auto-Submitted (RFC 3834) so that
    // auto-responders do not answer a machine and mail rules can tell it from a person.
    Ok(Message::builder()
        .from(from)
        .subject(subject.trim())
        .message_id(None)
        .date_now()
        .header(AutoSubmitted::auto_generated()))
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
