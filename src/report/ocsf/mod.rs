//! `findings.ocsf.jsonl`: every finding as an OCSF 1.8.0 Compliance Finding (class 2003), one
//! compact JSON object per line, in the report's order, for SIEMs and data lakes.
//!
//! The mapping (the README's table; `tests/it/ocsf.rs` validates every line against the vendored
//! schema):
//!
//! * the event: `activity_id` 1 Create, `time` = the report's `as_of` (the instant the finding
//!   is true at, also on a replay), `severity_id` from the severity, `status_id` 1 New or
//!   3 Suppressed, the suppression's reason as `comment`;
//! * `finding_info`: `uid` = the finding's stable id, `title` = the rule, `desc` = the detail,
//!   `first_seen_time` from a baseline, `analytic` = the rule (type Rule);
//! * `compliance`: `control` = the rule, `desc` = what it checked with the thresholds in force
//!   and `control_parameters` = those settings (report.json's `run.rules`), `requirements` = its
//!   references as written, `standards` = their frameworks, `status_id` 3 Fail or 2 Warning (a
//!   manual check: the source did not give what the check needs);
//! * `resources`: the account (`uid` = source name/scope/account id, `owner` = the person:
//!   email, name) or, for a finding about a whole scope, the scope (`uid` = source name/scope);
//! * `metadata`: the product (access-audit and its version), the OCSF version, the run id as
//!   `correlation_uid`, `generated_at` as `logged_time`;
//! * `unmapped`: the source, source name, scope, outcome, baseline change and suppression, as
//!   report.json names them.
//!
//! Written one finding at a time through serde_json: nothing is held but the line being written.

#[cfg(test)]
mod tests;

use std::fmt::{self, Write as _};
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::{FINDINGS_OCSF, Report};
use crate::model::{
    Change, Finding, Outcome, RuleId, Severity, Subject, SuppressionNote, serialize_time,
};
use crate::rules::{Framework, RuleInfo, rule_infos};

/// The OCSF release the events follow (`metadata.version`); the schema files the tests validate
/// against are that release's, vendored under `tests/it/ocsf/schema`.
pub(crate) const OCSF_VERSION: &str = "1.8.0";

const CLASS_UID: u32 = 2003;
const CATEGORY_UID: u32 = 2;
/// `activity_id` 1: every finding of a run is reported as created by that run.
const ACTIVITY_CREATE: u32 = 1;

pub(super) fn write(report: &Report, out: &mut dyn Write) -> Result<(), String> {
    let err = |e: &dyn fmt::Display| format!("cannot write {FINDINGS_OCSF}: {e}");
    let rules: Vec<RuleView> = rule_infos()
        .into_iter()
        .map(|info| RuleView::of(info, report))
        .collect();
    let metadata = Metadata {
        version: OCSF_VERSION,
        product: Product {
            name: &report.tool.name,
            vendor_name: &report.tool.name,
            version: &report.tool.version,
        },
        correlation_uid: &report.run.run_id,
        logged_time: report.generated_at.timestamp_millis(),
    };
    let time = report.as_of.timestamp_millis();
    for finding in &report.findings {
        let rule = rules.iter().find(|r| r.id == finding.rule);
        let event = Event::of(finding, rule, time, &metadata);
        serde_json::to_writer(&mut *out, &event).map_err(|e| err(&e))?;
        out.write_all(b"\n").map_err(|e| err(&e))?;
    }
    out.flush().map_err(|e| err(&e))
}

/// What the events need of a rule, worked out once per run rather than once per finding.
struct RuleView<'a> {
    id: RuleId,
    /// What the rule checked: with the thresholds in force when the run lists the rule, as
    /// report.json's `run.rules` does, else with its defaults.
    checks: &'a str,
    /// The rule's settings in force.
    parameters: Vec<Parameter>,
    /// The frameworks the references belong to, in `--framework`'s order.
    standards: Vec<&'static str>,
    references: &'static [&'static str],
}

