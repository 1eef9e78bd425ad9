//! `[rules.<id>]` tables read through `Config::parse`: what they turn on and change, and for a
//! bad one, the file, key, line and expectation the error names.

use crate::config::test_support::*;
use crate::model::Severity;

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
    let active: Vec<&str> = rules.active().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(active, vec!["pending_invite", "expired_membership"]);
}

#[test]
fn an_opt_in_rule_with_its_settings_is_active() {
    // Its refused settings are cases of `REFUSED`.
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

/// Refused `[rules.*]` tables, each named by the test it was written as.
const REFUSED: &[Refused] = &[
    (
        "unknown_rule",
        "[rules.unused_token]\nenabled = true\n",
        "rules.unused_token",
        1,
        "unknown field `unused_token`",
    ),
    (
        "string_for_days",
        "[rules.stale_login]\nenabled = true\nmax_inactive_days = \"ninety\"\n",
        "rules.stale_login.max_inactive_days",
        3,
        "invalid type: string \"ninety\", expected",
    ),
    (
        "string_for_days: whole numbers only",
        "[rules.stale_login]\nmax_inactive_days = 1.5\n",
        "rules.stale_login.max_inactive_days",
        2,
        "invalid type: floating point `1.5`",
    ),
    (
        "days_of_the_wrong_type_say_what_is_expected",
        "[rules.pending_invite]\nmax_pending_days = \"7\"\n",
        "rules.pending_invite.max_pending_days",
        2,
        "expected a whole number of days from 1 to 36500",
    ),
    (
        "negative_max_inactive_days",
        "[rules.stale_login]\nmax_inactive_days = -5\n",
        "rules.stale_login.max_inactive_days",
        2,
        "-5 is not a valid number of days: expected a whole number from 1 to 36500",
    ),
    (
        "zero_and_negative_max_pending_days: zero",
        "[rules.pending_invite]\nseverity = \"low\"\nmax_pending_days = 0\n",
        "rules.pending_invite.max_pending_days",
        3,
        "0 is not a valid number of days: expected a whole number from 1 to 36500",
    ),
    (
        "zero_and_negative_max_pending_days: negative",
        "[rules.pending_invite]\nmax_pending_days = -7\n",
        "rules.pending_invite.max_pending_days",
        2,
        "-7 is not a valid number of days",
    ),
    (
        "negative_grace_days_and_too_many_days: negative grace",
        "[rules.stale_login]\ngrace_days = -1\n",
        "rules.stale_login.grace_days",
        2,
        "-1 is not a valid number of days: expected a whole number from 0 to 36500",
    ),
    (
        "negative_grace_days_and_too_many_days: too many",
        "[rules.stale_login]\nmax_inactive_days = 36501\n",
        "rules.stale_login.max_inactive_days",
        2,
        "36501 is not a valid number of days",
    ),
    (
        "dotted_keys_are_located_too",
        "rules.stale_login.max_inactive_days = 0\n",
        "rules.stale_login.max_inactive_days",
        1,
        "0 is not a valid number of days",
    ),
    (
        "wrong_type_for_enabled",
        "[rules.expired_membership]\nenabled = \"yes\"\n",
        "rules.expired_membership.enabled",
        2,
        "invalid type: string \"yes\", expected a boolean",
    ),
    (
        "opt_in_rule_settings_are_checked: external_domain without domains",
        "[rules.external_domain]\nenabled = true\n",
        "rules.external_domain.allowed_domains",
        1,
        "allowed_domains is empty",
    ),
    (
        "opt_in_rule_settings_are_checked: owner_count bounds",
        "[rules.owner_count]\nenabled = true\nmin_owners = 4\nmax_owners = 2\n",
        "rules.owner_count.max_owners",
        4,
        "below min_owners",
    ),
    (
        "opt_in_rule_settings_are_checked: admin_sprawl percentage",
        "[rules.admin_sprawl]\nmax_privileged_percent = 150\n",
        "rules.admin_sprawl.max_privileged_percent",
        2,
        "percentage from 0 to 100",
    ),
    (
        "opt_in_rule_settings_are_checked: sso_invalid takes no threshold",
        "[rules.sso_invalid]\nenabled = true\nthreshold = 3\n",
        "rules.sso_invalid.threshold",
        3,
        "unknown field `threshold`",
    ),
];

#[test]
fn refused_rule_tables_name_file_key_and_line() {
    check_refused(REFUSED);
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
