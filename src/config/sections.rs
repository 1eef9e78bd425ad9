//! Each section of the config file checked as a whole, after its values have read: what one key
//! alone cannot say (formats listed twice, email complete, a delivery target's URL). An error is
//! returned at its key; [`super::Config`] locates it in the file.

use super::*;

/// A check that failed, at the key it is about; [`Config::validate`] locates it in the file.
pub(super) type KeyError = (Vec<KeySegment>, String);

/// The path of a key named by its parts: `["email", "from"]`.
pub(super) fn key(parts: &[&str]) -> Vec<KeySegment> {
    parts
        .iter()
        .map(|p| KeySegment::Key((*p).to_string()))
        .collect()
}

/// `[report]`: a title, an output directory and at least one format (each once, in order).
pub(super) fn report_section(raw: RawReport) -> Result<ReportConfig, KeyError> {
    if raw.title.trim().is_empty() {
        return Err((key(&["report", "title"]), "the title is empty".into()));
    }
    if raw.output_dir.as_os_str().is_empty() {
        return Err((
            key(&["report", "output_dir"]),
            "the output directory is empty".into(),
        ));
    }
    let mut formats = raw.formats;
    formats.sort();
    formats.dedup();
    if formats.is_empty() {
        return Err((
            key(&["report", "formats"]),
            "no report format selected: expected one or more of \"html\", \"csv\", \"json\"".into(),
        ));
    }
    Ok(ReportConfig {
        title: raw.title,
        output_dir: raw.output_dir,
        formats,
        fail_on: raw.fail_on,
        template_dir: raw.template_dir,
    })
}

/// `[email]`: the SMTP URL named by one key, the addresses and the subject template sound, the
/// sizes and the timeout in range and, when email is enabled, nothing it needs missing.
pub(super) fn email_section(e: RawEmail) -> Result<EmailConfig, KeyError> {
    let smtp_url = match (e.smtp_url_env, e.smtp_url_file) {
        (Some(env), None) => Some(SecretRef::Env(env.0)),
        (None, Some(p)) => Some(SecretRef::File(p)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err((
                key(&["email", "smtp_url_file"]),
                "set either `smtp_url_env` or `smtp_url_file`, not both".into(),
            ));
        }
    };
    check_mailboxes(e.from.as_deref(), &e.to)?;
    if let Some(subject) = &e.subject {
        crate::templates::Templates::check_text_str(subject).map_err(|m| {
            (
                key(&["email", "subject"]),
                format!("the subject template does not compile: {m}"),
            )
        })?;
    }
    if e.max_attachment_mb == Some(0) {
        return Err((
            key(&["email", "max_attachment_mb"]),
            "0: expected a size in MB, at least 1".into(),
        ));
    }
    let timeout = e.timeout.map_or(EmailConfig::DEFAULT_TIMEOUT, |t| t.0);
    if !EmailConfig::TIMEOUT_RANGE.contains(&timeout) {
        return Err((
            key(&["email", "timeout"]),
            format!(
                "{}: expected from 1s to 10m",
                humantime::format_duration(timeout)
            ),
        ));
    }
    let email = EmailConfig {
        enabled: e.enabled,
        from: e.from,
        to: e.to,
        smtp_url,
        attach: e
            .attach
            .unwrap_or_else(|| vec![Attachment::Html, Attachment::Csv]),
        send: e.send,
        subject: e.subject,
        smtp_ca_file: e.smtp_ca_file,
        max_attachment_mb: e.max_attachment_mb.unwrap_or(20),
        timeout,
    };
    if email.enabled {
        email
            .check_complete()
            .map_err(|(k, m)| (key(&["email", k]), m))?;
    }
    Ok(email)
}

/// `from` and each of `to` parse as a mailbox.
fn check_mailboxes(from: Option<&str>, to: &[String]) -> Result<(), KeyError> {
    if let Some(from) = from
        && !looks_like_mailbox(from)
    {
        return Err((
            key(&["email", "from"]),
            format!(
                "`{from}` is not an email address: expected \"Name <addr@example.com>\" or \"addr@example.com\""
            ),
        ));
    }
    for (i, to) in to.iter().enumerate() {
        if !looks_like_mailbox(to) {
            return Err((
                vec![
                    KeySegment::Key("email".into()),
                    KeySegment::Key("to".into()),
                    KeySegment::Index(i),
                ],
                format!("`{to}` is not an email address"),
            ));
        }
    }
    Ok(())
}

/// `[store]`, `[notify]` or `[metrics]`, when present, checked by the delivery module that owns
/// it; its errors are at keys of the section.
pub(super) fn delivery_section<R, T>(
    section: &str,
    raw: Option<R>,
    validate: fn(R) -> Result<T, (&'static str, String)>,
) -> Result<Option<T>, KeyError> {
    raw.map(validate)
        .transpose()
        .map_err(|(k, m)| (key(&[section, k]), m))
}