impl<'a> RuleView<'a> {
    fn of(info: &'static RuleInfo, report: &'a Report) -> RuleView<'a> {
        use clap::ValueEnum;
        let in_force = report.run.rules.iter().find(|r| r.id == info.id);
        RuleView {
            id: info.id,
            checks: in_force.map_or(info.checks, |r| r.checks.as_str()),
            parameters: in_force
                .into_iter()
                .flat_map(|r| &r.settings)
                .map(|(name, value)| Parameter::of(name, value))
                .collect(),
            standards: Framework::value_variants()
                .iter()
                .filter(|f| f.covers(info))
                .map(|f| f.name())
                .collect(),
            references: info.references,
        }
    }
}

/// One setting of a rule as OCSF's `key_value_object`: a list as `values`, anything else as
/// `value`, each as text (`90`, `acme.example`).
#[derive(Serialize)]
struct Parameter {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
}

impl Parameter {
    fn of(name: &str, value: &serde_json::Value) -> Parameter {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (value, values) = match value {
            serde_json::Value::Array(list) => (None, Some(list.iter().map(text).collect())),
            other => (Some(text(other)), None),
        };
        Parameter {
            name: name.to_string(),
            value,
            values,
        }
    }
}

/// One line of the file: an OCSF Compliance Finding. Field order is the output's key order.
#[derive(Serialize)]
struct Event<'a> {
    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
    type_uid: u32,
    type_name: &'static str,
    severity_id: u32,
    severity: &'static str,
    status_id: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    time: i64,
    timezone_offset: i32,
    metadata: &'a Metadata<'a>,
    finding_info: FindingInfo<'a>,
    compliance: Compliance<'a>,
    resources: [Resource<'a>; 1],
    unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product<'a>,
    correlation_uid: &'a str,
    logged_time: i64,
}

#[derive(Serialize)]
struct Product<'a> {
    name: &'a str,
    vendor_name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct FindingInfo<'a> {
    uid: &'a str,
    title: &'static str,
    desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen_time: Option<i64>,
    analytic: Analytic,
}

#[derive(Serialize)]
struct Analytic {
    uid: &'static str,
    name: &'static str,
    type_id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Compliance<'a> {
    control: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    desc: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    control_parameters: &'a [Parameter],
    standards: &'a [&'static str],
    requirements: &'static [&'static str],
    status_id: u32,
    status: &'static str,
}

/// What the finding is about: one account, or one whole scope.
#[derive(Serialize)]
struct Resource<'a> {
    /// `source_name/scope/account_id`, or `source_name/scope` for a whole scope.
    uid: ResourceUid<'a>,
    name: &'a str,
    #[serde(rename = "type")]
    kind: Joined<'a, 2>,
    role_id: u32,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Owner<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<AccountData<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ResourceUid<'a> {
    Account(Joined<'a, 3>),
    Scope(Joined<'a, 2>),
}

/// The person behind the account, as OCSF's `user`.
#[derive(Serialize)]
struct Owner<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_addr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_name: Option<&'a str>,
}

/// The account's own attributes OCSF has no field for, in `resources[].data` (any JSON).
#[derive(Serialize)]
struct AccountData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
    status: &'a str,
    #[serde(
        serialize_with = "serialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    last_seen_at: Option<DateTime<Utc>>,
    /// An email that OCSF's `email_t` would refuse, kept here instead of `owner.email_addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

#[derive(Serialize)]
struct Unmapped<'a> {
    source: &'a str,
    source_name: &'a str,
    scope: &'a str,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression: Option<&'a SuppressionNote>,
}

