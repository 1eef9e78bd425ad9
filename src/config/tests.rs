//! The config file as a whole, read by `Config`: what a good file turns into, the TOML and
//! top-level errors, `[report]` (read and checked in `config/mod.rs`), errors located inside the
//! complete example, the delivery tables together, and reading secrets. Each other section's
//! cases sit with the domain that owns it: `sources/config_tests.rs` (and
//! `sources/sentry/`, `sources/sentdm/`), `rules/config_tests.rs`, `deliver/email/`,
//! `deliver/store/`, `deliver/notify/`, `deliver/metrics/` (`config_tests.rs` in each). Every
//! error names the file, key, line and expectation.
//!
//! Longer than one sitting on purpose: most of it is tables of config snippets, one row per case,
//! each read on its own.

use super::test_support::*;
use super::*;

use std::io::Write as _;

use secrecy::ExposeSecret;

use crate::deliver::store::Include;
use crate::model::{FailOn, Severity, SourceKind};
use crate::sources::spec::Selection;
use crate::sources::{Source, sentdm, sentry};

/// The complete example config users start from (the README's keys, every section).
const CONTRACT_EXAMPLE: &str = r#"[report]
title = "Acme quarterly access review"   # default "Access audit"
output_dir = "reports"                  # default "reports"; created if missing
formats = ["html", "csv", "json"]       # default: all three
fail_on = "low"                         # info|low|medium|high|critical|none; default "low"

[rules.stale_login]
enabled = true                # every rule has `enabled` (default true) and `severity`
severity = "medium"
max_inactive_days = 90
grace_days = 14               # never-logged-in accounts younger than this are not flagged

[rules.pending_invite]
severity = "low"
max_pending_days = 7

[rules.admin_without_2fa]
severity = "high"

[rules.expired_membership]
severity = "medium"

[[sources]]
type = "sentry"
name = "sentry"                     # label in reports; default = type; must be unique
base_url = "https://sentry.io"      # default; self-hosted and region URLs allowed
token_env = "SENTRY_AUTH_TOKEN"     # env var holding the bearer token
organizations = ["acme", "acme-labs"]   # or "all": every org the token can see
# projects = ["123456"]             # optional: audit only members with access to these projects
                                    # (uses /users/?project=…, see the Sentry seed page)

[[sources]]
type = "sentdm"
name = "sentdm"
base_url = "https://api.sent.dm"    # default
api_key_env = "SENTDM_API_KEY"      # env var holding the x-api-key
profiles = "all"                    # "all" = the organization plus every child profile;
                                    # a list of profile UUIDs; [] = the organization only
invite_ttl_days = 7                 # Sent.dm invitations expire after 7 days

[email]
enabled = false
from = "Access Audit <audit@acme.example>"
to = ["security@acme.example"]
smtp_url_env = "SMTP_URL"           # smtps://user:pass@host:465 | smtp://user:pass@host:587?tls=required
                                    # | smtp://127.0.0.1:2525 (plain, for a local relay)
attach = ["html", "csv"]
"#;

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Good configs

