//! The keys every `[[sources]]` table shares, read through `Config::parse`: `type`, `name`,
//! `base_url`, the secret's env/file pair, the fetch settings, and another source's keys
//! refused by naming its type. Each source's own keys are tested beside it
//! (`sentry/config_tests.rs`, `sentdm/config_tests.rs`).
//!
//! Longer than one sitting on purpose: most of it is tables of `[[sources]]` snippets, one row per
//! case, each read on its own.

use std::time::Duration;

use crate::config::test_support::*;
use crate::http::FetchSettings;
use crate::sources::spec::Selection;

#[test]
fn loopback_http_base_urls_are_accepted() {
    for (given, stored) in [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        (
            "https://sentry.example.com/sentry/",
            "https://sentry.example.com/sentry",
        ),
        ("https://de.sentry.io", "https://de.sentry.io"),
    ] {
        let config = ok(&with_source(&format!("base_url = \"{given}\"\n")));
        assert_eq!(
            config.sources[0].spec.base_url, stored,
            "base_url = {given}"
        );
    }
}

#[test]
fn source_names_default_to_the_type_and_can_be_set() {
    let config = ok(&format!(
        "{SENTRY}\n{SENTDM}\n[[sources]]\ntype = \"sentry\"\nname = \"sentry-eu\"\nbase_url = \"https://de.sentry.io\"\ntoken_env = \"SENTRY_EU_TOKEN\"\norganizations = \"all\"\n"
    ));
    let names: Vec<&str> = config
        .sources
        .iter()
        .map(|s| s.spec.name.as_str())
        .collect();
    assert_eq!(names, vec!["sentry", "sentdm", "sentry-eu"]);
    let indexes: Vec<usize> = config.sources.iter().map(|s| s.index).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    assert_eq!(
        sentry_of(&config.sources[2].spec).organizations,
        Selection::All
    );
    assert_eq!(config.sources[2].spec.base_url, "https://de.sentry.io");
    assert_eq!(
        config.sources[1].spec.base_url, "https://api.sent.dm",
        "Sent.dm default base URL"
    );
}

#[test]
fn fetch_settings_can_be_overridden() {
    let config = ok(&with_source(
        "concurrency = 8\nmax_concurrency = 12\nrequests_per_minute = 60\nburst = 10\nrequest_timeout = \"2m\"\nmax_attempts = 3\nmax_retry_wait = \"5s\"\nmax_response_mb = 4\n",
    ));
    assert_eq!(
        config.sources[0].fetch,
        FetchSettings {
            concurrency: 8,
            max_concurrency: 12,
            requests_per_minute: Some(60),
            burst: 10,
            request_timeout: Duration::from_secs(120),
            max_attempts: 3,
            max_retry_wait: Duration::from_secs(5),
            max_response_bytes: 4 << 20,
        }
    );
}

#[test]
fn the_concurrency_ceiling_defaults_to_sixteen_or_the_start() {
    let config = ok(&with_source(""));
    assert_eq!(
        (
            config.sources[0].fetch.concurrency,
            config.sources[0].fetch.max_concurrency
        ),
        (4, 16)
    );
    // Raising the start alone raises the ceiling with it: the start is always allowed.
    let config = ok(&with_source("concurrency = 32\n"));
    assert_eq!(
        (
            config.sources[0].fetch.concurrency,
            config.sources[0].fetch.max_concurrency
        ),
        (32, 32)
    );
    let config = ok(&with_source("concurrency = 2\nmax_concurrency = 2\n"));
    assert_eq!(config.sources[0].fetch.max_concurrency, 2, "adaptation off");
}

