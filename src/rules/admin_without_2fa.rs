//! `admin_without_2fa`: privileged accounts without two-factor authentication.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Context, Hit, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, Outcome, RuleId, Severity};

pub(crate) const INFO: RuleInfo = RuleInfo {
    id: RuleId::new("admin_without_2fa"),
    default_severity: Severity::High,
    population: Population::Accounts("active privileged accounts", |a| {
        a.privileged && a.status == AccountStatus::Active
    }),
    checks: "Active owners, managers and admins without two-factor authentication; where the source does not \
             expose 2FA (Sent.dm), a manual check is asked for instead.",
    references: &[
        "SOC 2 CC6.1",
        "ISO/IEC 27001:2022 A.8.5",
        "PCI DSS v4.0 8.4",
    ],
};

/// Sentence of a `manual` finding, as documented: reviewers search for it.
pub(crate) const NOT_EXPOSED: &str = "2FA status is not exposed by this source; verify by hand";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminWithout2fa {
    pub enabled: bool,
    pub severity: Option<Severity>,
}

impl Default for AdminWithout2fa {
    fn default() -> Self {
        AdminWithout2fa {
            enabled: true,
            severity: None,
        }
    }
}

pub(crate) fn check(account: &Account, _as_of: DateTime<Utc>, _s: &AdminWithout2fa) -> Option<Hit> {
    if !account.privileged || account.status != AccountStatus::Active {
        return None;
    }
    let role = account.role.as_deref().unwrap_or("privileged account");
    match account.mfa {
        Some(true) => None,
        Some(false) => Some(Hit::fail(format!(
            "{role} without two-factor authentication"
        ))),
        None => Some(Hit {
            outcome: Outcome::Manual,
            detail: NOT_EXPOSED.to_string(),
        }),
    }
}

impl Rule for AdminWithout2fa {
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

    fn admin(mfa: Option<bool>) -> Account {
        let mut a = account();
        a.role = Some("owner".into());
        a.privileged = true;
        a.mfa = mfa;
        a
    }

    #[test]
    fn fail_manual_and_pass() {
        let s = AdminWithout2fa::default();
        let hit = check(&admin(Some(false)), as_of(), &s).unwrap();
        assert_eq!(
            (hit.outcome, hit.detail.as_str()),
            (Outcome::Fail, "owner without two-factor authentication")
        );
        let hit = check(&admin(None), as_of(), &s).unwrap();
        assert_eq!(
            (hit.outcome, hit.detail.as_str()),
            (Outcome::Manual, NOT_EXPOSED)
        );
        assert_eq!(check(&admin(Some(true)), as_of(), &s), None);
    }

    #[test]
    fn only_privileged_active_accounts() {
        let s = AdminWithout2fa::default();
        let mut a = admin(Some(false));
        a.privileged = false;
        assert_eq!(check(&a, as_of(), &s), None);
        let mut a = admin(None);
        a.status = "invited".into();
        assert_eq!(check(&a, as_of(), &s), None);
    }
}
