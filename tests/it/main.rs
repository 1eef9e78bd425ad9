//! The integration tests, one binary: most drive the real `access-audit` binary (a subprocess
//! per run) against servers on loopback; `store`, `notify`, `metrics` and `kubernetes` call the
//! library. One module per topic; what they share is in `support`.
//!
//! All modules run in one process. A test here must not change process-wide state (environment
//! variables, the current directory): set what the binary needs on its command
//! (`support::common::bin`) instead. The library's secret registry (`redact`) is process-wide:
//! the library-level tests register only values of their own.

mod support;

mod architecture;
mod cli;
mod coverage;
mod email;
mod evidence;
mod faults;
mod files;
mod finish;
mod kubernetes;
mod ledger;
mod merge;
mod metrics;
mod notify;
mod ocsf;
mod provenance;
mod remediate;
mod review;
mod review_campaign;
mod review_email;
mod roster;
mod sentdm;
mod sentry;
mod settings;
mod snapshots;
mod store;
mod trust;
mod xlsx;
