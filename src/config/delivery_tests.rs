//! `[store]`, `[notify]`, `[metrics]` read through `Config::parse`: what a good table becomes,
//! and that a bad one is reported with file, key and line like every other config error.

use std::path::Path;
use std::time::Duration;

use crate::cfg::SecretRef;
use crate::config::Config;
use crate::deliver::email::SendPolicy;
use crate::deliver::store::{Include, Scheme};

const BASE: &str = "[report]\ntitle = \"t\"\n";

fn parse(tables: &str) -> Result<Config, crate::cfg::ConfigError> {
    Config::parse(&format!("{BASE}{tables}"), Some(Path::new("audit.toml")))
}

#[test]
fn absent_tables_are_none() {
    let c = parse("").unwrap();
    assert!(c.store.is_none() && c.notify.is_none() && c.metrics.is_none());
}

#[test]
fn good_tables_become_settings() {
    let c = parse(
        "[store]\nurl = \"s3://audit-bucket/access-audit/{date}\"\ninclude = [\"reports\"]\n\n\
         [notify]\nsend = \"changes\"\nslack_webhook_url_env = \"SLACK_WEBHOOK_URL\"\n\
         webhook_url_file = \"/run/secrets/hook\"\nwebhook_secret_env = \"AUDIT_WEBHOOK_SECRET\"\n\n\
         [metrics]\ntextfile = \"/var/lib/node_exporter/textfile/access_audit.prom\"\npushgateway_url_env = \"PUSHGATEWAY_URL\"\n",
    )
    .unwrap();
    let store = c.store.unwrap();
    assert_eq!(
        (store.scheme, store.include),
        (Scheme::S3, vec![Include::Reports])
    );
    assert_eq!(store.timeout, Duration::from_secs(900));
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
    let metrics = c.metrics.unwrap();
    assert_eq!(metrics.pushgateway.unwrap().key, "pushgateway_url_env");
}

#[test]
fn errors_name_file_key_and_line() {
    let cases = [
        (
            "[store]\nurl = \"ftp://x/y\"\n",
            "store.url",
            4,
            "scheme `ftp`",
        ),
        (
            "[store]\nurl = \"s3://b\"\nbucket = \"b\"\n",
            "store.bucket",
            5,
            "unknown field `bucket`",
        ),
        (
            "[store]\nurl = \"s3://b\"\ninclude = [\"logs\"]\n",
            "store.include[0]",
            5,
            "unknown variant `logs`",
        ),
        (
            "[store]\ninclude = [\"reports\"]\n",
            "store",
            3,
            "missing field `url`",
        ),
        (
            "[notify]\nsend = \"always\"\n",
            "notify.slack_webhook_url_env",
            3,
            "names no destination",
        ),
        (
            "[notify]\nsend = \"sometimes\"\n",
            "notify.send",
            4,
            "unknown variant `sometimes`",
        ),
        (
            "[notify]\nwebhook_url_env = \"lower-case!\"\n",
            "notify.webhook_url_env",
            4,
            "not an environment variable name",
        ),
        (
            "[metrics]\ntextfile = \"/tmp/audit.txt\"\n",
            "metrics.textfile",
            4,
            "*.prom",
        ),
    ];
    for (table, key, line, message) in cases {
        let err = parse(table).unwrap_err();
        assert_eq!(
            err.file.as_deref(),
            Some(Path::new("audit.toml")),
            "{table}"
        );
        assert_eq!(err.key.as_deref(), Some(key), "{table}: {err}");
        assert_eq!(err.line, Some(line), "{table}: {err}");
        assert!(err.message.contains(message), "{table}: {err}");
    }
}

/// The example config carries the three tables commented out (each enables a target by being
/// there); uncommented, they must parse.
#[test]
fn the_example_configs_tables_parse_when_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/access-audit.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let is_key = |rest: &str| {
        rest.starts_with('[')
            || rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
    };
    let start = text
        .find("# [store]")
        .expect("the example has a [store] table");
    let tail: String = text[start..]
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if is_key(rest) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = Config::parse(&format!("{}{tail}\n", &text[..start]), Some(&path)).unwrap();
    let store = config.store.expect("[store]");
    assert_eq!(store.include, Include::ALL.to_vec());
    assert!(config.notify.expect("[notify]").webhook_secret.is_some());
    assert!(config.metrics.expect("[metrics]").textfile.is_some());
}