/// Refused `[[sources]]` tables, each named by the test it was written as. Cases built on
/// `sentry_source!()` add their key at line 5, on `sentdm_source!()` at line 4.
const REFUSED: &[Refused] = &[
    (
        "sources_as_a_single_table_instead_of_an_array",
        "[sources]\ntype = \"sentry\"\n",
        "sources",
        1,
        "expected a sequence",
    ),
    (
        "duplicate_source_names_in_inline_tables",
        r#"sources = [
  { type = "sentry", token_env = "A", organizations = "all" },
  { type = "sentry", token_env = "B", organizations = "all" },
]
"#,
        "sources[1].name",
        3,
        "source name `sentry` is already used by sources[0]",
    ),
    (
        "unusable_source_name: a/b",
        concat!(sentry_source!(), "name = \"a/b\"\n"),
        "sources[0].name",
        5,
        "`a/b` is not a usable source name",
    ),
    (
        "unusable_source_name: empty",
        concat!(sentry_source!(), "name = \"\"\n"),
        "sources[0].name",
        5,
        "is not a usable source name",
    ),
    (
        "unusable_source_name: .hidden",
        concat!(sentry_source!(), "name = \".hidden\"\n"),
        "sources[0].name",
        5,
        "is not a usable source name",
    ),
    (
        "unset_type",
        concat!(
            sentry_source!(),
            "\n[[sources]]\nname = \"second\"\napi_key_env = \"K\"\n"
        ),
        "sources[1]",
        6,
        "missing field `type`",
    ),
    (
        "both_token_env_and_token_file: sentry",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\ntoken_file = \"/run/t\"\norganizations = \"all\"\n",
        "sources[0].token_file",
        4,
        "set either `token_env` or `token_file`, not both",
    ),
    (
        "both_token_env_and_token_file: sentdm",
        concat!(sentdm_source!(), "api_key_file = \"/run/k\"\n"),
        "sources[0].api_key_file",
        4,
        "set either `api_key_env` or `api_key_file`, not both",
    ),
    (
        "neither_token_env_nor_token_file: sentdm",
        "[[sources]]\ntype = \"sentdm\"\n",
        "sources[0]",
        1,
        "missing `api_key_env` (the environment variable that holds the Sent.dm API key) or `api_key_file`",
    ),
    (
        "sentdm_keys_on_a_sentry_source: profiles",
        concat!(sentry_source!(), "profiles = \"all\"\n"),
        "sources[0].profiles",
        5,
        "`profiles` belongs to type = \"sentdm\" sources; this source is type = \"sentry\"",
    ),
    (
        "sentdm_keys_on_a_sentry_source: invite_ttl_days",
        concat!(sentry_source!(), "invite_ttl_days = 7\n"),
        "sources[0].invite_ttl_days",
        5,
        "`invite_ttl_days` belongs to type = \"sentdm\" sources; this source is type = \"sentry\"",
    ),
    (
        "sentdm_keys_on_a_sentry_source: api_key_env",
        concat!(sentry_source!(), "api_key_env = \"K\"\n"),
        "sources[0].api_key_env",
        5,
        "`api_key_env` belongs to type = \"sentdm\" sources; this source is type = \"sentry\"",
    ),
    (
        "sentdm_keys_on_a_sentry_source: api_key_file",
        concat!(sentry_source!(), "api_key_file = \"/run/k\"\n"),
        "sources[0].api_key_file",
        5,
        "`api_key_file` belongs to type = \"sentdm\" sources; this source is type = \"sentry\"",
    ),
    (
        "sentry_keys_on_a_sentdm_source: token_env",
        concat!(sentdm_source!(), "token_env = \"T\"\n"),
        "sources[0].token_env",
        4,
        "`token_env` belongs to type = \"sentry\" sources; this source is type = \"sentdm\"",
    ),
    (
        "sentry_keys_on_a_sentdm_source: token_file",
        concat!(sentdm_source!(), "token_file = \"/run/t\"\n"),
        "sources[0].token_file",
        4,
        "`token_file` belongs to type = \"sentry\" sources; this source is type = \"sentdm\"",
    ),
    (
        "sentry_keys_on_a_sentdm_source: organizations",
        concat!(sentdm_source!(), "organizations = \"all\"\n"),
        "sources[0].organizations",
        4,
        "`organizations` belongs to type = \"sentry\" sources; this source is type = \"sentdm\"",
    ),
    (
        "sentry_keys_on_a_sentdm_source: projects",
        concat!(sentdm_source!(), "projects = [\"1\"]\n"),
        "sources[0].projects",
        4,
        "`projects` belongs to type = \"sentry\" sources; this source is type = \"sentdm\"",
    ),
    (
        // Without api_key_env the foreign key is still what gets reported, not the missing secret.
        "sentry_keys_on_a_sentdm_source: without api_key_env",
        "[[sources]]\ntype = \"sentdm\"\ntoken_env = \"T\"\n",
        "sources[0].token_env",
        3,
        "`token_env` belongs to type = \"sentry\" sources",
    ),
    (
        "http_base_url_to_a_remote_host: sentry.example.com",
        concat!(
            sentry_source!(),
            "base_url = \"http://sentry.example.com\"\n"
        ),
        "sources[0].base_url",
        5,
        "`http://sentry.example.com` uses plain http:// to a host that is not loopback",
    ),
    (
        "http_base_url_to_a_remote_host: localhost.evil.example",
        concat!(
            sentry_source!(),
            "base_url = \"http://localhost.evil.example\"\n"
        ),
        "sources[0].base_url",
        5,
        "`http://localhost.evil.example` uses plain http:// to a host that is not loopback",
    ),
    (
        "http_base_url_to_a_remote_host: 10.0.0.5",
        concat!(sentry_source!(), "base_url = \"http://10.0.0.5:9000\"\n"),
        "sources[0].base_url",
        5,
        "`http://10.0.0.5:9000` uses plain http:// to a host that is not loopback",
    ),
    (
        "other_bad_base_urls: ftp",
        concat!(sentry_source!(), "base_url = \"ftp://sentry.io\"\n"),
        "sources[0].base_url",
        5,
        "has scheme `ftp`: expected https://",
    ),
    (
        "other_bad_base_urls: not a URL",
        concat!(sentry_source!(), "base_url = \"sentry.io\"\n"),
        "sources[0].base_url",
        5,
        "`sentry.io` is not a URL",
    ),
    (
        "other_bad_base_urls: query",
        concat!(
            sentry_source!(),
            "base_url = \"https://sentry.io/?region=de\"\n"
        ),
        "sources[0].base_url",
        5,
        "has a query or fragment: expected a bare base URL",
    ),
    (
        "invalid_env_var_names: space",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"my token\"\norganizations = \"all\"\n",
        "sources[0].token_env",
        3,
        "`my token` is not an environment variable name: expected letters, digits and `_`",
    ),
    (
        "invalid_env_var_names: leading digit",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"1TOKEN\"\norganizations = \"all\"\n",
        "sources[0].token_env",
        3,
        "`1TOKEN` is not an environment variable name: expected letters, digits and `_`",
    ),
    (
        "invalid_env_var_names: empty",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"\"\norganizations = \"all\"\n",
        "sources[0].token_env",
        3,
        "`` is not an environment variable name: expected letters, digits and `_`",
    ),
    (
        "invalid_env_var_names: hyphen",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"SENTRY-TOKEN\"\norganizations = \"all\"\n",
        "sources[0].token_env",
        3,
        "`SENTRY-TOKEN` is not an environment variable name: expected letters, digits and `_`",
    ),
    (
        "concurrency_zero: 0",
        concat!(sentry_source!(), "concurrency = 0\n"),
        "sources[0].concurrency",
        5,
        "0: expected a number from 1 to 64",
    ),
    (
        "concurrency_zero: 65",
        concat!(sentry_source!(), "concurrency = 65\n"),
        "sources[0].concurrency",
        5,
        "65: expected a number from 1 to 64",
    ),
    (
        "concurrency_zero: -1",
        concat!(sentry_source!(), "concurrency = -1\n"),
        "sources[0].concurrency",
        5,
        "invalid value: integer `-1`",
    ),
    (
        "max_concurrency: 0",
        concat!(sentry_source!(), "max_concurrency = 0\n"),
        "sources[0].max_concurrency",
        5,
        "0: expected a number from 1 to 64",
    ),
    (
        "max_concurrency: 65",
        concat!(sentry_source!(), "max_concurrency = 65\n"),
        "sources[0].max_concurrency",
        5,
        "65: expected a number from 1 to 64",
    ),
    (
        "max_concurrency: below concurrency",
        concat!(sentry_source!(), "concurrency = 8\nmax_concurrency = 6\n"),
        "sources[0].max_concurrency",
        6,
        "6: expected at least `concurrency` (8)",
    ),
    (
        "max_concurrency: below the default concurrency",
        concat!(sentry_source!(), "max_concurrency = 2\n"),
        "sources[0].max_concurrency",
        5,
        "2: expected at least `concurrency` (4)",
    ),
    (
        "max_concurrency: a string",
        concat!(sentry_source!(), "max_concurrency = \"many\"\n"),
        "sources[0].max_concurrency",
        5,
        "invalid type: string",
    ),
    (
        "max_attempts_zero: 0",
        concat!(sentry_source!(), "max_attempts = 0\n"),
        "sources[0].max_attempts",
        5,
        "0: expected a number from 1 to 20",
    ),
    (
        "max_attempts_zero: 21",
        concat!(sentry_source!(), "max_attempts = 21\n"),
        "sources[0].max_attempts",
        5,
        "21: expected a number from 1 to 20",
    ),
    (
        "requests_per_minute_and_burst_zero: requests_per_minute",
        concat!(sentry_source!(), "requests_per_minute = 0\n"),
        "sources[0].requests_per_minute",
        5,
        "expected a positive number of requests per minute",
    ),
    (
        "requests_per_minute_and_burst_zero: burst",
        concat!(sentry_source!(), "burst = 0\n"),
        "sources[0].burst",
        5,
        "expected a positive burst size",
    ),
    (
        "bad_request_timeout: not a duration",
        concat!(sentry_source!(), "request_timeout = \"fast\"\n"),
        "sources[0].request_timeout",
        5,
        "`fast` is not a duration such as \"30s\" or \"2m\"",
    ),
    (
        "bad_request_timeout: zero",
        concat!(sentry_source!(), "request_timeout = \"0s\"\n"),
        "sources[0].request_timeout",
        5,
        "a duration of zero is not allowed",
    ),
    (
        "bad_request_timeout: a number",
        concat!(sentry_source!(), "request_timeout = 30\n"),
        "sources[0].request_timeout",
        5,
        "invalid type: integer `30`",
    ),
    (
        "durations_and_caps_are_bounded_at_validation: max_retry_wait",
        concat!(sentry_source!(), "max_retry_wait = \"500000000000years\"\n"),
        "sources[0].max_retry_wait",
        5,
        "expected a duration from 1s to 1h",
    ),
    (
        "durations_and_caps_are_bounded_at_validation: request_timeout",
        concat!(sentry_source!(), "request_timeout = \"2days\"\n"),
        "sources[0].request_timeout",
        5,
        "expected a duration from 1s to 10m",
    ),
    (
        "durations_and_caps_are_bounded_at_validation: max_response_mb 0",
        concat!(sentry_source!(), "max_response_mb = 0\n"),
        "sources[0].max_response_mb",
        5,
        "from 1 to 1024",
    ),
    (
        "durations_and_caps_are_bounded_at_validation: max_response_mb 4096",
        concat!(sentry_source!(), "max_response_mb = 4096\n"),
        "sources[0].max_response_mb",
        5,
        "from 1 to 1024",
    ),
];

