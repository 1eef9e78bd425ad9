//! The registry's machinery. The list itself is the `registry!` call in `rules/mod.rs`, beside
//! the `mod` lines: a line there gives a rule its `[rules.<id>]` table (a field of
//! [`RuleSettings`] named by the id) and its place in [`RuleSettings::all`], from which
//! [`rule_info`], [`rule_infos`], the active rules and what the run must provide all derive.

use super::{Needs, RULE_COUNT, Rule, RuleInfo, RuleSettings, severity_of};
use crate::model::{RuleId, Severity};

/// Declares [`RuleSettings`] (one field per rule, named by the rule's id) and
/// [`RuleSettings::all`] from one list, so the settings tables and the rules that run cannot
/// drift apart. Paths are absolute: it expands in `rules/mod.rs`.
macro_rules! registry {
    ($($id:ident: $rule:ty,)+) => {
        /// `[rules.*]` of the config file: one table per rule, named by its id. Every table is
        /// optional; every key has a default.
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct RuleSettings {
            $(pub $id: $rule,)+
            /// Evaluate only the rules that evidence this framework (`--framework`).
            #[serde(skip)]
            pub framework: Option<$crate::rules::Framework>,
        }

        /// How many rules there are.
        pub(crate) const RULE_COUNT: usize = [$(stringify!($id)),+].len();

        impl RuleSettings {
            /// Every rule with its settings, in the order reports list them.
            pub fn all(&self) -> [&dyn $crate::rules::Rule; RULE_COUNT] {
                [$(&self.$id),+]
            }
        }
    };
}

/// A rule as configured for this run.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRule {
    pub id: RuleId,
    pub severity: Severity,
    /// What it checks, with the thresholds in force ([`Rule::criteria`]).
    pub criteria: String,
    /// Its settings in force, by key; empty for rules without settings.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl ActiveRule {
    fn of(rule: &dyn Rule) -> ActiveRule {
        ActiveRule {
            id: rule.info().id,
            severity: severity_of(rule),
            criteria: rule.criteria(),
            settings: rule
                .settings()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }
}

/// Every rule's [`RuleInfo`], in the order reports list them.
pub(crate) fn rule_infos() -> [&'static RuleInfo; RULE_COUNT] {
    RuleSettings::default().all().map(|r| r.info())
}