impl<'a> Event<'a> {
    fn of(
        f: &'a Finding,
        rule: Option<&'a RuleView<'a>>,
        time: i64,
        metadata: &'a Metadata<'a>,
    ) -> Event<'a> {
        let rule_id = f.rule.as_str();
        let (severity_id, severity) = severity(f.severity);
        let (status_id, status) = if f.suppressed {
            (3, "Suppressed")
        } else {
            (1, "New")
        };
        let (compliance_status_id, compliance_status) = match f.outcome {
            Outcome::Fail => (3, "Fail"),
            // The check could not be made from what the source gives: OCSF's "Warning", "did
            // not yield a result due to missing information".
            Outcome::Manual => (2, "Warning"),
        };
        Event {
            class_uid: CLASS_UID,
            class_name: "Compliance Finding",
            category_uid: CATEGORY_UID,
            category_name: "Findings",
            activity_id: ACTIVITY_CREATE,
            activity_name: "Create",
            type_uid: CLASS_UID * 100 + ACTIVITY_CREATE,
            type_name: "Compliance Finding: Create",
            severity_id,
            severity,
            status_id,
            status,
            comment: f.suppression.as_ref().map(|s| s.reason.as_str()),
            time,
            timezone_offset: 0,
            metadata,
            finding_info: FindingInfo {
                uid: &f.id,
                title: rule_id,
                desc: &f.detail,
                first_seen_time: f
                    .first_seen
                    .as_deref()
                    .and_then(crate::timestamp::parse_timestamp)
                    .map(|t| t.timestamp_millis()),
                analytic: Analytic {
                    uid: rule_id,
                    name: rule_id,
                    type_id: 1,
                    kind: "Rule",
                },
            },
            compliance: Compliance {
                control: rule_id,
                desc: rule.map_or("", |r| r.checks),
                control_parameters: rule.map_or(&[], |r| r.parameters.as_slice()),
                standards: rule.map_or(&[], |r| r.standards.as_slice()),
                requirements: rule.map_or(&[], |r| r.references),
                status_id: compliance_status_id,
                status: compliance_status,
            },
            resources: [Resource::of(f)],
            unmapped: Unmapped {
                source: f.source.as_str(),
                source_name: &f.source_name,
                scope: &f.scope,
                outcome: f.outcome,
                change: f.change,
                first_seen: f.first_seen.as_deref(),
                suppression: f.suppression.as_deref(),
            },
        }
    }
}

impl<'a> Resource<'a> {
    fn of(f: &'a Finding) -> Resource<'a> {
        let source = f.source.as_str();
        match &f.subject {
            Subject::Account(a) => {
                let email = a.email.as_deref().filter(|e| !e.is_empty());
                let valid_email = email.filter(|e| is_email_t(e));
                Resource {
                    uid: ResourceUid::Account(Joined(
                        [&f.source_name, &f.scope, &a.account_id],
                        '/',
                    )),
                    name: email
                        .or(a.name.as_deref().filter(|n| !n.is_empty()))
                        .unwrap_or(&a.account_id),
                    kind: Joined([source, "account"], '.'),
                    role_id: 1,
                    role: "Target",
                    owner: Some(Owner {
                        uid: &a.account_id,
                        email_addr: valid_email,
                        full_name: a.name.as_deref().filter(|n| !n.is_empty()),
                    }),
                    data: Some(AccountData {
                        role: a.role.as_deref(),
                        status: a.status.as_str(),
                        last_seen_at: a.last_seen_at,
                        email: if valid_email.is_none() { email } else { None },
                    }),
                }
            }
            Subject::Scope => Resource {
                uid: ResourceUid::Scope(Joined([&f.source_name, &f.scope], '/')),
                name: &f.scope,
                kind: Joined([source, "scope"], '.'),
                role_id: 1,
                role: "Target",
                owner: None,
                data: None,
            },
        }
    }
}

/// OCSF's `severity_id` and its caption.
fn severity(s: Severity) -> (u32, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// Parts joined by a separator: identifiers (`sentry/acme/4412001`) and types
/// (`sentry.account`). Serialised straight into the output, escaped by serde_json, never
/// concatenated into a `String` first.
struct Joined<'a, const N: usize>([&'a str; N], char);

impl<const N: usize> fmt::Display for Joined<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(self.1)?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

impl<const N: usize> Serialize for Joined<'_, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether OCSF's `email_t` takes this address: its pattern
/// ``^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`` (the `+-/` in the first
/// class is the range `+ , - . /`). Addresses from the APIs that do not match go to
/// `resources[].data.email`, so one odd address cannot make a line invalid.
fn is_email_t(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+,-./=?^_`{|}~".contains(&b));
    // The first label cannot hold a dot, so the `\.` is the domain's first dot.
    let domain_ok = domain.split_once('.').is_some_and(|(first, rest)| {
        !first.is_empty()
            && !rest.is_empty()
            && first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    });
    local_ok && domain_ok
}
