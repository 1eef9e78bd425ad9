//! The access review around a run's output folder: reviewers decide keep / revoke / change_role
//! for every account, management signs off, and a ledger proves it happened on schedule
//! (CONTRACT section 9). `config` is the `[review]` section.

pub(crate) mod config;
