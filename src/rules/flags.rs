//! Rules on Sentry member flags: `sso_invalid`, `seat_restricted` and `sso_not_linked`.

use serde::Deserialize;

use super::{Context, Hit, Needs, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, RuleId, Severity};

pub(crate) const SSO_INVALID: RuleInfo = RuleInfo {
    id: RuleId::new("sso_invalid"),
    default_severity: Severity::Medium,
    population: Population::Accounts("active accounts", super::is_active),
    checks: "Active Sentry members whose SSO identity is no longer valid (flag sso:invalid): they must re-link \
             before the IdP controls their access again.",
    references: &["SOC 2 CC6.1", "ISO/IEC 27001:2022 A.5.16"],
};

pub(crate) const SEAT_RESTRICTED: RuleInfo = RuleInfo {
    id: RuleId::new("seat_restricted"),
    default_severity: Severity::Low,
    population: Population::Accounts("active accounts", super::is_active),
    checks: "Sentry members disabled by the plan's member limit (flag member-limit:restricted): they hold a seat \
             without access and should be removed or re-enabled deliberately.",
    references: &["SOC 2 CC6.2", "ISO/IEC 27001:2022 A.5.18"],
};

/// An active member carrying `flag`.
fn active_with_flag(account: &Account, flag: &str) -> bool {
    account.status == AccountStatus::Active && account.flags.iter().any(|f| **f == *flag)
}

macro_rules! flag_rule {
    ($name:ident, $info:ident, $flag:literal, $detail:literal) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub severity: Option<Severity>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: false,
                    severity: None,
                }
            }
        }

        impl Rule for $name {
            fn info(&self) -> &'static RuleInfo {
                &$info
            }
            fn enabled(&self) -> bool {
                self.enabled
            }
            fn severity(&self) -> Option<Severity> {
                self.severity
            }
            fn check(&self, account: &Account, _context: &Context) -> Option<Hit> {
                active_with_flag(account, $flag).then(|| Hit::fail($detail.to_string()))
            }
        }
    };
}

flag_rule!(
    SsoInvalid,
    SSO_INVALID,
    "sso:invalid",
    "the member's SSO identity is invalid (sso:invalid) and must be re-linked"
);
flag_rule!(
    SeatRestricted,
    SEAT_RESTRICTED,
    "member-limit:restricted",
    "restricted by the plan's member limit (member-limit:restricted): holds a seat without access"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, context};

    #[test]
    fn flags_fire_on_active_members_only() {
        let mut a = account();
        assert!(SsoInvalid::default().check(&a, &context()).is_none());
        a.flags = vec!["sso:linked".into(), "sso:invalid".into()];
        assert!(SsoInvalid::default().check(&a, &context()).is_some());
        assert!(SeatRestricted::default().check(&a, &context()).is_none());
        a.flags.push("member-limit:restricted".into());
        assert!(
            SeatRestricted::default()
                .check(&a, &context())
                .unwrap()
                .detail
                .contains("holds a seat")
        );
        a.status = "invited".into();
        assert!(SsoInvalid::default().check(&a, &context()).is_none());
    }
}

pub(crate) const SSO_NOT_LINKED: RuleInfo = RuleInfo {
    id: RuleId::new("sso_not_linked"),
    default_severity: Severity::Medium,
    population: Population::Accounts("active members of organizations that use SSO", |a| {
        active_with_flag(a, "org:auth-provider")
    }),
    checks: "Active members of Sentry organizations that use SSO (hasAuthProvider) who have not linked an SSO \
             identity: their access bypasses the IdP. Fetches each organization's settings (token needs org:read).",
    references: &[
        "SOC 2 CC6.1",
        "ISO/IEC 27001:2022 A.5.16",
        "ISO/IEC 27001:2022 A.8.5",
    ],
};

/// `sso_not_linked`: the organization flag is set and the member's `sso:linked` is not.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoNotLinked {
    pub enabled: bool,
    pub severity: Option<Severity>,
}

impl Rule for SsoNotLinked {
    fn info(&self) -> &'static RuleInfo {
        &SSO_NOT_LINKED
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    /// The `org:auth-provider` flag comes from the organization's settings.
    fn needs(&self) -> Needs {
        Needs::ORG_SETTINGS
    }
    fn check(&self, account: &Account, _context: &Context) -> Option<Hit> {
        (active_with_flag(account, "org:auth-provider")
            && !account.flags.iter().any(|f| &**f == "sso:linked"))
        .then(|| {
            Hit::fail(
                "the organization uses SSO, but this member has not linked an SSO identity"
                    .to_string(),
            )
        })
    }
}

#[cfg(test)]
mod sso_tests {
    use super::*;
    use crate::rules::test_support::{account, context};

    #[test]
    fn only_in_sso_organizations_and_only_unlinked() {
        let rule = SsoNotLinked::default();
        let mut a = account();
        assert!(
            rule.check(&a, &context()).is_none(),
            "organization without SSO"
        );
        a.flags = vec!["org:auth-provider".into()];
        assert!(rule.check(&a, &context()).is_some());
        a.flags.push("sso:linked".into());
        assert!(rule.check(&a, &context()).is_none());
    }
}