#[test]
fn contract_example_parses_with_expected_values() {
    let config = ok(CONTRACT_EXAMPLE);

    assert_eq!(config.file.as_deref(), Some(Path::new("audit.toml")));
    assert_eq!(
        config.digest.as_deref(),
        Some(sha256_hex(CONTRACT_EXAMPLE).as_str())
    );

    assert_eq!(config.report.title, "Acme quarterly access review");
    assert_eq!(config.report.output_dir, PathBuf::from("reports"));
    assert_eq!(
        config.report.formats,
        vec![Format::Html, Format::Csv, Format::Json]
    );
    assert_eq!(config.report.fail_on, FailOn::Severity(Severity::Low));

    let rules = &config.rules;
    assert!(rules.stale_login.enabled);
    assert_eq!(rules.stale_login.severity, Some(Severity::Medium));
    assert_eq!(rules.stale_login.max_inactive_days.0, 90);
    assert_eq!(rules.stale_login.grace_days.0, 14);
    assert!(rules.pending_invite.enabled);
    assert_eq!(rules.pending_invite.severity, Some(Severity::Low));
    assert_eq!(rules.pending_invite.max_pending_days.0, 7);
    assert!(rules.admin_without_2fa.enabled);
    assert_eq!(rules.admin_without_2fa.severity, Some(Severity::High));
    assert!(rules.expired_membership.enabled);
    assert_eq!(rules.expired_membership.severity, Some(Severity::Medium));

    assert_eq!(config.sources.len(), 2);
    let sentry = &config.sources[0];
    assert_eq!(sentry.index, 0);
    assert_eq!(sentry.spec.kind(), SourceKind::Sentry);
    assert_eq!(sentry.spec.name, "sentry");
    assert_eq!(sentry.spec.base_url, "https://sentry.io");
    assert_eq!(
        sentry.secret,
        Some(SecretRef::Env("SENTRY_AUTH_TOKEN".into()))
    );
    assert_eq!(sentry.secret_key, "token_env");
    assert_eq!(
        sentry_of(&sentry.spec).organizations,
        Selection::List(vec!["acme".into(), "acme-labs".into()])
    );
    assert!(
        sentry_of(&sentry.spec).projects.is_empty(),
        "projects is commented out in the example"
    );
    assert!(
        sentry.spec.settings_of::<sentdm::Settings>().is_none(),
        "no profiles or invite_ttl_days on a Sentry source"
    );
    assert_eq!(sentry.fetch, sentry::Sentry.fetch_defaults());

    let sentdm = &config.sources[1];
    assert_eq!(sentdm.index, 1);
    assert_eq!(sentdm.spec.kind(), SourceKind::Sentdm);
    assert_eq!(sentdm.spec.name, "sentdm");
    assert_eq!(sentdm.spec.base_url, "https://api.sent.dm");
    assert_eq!(sentdm.secret, Some(SecretRef::Env("SENTDM_API_KEY".into())));
    assert_eq!(sentdm.secret_key, "api_key_env");
    assert_eq!(sentdm_of(&sentdm.spec).profiles, Selection::All);
    assert_eq!(sentdm_of(&sentdm.spec).invite_ttl_days, 7);
    assert!(
        sentdm.spec.settings_of::<sentry::Settings>().is_none(),
        "no organizations on a Sent.dm source"
    );
    assert_eq!(sentdm.fetch, sentdm::Sentdm.fetch_defaults());
    assert_eq!(
        (sentdm.fetch.requests_per_minute, sentdm.fetch.burst),
        (Some(200), 50),
        "Sent.dm's documented limit"
    );

    let email = &config.email;
    assert!(!email.enabled);
    assert_eq!(
        email.from.as_deref(),
        Some("Access Audit <audit@acme.example>")
    );
    assert_eq!(email.to, vec!["security@acme.example".to_string()]);
    assert_eq!(email.smtp_url, Some(SecretRef::Env("SMTP_URL".into())));
    assert_eq!(email.attach, vec![Attachment::Html, Attachment::Csv]);
}

#[test]
fn empty_file_gives_defaults() {
    let config = ok("");
    assert_eq!(config.file.as_deref(), Some(Path::new("audit.toml")));
    assert_eq!(config.report.title, "Access audit");
    assert_eq!(config.report.output_dir, PathBuf::from("reports"));
    assert_eq!(
        config.report.formats,
        vec![Format::Html, Format::Csv, Format::Json]
    );
    assert_eq!(config.report.fail_on, FailOn::Severity(Severity::Low));

    let rules = &config.rules;
    assert!(rules.stale_login.enabled);
    assert!(rules.pending_invite.enabled);
    assert!(rules.admin_without_2fa.enabled);
    assert!(rules.expired_membership.enabled);
    assert_eq!(rules.stale_login.severity, None);
    assert_eq!(rules.stale_login.max_inactive_days.0, 90);
    assert_eq!(rules.stale_login.grace_days.0, 14);
    assert_eq!(rules.pending_invite.max_pending_days.0, 7);
    // The contract's four rules are on by default; the others are opt-in, so an upgrade never
    // changes what a scheduled run reports.
    let active: Vec<&str> = rules.active().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        active,
        vec![
            "stale_login",
            "pending_invite",
            "admin_without_2fa",
            "expired_membership"
        ]
    );

    assert!(config.sources.is_empty());
    assert!(!config.email.enabled);
    assert_eq!(config.email.from, None);
    assert!(config.email.to.is_empty());
    assert_eq!(config.email.smtp_url, None);
    assert_eq!(config.email.attach, vec![Attachment::Html, Attachment::Csv]);
}

