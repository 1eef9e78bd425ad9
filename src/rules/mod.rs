//! Access-review rules. Every rule is a type implementing [`Rule`]: it owns
//! its [`RuleInfo`] (id, severity, compliance references), its `[rules.<id>]` settings, their
//! validation, what it needs from the run ([`Needs`]) and its evaluation. The registry below
//! lists every rule once; everything else — `rule_info`, the report's rule order,
//! `access-audit rules`, `check-config` — walks that list.

#[macro_use]
mod registry;

pub(crate) mod admin_without_2fa;
mod detail_text;
pub(crate) mod expired_membership;
pub(crate) mod flags;
pub(crate) mod listing;
pub(crate) mod pending_invite;
pub(crate) mod roster_rules;
pub(crate) mod scope_rules;
pub(crate) mod stale_login;

// The registry: every rule, once, in the order reports list them. The field name is the rule's
// id (`registry_walk` checks it against each rule's `RuleInfo`).
registry! {
    stale_login: stale_login::StaleLogin,
    pending_invite: pending_invite::PendingInvite,
    admin_without_2fa: admin_without_2fa::AdminWithout2fa,
    expired_membership: expired_membership::ExpiredMembership,
    sso_invalid: flags::SsoInvalid,
    seat_restricted: flags::SeatRestricted,
    sso_not_linked: flags::SsoNotLinked,
    inactive_still_listed: listing::InactiveStillListed,
    external_domain: listing::ExternalDomain,
    owner_count: scope_rules::OwnerCount,
    admin_sprawl: scope_rules::AdminSprawl,
    orphaned_account: roster_rules::OrphanedAccount,
    left_with_access: roster_rules::LeftWithAccess,
    access_past_end_date: roster_rules::AccessPastEndDate,
}

use std::ops::BitOr;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub(crate) use registry::{ActiveRule, rule_info, rule_infos};

use crate::model::{Account, AccountSubject, Finding, Outcome, RuleId, Severity, Subject};
use crate::people::Roster;
pub(crate) use detail_text::DetailText;

/// What `access-audit rules` prints about a rule, and what reports cite.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Also the key of the rule's `[rules.<id>]` table and of its findings.
    pub id: RuleId,
    pub default_severity: Severity,
    /// What the rule evaluates: the denominator of "59 of 212 active accounts".
    pub population: Population,
    /// One sentence: what the rule checks, with its default thresholds.
    pub checks: &'static str,
    /// The compliance controls this rule evidences.
    pub references: &'static [&'static str],
}

/// What a rule looks at, so a report can say how many it evaluated and how many passed.
#[derive(Debug, Clone, Copy)]
pub enum Population {
    /// Accounts, named as a plural noun ("active accounts"), and which ones. Every account the
    /// rule can fire on is in it (`registry_walk` checks).
    Accounts(&'static str, fn(&Account) -> bool),
    /// Whole scopes, named ("organizations"); which ones is the rule's
    /// [`Rule::evaluates_scope`].
    Scopes(&'static str),
}

impl Population {
    /// "active accounts", "organizations".
    pub fn noun(&self) -> &'static str {
        match self {
            Population::Accounts(noun, _) | Population::Scopes(noun) => noun,
        }
    }
}

/// The population of most account rules.
fn is_active(account: &Account) -> bool {
    account.status == crate::model::AccountStatus::Active
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

/// What a rule needs from the run besides the accounts, as a set of flags. A rule whose needs
/// the run does not provide does not run and is not listed as active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs(u8);

impl Needs {
    pub const NOTHING: Needs = Needs(0);
    /// The people roster ([`Context::roster`]); a run has one only when `[roster]` is configured.
    pub const ROSTER: Needs = Needs(1);
    /// Each Sentry organization's settings, fetched with its members (as account flags).
    pub const ORG_SETTINGS: Needs = Needs(1 << 1);

    /// What a run provides: organization settings always, because the run fetches them whenever
    /// an enabled rule needs them ([`RuleSettings::needs`]); the roster only when one is configured.
    pub fn provided(roster: bool) -> Needs {
        if roster {
            Needs::ORG_SETTINGS | Needs::ROSTER
        } else {
            Needs::ORG_SETTINGS
        }
    }

    /// Whether every flag of `other` is in `self`.
    pub fn contains(self, other: Needs) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Needs {
    type Output = Needs;
    fn bitor(self, other: Needs) -> Needs {
        Needs(self.0 | other.0)
    }
}

/// What the run gives every rule besides the accounts.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The moment the review is made as of; ages are measured to it.
    pub as_of: DateTime<Utc>,
    /// The people roster, when one is configured.
    pub roster: Option<&'a Roster>,
}

impl Context<'_> {
    pub fn provides(&self) -> Needs {
        Needs::provided(self.roster.is_some())
    }
}

/// A run without a roster, as of the given moment.
impl From<DateTime<Utc>> for Context<'_> {
    fn from(as_of: DateTime<Utc>) -> Self {
        Context {
            as_of,
            roster: None,
        }
    }
}

/// A `[rules.<id>]` value that parses but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The key within the rule's table, such as `max_owners`.
    pub key: &'static str,
    pub message: String,
}