#[test]
fn refused_source_tables_name_file_key_and_line() {
    check_refused(REFUSED);
}

#[test]
fn unknown_key_in_sources() {
    let text = format!("{SENTRY}\n{SENTDM}region = \"eu\"\n");
    let err = bad_at(&text, "sources[1].region", 9, "unknown field `region`");
    assert!(
        err.message.contains("`api_key_env`"),
        "lists the keys that are allowed: {err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "invalid config audit.toml, key `sources[1].region` (line 9): {}",
            err.message
        )
    );
    assert!(err.to_string().starts_with(
        "invalid config audit.toml, key `sources[1].region` (line 9): unknown field `region`, expected one of `type`, `name`"
    ));
}

#[test]
fn duplicate_source_names() {
    let text = format!("{SENTRY}name = \"prod\"\n\n{SENTDM}name = \"prod\"\n");
    let err = bad_at(
        &text,
        "sources[1].name",
        10,
        "source name `prod` is already used by sources[0]",
    );
    assert!(
        err.message.contains("every source needs its own `name`"),
        "{err}"
    );
}

#[test]
fn duplicate_source_names_by_default() {
    // Neither source sets `name`, so both are called "sentry"; the error points at the second
    // source's table header, as there is no `name` key to point at.
    let text = format!(
        "{SENTRY}\n[[sources]]\ntype = \"sentry\"\ntoken_env = \"SENTRY_EU_TOKEN\"\norganizations = \"all\"\n"
    );
    let err = bad_at(
        &text,
        "sources[1].name",
        6,
        "source name `sentry` is already used by sources[0]",
    );
    assert!(err.message.contains("(it defaults to the type)"), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid config audit.toml, key `sources[1].name` (line 6): source name `sentry` is already used by \
         sources[0]; every source needs its own `name` (it defaults to the type)"
    );
}