pub(crate) fn rule_info(id: &str) -> Option<&'static RuleInfo> {
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
        self.runnable(provided).map(ActiveRule::of).collect()
    }

    /// The rules that run in a run without a roster: what the config alone turns on. `run` and
    /// `check-config` say what they provide through [`RuleSettings::active_with`].
    pub fn active(&self) -> Vec<ActiveRule> {
        self.active_with(Needs::provided(false))
    }

    /// The first setting, in registry order, that parses but cannot be used: its config key
    /// path (`rules.<id>.<key>`) and why. The config loader calls this for `[rules.*]`.
    pub fn validate(&self) -> Result<(), ([&'static str; 3], String)> {
        for rule in self.all() {
            rule.validate()
                .map_err(|e| (["rules", rule.info().id.as_str(), e.key], e.message))?;
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
    use crate::rules::Framework;

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
        let ids: BTreeSet<&str> = defaults
            .all()
            .iter()
            .map(|r| r.info().id.as_str())
            .collect();
        assert_eq!(ids.len(), RULE_COUNT, "ids are unique");
        for (rule, info) in defaults.all().into_iter().zip(rule_infos()) {
            let id = rule.info().id.as_str();
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
        for id in rule_infos().map(|i| i.id.as_str()) {
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
                    !mine && find(&empty, rule.info().id.as_str()).enabled()
                );
            }
            let unknown = toml::from_str::<RuleSettings>(&format!("[{id}]\nno_such_key = 1\n"));
            assert!(unknown.is_err(), "{id}: unknown keys are errors");
        }
    }

    /// Accounts of every kind the rules distinguish: each status, privileged or not, with and
    /// without 2FA, flags, an email at home or abroad, seen recently, long ago or never.
    fn varied_accounts() -> Vec<crate::model::Account> {
        use chrono::TimeDelta;
        let mut out = Vec::new();
        let statuses = [
            "active",
            "invited",
            "expired",
            "suspended",
            "rejected",
            "odd",
        ];
        let seen = [None, Some(1), Some(400)];
        for (i, status) in statuses.iter().enumerate() {
            for privileged in [false, true] {
                for mfa in [None, Some(false), Some(true)] {
                    for days in seen {
                        for flags in [&[][..], &["sso:invalid", "member-limit:restricted"][..]] {
                            let mut a = crate::rules::test_support::account();
                            a.account_id = out.len().to_string().into();
                            a.status = (*status).into();
                            a.privileged = privileged;
                            a.mfa = mfa;
                            let as_of = crate::rules::test_support::as_of();
                            a.last_seen_at = days.map(|d| as_of - TimeDelta::days(d));
                            a.invited_at = days.map(|d| as_of - TimeDelta::days(d));
                            a.created_at = Some(as_of - TimeDelta::days(400));
                            a.flags = flags.iter().map(|f| (*f).into()).collect();
                            a.flags.push("org:auth-provider".into());
                            if i % 2 == 0 {
                                a.email =
                                    Some(format!("{}@elsewhere.example", a.account_id).into());
                            }
                            out.push(a);
                        }
                    }
                }
            }
        }
        out
    }

    /// "59 of 212 active accounts" is only true if a rule never fires outside the population
    /// it counts, and every evaluated account is then failed, manual, suppressed or passed.
    #[test]
    fn every_rule_fires_only_inside_the_population_it_counts() {
        let mut settings = RuleSettings::default();
        for rule in [
            "sso_invalid",
            "seat_restricted",
            "sso_not_linked",
            "inactive_still_listed",
        ] {
            settings = parse(&format!("[{rule}]\nenabled = true\n"));
            let accounts = varied_accounts();
            let roster = crate::people::Roster::default();
            let context = super::super::Context {
                as_of: crate::rules::test_support::as_of(),
                roster: Some(&roster),
            };
            for r in settings.runnable(context.provides()) {
                let super::super::Population::Accounts(noun, member) = r.info().population else {
                    continue;
                };
                for a in &accounts {
                    if r.check(a, &context).is_some() {
                        assert!(member(a), "{} fired outside its {noun}: {a:?}", r.info().id);
                    }
                }
            }
        }
        settings.external_domain.enabled = true;
        settings.external_domain.allowed_domains = vec!["example.com".into()];
        let accounts = varied_accounts();
        let evaluated =
            crate::rules::evaluate_scope(&accounts, crate::rules::test_support::as_of(), &settings);
        for (id, n) in &evaluated.evaluated {
            let fired = evaluated.findings.iter().filter(|f| f.rule == *id).count();
            assert!(fired <= *n, "{id}: {fired} findings of {n} evaluated");
        }
        let count = |id: &str| {
            evaluated
                .evaluated
                .iter()
                .find(|(r, _)| *r == id)
                .map(|(_, n)| *n)
        };
        let active = accounts
            .iter()
            .filter(|a| a.status == crate::model::AccountStatus::Active)
            .count();
        assert_eq!(count("stale_login"), Some(active));
        assert_eq!(count("external_domain"), Some(accounts.len()));
    }

    /// Reports state the criteria in force: a rule with settings names each configured value
    /// in its criteria, not the default.
    #[test]
    fn criteria_state_the_configured_thresholds() {
        let settings = parse(
            "[stale_login]\nmax_inactive_days = 61\ngrace_days = 3\n\
             [pending_invite]\nmax_pending_days = 11\n\
             [external_domain]\nenabled = true\nallowed_domains = [\"acme.example\"]\n\
             [owner_count]\nmin_owners = 3\nmax_owners = 4\n\
             [admin_sprawl]\nmax_privileged_percent = 33\nmin_accounts = 12\n",
        );
        for rule in settings.all() {
            let criteria = rule.criteria();
            for (key, value) in rule.settings() {
                let shown = match &value {
                    serde_json::Value::Array(items) => items
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                assert!(
                    criteria.contains(&shown) && criteria.contains(key),
                    "{}: `{criteria}` does not state {key} = {shown}",
                    rule.info().id
                );
                assert!(!criteria.contains("default"), "{criteria}");
            }
            let active = ActiveRule::of(rule);
            assert_eq!(active.criteria, criteria);
            assert_eq!(active.settings.len(), rule.settings().len());
        }
        assert!(
            settings
                .stale_login
                .criteria()
                .contains("older than 61 days")
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Roster;
    use crate::rules::test_support::{account, as_of};
    use crate::rules::{Context, Framework, evaluate};

    /// The config reports the first invalid setting at `rules.<id>.<key>`, in registry order.
    #[test]
    fn validation_names_the_key_of_the_first_invalid_setting() {
        let mut settings = RuleSettings::default();
        settings.owner_count.min_owners = 9;
        settings.admin_sprawl.max_privileged_percent = 101;
        let (path, message) = settings.validate().unwrap_err();
        assert_eq!(path, ["rules", "owner_count", "max_owners"]);
        assert_eq!(message, "max_owners 5 is below min_owners 9");
        settings.owner_count.min_owners = 1;
        let (path, _) = settings.validate().unwrap_err();
        assert_eq!(path, ["rules", "admin_sprawl", "max_privileged_percent"]);
    }

    /// Roster rules run, and are listed as active, only when the run has a roster; a rule that
    /// needs organization settings makes the run fetch them.
    #[test]
    fn rules_run_only_where_their_needs_are_met() {
        let mut settings = RuleSettings::default();
        let roster_rules = [
            "orphaned_account",
            "left_with_access",
            "access_past_end_date",
        ];
        let ids = |needs| -> Vec<&str> {
            let active = settings.active_with(needs);
            active.iter().map(|r| r.id.as_str()).collect()
        };
        assert!(
            !ids(Needs::provided(false))
                .iter()
                .any(|id| roster_rules.contains(id))
        );
        assert!(ids(Needs::provided(true)).ends_with(&roster_rules));
        assert!(settings.needs().contains(Needs::ROSTER));
        assert!(!settings.needs().contains(Needs::ORG_SETTINGS));
        settings.sso_not_linked.enabled = true;
        assert!(settings.needs().contains(Needs::ORG_SETTINGS));
        settings.framework = Some(Framework::Pci);
        assert!(
            !settings.needs().contains(Needs::ORG_SETTINGS),
            "sso_not_linked evidences no PCI DSS control"
        );

        let roster = Roster::default();
        let with_roster = Context {
            as_of: as_of(),
            roster: Some(&roster),
        };
        settings.framework = None;
        let roster_findings = |context: Context| -> Vec<&str> {
            let f = evaluate(&[account()], context, &settings);
            let rules = f.into_iter().map(|f| f.rule.as_str());
            rules.filter(|r| roster_rules.contains(r)).collect()
        };
        assert_eq!(
            roster_findings(with_roster),
            ["orphaned_account"],
            "an empty roster knows nobody"
        );
        assert!(roster_findings(as_of().into()).is_empty());
    }

    /// The config loader reports each rule's own validation at the rule's key, with its message.
    #[test]
    fn the_config_loader_reports_each_rules_validation() {
        for table in [
            "[external_domain]\nenabled = true\n",
            "[owner_count]\nmin_owners = 4\nmax_owners = 2\n",
            "[admin_sprawl]\nmax_privileged_percent = 150\n",
        ] {
            let settings: RuleSettings = toml::from_str(table).unwrap();
            let (path, message) = settings.validate().unwrap_err();
            let config = table.replace('[', "[rules.");
            let err = crate::config::Config::parse(&config, None).unwrap_err();
            assert_eq!(err.key, Some(path.join(".")), "{table}");
            assert_eq!(err.message, message, "{table}");
        }
    }
}