#[test]
fn empty_tables_and_comments_give_defaults_too() {
    let config =
        ok("# nothing configured yet\n[report]\n\n[rules]\n[rules.stale_login]\n[email]\n");
    assert_eq!(config.report.title, "Access audit");
    assert_eq!(config.rules.stale_login.max_inactive_days.0, 90);
    assert!(!config.email.enabled);
}

#[test]
fn config_defaults_match_an_empty_file_but_have_no_file_or_digest() {
    let config = Config::defaults();
    assert_eq!(config.file, None);
    assert_eq!(config.digest, None);
    assert_eq!(config.report.title, "Access audit");
    assert_eq!(config.report.output_dir, PathBuf::from("reports"));
    assert_eq!(config.report.formats, Format::DEFAULT.to_vec());
    assert_eq!(config.report.fail_on, FailOn::Severity(Severity::Low));
    assert!(config.rules.stale_login.enabled);
    assert_eq!(config.rules.stale_login.max_inactive_days.0, 90);
    assert_eq!(config.rules.stale_login.grace_days.0, 14);
    assert_eq!(config.rules.pending_invite.max_pending_days.0, 7);
    assert!(config.sources.is_empty());
    assert!(!config.email.enabled);
    assert_eq!(config.email.attach, vec![Attachment::Html, Attachment::Csv]);
}

