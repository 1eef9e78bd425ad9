//! Access-review rules (CONTRACT section 5): one file per rule, each a plain function of
//! (account, as_of, settings), and the registry that runs them all.

mod admin_without_2fa;
mod expired_membership;
mod flags;
mod listing;
mod pending_invite;
mod roster_rules;
mod scope_rules;
mod stale_login;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use admin_without_2fa::AdminWithout2fa;
pub use expired_membership::ExpiredMembership;
pub use flags::{SeatRestricted, SsoInvalid, SsoNotLinked};
pub use listing::{ExternalDomain, InactiveStillListed};
pub use pending_invite::PendingInvite;
pub use roster_rules::RosterRule;
pub use scope_rules::{AdminSprawl, OwnerCount};
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

/// A rule firing on one account (or one scope), before it is dressed up as a [`Finding`].
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

/// A rule as its `[rules.<id>]` settings configure it. Account rules implement `check`, rules
/// over a whole scope `check_scope`.
pub trait Rule {
    fn info(&self) -> &'static RuleInfo;
    fn enabled(&self) -> bool;
    /// The configured severity, if the default is overridden.
    fn severity(&self) -> Option<Severity>;
    fn check(&self, _account: &Account, _as_of: DateTime<Utc>) -> Option<Hit> {
        None
    }
    fn check_scope(&self, _accounts: &[Account], _as_of: DateTime<Utc>) -> Option<Hit> {
        None
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
    pub sso_invalid: SsoInvalid,
    pub seat_restricted: SeatRestricted,
    pub sso_not_linked: SsoNotLinked,
    pub inactive_still_listed: InactiveStillListed,
    pub external_domain: ExternalDomain,
    pub owner_count: OwnerCount,
    pub admin_sprawl: AdminSprawl,
    pub orphaned_account: RosterRule,
    pub left_with_access: RosterRule,
    pub access_past_end_date: RosterRule,
    /// The people roster, when one is configured; the roster rules run only then.
    #[serde(skip)]
    pub roster: Option<std::sync::Arc<crate::people::Roster>>,
    /// Evaluate only the rules that evidence this framework (`--framework`).
    #[serde(skip)]
    pub framework: Option<Framework>,
}

/// Every rule, in the order reports list them.
pub const RULES: [RuleInfo; 14] = [
    stale_login::INFO,
    pending_invite::INFO,
    admin_without_2fa::INFO,
    expired_membership::INFO,
    flags::SSO_INVALID,
    flags::SEAT_RESTRICTED,
    flags::SSO_NOT_LINKED,
    listing::INACTIVE_STILL_LISTED,
    listing::EXTERNAL_DOMAIN,
    scope_rules::OWNER_COUNT,
    scope_rules::ADMIN_SPRAWL,
    roster_rules::ORPHANED_ACCOUNT,
    roster_rules::LEFT_WITH_ACCESS,
    roster_rules::ACCESS_PAST_END_DATE,
];

/// Rules that run only when a people roster is configured (and then by default).
pub const ROSTER_RULES: [&str; 3] = [
    roster_rules::ORPHANED_ACCOUNT.id,
    roster_rules::LEFT_WITH_ACCESS.id,
    roster_rules::ACCESS_PAST_END_DATE.id,
];

pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// Compliance frameworks the rules are mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framework {
    /// SOC 2 (Trust Services Criteria CC6)
    Soc2,
    /// ISO/IEC 27001:2022 Annex A
    Iso27001,
    /// PCI DSS v4.0
    Pci,
}

impl Framework {
    fn prefix(self) -> &'static str {
        match self {
            Framework::Soc2 => "SOC 2 ",
            Framework::Iso27001 => "ISO/IEC 27001",
            Framework::Pci => "PCI DSS",
        }
    }

    pub fn covers(self, rule: &RuleInfo) -> bool {
        rule.references.iter().any(|r| r.starts_with(self.prefix()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Framework::Soc2 => "SOC 2",
            Framework::Iso27001 => "ISO/IEC 27001:2022",
            Framework::Pci => "PCI DSS v4.0",
        }
    }
}

/// A rule as configured for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRule {
    pub id: &'static str,
    pub severity: Severity,
}

impl RuleSettings {
    /// Every rule with its settings, in [`RULES`] order.
    pub fn all(&self) -> [&dyn Rule; 11] {
        [
            &self.stale_login,
            &self.pending_invite,
            &self.admin_without_2fa,
            &self.expired_membership,
            &self.sso_invalid,
            &self.seat_restricted,
            &self.sso_not_linked,
            &self.inactive_still_listed,
            &self.external_domain,
            &self.owner_count,
            &self.admin_sprawl,
        ]
    }

    fn enabled_rules(&self) -> impl Iterator<Item = &dyn Rule> {
        self.all()
            .into_iter()
            .filter(|r| r.enabled() && self.framework.is_none_or(|f| f.covers(r.info())))
    }