/// A rule as its `[rules.<id>]` settings configure it: the settings struct is the rule. Account
/// rules implement `check`, rules over a whole scope `check_scope`.
pub trait Rule {
    fn info(&self) -> &'static RuleInfo;
    fn enabled(&self) -> bool;
    /// The configured severity, if the default is overridden.
    fn severity(&self) -> Option<Severity>;
    /// What the rule needs from the run; it runs only where the run provides all of it.
    fn needs(&self) -> Needs {
        Needs::NOTHING
    }
    /// Settings that parse but contradict each other or make no sense.
    fn validate(&self) -> Result<(), InvalidSetting> {
        Ok(())
    }
    /// The rule's own settings in force, such as `("max_pending_days", 7)`; empty if none.
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
    /// What `check-config` shows, such as `max_pending_days = 7`; empty if no settings.
    fn describe_settings(&self) -> String {
        let settings = self.settings();
        let shown: Vec<String> = settings.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        shown.join(", ")
    }
    /// What the rule checks with the thresholds in force, for reports: a rule with settings
    /// says its configured values, not its defaults.
    fn criteria(&self) -> String {
        self.info().checks.to_string()
    }
    /// Whether a scope rule evaluates the scope of `accounts` (never called for account rules).
    fn evaluates_scope(&self, accounts: &[Account]) -> bool {
        !accounts.is_empty()
    }
    fn check(&self, _account: &Account, _context: &Context) -> Option<Hit> {
        None
    }
    fn check_scope(&self, _accounts: &[Account], _context: &Context) -> Option<Hit> {
        None
    }
}

/// The severity a rule reports at: configured, or its default.
fn severity_of(rule: &dyn Rule) -> Severity {
    rule.severity().unwrap_or(rule.info().default_severity)
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

/// Stable fingerprint of a finding: rule + source name + scope + account id. Nothing that changes
/// from run to run (day counts, names) goes in, so suppressions and baselines can key on it.
pub(crate) fn finding_id(rule: &str, source_name: &str, scope: &str, account_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [rule, source_name, scope, account_id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..10])
}

/// Run every rule that can run over the accounts of one scope: account rules on each account,
/// scope rules on the scope as a whole. A bare `as_of` converts to a context without a roster.
pub fn evaluate<'a>(
    accounts: &[Account],
    context: impl Into<Context<'a>>,
    settings: &RuleSettings,
) -> Vec<Finding> {
    evaluate_scope(accounts, context, settings).findings
}

/// What the rules made of one scope: their findings, and how many accounts (or scopes) each
/// rule evaluated.
#[derive(Debug, Default)]
pub struct Evaluated {
    pub findings: Vec<Finding>,
    /// Per rule that ran, in registry order: the size of its population in this scope.
    pub evaluated: Vec<(RuleId, usize)>,
}

/// [`evaluate`], counting each rule's population as it goes.
pub fn evaluate_scope<'a>(
    accounts: &[Account],
    context: impl Into<Context<'a>>,
    settings: &RuleSettings,
) -> Evaluated {
    evaluate_scope_sharing(accounts, context, settings, &mut DetailText::default())
}

/// [`evaluate_scope`], the findings' details shared through `details` with those of the
/// scopes evaluated before with it.
pub(crate) fn evaluate_scope_sharing<'a>(
    accounts: &[Account],
    context: impl Into<Context<'a>>,
    settings: &RuleSettings,
    details: &mut DetailText,
) -> Evaluated {
    let context = context.into();
    let rules: Vec<(&dyn Rule, Severity)> = settings
        .runnable(context.provides())
        .map(|r| (r, severity_of(r)))
        .collect();
    let mut evaluated = vec![0usize; rules.len()];
    let mut findings = Vec::new();
    for account in accounts {
        for ((rule, severity), count) in rules.iter().zip(evaluated.iter_mut()) {
            if let Population::Accounts(_, member) = rule.info().population
                && member(account)
            {
                *count += 1;
            }
            if let Some(hit) = rule.check(account, &context) {
                findings.push(finding(
                    rule.info().id,
                    *severity,
                    hit,
                    account,
                    false,
                    details,
                ));
            }
        }
    }
    if let Some(first) = accounts.first() {
        for ((rule, severity), count) in rules.iter().zip(evaluated.iter_mut()) {
            if matches!(rule.info().population, Population::Scopes(_))
                && rule.evaluates_scope(accounts)
            {
                *count += 1;
            }
            if let Some(hit) = rule.check_scope(accounts, &context) {
                findings.push(finding(
                    rule.info().id,
                    *severity,
                    hit,
                    first,
                    true,
                    details,
                ));
            }
        }
    }
    Evaluated {
        findings,
        evaluated: rules
            .iter()
            .map(|(r, _)| r.info().id)
            .zip(evaluated)
            .collect(),
    }
}

/// A finding about `account`, or (`whole_scope`) about the scope `account` belongs to.
fn finding(
    rule: RuleId,
    severity: Severity,
    hit: Hit,
    account: &Account,
    whole_scope: bool,
    details: &mut DetailText,
) -> Finding {
    let subject = if whole_scope {
        Subject::Scope
    } else {
        Subject::Account(AccountSubject::of(account))
    };
    Finding {
        id: finding_id(
            rule.as_str(),
            &account.source_name,
            &account.scope,
            subject.account_id(),
        ),
        rule,
        severity,
        outcome: hit.outcome,
        source: account.source,
        source_name: account.source_name.clone(),
        scope: account.scope.clone(),
        subject,
        detail: details.share(&hit.detail),
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

    pub(crate) fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    /// A run without a roster, as of [`as_of`].
    pub(crate) fn context() -> super::Context<'static> {
        as_of().into()
    }

    pub(crate) fn account() -> Account {
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
        assert_eq!(scope[0].subject, Subject::Scope);
        assert_eq!(scope[0].id, finding_id("owner_count", "sentry", "acme", ""));
        assert!(evaluate(&[], as_of(), &settings).is_empty());
    }

    #[test]
    fn a_framework_keeps_only_its_rules() {
        let mut settings = RuleSettings::default();
        settings.inactive_still_listed.enabled = true;
        settings.owner_count.enabled = true;
        settings.framework = Some(Framework::Pci);
        let ids: Vec<&str> = settings.active().iter().map(|r| r.id.as_str()).collect();
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

#[cfg(test)]
mod config_tests;
