//! Shared by the `notify` and `metrics` tests: a small report with something
//! of everything — failing, manual and suppressed findings, a
//! failed scope, a baseline comparison (the library's unit-test sample, the one file included by both).

use chrono::{TimeDelta, TimeZone, Utc};

use access_audit::Changes;
use access_audit::model::{Account, FailOn, ScopeError, ScopeResult, Severity, SourceKind};
use access_audit::{Evaluated, RuleSettings, evaluate_scope};
use access_audit::{Report, ReportInput};

include!("../../../src/deliver/sample_report.rs");