/// Source names become directories of the evidence archive: one safe path component each.
#[test]
fn source_names_are_safe_path_components() {
    for bad_name in [
        "manifest.json",
        ".",
        "..",
        "a.b",
        "-lead",
        "_lead",
        "a b",
        "sentry\\u0000x",
        "a\\\\b",
        "é",
    ] {
        bad_at(
            &with_source(&format!("name = \"{bad_name}\"\n")),
            "sources[0].name",
            5,
            "is not a usable source name: expected 1 to 64 ASCII letters, digits, `-` or `_`",
        );
    }
    let long = "a".repeat(65);
    bad_at(
        &with_source(&format!("name = \"{long}\"\n")),
        "sources[0].name",
        5,
        "is not a usable source name",
    );
    // The NUL is shown escaped, not written raw to the terminal.
    let err = bad_at(
        &with_source("name = \"x\\u0000y\"\n"),
        "sources[0].name",
        5,
        "`x\\0y`",
    );
    assert!(!err.message.contains('\0'));
    for good in ["sentry-eu", "Sentry_2", "9lives", &"a".repeat(64)] {
        let config = ok(&with_source(&format!("name = \"{good}\"\n")));
        assert_eq!(config.sources[0].spec.name, good);
    }
}

#[test]
fn unknown_type() {
    // The types listed are the registry's, which in a test build also holds the test-only API
    // (sources/testapi); tests/it/cli.rs checks the binary's exact text, "expected `sentry` or
    // `sentdm`".
    let err = bad_at(
        "[[sources]]\ntype = \"github\"\ntoken_env = \"T\"\n",
        "sources[0].type",
        2,
        "unknown variant `github`, expected ",
    );
    for listed in ["`sentry`", "`sentdm`"] {
        assert!(err.message.contains(listed), "{err}");
    }
}

