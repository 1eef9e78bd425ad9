//! `stale_login`: active accounts nobody has used for too long, or never used at all.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Context, Hit, Population, Rule, RuleInfo};
use crate::cfg::values::{Days, DaysOrZero};
use crate::model::{Account, AccountStatus, RuleId, Severity};
use crate::timestamp::{date, older_than_days, whole_days};

pub(crate) const INFO: RuleInfo = RuleInfo {
    id: RuleId::new("stale_login"),
    default_severity: Severity::Medium,
    population: Population::Accounts("active accounts", super::is_active),
    checks: "Active accounts whose last login or activity is older than max_inactive_days (default 90), \
             or that never logged in and were created more than grace_days (default 14) ago.",
    references: &[
        "SOC 2 CC6.2",
        "SOC 2 CC6.3",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.6",
    ],
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaleLogin {
    pub enabled: bool,
    pub severity: Option<Severity>,
    pub max_inactive_days: Days,
    pub grace_days: DaysOrZero,
}

impl Default for StaleLogin {
    fn default() -> Self {
        StaleLogin {
            enabled: true,
            severity: None,
            max_inactive_days: Days(90),
            grace_days: DaysOrZero(14),
        }
    }
}

pub(crate) fn check(account: &Account, as_of: DateTime<Utc>, s: &StaleLogin) -> Option<Hit> {
    if account.status != AccountStatus::Active {
        return None;
    }
    let as_of_date = date(as_of);
    match account.last_seen_at {
        Some(seen) if older_than_days(seen, as_of, s.max_inactive_days.0) => Some(Hit::fail(format!(
            "last seen {}, {} days before {as_of_date} (limit {} days)",
            date(seen),
            whole_days(seen, as_of),
            s.max_inactive_days.0
        ))),
        Some(_) => None,
        None => match account.created_at {
            None => Some(Hit::fail(
                "never logged in, and the source gives no creation date to measure a grace period from".to_string(),
            )),
            Some(created) if older_than_days(created, as_of, s.grace_days.0) => Some(Hit::fail(format!(
                "never logged in; account created {}, {} days before {as_of_date} (grace {} days)",
                date(created),
                whole_days(created, as_of),
                s.grace_days.0
            ))),
            Some(_) => None,
        },
    }
}

impl Rule for StaleLogin {
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
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("max_inactive_days", self.max_inactive_days.0.into()),
            ("grace_days", self.grace_days.0.into()),
        ]
    }
    fn criteria(&self) -> String {
        format!(
            "Active accounts whose last login or activity is older than {} days (max_inactive_days), \
             or that never logged in and were created more than {} days (grace_days) ago.",
            self.max_inactive_days.0, self.grace_days.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, as_of};
    use chrono::TimeDelta;

    fn seen(delta: TimeDelta) -> Account {
        let mut a = account();
        a.last_login_at = Some(as_of() - delta);
        a.last_seen_at = a.last_login_at;
        a
    }

    #[test]
    fn boundary_at_max_inactive_days() {
        let s = StaleLogin::default();
        assert_eq!(
            check(
                &seen(TimeDelta::days(90) - TimeDelta::hours(1)),
                as_of(),
                &s
            ),
            None
        );
        assert_eq!(check(&seen(TimeDelta::days(90)), as_of(), &s), None);
        let hit = check(
            &seen(TimeDelta::days(90) + TimeDelta::hours(1)),
            as_of(),
            &s,
        )
        .unwrap();
        assert_eq!(
            hit.detail,
            "last seen 2026-08-02, 90 days before 2026-11-01 (limit 90 days)"
        );
        let hit = check(&seen(TimeDelta::days(184)), as_of(), &s).unwrap();
        assert_eq!(
            hit.detail,
            "last seen 2026-05-01, 184 days before 2026-11-01 (limit 90 days)"
        );
    }

    #[test]
    fn only_active_accounts() {
        let s = StaleLogin::default();
        let mut a = seen(TimeDelta::days(400));
        for st in ["invited", "expired", "suspended", "Rejected"] {
            a.status = st.into();
            assert_eq!(check(&a, as_of(), &s), None, "{st}");
        }
        a.status = "ACTIVE".into();
        assert!(check(&a, as_of(), &s).is_some());
    }

    #[test]
    fn never_logged_in_with_grace_period() {
        let s = StaleLogin::default();
        let mut a = account();
        a.created_at = Some(as_of() - TimeDelta::days(14) + TimeDelta::hours(1));
        assert_eq!(check(&a, as_of(), &s), None, "inside grace");
        a.created_at = Some(as_of() - TimeDelta::days(14) - TimeDelta::hours(1));
        let hit = check(&a, as_of(), &s).unwrap();
        assert_eq!(
            hit.detail,
            "never logged in; account created 2026-10-17, 14 days before 2026-11-01 (grace 14 days)"
        );
        a.created_at = None;
        assert!(
            check(&a, as_of(), &s)
                .unwrap()
                .detail
                .contains("no creation date")
        );
    }

    #[test]
    fn zero_grace_flags_at_once() {
        let s = StaleLogin {
            grace_days: DaysOrZero(0),
            ..StaleLogin::default()
        };
        let mut a = account();
        a.created_at = Some(as_of() - TimeDelta::hours(1));
        assert!(check(&a, as_of(), &s).is_some());
    }

    #[test]
    fn activity_counts_as_seen() {
        // last_seen_at is the later of login and activity; the rule reads only last_seen_at.
        let s = StaleLogin::default();
        let mut a = seen(TimeDelta::days(300));
        a.last_active_at = Some(as_of() - TimeDelta::days(3));
        a.last_seen_at = crate::model::later_of(a.last_login_at, a.last_active_at);
        assert_eq!(check(&a, as_of(), &s), None);
    }
}
