//! `remediation/plan.html`: the plan as a person reviews it before `apply` — the review it
//! comes from, every change, every decision it does not act on and why. Self-contained,
//! script-free, printable; every value escaped.

use std::fmt::Write as _;

use super::plan::Plan;
use crate::access_review::page::{STYLE, esc};
use crate::model::format_human;

pub(crate) fn render(plan: &Plan, title: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Remediation plan {id}: {title}</title><style>{STYLE}</style></head><body>\
         <h1>Remediation plan {id}</h1><p class=\"muted\">{title} · made {made}</p>",
        id = esc(&plan.plan_id),
        title = esc(title),
        made = esc(&format_human(&plan.created_at)),
    );
    let r = &plan.review;
    let _ = write!(
        h,
        "<h2>From review {id}</h2><table><tbody>\
         <tr><th>Signed off by</th><td>{by}</td></tr><tr><th>Signed off at</th><td>{at}</td></tr>\
         <tr><th>report.json SHA-256</th><td><code>{report}</code></td></tr>\
         <tr><th>decisions SHA-256</th><td><code>{decisions}</code></td></tr>\
         <tr><th>Plan SHA-256</th><td><code>{digest}</code></td></tr></tbody></table>\
         <p>Every change below was decided in that review, and each account was read again when the plan \
         was made and still looked as the reviewer saw it. <code>remediate apply</code> reads each account \
         once more before changing it, sends nothing without <code>--yes</code>, and makes at most \
         <code>--max</code> changes.</p>",
        id = esc(&r.review_id),
        by = esc(&r.signed_off_by),
        at = esc(&format_human(&r.signed_off_at)),
        report = esc(&r.report_sha256),
        decisions = esc(&r.decisions_sha256),
        digest = esc(&plan.digest),
    );
    changes(&mut h, plan);
    refused(&mut h, plan);
    h.push_str("</body></html>\n");
    h
}

fn changes(h: &mut String, plan: &Plan) {
    let _ = write!(h, "<h2>Changes ({})</h2>", plan.changes.len());
    if plan.changes.is_empty() {
        h.push_str("<p>None: no decision of the review asks for a change that can be made.</p>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>#</th><th>Account</th><th>Where</th><th>Change</th>\
         <th>Decided by</th><th>Justification</th></tr></thead><tbody>",
    );
    for c in &plan.changes {
        let t = &c.target;
        let _ = write!(
            h,
            "<tr><td>{id}</td><td>{who}<br><span class=\"muted\">{email}</span></td><td>{src}/{scope}<br>\
             <span class=\"muted\">account {account}</span></td><td>{what}</td><td>{reviewer}<br>\
             <span class=\"muted\">{at}</span></td><td>{why}</td></tr>",
            id = esc(&c.id),
            who = esc(t.name.as_deref().unwrap_or("")),
            email = esc(t.email.as_deref().unwrap_or("")),
            src = esc(&t.source_name),
            scope = esc(&t.scope),
            account = esc(&t.account_id),
            what = esc(&c.action.describe(t)),
            reviewer = esc(&c.reviewer),
            at = esc(&format_human(&c.decided_at)),
            why = esc(c.justification.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody></table>");
}

fn refused(h: &mut String, plan: &Plan) {
    let _ = write!(
        h,
        "<h2>Decisions not acted on ({})</h2>",
        plan.refused.len()
    );
    if plan.refused.is_empty() {
        h.push_str("<p>None.</p>");
        return;
    }
    h.push_str(
        "<table><thead><tr><th>Account</th><th>Where</th><th>Decision</th><th>Decided by</th>\
         <th>Why not</th></tr></thead><tbody>",
    );
    for r in &plan.refused {
        let t = &r.target;
        let decision = match &r.new_role {
            Some(role) => format!("{} → {role}", r.decision.as_str()),
            None => r.decision.as_str().to_string(),
        };
        let _ = write!(
            h,
            "<tr><td>{who}</td><td>{src}/{scope}<br><span class=\"muted\">account {account}</span></td>\
             <td>{decision}</td><td>{reviewer}</td><td>{why}</td></tr>",
            who = esc(t.email.as_deref().or(t.name.as_deref()).unwrap_or("")),
            src = esc(&t.source_name),
            scope = esc(&t.scope),
            account = esc(&t.account_id),
            decision = esc(&decision),
            reviewer = esc(&r.reviewer),
            why = esc(&r.reason),
        );
    }
    h.push_str("</tbody></table>");
}
