//! Unit tests for reading the config file (the keys the README documents): what a good file turns into, and
//! for a bad one, exactly which file, key, line and expectation the error names.

use super::*;

use std::io::Write as _;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::http::FetchSettings;
use crate::model::{FailOn, Severity, SourceKind};
use crate::sources::spec::{Selection, SourceSpec};
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

/// A minimal valid Sentry source (lines 1–4), for tests that add one key at line 5.
const SENTRY: &str = r#"[[sources]]
type = "sentry"
token_env = "SENTRY_AUTH_TOKEN"
organizations = ["acme"]
"#;

/// A minimal valid Sent.dm source (lines 1–3), for tests that add one key at line 4.
const SENTDM: &str = r#"[[sources]]
type = "sentdm"
api_key_env = "SENTDM_API_KEY"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Some(Path::new("audit.toml")))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected the config to be accepted, got: {e}\n--- config ---\n{text}"),
    }
}

/// Parse `text`, expect an error, and check the file, key, line and a part of the message.
#[track_caller]
fn bad(text: &str, key: Option<&str>, line: Option<usize>, message_part: &str) -> ConfigError {
    let err = match parse(text) {
        Ok(_) => panic!("expected an error for key {key:?}, but the config was accepted:\n{text}"),
        Err(e) => e,
    };
    assert_eq!(
        err.file.as_deref(),
        Some(Path::new("audit.toml")),
        "file of: {err}"
    );
    assert_eq!(err.key.as_deref(), key, "key of: {err}");
    assert_eq!(err.line, line, "line of: {err}");
    assert!(
        err.message.contains(message_part),
        "message of: {err}\nshould contain: {message_part}"
    );
    err
}

/// Shorthand for the common case: a key and a line are both known.
#[track_caller]
fn bad_at(text: &str, key: &str, line: usize, message_part: &str) -> ConfigError {
    bad(text, Some(key), Some(line), message_part)
}

fn with_source(extra: &str) -> String {
    format!("{SENTRY}{extra}")
}

fn sentry_of(spec: &SourceSpec) -> &sentry::Settings {
    spec.settings_of().expect("a Sentry source")
}

fn sentdm_of(spec: &SourceSpec) -> &sentdm::Settings {
    spec.settings_of().expect("a Sent.dm source")
}

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
    let active: Vec<&str> = rules.active().iter().map(|r| r.id).collect();
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
    assert_eq!(config.report.formats, Format::ALL.to_vec());
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
fn grace_days_zero_is_accepted() {
    let config = ok("[rules.stale_login]\ngrace_days = 0\n");
    assert_eq!(config.rules.stale_login.grace_days.0, 0);
    assert_eq!(config.rules.stale_login.max_inactive_days.0, 90);
}

