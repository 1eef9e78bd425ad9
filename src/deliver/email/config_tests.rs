//! `[email]` read through `Config::parse`: a complete table, and for a bad one the file, key,
//! line and expectation the error names. (Reading the SMTP URL is `Config::resolve_secrets`,
//! tested in `config/tests.rs`.)

use super::Attachment;
use crate::cfg::SecretRef;
use crate::config::test_support::*;

#[test]
fn complete_email_settings_are_accepted() {
    let config = ok(r#"[email]
enabled = true
from = "Audit <audit@acme.example>"
to = ["security@acme.example", "CISO <ciso@acme.example>"]
smtp_url_file = "/run/secrets/smtp"
attach = ["accounts", "json"]
"#);
    assert!(config.email.enabled);
    assert_eq!(config.email.to.len(), 2);
    assert_eq!(
        config.email.smtp_url,
        Some(SecretRef::File("/run/secrets/smtp".into()))
    );
    assert_eq!(
        config.email.attach,
        vec![Attachment::Accounts, Attachment::Json]
    );
}

/// Refused `[email]` tables, each named by the test it was written as.
const REFUSED: &[Refused] = &[
    (
        "unknown_key_in_email",
        "[email]\nenabled = false\ncc = [\"a@acme.example\"]\n",
        "email.cc",
        3,
        "unknown field `cc`",
    ),
    (
        "bad_email_address_in_to: a name without an address",
        "[email]\nfrom = \"audit@acme.example\"\nto = [\"security@acme.example\", \"security team\"]\n",
        "email.to[1]",
        3,
        "`security team` is not an email address",
    ),
    (
        "bad_email_address_in_to: no @",
        "[email]\nto = [\"security.acme.example\"]\n",
        "email.to[0]",
        2,
        "is not an email address",
    ),
    (
        "bad_email_from",
        "[email]\nfrom = \"Audit <audit>\"\n",
        "email.from",
        2,
        "`Audit <audit>` is not an email address: expected \"Name <addr@example.com>\" or \"addr@example.com\"",
    ),
    (
        "email_enabled_without_from",
        "[report]\ntitle = \"x\"\n\n[email]\nenabled = true\nto = [\"security@acme.example\"]\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.from",
        4,
        "email is enabled but `from` is not set",
    ),
    (
        "email_enabled_without_to: no key",
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.to",
        1,
        "email is enabled but `to` lists no recipient",
    ),
    (
        "email_enabled_without_to: empty list",
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nto = []\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.to",
        4,
        "email is enabled but `to` lists no recipient",
    ),
    (
        "email_enabled_without_smtp_url",
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nto = [\"security@acme.example\"]\n",
        "email.smtp_url_env",
        1,
        "email is enabled but neither `smtp_url_env` nor `smtp_url_file` is set",
    ),
    (
        "email_with_both_smtp_url_env_and_file",
        "[email]\nsmtp_url_env = \"SMTP_URL\"\nsmtp_url_file = \"/run/smtp\"\n",
        "email.smtp_url_file",
        3,
        "set either `smtp_url_env` or `smtp_url_file`, not both",
    ),
    (
        "invalid_env_var_names: smtp_url_env",
        "[email]\nsmtp_url_env = \"smtp://user:pass@host\"\n",
        "email.smtp_url_env",
        2,
        "is not an environment variable name",
    ),
];

#[test]
fn refused_email_tables_name_file_key_and_line() {
    check_refused(REFUSED);
}

#[test]
fn unknown_email_attachment() {
    let err = bad_at(
        "[email]\nattach = [\"html\", \"pdf\"]\n",
        "email.attach[1]",
        2,
        "unknown variant `pdf`",
    );
    assert!(err.message.contains("`accounts`"), "{err}");
}
