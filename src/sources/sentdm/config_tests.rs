//! A Sent.dm source's own keys (`profiles`, `invite_ttl_days`) read through `Config::parse`.

use super::DEFAULT_INVITE_TTL_DAYS;
use crate::config::test_support::*;
use crate::sources::spec::Selection;

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
        DEFAULT_INVITE_TTL_DAYS
    );
}

/// Refused Sent.dm keys, each named by the test it was written as.
const REFUSED: &[Refused] = &[
    (
        "malformed_profile_uuid: no hyphens",
        concat!(
            sentdm_source!(),
            "profiles = [\"660e8400-e29b-41d4-a716-446655440001\", \"660e8400e29b41d4a716446655440002\"]\n"
        ),
        "sources[0].profiles[1]",
        4,
        "`660e8400e29b41d4a716446655440002` is not a profile UUID: expected the form 660e8400-e29b-41d4-a716-446655440001",
    ),
    (
        "malformed_profile_uuid: a word other than all",
        concat!(sentdm_source!(), "profiles = \"everything\"\n"),
        "sources[0].profiles",
        4,
        "`everything` is not allowed here: expected \"all\" or a list of profile UUIDs",
    ),
    (
        "zero_and_negative_invite_ttl_days: zero",
        concat!(sentdm_source!(), "invite_ttl_days = 0\n"),
        "sources[0].invite_ttl_days",
        4,
        "0 is not a valid number of days: expected a whole number from 1 to 36500",
    ),
    (
        "zero_and_negative_invite_ttl_days: negative",
        concat!(sentdm_source!(), "invite_ttl_days = -1\n"),
        "sources[0].invite_ttl_days",
        4,
        "-1 is not a valid number of days",
    ),
];

#[test]
fn refused_sentdm_keys_name_file_key_and_line() {
    check_refused(REFUSED);
}
