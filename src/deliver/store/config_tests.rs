//! `[store]` read through `Config::parse`: what a good table becomes, and that a bad one is
//! reported with file, key and line like every other config error (`tests.rs` checks
//! `validate` itself).

use std::time::Duration;

use super::{Include, Scheme};
use crate::config::test_support::*;

#[test]
fn a_good_table_becomes_settings() {
    let c = ok(concat!(
        report_first!(),
        "[store]\nurl = \"s3://audit-bucket/access-audit/{date}\"\ninclude = [\"reports\"]\n"
    ));
    let store = c.store.unwrap();
    assert_eq!(
        (store.scheme, store.include),
        (Scheme::S3, vec![Include::Reports])
    );
    assert_eq!(store.timeout, Duration::from_secs(900));
}

/// Refused `[store]` tables, after a two-line `[report]`.
const REFUSED: &[Refused] = &[
    (
        "a scheme other than a store's",
        concat!(report_first!(), "[store]\nurl = \"ftp://x/y\"\n"),
        "store.url",
        4,
        "scheme `ftp`",
    ),
    (
        "the bucket is part of the url",
        concat!(
            report_first!(),
            "[store]\nurl = \"s3://b\"\nbucket = \"b\"\n"
        ),
        "store.bucket",
        5,
        "unknown field `bucket`",
    ),
    (
        "an unknown kind of file to include",
        concat!(
            report_first!(),
            "[store]\nurl = \"s3://b\"\ninclude = [\"logs\"]\n"
        ),
        "store.include[0]",
        5,
        "unknown variant `logs`",
    ),
    (
        "no url",
        concat!(report_first!(), "[store]\ninclude = [\"reports\"]\n"),
        "store",
        3,
        "missing field `url`",
    ),
];

#[test]
fn refused_store_tables_name_file_key_and_line() {
    check_refused(REFUSED);
}