    /// Rules that are enabled, with the severity they report at.
    pub fn active(&self) -> Vec<ActiveRule> {
        let mut active: Vec<ActiveRule> = self
            .enabled_rules()
            .map(|r| ActiveRule {
                id: r.info().id,
                severity: r.severity().unwrap_or(r.info().default_severity),
            })
            .collect();
        active.extend(self.roster_rules().map(|(info, severity)| ActiveRule {
            id: info.id,
            severity,
        }));
        active
    }

    /// The roster rules that run: enabled, in the framework, and only with a roster.
    fn roster_rules(&self) -> impl Iterator<Item = (&'static RuleInfo, Severity)> + '_ {
        [
            (&roster_rules::ORPHANED_ACCOUNT, &self.orphaned_account),
            (&roster_rules::LEFT_WITH_ACCESS, &self.left_with_access),
            (
                &roster_rules::ACCESS_PAST_END_DATE,
                &self.access_past_end_date,
            ),
        ]
        .into_iter()
        .filter(|(info, s)| {
            self.roster.is_some() && s.enabled && self.framework.is_none_or(|f| f.covers(info))
        })
        .map(|(info, s)| (info, s.severity.unwrap_or(info.default_severity)))
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

/// Run every enabled rule over the accounts of one scope (account rules on each account, scope
/// rules on the scope as a whole).
pub fn evaluate(
    accounts: &[Account],
    as_of: DateTime<Utc>,
    settings: &RuleSettings,
) -> Vec<Finding> {
    let rules: Vec<(&dyn Rule, Severity)> = settings
        .enabled_rules()
        .map(|r| (r, r.severity().unwrap_or(r.info().default_severity)))
        .collect();
    let mut findings = Vec::new();
    for account in accounts {
        for (rule, severity) in &rules {
            if let Some(hit) = rule.check(account, as_of) {
                findings.push(finding(rule.info().id, *severity, hit, account, false));
            }
        }
    }
    if let Some(roster) = &settings.roster {
        let roster_rules: Vec<(&'static RuleInfo, Severity)> = settings.roster_rules().collect();
        for account in accounts {
            for (info, severity) in &roster_rules {
                let hit = match info.id {
                    "orphaned_account" => roster_rules::orphaned(account, roster),
                    "left_with_access" => roster_rules::left(account, roster),
                    _ => roster_rules::past_end_date(account, roster, as_of),
                };
                if let Some(hit) = hit {
                    findings.push(finding(info.id, *severity, hit, account, false));
                }
            }
        }
    }
    if let Some(first) = accounts.first() {
        for (rule, severity) in &rules {
            if let Some(hit) = rule.check_scope(accounts, as_of) {
                findings.push(finding(rule.info().id, *severity, hit, first, true));
            }
        }
    }
    findings
}

/// A finding about `account`, or (`whole_scope`) about the scope `account` belongs to.
fn finding(
    rule: &'static str,
    severity: Severity,
    hit: Hit,
    account: &Account,
    whole_scope: bool,
) -> Finding {
    let account_id = if whole_scope {
        String::new()
    } else {
        account.account_id.clone()
    };
    Finding {
        id: finding_id(rule, &account.source_name, &account.scope, &account_id),
        rule,
        severity,
        outcome: hit.outcome,
        source: account.source,
        source_name: account.source_name.clone(),
        scope: account.scope.clone(),
        account_id,
        email: if whole_scope {
            None
        } else {
            account.email.clone()
        },
        name: if whole_scope {
            Some("(whole scope)".to_string())
        } else {
            account.name.clone()
        },
        role: if whole_scope {
            None
        } else {
            account.role.clone()
        },
        status: if whole_scope {
            String::new()
        } else {
            account.status.clone()
        },
        last_seen_at: if whole_scope {
            None
        } else {
            account.last_seen_at
        },
        detail: hit.detail,
        suppressed: false,
        suppression: None,
        change: None,
        first_seen: None,
    }
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
            flags: Vec::new(),
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

    #[test]
    fn scope_rules_give_one_finding_for_the_scope() {
        let mut settings = RuleSettings::default();
        settings.owner_count.enabled = true;
        let f = evaluate(&[account()], as_of(), &settings);
        let scope: Vec<&Finding> = f.iter().filter(|f| f.rule == "owner_count").collect();
        assert_eq!(scope.len(), 1);
        assert_eq!(
            (scope[0].account_id.as_str(), scope[0].name.as_deref()),
            ("", Some("(whole scope)"))
        );
        assert_eq!(scope[0].id, finding_id("owner_count", "sentry", "acme", ""));
        assert!(evaluate(&[], as_of(), &settings).is_empty());
    }

    #[test]
    fn a_framework_keeps_only_its_rules() {
        let mut settings = RuleSettings::default();
        settings.inactive_still_listed.enabled = true;
        settings.owner_count.enabled = true;
        settings.framework = Some(Framework::Pci);
        let ids: Vec<&str> = settings.active().iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            vec![
                "stale_login",
                "pending_invite",
                "admin_without_2fa",
                "expired_membership",
                "inactive_still_listed"
            ]
        );
        settings.framework = Some(Framework::Soc2);
        assert_eq!(settings.active().len(), 6);
    }
}
