//! `findings.csv` and `accounts.csv`: RFC 4180, UTF-8, header row, and every cell that a
//! spreadsheet would execute as a formula neutralised with a leading `'`.

use std::borrow::Cow;
use std::io::Write;

use chrono::{DateTime, Utc};

use crate::model::{Account, Finding, format_time};

pub const FINDINGS_HEADER: [&str; 15] = [
    "id",
    "rule",
    "severity",
    "outcome",
    "source",
    "source_name",
    "scope",
    "account_id",
    "email",
    "name",
    "role",
    "status",
    "last_seen_at",
    "detail",
    "suppressed",
];

pub const ACCOUNTS_HEADER: [&str; 16] = [
    "source",
    "source_name",
    "scope",
    "account_id",
    "user_id",
    "email",
    "name",
    "role",
    "privileged",
    "status",
    "mfa",
    "last_login_at",
    "last_active_at",
    "last_seen_at",
    "invited_at",
    "created_at",
];

/// Names and emails come from invitees: `=HYPERLINK(…)` must stay text.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

fn time(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(format_time).unwrap_or_default()
}

fn write_rows<'a, I>(
    out: &mut dyn Write,
    name: &str,
    header: &[&str],
    rows: I,
) -> Result<(), String>
where
    I: Iterator<Item = Vec<Cow<'a, str>>>,
{
    let err = |e: &dyn std::fmt::Display| format!("cannot write {name}: {e}");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(header).map_err(|e| err(&e))?;
    for row in rows {
        for cell in &row {
            w.write_field(neutralise(cell).as_bytes())
                .map_err(|e| err(&e))?;
        }
        w.write_record(std::iter::empty::<&[u8]>())
            .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}

pub fn write_findings(findings: &[Finding], out: &mut dyn Write) -> Result<(), String> {
    write_rows(
        out,
        super::FINDINGS_CSV,
        &FINDINGS_HEADER,
        findings.iter().map(|f| {
            vec![
                Cow::Borrowed(f.id.as_str()),
                Cow::Borrowed(f.rule),
                Cow::Borrowed(f.severity.as_str()),
                Cow::Borrowed(f.outcome.as_str()),
                Cow::Borrowed(f.source.as_str()),
                Cow::Borrowed(f.source_name.as_str()),
                Cow::Borrowed(f.scope.as_str()),
                Cow::Borrowed(f.account_id.as_str()),
                Cow::Borrowed(opt(&f.email)),
                Cow::Borrowed(opt(&f.name)),
                Cow::Borrowed(opt(&f.role)),
                Cow::Borrowed(f.status.as_str()),
                Cow::Owned(time(&f.last_seen_at)),
                Cow::Borrowed(f.detail.as_str()),
                Cow::Borrowed(if f.suppressed { "true" } else { "false" }),
            ]
        }),
    )
}

pub fn write_accounts(accounts: &[Account], out: &mut dyn Write) -> Result<(), String> {
    write_rows(
        out,
        super::ACCOUNTS_CSV,
        &ACCOUNTS_HEADER,
        accounts.iter().map(|a| {
            vec![
                Cow::Borrowed(a.source.as_str()),
                Cow::Borrowed(a.source_name.as_str()),
                Cow::Borrowed(a.scope.as_str()),
                Cow::Borrowed(a.account_id.as_str()),
                Cow::Borrowed(opt(&a.user_id)),
                Cow::Borrowed(opt(&a.email)),
                Cow::Borrowed(opt(&a.name)),
                Cow::Borrowed(opt(&a.role)),
                Cow::Borrowed(if a.privileged { "true" } else { "false" }),
                Cow::Borrowed(a.status.as_str()),
                Cow::Borrowed(match a.mfa {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                }),
                Cow::Owned(time(&a.last_login_at)),
                Cow::Owned(time(&a.last_active_at)),
                Cow::Owned(time(&a.last_seen_at)),
                Cow::Owned(time(&a.invited_at)),
                Cow::Owned(time(&a.created_at)),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for (input, expected) in [
            (
                "=HYPERLINK(\"http://evil\",\"x\")",
                "'=HYPERLINK(\"http://evil\",\"x\")",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Alice", "Alice"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(input), expected);
        }
    }
}
