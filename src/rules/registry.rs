//! The registry: every rule, once, in the order reports list them. A line here is all a new rule
//! needs besides its own file: it gives the rule its `[rules.<id>]` table (a field of
//! [`RuleSettings`] named by the id) and its place in [`RuleSettings::all`], from which
//! [`rule_info`], [`rule_infos`], the active rules and what the run must provide all derive.

use serde::Deserialize;

use super::{
    AccessPastEndDate, AdminSprawl, AdminWithout2fa, ExpiredMembership, ExternalDomain, Framework,
    InactiveStillListed, LeftWithAccess, Needs, OrphanedAccount, OwnerCount, PendingInvite, Rule,
    RuleInfo, SeatRestricted, SsoInvalid, SsoNotLinked, StaleLogin, severity_of,
};
use crate::model::Severity;

/// Declares [`RuleSettings`] (one field per rule) and [`RuleSettings::all`] from one list, so
/// the settings tables and the rules that run cannot drift apart.
macro_rules! registry {
    ($($id:ident: $rule:ty,)+) => {
        /// `[rules.*]` of the config file: one table per rule, named by its id. Every table is
        /// optional; every key has a default.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct RuleSettings {
            $(pub $id: $rule,)+
            /// Evaluate only the rules that evidence this framework (`--framework`).
            #[serde(skip)]
            pub framework: Option<Framework>,
        }

        /// How many rules there are.
        pub const RULE_COUNT: usize = [$(stringify!($id)),+].len();

        impl RuleSettings {
            /// Every rule with its settings, in the order reports list them.
            pub fn all(&self) -> [&dyn Rule; RULE_COUNT] {
                [$(&self.$id),+]
            }
        }
    };
}

// The field name is the rule's id: `registry_walk` checks it against each rule's `RuleInfo`.
registry! {
    stale_login: StaleLogin,
    pending_invite: PendingInvite,
    admin_without_2fa: AdminWithout2fa,
    expired_membership: ExpiredMembership,
    sso_invalid: SsoInvalid,
    seat_restricted: SeatRestricted,
    sso_not_linked: SsoNotLinked,
    inactive_still_listed: InactiveStillListed,
    external_domain: ExternalDomain,
    owner_count: OwnerCount,
    admin_sprawl: AdminSprawl,
    orphaned_account: OrphanedAccount,
    left_with_access: LeftWithAccess,
    access_past_end_date: AccessPastEndDate,
}

/// A rule as configured for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRule {
    pub id: &'static str,
    pub severity: Severity,
}

/// Every rule's [`RuleInfo`], in the order reports list them.
pub fn rule_infos() -> [&'static RuleInfo; RULE_COUNT] {
    RuleSettings::default().all().map(|r| r.info())
}

pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    rule_infos().into_iter().find(|r| r.id == id)
}

impl RuleSettings {
    /// The rules this config turns on: enabled, and in the framework if one is chosen.
    fn enabled_rules(&self) -> impl Iterator<Item = &dyn Rule> {
        self.all()
            .into_iter()
            .filter(|r| r.enabled() && self.framework.is_none_or(|f| f.covers(r.info())))
    }

    /// What the enabled rules need from the run: it fetches organization settings only when
    /// this says so.
    pub fn needs(&self) -> Needs {
        self.enabled_rules()
            .fold(Needs::NOTHING, |needs, r| needs | r.needs())
    }

    /// The rules that run when the run provides `provided`: enabled, and their needs met.
    pub fn runnable(&self, provided: Needs) -> impl Iterator<Item = &dyn Rule> {
        self.enabled_rules()
            .filter(move |r| provided.contains(r.needs()))
    }

    /// The rules that run, with the severity they report at, given what the run provides.
    pub fn active_with(&self, provided: Needs) -> Vec<ActiveRule> {
        self.runnable(provided)
            .map(|r| ActiveRule {
                id: r.info().id,
                severity: severity_of(r),
            })
            .collect()
    }

