//! `expired_membership`: invitations that expired but are still listed with the source.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Context, Hit, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, RuleId, Severity};
use crate::timestamp::{date, whole_days};

pub(crate) const INFO: RuleInfo = RuleInfo {
    id: RuleId::new("expired_membership"),
    default_severity: Severity::Medium,
    population: Population::Accounts("accounts", |_| true),
    checks: "Memberships whose invitation expired but which are still listed: clean them up so a re-sent \
             link cannot revive forgotten access.",
    references: &[
        "SOC 2 CC6.2",
        "SOC 2 CC6.3",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.4",
    ],
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpiredMembership {
    pub enabled: bool,
    pub severity: Option<Severity>,
}

impl Default for ExpiredMembership {
    fn default() -> Self {
        ExpiredMembership {
            enabled: true,
            severity: None,
        }
    }
}

pub(crate) fn check(
    account: &Account,
    as_of: DateTime<Utc>,
    _s: &ExpiredMembership,
) -> Option<Hit> {
    if account.status != AccountStatus::Expired {
        return None;
    }
    Some(Hit::fail(match account.invited_at {
        Some(invited) => format!(
            "invitation expired and is still listed; invited {}, {} days before {}",
            date(invited),
            whole_days(invited, as_of),
            date(as_of)
        ),
        None => "invitation expired and is still listed".to_string(),
    }))
}

impl Rule for ExpiredMembership {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    fn check(&self, account: &Account, context: &Context) -> Option<Hit> {
        check(account, context.as_of, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, as_of};
    use chrono::TimeDelta;

    #[test]
    fn fires_on_expired_only() {
        let s = ExpiredMembership::default();
        let mut a = account();
        assert_eq!(check(&a, as_of(), &s), None);
        a.status = "Expired".into();
        assert_eq!(
            check(&a, as_of(), &s).unwrap().detail,
            "invitation expired and is still listed"
        );
        a.invited_at = Some(as_of() - TimeDelta::days(40) - TimeDelta::hours(1));
        assert_eq!(
            check(&a, as_of(), &s).unwrap().detail,
            "invitation expired and is still listed; invited 2026-09-21, 40 days before 2026-11-01"
        );
    }
}