#[test]
fn rule_settings_can_be_changed() {
    let config = ok(r#"[rules.stale_login]
enabled = false
max_inactive_days = 30
grace_days = 36500

[rules.pending_invite]
severity = "critical"
max_pending_days = 1

[rules.admin_without_2fa]
enabled = false
"#);
    let rules = &config.rules;
    assert!(!rules.stale_login.enabled);
    assert_eq!(rules.stale_login.max_inactive_days.0, 30);
    assert_eq!(rules.stale_login.grace_days.0, 36_500);
    assert_eq!(rules.pending_invite.severity, Some(Severity::Critical));
    assert_eq!(rules.pending_invite.max_pending_days.0, 1);
    assert!(!rules.admin_without_2fa.enabled);
    let active: Vec<&str> = rules.active().iter().map(|r| r.id).collect();
    assert_eq!(active, vec!["pending_invite", "expired_membership"]);
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
fn sentry_organizations_and_projects_are_deduplicated() {
    let config = ok(r#"[[sources]]
type = "sentry"
token_file = "/run/secrets/sentry"
organizations = ["acme", "acme-labs", "acme"]
projects = [123456, "42", "42"]
"#);
    let spec = sentry_of(&config.sources[0].spec);
    assert_eq!(
        spec.organizations,
        Selection::List(vec!["acme".into(), "acme-labs".into()])
    );
    assert_eq!(spec.projects, vec!["123456".to_string(), "42".to_string()]);
    assert_eq!(
        config.sources[0].secret,
        Some(SecretRef::File("/run/secrets/sentry".into()))
    );
    assert_eq!(config.sources[0].secret_key, "token_file");
}

#[test]
fn sentdm_profiles_list_empty_list_and_default() {
    let config = ok(&format!(
        "{SENTDM}profiles = [\"660E8400-E29B-41D4-A716-446655440001\", \"660e8400-e29b-41d4-a716-446655440001\"]\ninvite_ttl_days = 3\n"
    ));
    let spec = sentdm_of(&config.sources[0].spec);
    assert_eq!(
        spec.profiles,
        Selection::List(vec!["660e8400-e29b-41d4-a716-446655440001".into()]),
        "UUIDs are lower-cased, then deduplicated"
    );
    assert_eq!(spec.invite_ttl_days, 3);

    let config = ok(&format!("{SENTDM}profiles = []\n"));
    assert_eq!(
        sentdm_of(&config.sources[0].spec).profiles,
        Selection::List(vec![]),
        "[] = the organization only"
    );

    let config = ok(SENTDM);
    assert_eq!(
        sentdm_of(&config.sources[0].spec).profiles,
        Selection::All,
        "missing = all"
    );
    assert_eq!(
        sentdm_of(&config.sources[0].spec).invite_ttl_days,
        sentdm::DEFAULT_INVITE_TTL_DAYS
    );
}

#[test]
fn fetch_settings_can_be_overridden() {
    let config = ok(&with_source(
        "concurrency = 8\nrequests_per_minute = 60\nburst = 10\nrequest_timeout = \"2m\"\nmax_attempts = 3\nmax_retry_wait = \"5s\"\nmax_response_mb = 4\n",
    ));
    assert_eq!(
        config.sources[0].fetch,
        FetchSettings {
            concurrency: 8,
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
fn durations_and_caps_are_bounded_at_validation() {
    for (line, key, expected) in [
        (
            "max_retry_wait = \"500000000000years\"",
            "max_retry_wait",
            "expected a duration from 1s to 1h",
        ),
        (
            "request_timeout = \"2days\"",
            "request_timeout",
            "expected a duration from 1s to 10m",
        ),
        ("max_response_mb = 0", "max_response_mb", "from 1 to 1024"),
        (
            "max_response_mb = 4096",
            "max_response_mb",
            "from 1 to 1024",
        ),
    ] {
        let text = with_source(&format!("{line}\n"));
        let at = text.lines().position(|l| l == line).map(|n| n + 1);
        bad(&text, Some(&format!("sources[0].{key}")), at, expected);
    }
}

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
fn unknown_key_in_rules_stale_login() {
    let err = bad_at(
        "[rules.stale_login]\nmax_inactive_days = 30\nmax_days = 3\n",
        "rules.stale_login.max_days",
        3,
        "unknown field `max_days`",
    );
    assert!(
        err.message.contains("`max_inactive_days`") && err.message.contains("`grace_days`"),
        "{err}"
    );
}

#[test]
fn unknown_rule() {
    bad_at(
        "[rules.unused_token]\nenabled = true\n",
        "rules.unused_token",
        1,
        "unknown field `unused_token`",
    );
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
fn unknown_key_in_email() {
    bad_at(
        "[email]\nenabled = false\ncc = [\"a@acme.example\"]\n",
        "email.cc",
        3,
        "unknown field `cc`",
    );
}

#[test]
fn sources_as_a_single_table_instead_of_an_array() {
    bad_at(
        "[sources]\ntype = \"sentry\"\n",
        "sources",
        1,
        "expected a sequence",
    );
}

// ---------------------------------------------------------------------------------------------
// Bad configs: [report] and [rules.*] values

#[test]
fn string_for_days() {
    bad_at(
        "[rules.stale_login]\nenabled = true\nmax_inactive_days = \"ninety\"\n",
        "rules.stale_login.max_inactive_days",
        3,
        "invalid type: string \"ninety\", expected",
    );
    // Whole numbers only.
    bad_at(
        "[rules.stale_login]\nmax_inactive_days = 1.5\n",
        "rules.stale_login.max_inactive_days",
        2,
        "invalid type: floating point `1.5`",
    );
}

#[test]
fn bad_severity() {
    let err = bad_at(
        "[rules.admin_without_2fa]\nseverity = \"urgent\"\n",
        "rules.admin_without_2fa.severity",
        2,
        "unknown severity `urgent`",
    );
    assert!(
        err.message
            .contains("expected one of info, low, medium, high, critical"),
        "{err}"
    );
    // Like fail_on, severities are case-insensitive.
    let config = parse("[rules.admin_without_2fa]\nseverity = \"High\"\n").unwrap();
    assert_eq!(
        config.rules.admin_without_2fa.severity,
        Some(crate::model::Severity::High)
    );
}

#[test]
fn days_of_the_wrong_type_say_what_is_expected() {
    bad_at(
        "[rules.pending_invite]\nmax_pending_days = \"7\"\n",
        "rules.pending_invite.max_pending_days",
        2,
        "expected a whole number of days from 1 to 36500",
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
fn negative_max_inactive_days() {
    bad_at(
        "[rules.stale_login]\nmax_inactive_days = -5\n",
        "rules.stale_login.max_inactive_days",
        2,
        "-5 is not a valid number of days: expected a whole number from 1 to 36500",
    );
}

#[test]
fn zero_max_inactive_days() {
    let err = bad_at(
        "[rules.stale_login]\nseverity = \"low\"\nmax_inactive_days = 0\n",
        "rules.stale_login.max_inactive_days",
        3,
        "0 is not a valid number of days",
    );
    assert_eq!(
        err.to_string(),
        "invalid config audit.toml, key `rules.stale_login.max_inactive_days` (line 3): \
         0 is not a valid number of days: expected a whole number from 1 to 36500"
    );
}

#[test]
fn zero_and_negative_max_pending_days() {
    bad_at(
        "[rules.pending_invite]\nseverity = \"low\"\nmax_pending_days = 0\n",
        "rules.pending_invite.max_pending_days",
        3,
        "0 is not a valid number of days: expected a whole number from 1 to 36500",
    );
    bad_at(
        "[rules.pending_invite]\nmax_pending_days = -7\n",
        "rules.pending_invite.max_pending_days",
        2,
        "-7 is not a valid number of days",
    );
}

#[test]
fn zero_and_negative_invite_ttl_days() {
    bad_at(
        &format!("{SENTDM}invite_ttl_days = 0\n"),
        "sources[0].invite_ttl_days",
        4,
        "0 is not a valid number of days: expected a whole number from 1 to 36500",
    );
    bad_at(
        &format!("{SENTDM}invite_ttl_days = -1\n"),
        "sources[0].invite_ttl_days",
        4,
        "-1 is not a valid number of days",
    );
}

#[test]
fn negative_grace_days_and_too_many_days() {
    bad_at(
        "[rules.stale_login]\ngrace_days = -1\n",
        "rules.stale_login.grace_days",
        2,
        "-1 is not a valid number of days: expected a whole number from 0 to 36500",
    );
    bad_at(
        "[rules.stale_login]\nmax_inactive_days = 36501\n",
        "rules.stale_login.max_inactive_days",
        2,
        "36501 is not a valid number of days",
    );
}

#[test]
fn dotted_keys_are_located_too() {
    bad_at(
        "rules.stale_login.max_inactive_days = 0\n",
        "rules.stale_login.max_inactive_days",
        1,
        "0 is not a valid number of days",
    );
}

#[test]
fn wrong_type_for_enabled() {
    bad_at(
        "[rules.expired_membership]\nenabled = \"yes\"\n",
        "rules.expired_membership.enabled",
        2,
        "invalid type: string \"yes\", expected a boolean",
    );
}

#[test]
fn empty_formats_list() {
    bad_at(
        "[report]\ntitle = \"x\"\nformats = []\n",
        "report.formats",
        3,
        "no report format selected: expected one or more of \"html\", \"csv\", \"json\"",
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

#[test]
fn formats_as_a_string() {
    bad_at(
        "[report]\nformats = \"html\"\n",
        "report.formats",
        2,
        "expected a sequence",
    );
}

#[test]
fn empty_title() {
    bad_at(
        "[report]\ntitle = \"  \"\n",
        "report.title",
        2,
        "the title is empty",
    );
}

#[test]
fn empty_output_dir() {
    bad_at(
        "[report]\noutput_dir = \"\"\n",
        "report.output_dir",
        2,
        "the output directory is empty",
    );
}

// ---------------------------------------------------------------------------------------------
// Bad configs: [[sources]]

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

#[test]
fn duplicate_source_names_in_inline_tables() {
    let text = r#"sources = [
  { type = "sentry", token_env = "A", organizations = "all" },
  { type = "sentry", token_env = "B", organizations = "all" },
]
"#;
    bad_at(
        text,
        "sources[1].name",
        3,
        "source name `sentry` is already used by sources[0]",
    );
}

#[test]
fn unusable_source_name() {
    bad_at(
        &with_source("name = \"a/b\"\n"),
        "sources[0].name",
        5,
        "`a/b` is not a usable source name",
    );
    bad_at(
        &with_source("name = \"\"\n"),
        "sources[0].name",
        5,
        "is not a usable source name",
    );
    bad_at(
        &with_source("name = \".hidden\"\n"),
        "sources[0].name",
        5,
        "is not a usable source name",
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
fn empty_organizations_list() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = []\n",
        "sources[0].organizations",
        4,
        "the list is empty: name at least one organization slug, or use \"all\"",
    );
}

#[test]
fn organizations_word_other_than_all() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = \"some\"\n",
        "sources[0].organizations",
        4,
        "`some` is not allowed here: expected \"all\" or a list of organization slugs",
    );
}

#[test]
fn organizations_of_the_wrong_type() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = 5\n",
        "sources[0].organizations",
        4,
        "expected \"all\" or a list of organization slugs",
    );
}

#[test]
fn missing_organizations() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\n",
        "sources[0]",
        1,
        "missing `organizations`: expected a list of organization slugs, or \"all\"",
    );
}

#[test]
fn malformed_slug() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = [\"acme\", \"Acme Labs\"]\n",
        "sources[0].organizations[1]",
        4,
        "`Acme Labs` is not a Sentry organization slug: expected lower-case letters, digits and `-`",
    );
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = [\"_acme\"]\n",
        "sources[0].organizations[0]",
        4,
        "`_acme` is not a Sentry organization slug",
    );
}

#[test]
fn malformed_profile_uuid() {
    bad_at(
        &format!(
            "{SENTDM}profiles = [\"660e8400-e29b-41d4-a716-446655440001\", \"660e8400e29b41d4a716446655440002\"]\n"
        ),
        "sources[0].profiles[1]",
        4,
        "`660e8400e29b41d4a716446655440002` is not a profile UUID: expected the form 660e8400-e29b-41d4-a716-446655440001",
    );
    bad_at(
        &format!("{SENTDM}profiles = \"everything\"\n"),
        "sources[0].profiles",
        4,
        "`everything` is not allowed here: expected \"all\" or a list of profile UUIDs",
    );
}

#[test]
fn bad_project_ids() {
    bad_at(
        &with_source("projects = [123, \"12a\"]\n"),
        "sources[0].projects[1]",
        5,
        "`12a` is not a Sentry project id: expected the numeric id",
    );
    bad_at(
        &with_source("projects = []\n"),
        "sources[0].projects",
        5,
        "the list is empty: remove the key to audit every member",
    );
}

#[test]
fn unset_type() {
    let text = format!("{SENTRY}\n[[sources]]\nname = \"second\"\napi_key_env = \"K\"\n");
    bad_at(&text, "sources[1]", 6, "missing field `type`");
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
fn both_token_env_and_token_file() {
    bad_at(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\ntoken_file = \"/run/t\"\norganizations = \"all\"\n",
        "sources[0].token_file",
        4,
        "set either `token_env` or `token_file`, not both",
    );
    bad_at(
        &format!("{SENTDM}api_key_file = \"/run/k\"\n"),
        "sources[0].api_key_file",
        4,
        "set either `api_key_env` or `api_key_file`, not both",
    );
}

#[test]
fn neither_token_env_nor_token_file() {
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
    bad_at(
        "[[sources]]\ntype = \"sentdm\"\n",
        "sources[0]",
        1,
        "missing `api_key_env` (the environment variable that holds the Sent.dm API key) or `api_key_file`",
    );
}

#[test]
fn sentdm_keys_on_a_sentry_source() {
    for (extra, key) in [
        ("profiles = \"all\"\n", "profiles"),
        ("invite_ttl_days = 7\n", "invite_ttl_days"),
        ("api_key_env = \"K\"\n", "api_key_env"),
        ("api_key_file = \"/run/k\"\n", "api_key_file"),
    ] {
        bad_at(
            &with_source(extra),
            &format!("sources[0].{key}"),
            5,
            &format!(
                "`{key}` belongs to type = \"sentdm\" sources; this source is type = \"sentry\""
            ),
        );
    }
}

#[test]
fn sentry_keys_on_a_sentdm_source() {
    for (extra, key) in [
        ("token_env = \"T\"\n", "token_env"),
        ("token_file = \"/run/t\"\n", "token_file"),
        ("organizations = \"all\"\n", "organizations"),
        ("projects = [\"1\"]\n", "projects"),
    ] {
        bad_at(
            &format!("{SENTDM}{extra}"),
            &format!("sources[0].{key}"),
            4,
            &format!(
                "`{key}` belongs to type = \"sentry\" sources; this source is type = \"sentdm\""
            ),
        );
    }
    // Without api_key_env the foreign key is still what gets reported, not the missing secret.
    bad_at(
        "[[sources]]\ntype = \"sentdm\"\ntoken_env = \"T\"\n",
        "sources[0].token_env",
        3,
        "`token_env` belongs to type = \"sentry\" sources",
    );
}

#[test]
fn http_base_url_to_a_remote_host() {
    for url in [
        "http://sentry.example.com",
        "http://localhost.evil.example",
        "http://10.0.0.5:9000",
    ] {
        bad_at(
            &with_source(&format!("base_url = \"{url}\"\n")),
            "sources[0].base_url",
            5,
            &format!("`{url}` uses plain http:// to a host that is not loopback"),
        );
    }
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
fn other_bad_base_urls() {
    bad_at(
        &with_source("base_url = \"ftp://sentry.io\"\n"),
        "sources[0].base_url",
        5,
        "has scheme `ftp`: expected https://",
    );
    bad_at(
        &with_source("base_url = \"sentry.io\"\n"),
        "sources[0].base_url",
        5,
        "`sentry.io` is not a URL",
    );
    bad_at(
        &with_source("base_url = \"https://sentry.io/?region=de\"\n"),
        "sources[0].base_url",
        5,
        "has a query or fragment: expected a bare base URL",
    );
}

#[test]
fn invalid_env_var_names() {
    for name in ["my token", "1TOKEN", "", "SENTRY-TOKEN"] {
        bad_at(
            &format!(
                "[[sources]]\ntype = \"sentry\"\ntoken_env = \"{name}\"\norganizations = \"all\"\n"
            ),
            "sources[0].token_env",
            3,
            &format!(
                "`{name}` is not an environment variable name: expected letters, digits and `_`"
            ),
        );
    }
    bad_at(
        "[email]\nsmtp_url_env = \"smtp://user:pass@host\"\n",
        "email.smtp_url_env",
        2,
        "is not an environment variable name",
    );
}

#[test]
fn concurrency_zero() {
    bad_at(
        &with_source("concurrency = 0\n"),
        "sources[0].concurrency",
        5,
        "0: expected a number from 1 to 64",
    );
    bad_at(
        &with_source("concurrency = 65\n"),
        "sources[0].concurrency",
        5,
        "65: expected a number from 1 to 64",
    );
    bad_at(
        &with_source("concurrency = -1\n"),
        "sources[0].concurrency",
        5,
        "invalid value: integer `-1`",
    );
}

#[test]
fn max_attempts_zero() {
    bad_at(
        &with_source("max_attempts = 0\n"),
        "sources[0].max_attempts",
        5,
        "0: expected a number from 1 to 20",
    );
    bad_at(
        &with_source("max_attempts = 21\n"),
        "sources[0].max_attempts",
        5,
        "21: expected a number from 1 to 20",
    );
}

#[test]
fn requests_per_minute_and_burst_zero() {
    bad_at(
        &with_source("requests_per_minute = 0\n"),
        "sources[0].requests_per_minute",
        5,
        "expected a positive number of requests per minute",
    );
    bad_at(
        &with_source("burst = 0\n"),
        "sources[0].burst",
        5,
        "expected a positive burst size",
    );
}

#[test]
fn bad_request_timeout() {
    bad_at(
        &with_source("request_timeout = \"fast\"\n"),
        "sources[0].request_timeout",
        5,
        "`fast` is not a duration such as \"30s\" or \"2m\"",
    );
    bad_at(
        &with_source("request_timeout = \"0s\"\n"),
        "sources[0].request_timeout",
        5,
        "a duration of zero is not allowed",
    );
    bad_at(
        &with_source("request_timeout = 30\n"),
        "sources[0].request_timeout",
        5,
        "invalid type: integer `30`",
    );
}

// ---------------------------------------------------------------------------------------------
// Bad configs: [email]

#[test]
fn bad_email_address_in_to() {
    bad_at(
        "[email]\nfrom = \"audit@acme.example\"\nto = [\"security@acme.example\", \"security team\"]\n",
        "email.to[1]",
        3,
        "`security team` is not an email address",
    );
    bad_at(
        "[email]\nto = [\"security.acme.example\"]\n",
        "email.to[0]",
        2,
        "is not an email address",
    );
}

#[test]
fn bad_email_from() {
    bad_at(
        "[email]\nfrom = \"Audit <audit>\"\n",
        "email.from",
        2,
        "`Audit <audit>` is not an email address: expected \"Name <addr@example.com>\" or \"addr@example.com\"",
    );
}

#[test]
fn email_enabled_without_from() {
    bad_at(
        "[report]\ntitle = \"x\"\n\n[email]\nenabled = true\nto = [\"security@acme.example\"]\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.from",
        4,
        "email is enabled but `from` is not set",
    );
}

#[test]
fn email_enabled_without_to() {
    bad_at(
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.to",
        1,
        "email is enabled but `to` lists no recipient",
    );
    bad_at(
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nto = []\nsmtp_url_env = \"SMTP_URL\"\n",
        "email.to",
        4,
        "email is enabled but `to` lists no recipient",
    );
}

#[test]
fn email_enabled_without_smtp_url() {
    bad_at(
        "[email]\nenabled = true\nfrom = \"audit@acme.example\"\nto = [\"security@acme.example\"]\n",
        "email.smtp_url_env",
        1,
        "email is enabled but neither `smtp_url_env` nor `smtp_url_file` is set",
    );
}

#[test]
fn email_with_both_smtp_url_env_and_file() {
    bad_at(
        "[email]\nsmtp_url_env = \"SMTP_URL\"\nsmtp_url_file = \"/run/smtp\"\n",
        "email.smtp_url_file",
        3,
        "set either `smtp_url_env` or `smtp_url_file`, not both",
    );
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

#[test]
fn errors_in_the_contract_example_are_located() {
    bad_at(
        &example_with("max_pending_days = 7", "max_pending_days = 0"),
        "rules.pending_invite.max_pending_days",
        15,
        "0 is not a valid number of days",
    );
    bad_at(
        &example_with("[\"acme\", \"acme-labs\"]", "[\"acme\", \"Acme_Labs\"]"),
        "sources[0].organizations[1]",
        28,
        "`Acme_Labs` is not a Sentry organization slug",
    );
    bad_at(
        &example_with("profiles = \"all\"", "profiles = [\"nope\"]"),
        "sources[1].profiles[0]",
        37,
        "`nope` is not a profile UUID",
    );
    bad_at(
        &example_with("name = \"sentdm\"", "name = \"sentry\""),
        "sources[1].name",
        34,
        "source name `sentry` is already used by sources[0]",
    );
    bad_at(
        &example_with("to = [\"security@acme.example\"]", "to = [\"security\"]"),
        "email.to[0]",
        44,
        "`security` is not an email address",
    );
    bad_at(
        &example_with(
            "enabled = false",
            "enabled = true\nsmtp_url_file = \"/run/smtp\"",
        ),
        "email.smtp_url_file",
        43,
        "set either `smtp_url_env` or `smtp_url_file`, not both",
    );
}

#[test]
fn display_without_file_or_line() {
    let err = Config::parse("bogus = 1\n", None).unwrap_err();
    assert_eq!(err.file, None);
    assert_eq!(
        err.to_string(),
        "invalid config, key `bogus` (line 1): unknown field `bogus`, expected one of `suppressions`, `report`, `roster`, `rules`, `sources`, `email`, `store`, `notify`, `metrics`"
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

#[test]
fn opt_in_rule_settings_are_checked() {
    bad_at(
        "[rules.external_domain]\nenabled = true\n",
        "rules.external_domain.allowed_domains",
        1,
        "allowed_domains is empty",
    );
    bad_at(
        "[rules.owner_count]\nenabled = true\nmin_owners = 4\nmax_owners = 2\n",
        "rules.owner_count.max_owners",
        4,
        "below min_owners",
    );
    bad_at(
        "[rules.admin_sprawl]\nmax_privileged_percent = 150\n",
        "rules.admin_sprawl.max_privileged_percent",
        2,
        "percentage from 0 to 100",
    );
    bad_at(
        "[rules.sso_invalid]\nenabled = true\nthreshold = 3\n",
        "rules.sso_invalid.threshold",
        3,
        "unknown field `threshold`",
    );
    let config =
        ok("[rules.external_domain]\nenabled = true\nallowed_domains = [\"acme.example\"]\n");
    assert!(
        config
            .rules
            .active()
            .iter()
            .any(|r| r.id == "external_domain")
    );
}