    /// The rules that run in a run without a roster.
    pub fn active(&self) -> Vec<ActiveRule> {
        self.active_with(Needs::provided(false))
    }

    /// The first setting, in registry order, that parses but cannot be used: its config key
    /// path (`rules.<id>.<key>`) and why.
    pub fn validate(&self) -> Result<(), ([&'static str; 3], String)> {
        for rule in self.all() {
            rule.validate()
                .map_err(|e| (["rules", rule.info().id, e.key], e.message))?;
        }
        Ok(())
    }
}

/// "A new rule is one file plus a registry line": whatever the registry lists is checked here
/// for what the rest of the program assumes of every rule, without naming any rule.
#[cfg(test)]
mod registry_walk {
    use std::collections::BTreeSet;

    use clap::ValueEnum;

    use super::*;

    fn parse(toml: &str) -> RuleSettings {
        match toml::from_str(toml) {
            Ok(settings) => settings,
            Err(e) => panic!("{toml:?} does not parse: {e}"),
        }
    }

    fn find<'a>(settings: &'a RuleSettings, id: &str) -> &'a dyn Rule {
        let found = settings.all().into_iter().find(|r| r.info().id == id);
        found.unwrap_or_else(|| panic!("{id} is not in the registry"))
    }

    #[test]
    fn every_rule_is_listed_once_and_found_by_its_id() {
        let defaults = RuleSettings::default();
        let ids: BTreeSet<&str> = defaults.all().iter().map(|r| r.info().id).collect();
        assert_eq!(ids.len(), RULE_COUNT, "ids are unique");
        for (rule, info) in defaults.all().into_iter().zip(rule_infos()) {
            let id = rule.info().id;
            assert!(std::ptr::eq(rule.info(), info), "{id}: rule_infos order");
            assert!(rule_info(id).is_some_and(|i| std::ptr::eq(i, info)), "{id}");
            assert!(!info.checks.is_empty(), "{id} says what it checks");
        }
        assert!(rule_info("no_such_rule").is_none());
    }

    #[test]
    fn every_rule_cites_controls_that_a_framework_selects() {
        for info in rule_infos() {
            assert!(!info.references.is_empty(), "{} has references", info.id);
            for reference in info.references {
                let covered = Framework::value_variants()
                    .iter()
                    .any(|f| reference.starts_with(f.prefix()));
                assert!(covered, "{}: `{reference}` is in no framework", info.id);
            }
        }
    }

    /// The table named by the id configures that rule, and only that rule.
    #[test]
    fn every_rule_owns_the_settings_table_named_by_its_id() {
        for id in rule_infos().map(|i| i.id) {
            let empty = parse(&format!("[{id}]\n"));
            assert_eq!(
                find(&empty, id).enabled(),
                find(&RuleSettings::default(), id).enabled(),
                "{id}: an empty table keeps the defaults"
            );
            let set = parse(&format!(
                "[{id}]\nenabled = false\nseverity = \"critical\"\n"
            ));
            for rule in set.all() {
                let mine = rule.info().id == id;
                assert_eq!(
                    rule.severity().is_some(),
                    mine,
                    "{id} sets {}",
                    rule.info().id
                );
                assert_eq!(
                    rule.enabled(),
                    !mine && find(&empty, rule.info().id).enabled()
                );
            }
            let unknown = toml::from_str::<RuleSettings>(&format!("[{id}]\nno_such_key = 1\n"));
            assert!(unknown.is_err(), "{id}: unknown keys are errors");
        }
    }

    #[test]
    fn defaults_are_valid_and_describable() {
        let defaults = RuleSettings::default();
        assert_eq!(defaults.validate(), Ok(()));
        for rule in defaults.all() {
            // check-config prints the description on the rule's line.
            assert!(
                !rule.describe_settings().contains('\n'),
                "{}",
                rule.info().id
            );
        }
    }
}