#[test]
fn digest_is_sha256_hex_of_the_text() {
    // SHA-256 of the empty string, a well-known value.
    assert_eq!(
        ok("").digest.as_deref(),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );

    let text = "[report]\ntitle = \"Digest\"\n";
    let digest = ok(text).digest.expect("a parsed file has a digest");
    assert_eq!(digest, sha256_hex(text));
    assert_eq!(digest.len(), 64);
    assert!(
        digest
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    // Any byte counts, even a comment that changes nothing else.
    let commented = format!("{text}# reviewed\n");
    assert_ne!(ok(&commented).digest.unwrap(), digest);
}

#[test]
fn fail_on_none_and_every_severity_are_accepted() {
    assert_eq!(
        ok("[report]\nfail_on = \"none\"\n").report.fail_on,
        FailOn::None
    );
    for severity in Severity::ALL {
        let text = format!("[report]\nfail_on = \"{severity}\"\n");
        assert_eq!(ok(&text).report.fail_on, FailOn::Severity(severity));
    }
}

#[test]
fn formats_are_sorted_and_deduplicated() {
    let config = ok("[report]\nformats = [\"json\", \"html\", \"json\"]\n");
    assert_eq!(config.report.formats, vec![Format::Html, Format::Json]);
}

// ---------------------------------------------------------------------------------------------
// Bad configs: TOML and unknown keys

#[test]
fn toml_syntax_error_unterminated_string() {
    let err = bad(
        "[report]\ntitle = \"Access\n",
        None,
        Some(2),
        "TOML syntax error",
    );
    assert!(err.message.contains("expected `\"`"), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid config audit.toml (line 2): TOML syntax error: invalid basic string, expected `\"`"
    );
}

#[test]
fn toml_syntax_error_unquoted_value() {
    let err = bad(
        "[report]\ntitle = \"x\"\nfail_on = low\n",
        None,
        Some(3),
        "TOML syntax error",
    );
    assert!(err.message.contains("must be quoted"), "{err}");
}

#[test]
fn toml_syntax_error_duplicate_key() {
    bad(
        "[report]\ntitle = \"x\"\ntitle = \"y\"\n",
        None,
        Some(3),
        "TOML syntax error: duplicate key",
    );
}

#[test]
fn unknown_top_level_key() {
    let err = bad_at(
        "[report]\ntitle = \"x\"\n\n[reports]\nformats = []\n",
        "reports",
        4,
        "unknown field `reports`",
    );
    assert!(
        err.message.contains(
            "expected one of `suppressions`, `report`, `roster`, `rules`, `sources`, `email`"
        ),
        "{err}"
    );
    // A bare key above every table is top-level too.
    bad_at("title = \"x\"\n", "title", 1, "unknown field `title`");
}

// ---------------------------------------------------------------------------------------------
// Bad configs: [report]

/// Refused `[report]` tables, each named by the test it was written as.
const REFUSED_REPORT: &[Refused] = &[
    (
        "empty_formats_list",
        "[report]\ntitle = \"x\"\nformats = []\n",
        "report.formats",
        3,
        "no report format selected: expected one or more of \"html\", \"csv\", \"json\"",
    ),
    (
        "formats_as_a_string",
        "[report]\nformats = \"html\"\n",
        "report.formats",
        2,
        "expected a sequence",
    ),
    (
        "empty_title",
        "[report]\ntitle = \"  \"\n",
        "report.title",
        2,
        "the title is empty",
    ),
    (
        "empty_output_dir",
        "[report]\noutput_dir = \"\"\n",
        "report.output_dir",
        2,
        "the output directory is empty",
    ),
];

#[test]
fn refused_report_tables_name_file_key_and_line() {
    check_refused(REFUSED_REPORT);
}

#[test]
fn unknown_key_in_report() {
    let err = bad_at(
        "[report]\ntitle = \"x\"\ncolour = \"red\"\n",
        "report.colour",
        3,
        "unknown field `colour`",
    );
    assert!(
        err.message
            .contains("expected one of `title`, `output_dir`, `formats`, `fail_on`"),
        "{err}"
    );
}

#[test]
fn bad_fail_on() {
    let err = bad_at(
        "[report]\nfail_on = \"sometimes\"\n",
        "report.fail_on",
        2,
        "unknown value `sometimes`: expected one of info, low, medium, high, critical, none",
    );
    assert_eq!(
        err.to_string(),
        "invalid config audit.toml, key `report.fail_on` (line 2): unknown value `sometimes`: expected one of info, low, medium, high, critical, none"
    );
}

#[test]
fn unknown_format() {
    let err = bad_at(
        "[report]\nformats = [\"html\", \"pdf\"]\n",
        "report.formats[1]",
        2,
        "unknown variant `pdf`",
    );
    assert!(
        err.message
            .contains("expected one of `html`, `csv`, `json`"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors inside the full example point at the right line.

#[track_caller]
fn example_with(from: &str, to: &str) -> String {
    assert_eq!(
        CONTRACT_EXAMPLE.matches(from).count(),
        1,
        "`{from}` occurs once in the example"
    );
    CONTRACT_EXAMPLE.replace(from, to)
}

/// `(case, text replaced in the example, its replacement, key, line, part of the message)`.
const EXAMPLE_ERRORS: &[(&str, &str, &str, &str, usize, &str)] = &[
    (
        "a rule's days",
        "max_pending_days = 7",
        "max_pending_days = 0",
        "rules.pending_invite.max_pending_days",
        15,
        "0 is not a valid number of days",
    ),
    (
        "a Sentry organization slug",
        "[\"acme\", \"acme-labs\"]",
        "[\"acme\", \"Acme_Labs\"]",
        "sources[0].organizations[1]",
        28,
        "`Acme_Labs` is not a Sentry organization slug",
    ),
    (
        "a Sent.dm profile",
        "profiles = \"all\"",
        "profiles = [\"nope\"]",
        "sources[1].profiles[0]",
        37,
        "`nope` is not a profile UUID",
    ),
    (
        "a source name used twice",
        "name = \"sentdm\"",
        "name = \"sentry\"",
        "sources[1].name",
        34,
        "source name `sentry` is already used by sources[0]",
    ),
    (
        "an email recipient",
        "to = [\"security@acme.example\"]",
        "to = [\"security\"]",
        "email.to[0]",
        44,
        "`security` is not an email address",
    ),
    (
        "both SMTP URL keys",
        "enabled = false",
        "enabled = true\nsmtp_url_file = \"/run/smtp\"",
        "email.smtp_url_file",
        43,
        "set either `smtp_url_env` or `smtp_url_file`, not both",
    ),
];

#[test]
fn errors_in_the_contract_example_are_located() {
    let texts: Vec<String> = EXAMPLE_ERRORS
        .iter()
        .map(|(_, from, to, ..)| example_with(from, to))
        .collect();
    let cases: Vec<_> = EXAMPLE_ERRORS
        .iter()
        .zip(&texts)
        .map(|(&(name, _, _, key, line, part), text)| (name, text.as_str(), key, line, part))
        .collect();
    check_refused(&cases);
}

#[test]
fn display_without_file_or_line() {
    let err = Config::parse("bogus = 1\n", None).unwrap_err();
    assert_eq!(err.file, None);
    assert_eq!(
        err.to_string(),
        "invalid config, key `bogus` (line 1): unknown field `bogus`, expected one of `suppressions`, `report`, `roster`, `rules`, `sources`, `email`, `store`, `notify`, `metrics`, `review`"
    );
    let err = ConfigError {
        file: Some("a.toml".into()),
        key: None,
        line: None,
        message: "boom".into(),
    };
    assert_eq!(err.to_string(), "invalid config a.toml: boom");
}

// ---------------------------------------------------------------------------------------------
// [store], [notify], [metrics] together (each table's own cases are in its module's
// config_tests.rs)

#[test]
fn absent_tables_are_none() {
    let c = ok(report_first!());
    assert!(c.store.is_none() && c.notify.is_none() && c.metrics.is_none());
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

// ---------------------------------------------------------------------------------------------
// Secrets

/// A variable name no environment sets, unique to this test file.
const UNSET_VAR: &str = "ACCESS_AUDIT_TEST_UNSET_CONFIG_TESTS_7F3A9C";

#[test]
fn unset_token_env_is_reported_with_key_and_line() {
    assert!(
        std::env::var_os(UNSET_VAR).is_none(),
        "{UNSET_VAR} must not be set"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.toml");
    let text = format!(
        "# audit\n\n[[sources]]\ntype = \"sentry\"\ntoken_env = \"{UNSET_VAR}\"\norganizations = \"all\"\n"
    );
    std::fs::write(&path, &text).unwrap();

    // Lines are found by reading the file again, so load it from disk as the CLI does.
    let config = Config::load(&path).unwrap();
    let err = config
        .resolve_secrets(false)
        .err()
        .expect("the variable is not set");
    assert_eq!(err.file.as_deref(), Some(path.as_path()));
    assert_eq!(err.key.as_deref(), Some("sources[0].token_env"));
    assert_eq!(err.line, Some(5));
    assert_eq!(
        err.message,
        format!("environment variable {UNSET_VAR} is not set")
    );
    assert_eq!(
        err.to_string(),
        format!(
            "invalid config {}, key `sources[0].token_env` (line 5): environment variable {UNSET_VAR} is not set",
            path.display()
        )
    );
}

#[test]
fn unset_api_key_env_of_a_second_source_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("sentry-token");
    std::fs::write(&token, "sntrys_abc\n").unwrap();
    let path = dir.path().join("audit.toml");
    let text = format!(
        "[[sources]]\ntype = \"sentry\"\ntoken_file = '{}'\norganizations = \"all\"\n\n[[sources]]\ntype = \"sentdm\"\napi_key_env = \"{UNSET_VAR}_SENTDM\"\n",
        token.display()
    );
    std::fs::write(&path, &text).unwrap();
    let err = Config::load(&path)
        .unwrap()
        .resolve_secrets(false)
        .err()
        .expect("the variable is not set");
    assert_eq!(err.key.as_deref(), Some("sources[1].api_key_env"));
    assert_eq!(err.line, Some(8));
    assert!(err.message.ends_with("_SENTDM is not set"), "{err}");
}

#[test]
fn token_file_is_read_and_trimmed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "sntrys_secret_token").unwrap();
    file.flush().unwrap();
    let mut key_file = tempfile::NamedTempFile::new().unwrap();
    write!(key_file, "sentdm-key\r\n").unwrap();
    key_file.flush().unwrap();

    let text = format!(
        "[[sources]]\ntype = \"sentry\"\nname = \"prod\"\ntoken_file = '{}'\norganizations = [\"acme\"]\n\n[[sources]]\ntype = \"sentdm\"\napi_key_file = '{}'\n",
        file.path().display(),
        key_file.path().display()
    );
    let config = ok(&text);
    assert_eq!(
        config.sources[0].secret,
        Some(SecretRef::File(file.path().to_path_buf()))
    );
    assert_eq!(config.sources[0].secret_key, "token_file");

    let secrets = config.resolve_secrets(false).unwrap();
    assert_eq!(secrets.sources.len(), 2);
    assert_eq!(
        secrets.sources["prod"].expose_secret(),
        "sntrys_secret_token"
    );
    assert_eq!(secrets.sources["sentdm"].expose_secret(), "sentdm-key");
    assert!(
        secrets.smtp_url.is_none(),
        "email is off, so the SMTP URL is not read"
    );
}

#[test]
fn missing_token_file_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-token");
    let text = format!(
        "[[sources]]\ntype = \"sentry\"\ntoken_file = '{}'\norganizations = \"all\"\n",
        missing.display()
    );
    let err = ok(&text)
        .resolve_secrets(false)
        .err()
        .expect("the file does not exist");
    assert_eq!(err.file.as_deref(), Some(Path::new("audit.toml")));
    assert_eq!(err.key.as_deref(), Some("sources[0].token_file"));
    assert!(
        err.message
            .starts_with(&format!("cannot read secret file {}", missing.display())),
        "{err}"
    );
}

#[test]
fn smtp_url_is_resolved_only_when_email_is_enabled() {
    let mut smtp = tempfile::NamedTempFile::new().unwrap();
    writeln!(smtp, "smtp://127.0.0.1:2525").unwrap();
    smtp.flush().unwrap();
    let text = format!(
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nto = [\"security@acme.example\"]\nsmtp_url_file = '{}'\n",
        smtp.path().display()
    );
    let config = ok(&text);
    let secrets = config.resolve_secrets(true).unwrap();
    assert_eq!(
        secrets
            .smtp_url
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .as_deref(),
        Some("smtp://127.0.0.1:2525")
    );
    assert!(config.resolve_secrets(false).unwrap().smtp_url.is_none());

    // Enabled on the command line but not configured.
    let err = ok("")
        .resolve_secrets(true)
        .err()
        .expect("no SMTP URL is configured");
    assert_eq!(err.key.as_deref(), Some("email"));
    assert!(
        err.message
            .contains("neither `smtp_url_env` nor `smtp_url_file` is set"),
        "{err}"
    );

    let text = format!("[email]\nsmtp_url_env = \"{UNSET_VAR}_SMTP\"\n");
    let err = ok(&text)
        .resolve_secrets(true)
        .err()
        .expect("the variable is not set");
    assert_eq!(err.key.as_deref(), Some("email.smtp_url_env"));
    assert!(err.message.ends_with("_SMTP is not set"), "{err}");
}
