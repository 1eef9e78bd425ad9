//! `[notify]` read through `Config::parse`: what a good table becomes, and that a bad one is
//! reported with file, key and line like every other config error (`tests.rs` checks
//! `validate` itself).

use crate::cfg::SecretRef;
use crate::config::test_support::*;
use crate::deliver::email::SendPolicy;

#[test]
fn a_good_table_becomes_settings() {
    let c = ok(concat!(
        report_first!(),
        "[notify]\nsend = \"changes\"\nslack_webhook_url_env = \"SLACK_WEBHOOK_URL\"\n\
         webhook_url_file = \"/run/secrets/hook\"\nwebhook_secret_env = \"AUDIT_WEBHOOK_SECRET\"\n"
    ));
    let notify = c.notify.unwrap();
    assert_eq!(notify.send, SendPolicy::Changes);
    assert_eq!(
        notify.slack.unwrap().source,
        SecretRef::Env("SLACK_WEBHOOK_URL".into())
    );
    assert_eq!(
        notify.webhook.unwrap().source,
        SecretRef::File("/run/secrets/hook".into())
    );
}

/// Refused `[notify]` tables, after a two-line `[report]`.
const REFUSED: &[Refused] = &[
    (
        "no destination",
        concat!(report_first!(), "[notify]\nsend = \"always\"\n"),
        "notify.slack_webhook_url_env",
        3,
        "names no destination",
    ),
    (
        "an unknown send policy",
        concat!(report_first!(), "[notify]\nsend = \"sometimes\"\n"),
        "notify.send",
        4,
        "unknown variant `sometimes`",
    ),
    (
        "not an environment variable name",
        concat!(
            report_first!(),
            "[notify]\nwebhook_url_env = \"lower-case!\"\n"
        ),
        "notify.webhook_url_env",
        4,
        "not an environment variable name",
    ),
];

#[test]
fn refused_notify_tables_name_file_key_and_line() {
    check_refused(REFUSED);
}
