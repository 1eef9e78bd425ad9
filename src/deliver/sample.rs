//! A small report with something of everything — failing, manual and suppressed findings, a
//! failed scope, a baseline comparison — for the delivery modules' unit tests. The report itself
//! is in `sample_report.rs`, shared with the integration tests.

use chrono::{TimeDelta, TimeZone, Utc};

use crate::model::{Account, FailOn, ScopeError, ScopeResult, Severity, SourceKind};
use crate::report::{Report, ReportInput};
use crate::review::baseline::Changes;
use crate::rules::{Evaluated, RuleSettings, evaluate_scope};

include!("sample_report.rs");