#[test]
fn neither_token_env_nor_token_file() {
    // The Sent.dm half, which checks key, line and message only, is a case of `REFUSED`.
    let err = bad_at(
        "[[sources]]\ntype = \"sentry\"\norganizations = \"all\"\n",
        "sources[0]",
        1,
        "missing `token_env` (the environment variable that holds the Sentry auth token) or `token_file`",
    );
    assert_eq!(
        err.to_string(),
        "invalid config audit.toml, key `sources[0]` (line 1): missing `token_env` (the environment variable \
         that holds the Sentry auth token) or `token_file` (a file that holds it)"
    );
}

#[test]
fn base_url_with_credentials() {
    for url in [
        "https://user:secret@sentry.example.com",
        "https://token@sentry.example.com",
        "http://u:p@127.0.0.1:1",
    ] {
        let err = bad_at(
            &with_source(&format!("base_url = \"{url}\"\n")),
            "sources[0].base_url",
            5,
            "the base URL must not carry credentials",
        );
        assert!(
            !err.to_string().contains("secret"),
            "the credentials are not echoed: {err}"
        );
    }
}

#[test]
fn write_credentials_are_optional_keys_of_the_sources_that_can_change_access() {
    let config = ok(&format!(
        "{}remediate_token_env = \"SENTRY_ADMIN\"\nremediate_requests_per_minute = 12\n{}remediate_api_key_file = \"/run/secrets/sent-admin\"\n",
        SENTRY, SENTDM
    ));
    let sentry = config.sources[0]
        .remediate
        .as_ref()
        .expect("sentry can remediate");
    assert_eq!(
        sentry.secret,
        Some(crate::cfg::SecretRef::Env("SENTRY_ADMIN".into()))
    );
    assert_eq!(sentry.requests_per_minute, 12);
    let sentdm = config.sources[1]
        .remediate
        .as_ref()
        .expect("sentdm can remediate");
    assert_eq!(sentdm.secret_key, "remediate_api_key_file");
    assert_eq!(sentdm.requests_per_minute, 30, "the default pace");
    let plain = ok(SENTRY);
    let none = plain.sources[0]
        .remediate
        .as_ref()
        .expect("sentry can remediate");
    assert_eq!(none.secret, None, "runs need no write credential");
}

#[test]
fn write_credentials_are_refused_where_they_are_wrong() {
    use crate::config::test_support::{sentdm_source, sentry_source};
    check_refused(&[
        (
            "both env and file",
            concat!(
                sentry_source!(),
                "remediate_token_env = \"A\"\nremediate_token_file = \"/a\"\n"
            ),
            "sources[0].remediate_token_file",
            6,
            "not both",
        ),
        (
            "pace out of range",
            concat!(sentry_source!(), "remediate_requests_per_minute = 0\n"),
            "sources[0].remediate_requests_per_minute",
            5,
            "from 1 to 600",
        ),
        (
            "another source's write key",
            concat!(sentdm_source!(), "remediate_token_env = \"A\"\n"),
            "sources[0].remediate_token_env",
            4,
            "belongs to type = \"sentry\" sources",
        ),
    ]);
}
