//! Rules over a whole scope rather than one account: `owner_count` and `admin_sprawl`.

use serde::Deserialize;

use super::{Context, Hit, InvalidSetting, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, RuleId, Severity};
use crate::sources::registry;

pub(crate) const OWNER_COUNT: RuleInfo = RuleInfo {
    id: RuleId::new("owner_count"),
    default_severity: Severity::Medium,
    population: Population::Scopes("organizations"),
    checks: "Sentry organizations with fewer than min_owners (default 2: no single point of failure) or more than \
             max_owners (default 5) active owners.",
    references: &["SOC 2 CC6.3", "ISO/IEC 27001:2022 A.8.2"],
};

pub(crate) const ADMIN_SPRAWL: RuleInfo = RuleInfo {
    id: RuleId::new("admin_sprawl"),
    default_severity: Severity::Low,
    population: Population::Scopes("scopes of at least min_accounts active accounts"),
    checks: "Scopes of at least min_accounts (default 10) active accounts where more than max_privileged_percent \
             (default 20) of them are owners, managers or admins.",
    references: &["SOC 2 CC6.3", "ISO/IEC 27001:2022 A.8.2"],
};

fn active(accounts: &[Account]) -> impl Iterator<Item = &Account> {
    accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Active)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnerCount {
    pub enabled: bool,
    pub severity: Option<Severity>,
    pub min_owners: u32,
    pub max_owners: u32,
}

impl Default for OwnerCount {
    fn default() -> Self {
        OwnerCount {
            enabled: false,
            severity: None,
            min_owners: 2,
            max_owners: 5,
        }
    }
}

