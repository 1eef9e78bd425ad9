//! `[metrics]` read through `Config::parse`: what a good table becomes, and that a bad one is
//! reported with file, key and line like every other config error (`tests.rs` checks
//! `validate` itself).

use crate::config::test_support::*;

#[test]
fn a_good_table_becomes_settings() {
    let c = ok(concat!(
        report_first!(),
        "[metrics]\ntextfile = \"/var/lib/node_exporter/textfile/access_audit.prom\"\npushgateway_url_env = \"PUSHGATEWAY_URL\"\n"
    ));
    let metrics = c.metrics.unwrap();
    assert_eq!(metrics.pushgateway.unwrap().key, "pushgateway_url_env");
}

/// Refused `[metrics]` tables, after a two-line `[report]`.
const REFUSED: &[Refused] = &[(
    "a textfile not named *.prom",
    concat!(
        report_first!(),
        "[metrics]\ntextfile = \"/tmp/audit.txt\"\n"
    ),
    "metrics.textfile",
    4,
    "*.prom",
)];

#[test]
fn a_refused_metrics_table_names_file_key_and_line() {
    check_refused(REFUSED);
}
