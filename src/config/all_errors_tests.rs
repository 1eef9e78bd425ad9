//! Every error of a config file, not just the first: each at its file, key and line, with
//! "did you mean" where a key or a value is misspelt.

use std::path::Path;

use crate::cfg::ConfigError;
use crate::config::Config;

/// Three independent mistakes: a misspelt key in [report] (line 3), an unknown key in a
/// [[sources]] table (line 9), a bad value in [email] (line 12).
const THREE_MISTAKES: &str = r#"[report]
title = "Audit"
titel = "typo"

[[sources]]
type = "sentry"
token_env = "SENTRY_AUTH_TOKEN"
organizations = ["acme"]
concurency = 4

[email]
from = "nobody"
"#;

fn all_errors(text: &str) -> Vec<ConfigError> {
    match Config::parse_all(text, Some(Path::new("audit.toml"))) {
        Ok(_) => panic!("expected errors, the config was accepted:\n{text}"),
        Err(errors) => errors.0,
    }
}

fn keys_and_lines(errors: &[ConfigError]) -> Vec<(String, Option<usize>)> {
    errors
        .iter()
        .map(|e| (e.key.clone().unwrap_or_default(), e.line))
        .collect()
}

#[test]
fn three_independent_mistakes_are_three_errors_each_located() {
    let errors = all_errors(THREE_MISTAKES);
    assert_eq!(
        keys_and_lines(&errors),
        [
            ("report.titel".to_string(), Some(3)),
            ("sources[0].concurency".to_string(), Some(9)),
            ("email.from".to_string(), Some(12)),
        ],
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| e.file.as_deref() == Some(Path::new("audit.toml")))
    );
    assert!(
        errors[0]
            .message
            .starts_with("unknown field `titel`, expected one of `title`")
            && errors[0].message.ends_with("; did you mean `title`?"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1]
            .message
            .starts_with("unknown field `concurency`, expected one of `type`")
            && errors[1].message.ends_with("; did you mean `concurrency`?"),
        "{}",
        errors[1].message
    );
    assert!(
        errors[2]
            .message
            .starts_with("`nobody` is not an email address"),
        "{}",
        errors[2].message
    );
}

#[test]
fn every_error_is_displayed_on_its_own_line_and_parse_keeps_the_first() {
    let errors = Config::parse_all(THREE_MISTAKES, Some(Path::new("audit.toml"))).unwrap_err();
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("invalid config audit.toml, key `report.titel` (line 3): "));
    assert!(
        lines[1].starts_with("invalid config audit.toml, key `sources[0].concurency` (line 9): ")
    );
    assert!(lines[2].starts_with("invalid config audit.toml, key `email.from` (line 12): "));
    let first = Config::parse(THREE_MISTAKES, Some(Path::new("audit.toml"))).unwrap_err();
    assert_eq!(first, errors.0[0]);
}

#[test]
fn misspelt_rule_and_source_type_get_a_suggestion() {
    let errors = all_errors(
        "[rules.stale_logins]\nenabled = true\n\n[[sources]]\ntype = \"sentyr\"\ntoken_env = \"T\"\n",
    );
    assert_eq!(
        keys_and_lines(&errors),
        [
            ("rules.stale_logins".to_string(), Some(1)),
            ("sources[0].type".to_string(), Some(5)),
        ],
        "{errors:#?}"
    );
    assert!(
        errors[0].message.ends_with("; did you mean `stale_login`?"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.ends_with("; did you mean `sentry`?"),
        "{}",
        errors[1].message
    );
}

#[test]
fn a_bad_value_taken_out_is_not_reported_again_as_missing() {
    // The bad secret name is the only error: not also "missing `token_env`" once it is taken
    // out; the bad format in the list is reported once, and [email] after it still is.
    let errors = all_errors(
        "[report]\nformats = [\"html\", \"pdf\"]\n\n[[sources]]\ntype = \"sentry\"\n\
         token_env = \"not a name\"\norganizations = [\"acme\"]\n\n[email]\ntimeout = \"1h\"\n",
    );
    assert_eq!(
        keys_and_lines(&errors),
        [
            ("report.formats[1]".to_string(), Some(2)),
            ("sources[0].token_env".to_string(), Some(6)),
            ("email.timeout".to_string(), Some(10)),
        ],
        "{errors:#?}"
    );
}

#[test]
fn a_stranger_gets_no_suggestion_and_a_good_config_no_error() {
    let errors = all_errors("bogus = 1\n");
    assert_eq!(errors.len(), 1);
    assert!(
        !errors[0].message.contains("did you mean"),
        "{}",
        errors[0].message
    );
    assert!(Config::parse_all("[report]\ntitle = \"x\"\n", None).is_ok());
}