impl Rule for OwnerCount {
    fn info(&self) -> &'static RuleInfo {
        &OWNER_COUNT
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    fn validate(&self) -> Result<(), InvalidSetting> {
        if self.min_owners > self.max_owners {
            return Err(InvalidSetting {
                key: "max_owners",
                message: format!(
                    "max_owners {} is below min_owners {}",
                    self.max_owners, self.min_owners
                ),
            });
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("min_owners", self.min_owners.into()),
            ("max_owners", self.max_owners.into()),
        ]
    }
    fn criteria(&self) -> String {
        format!(
            "Sentry organizations with fewer than {} (min_owners) or more than {} (max_owners) active owners.",
            self.min_owners, self.max_owners
        )
    }
    /// Only where the source lists a scope's owners among its accounts (see `check_scope`).
    fn evaluates_scope(&self, accounts: &[Account]) -> bool {
        accounts
            .first()
            .and_then(|a| registry::find(a.source.as_str()))
            .is_some_and(|s| s.owner_role().is_some())
    }
    fn check_scope(&self, accounts: &[Account], _context: &Context) -> Option<Hit> {
        // Counted only where the source lists a scope's owners among its accounts (Sentry):
        // where the owner is implicit (Sent.dm), the count would always say zero.
        let source = registry::find(accounts.first()?.source.as_str())?;
        let owner_role = source.owner_role()?;
        let owners = active(accounts)
            .filter(|a| a.role.as_deref() == Some(owner_role))
            .count() as u32;
        (owners < self.min_owners || owners > self.max_owners).then(|| {
            Hit::fail(format!(
                "{owners} active owner{}; the policy is {} to {}",
                if owners == 1 { "" } else { "s" },
                self.min_owners,
                self.max_owners
            ))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSprawl {
    pub enabled: bool,
    pub severity: Option<Severity>,
    pub max_privileged_percent: u32,
    pub min_accounts: u32,
}

impl Default for AdminSprawl {
    fn default() -> Self {
        AdminSprawl {
            enabled: false,
            severity: None,
            max_privileged_percent: 20,
            min_accounts: 10,
        }
    }
}

impl Rule for AdminSprawl {
    fn info(&self) -> &'static RuleInfo {
        &ADMIN_SPRAWL
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    fn validate(&self) -> Result<(), InvalidSetting> {
        if self.max_privileged_percent > 100 {
            return Err(InvalidSetting {
                key: "max_privileged_percent",
                message: format!(
                    "{}: expected a percentage from 0 to 100",
                    self.max_privileged_percent
                ),
            });
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("max_privileged_percent", self.max_privileged_percent.into()),
            ("min_accounts", self.min_accounts.into()),
        ]
    }
    fn criteria(&self) -> String {
        format!(
            "Scopes of at least {} (min_accounts) active accounts where more than {}% \
             (max_privileged_percent) of them are owners, managers or admins.",
            self.min_accounts, self.max_privileged_percent
        )
    }
    fn evaluates_scope(&self, accounts: &[Account]) -> bool {
        let total = active(accounts).count();
        total > 0 && total >= self.min_accounts as usize
    }
    fn check_scope(&self, accounts: &[Account], _context: &Context) -> Option<Hit> {
        let total = active(accounts).count();
        if total < self.min_accounts as usize || total == 0 {
            return None;
        }
        let privileged = active(accounts).filter(|a| a.privileged).count();
        (privileged * 100 > total * self.max_privileged_percent as usize).then(|| {
            Hit::fail(format!(
                "{privileged} of {total} active accounts ({}%) are privileged; the limit is {}%",
                privileged * 100 / total,
                self.max_privileged_percent
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceKind;
    use crate::rules::test_support::{account, context};

    fn accounts(owners: usize, members: usize) -> Vec<Account> {
        (0..owners + members)
            .map(|i| {
                let mut a = account();
                a.account_id = i.to_string().into();
                if i < owners {
                    a.role = Some("owner".into());
                    a.privileged = true;
                }
                a
            })
            .collect()
    }

    #[test]
    fn owner_count_bounds() {
        let rule = OwnerCount::default();
        assert_eq!(
            rule.check_scope(&accounts(1, 5), &context())
                .unwrap()
                .detail,
            "1 active owner; the policy is 2 to 5"
        );
        assert!(rule.check_scope(&accounts(2, 5), &context()).is_none());
        assert!(rule.check_scope(&accounts(5, 5), &context()).is_none());
        assert!(rule.check_scope(&accounts(6, 5), &context()).is_some());
        let mut sentdm = accounts(0, 3);
        for a in &mut sentdm {
            a.source = SourceKind::Sentdm;
        }
        assert!(
            rule.check_scope(&sentdm, &context()).is_none(),
            "Sent.dm never lists its owner"
        );
        let mut teams = accounts(1, 3);
        for a in &mut teams {
            a.source = SourceKind::new("testapi");
        }
        assert!(
            rule.check_scope(&teams, &context()).is_none(),
            "the test API has no owner role"
        );
        assert!(rule.check_scope(&[], &context()).is_none());
    }

    #[test]
    fn impossible_bounds_are_invalid() {
        assert_eq!(OwnerCount::default().validate(), Ok(()));
        let owners = OwnerCount {
            min_owners: 4,
            max_owners: 2,
            ..OwnerCount::default()
        };
        assert_eq!(
            owners.validate(),
            Err(InvalidSetting {
                key: "max_owners",
                message: "max_owners 2 is below min_owners 4".into()
            })
        );
        assert_eq!(AdminSprawl::default().validate(), Ok(()));
        let sprawl = AdminSprawl {
            max_privileged_percent: 150,
            ..AdminSprawl::default()
        };
        assert_eq!(
            sprawl.validate(),
            Err(InvalidSetting {
                key: "max_privileged_percent",
                message: "150: expected a percentage from 0 to 100".into()
            })
        );
    }

    #[test]
    fn admin_sprawl_threshold_and_small_teams() {
        let rule = AdminSprawl::default();
        assert!(
            rule.check_scope(&accounts(2, 8), &context()).is_none(),
            "exactly 20%"
        );
        assert_eq!(
            rule.check_scope(&accounts(3, 7), &context())
                .unwrap()
                .detail,
            "3 of 10 active accounts (30%) are privileged; the limit is 20%"
        );
        assert!(
            rule.check_scope(&accounts(5, 4), &context()).is_none(),
            "fewer than min_accounts"
        );
    }
}
