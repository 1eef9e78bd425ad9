//! The period pack's time to revoke: every change `remediate apply` recorded in the period,
//! with the days from the review's sign-off to the change against `review.revoke_within_days`,
//! and every `remediate verify` with what it found.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Record;
use super::period_html::{esc, human};

#[derive(Debug, Default, Serialize)]
pub(crate) struct Revocations {
    pub(crate) revoke_within_days: u32,
    /// Changes made (applied, or found already gone).
    pub(crate) made: usize,
    /// Made later than `revoke_within_days` after sign-off.
    pub(crate) late: usize,
    /// Changes whose latest attempt did not make them (refused, failed, not confirmed).
    pub(crate) not_made: usize,
    pub(crate) changes: Vec<ChangeRow>,
    pub(crate) verifications: Vec<VerifyRow>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangeRow {
    pub(crate) at: String,
    pub(crate) plan_id: String,
    pub(crate) change_id: String,
    pub(crate) row_key: String,
    pub(crate) action: String,
    pub(crate) status: String,
    pub(crate) signed_off_at: Option<String>,
    pub(crate) days_after_sign_off: Option<i64>,
    pub(crate) within_deadline: Option<bool>,
    /// From sign-off to the change, exactly (days are whole and would hide 23 hours).
    #[serde(skip)]
    elapsed: Option<chrono::TimeDelta>,
}

#[derive(Debug, Serialize)]
pub(crate) struct VerifyRow {
    pub(crate) at: String,
    pub(crate) plan_id: String,
    pub(crate) verified: u64,
    pub(crate) not_verified: u64,
    pub(crate) unverifiable: u64,
}

fn text(v: &serde_json::Map<String, Value>, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Revocations {
    pub(crate) fn add_change(&mut self, at: DateTime<Utc>, r: &Record) {
        let s = &r.summary;
        let signed = s
            .get("signed_off_at")
            .and_then(Value::as_str)
            .and_then(crate::timestamp::parse_timestamp);
        let status = text(s, "status");
        let made = matches!(status.as_str(), "applied" | "already_gone");
        let elapsed = signed.filter(|_| made).map(|t| at - t);
        let action = s
            .get("action")
            .and_then(|a| a.get("kind"))
            .and_then(Value::as_str);
        self.changes.push(ChangeRow {
            at: r.at.clone(),
            plan_id: text(s, "plan_id"),
            change_id: text(s, "change_id"),
            row_key: text(s, "row_key"),
            action: action.unwrap_or("?").to_string(),
            status,
            signed_off_at: signed.map(|t| crate::model::format_time(&t)),
            days_after_sign_off: elapsed.map(|e| e.num_days()),
            within_deadline: None,
            elapsed,
        });
    }

    pub(crate) fn add_verify(&mut self, r: &Record) {
        let num = |k: &str| r.summary.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.verifications.push(VerifyRow {
            at: r.at.clone(),
            plan_id: text(&r.summary, "plan_id"),
            verified: num("verified"),
            not_verified: num("not_verified"),
            unverifiable: num("unverifiable"),
        });
    }

    /// Judge every change against the deadline and count changes (not attempts): a change
    /// counts by its latest record in the period.
    pub(crate) fn finish(mut self, revoke_within_days: u32) -> Revocations {
        self.revoke_within_days = revoke_within_days;
        let limit = chrono::Duration::days(i64::from(revoke_within_days));
        for c in &mut self.changes {
            c.within_deadline = c.elapsed.map(|e| e <= limit);
        }
        let mut latest: std::collections::BTreeMap<(&str, &str), &ChangeRow> = Default::default();
        for c in &self.changes {
            latest.insert((c.plan_id.as_str(), c.change_id.as_str()), c);
        }
        let made = latest.values().filter(|c| c.elapsed.is_some()).count();
        let late = latest
            .values()
            .filter(|c| c.within_deadline == Some(false))
            .count();
        self.not_made = latest.len() - made;
        self.made = made;
        self.late = late;
        self
    }
}

pub(super) fn html(h: &mut String, r: &Revocations) {
    let _ = write!(
        h,
        "<h2>Revocations (due within {} days of sign-off)</h2>",
        r.revoke_within_days
    );
    if r.changes.is_empty() {
        h.push_str("<p>No change was made with <code>remediate apply</code> in the period.</p>");
    } else {
        let _ = write!(
            h,
            "<p>{} made, {} of them late; {} not made (yet).</p>\
             <table><thead><tr><th>When</th><th>Account</th><th>Change</th><th>Result</th>\
             <th>Days after sign-off</th></tr></thead><tbody>",
            r.made, r.late, r.not_made
        );
        for c in &r.changes {
            let days = match (c.days_after_sign_off, c.within_deadline) {
                (Some(d), Some(false)) => format!("{d} (late)"),
                (Some(d), _) => d.to_string(),
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                human(&c.at),
                esc(&c.row_key),
                esc(&c.action),
                esc(&c.status),
                esc(&days)
            );
        }
        h.push_str("</tbody></table>");
    }
    for v in &r.verifications {
        let _ = write!(
            h,
            "<p>Verified {} (plan {}): {} verified, {} not verified, {} unverifiable.</p>",
            human(&v.at),
            esc(&v.plan_id),
            v.verified,
            v.not_verified,
            v.unverifiable
        );
    }
}
