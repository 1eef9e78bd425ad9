//! Access-review rules (CONTRACT section 5): one file per rule, each a plain function of
//! (account, as_of, settings), and the registry that runs them all.

mod admin_without_2fa;
mod expired_membership;
mod pending_invite;
mod stale_login;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use admin_without_2fa::AdminWithout2fa;
pub use expired_membership::ExpiredMembership;
pub use pending_invite::PendingInvite;
pub use stale_login::StaleLogin;

use crate::model::{Account, Finding, Outcome, Severity};

/// What `access-audit rules` prints about a rule, and what reports cite.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    pub default_severity: Severity,
    /// One sentence: what the rule checks.
    pub checks: &'static str,
    /// The compliance controls this rule evidences.
    pub references: &'static [&'static str],
}

/// A rule firing on one account, before it is dressed up as a [`Finding`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub outcome: Outcome,
    pub detail: String,
}

impl Hit {
    pub fn fail(detail: String) -> Hit {
        Hit {
            outcome: Outcome::Fail,
            detail,
        }
    }
}

/// `[rules.*]` of the config file. Every table is optional; every key has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSettings {
    pub stale_login: StaleLogin,
    pub pending_invite: PendingInvite,
    pub admin_without_2fa: AdminWithout2fa,
    pub expired_membership: ExpiredMembership,
}

/// Every rule, in the order reports list them.
pub const RULES: [RuleInfo; 4] = [
    stale_login::INFO,
    pending_invite::INFO,
    admin_without_2fa::INFO,
    expired_membership::INFO,
];

pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// A rule as configured for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRule {
    pub id: &'static str,
    pub severity: Severity,
}

impl RuleSettings {
    /// Rules that are enabled, with the severity they report at.
    pub fn active(&self) -> Vec<ActiveRule> {
        let mut out = Vec::new();
        let mut push = |enabled: bool, id: &'static str, severity: Option<Severity>| {
            if enabled {
                let severity = severity.unwrap_or_else(|| {
                    rule_info(id).map_or(Severity::Medium, |r| r.default_severity)
                });
                out.push(ActiveRule { id, severity });
            }
        };
        push(
            self.stale_login.enabled,
            stale_login::INFO.id,
            self.stale_login.severity,
        );
        push(
            self.pending_invite.enabled,
            pending_invite::INFO.id,
            self.pending_invite.severity,
        );
        push(
            self.admin_without_2fa.enabled,
            admin_without_2fa::INFO.id,
            self.admin_without_2fa.severity,
        );
        push(
            self.expired_membership.enabled,
            expired_membership::INFO.id,
            self.expired_membership.severity,
        );
        out
    }
}

/// Stable fingerprint of a finding: rule + source name + scope + account id. Nothing that changes
/// from run to run (day counts, names) goes in, so suppressions and baselines can key on it.
pub fn finding_id(rule: &str, source_name: &str, scope: &str, account_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [rule, source_name, scope, account_id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..10])
}

/// Run every enabled rule over every account.
pub fn evaluate(
    accounts: &[Account],
    as_of: DateTime<Utc>,
    settings: &RuleSettings,
) -> Vec<Finding> {
    let active = settings.active();
    let mut findings = Vec::new();
    for account in accounts {
        for rule in &active {
            let hit = match rule.id {
                "stale_login" => stale_login::check(account, as_of, &settings.stale_login),
                "pending_invite" => pending_invite::check(account, as_of, &settings.pending_invite),
                "admin_without_2fa" => {
                    admin_without_2fa::check(account, as_of, &settings.admin_without_2fa)
                }
                "expired_membership" => {
                    expired_membership::check(account, as_of, &settings.expired_membership)
                }
                _ => None,
            };
            if let Some(hit) = hit {
                findings.push(Finding {
                    id: finding_id(
                        rule.id,
                        &account.source_name,
                        &account.scope,
                        &account.account_id,
                    ),
                    rule: rule.id,
                    severity: rule.severity,
                    outcome: hit.outcome,
                    source: account.source,
                    source_name: account.source_name.clone(),
                    scope: account.scope.clone(),
                    account_id: account.account_id.clone(),
                    email: account.email.clone(),
                    name: account.name.clone(),
                    role: account.role.clone(),
                    status: account.status.clone(),
                    last_seen_at: account.last_seen_at,
                    detail: hit.detail,
                    suppressed: false,
                    suppression: None,
                    change: None,
                    first_seen: None,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    use crate::model::{Account, SourceKind};

    pub fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    pub fn account() -> Account {
        Account {
            source: SourceKind::Sentry,
            source_name: "sentry".into(),
            scope: "acme".into(),
            account_id: "1".into(),
            user_id: Some("10".into()),
            email: Some("a@example.com".into()),
            name: Some("A".into()),
            role: Some("member".into()),
            privileged: false,
            status: "active".into(),
            mfa: Some(true),
            last_login_at: None,
            last_active_at: None,
            last_seen_at: None,
            invited_at: None,
            created_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, as_of};

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = finding_id("stale_login", "sentry", "acme", "1");
        assert_eq!(a, finding_id("stale_login", "sentry", "acme", "1"));
        assert_ne!(a, finding_id("stale_login", "sentry", "acme", "2"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            finding_id("r", "ab", "c", "1"),
            finding_id("r", "a", "bc", "1")
        );
        assert_eq!(a.len(), 20);
    }

    #[test]
    fn disabled_rules_do_not_run_and_severity_is_configurable() {
        let mut acct = account();
        acct.status = "expired".into();
        let mut settings = RuleSettings::default();
        let f = evaluate(std::slice::from_ref(&acct), as_of(), &settings);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        settings.expired_membership.severity = Some(Severity::Critical);
        assert_eq!(
            evaluate(std::slice::from_ref(&acct), as_of(), &settings)[0].severity,
            Severity::Critical
        );
        settings.expired_membership.enabled = false;
        assert!(evaluate(std::slice::from_ref(&acct), as_of(), &settings).is_empty());
    }
}
