//! `pending_invite`: invitations that have been waiting too long.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Context, Hit, Population, Rule, RuleInfo};
use crate::cfg::values::Days;
use crate::model::{Account, AccountStatus, RuleId, Severity};
use crate::timestamp::{date, older_than_days, whole_days};

pub(crate) const INFO: RuleInfo = RuleInfo {
    id: RuleId::new("pending_invite"),
    default_severity: Severity::Low,
    population: Population::Accounts("pending invitations", |a| {
        a.status == AccountStatus::Invited
    }),
    checks: "Invitations still pending after max_pending_days (default 7), or with no invitation date.",
    references: &[
        "SOC 2 CC6.2",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.4",
    ],
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PendingInvite {
    pub enabled: bool,
    pub severity: Option<Severity>,
    pub max_pending_days: Days,
}

impl Default for PendingInvite {
    fn default() -> Self {
        PendingInvite {
            enabled: true,
            severity: None,
            max_pending_days: Days(7),
        }
    }
}

pub(crate) fn check(account: &Account, as_of: DateTime<Utc>, s: &PendingInvite) -> Option<Hit> {
    if account.status != AccountStatus::Invited {
        return None;
    }
    match account.invited_at {
        None => Some(Hit::fail(
            "invitation pending; the source gives no invitation date".to_string(),
        )),
        Some(invited) if older_than_days(invited, as_of, s.max_pending_days.0) => {
            Some(Hit::fail(format!(
                "invited {}, still pending {} days later on {} (limit {} days)",
                date(invited),
                whole_days(invited, as_of),
                date(as_of),
                s.max_pending_days.0
            )))
        }
        Some(_) => None,
    }
}

impl Rule for PendingInvite {
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
        vec![("max_pending_days", self.max_pending_days.0.into())]
    }
    fn criteria(&self) -> String {
        format!(
            "Invitations still pending after {} days (max_pending_days), or with no invitation date.",
            self.max_pending_days.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, as_of};
    use chrono::TimeDelta;

    fn invited(delta: Option<TimeDelta>) -> Account {
        let mut a = account();
        a.status = "invited".into();
        a.invited_at = delta.map(|d| as_of() - d);
        a
    }

    #[test]
    fn boundary_at_max_pending_days() {
        let s = PendingInvite::default();
        assert_eq!(
            check(
                &invited(Some(TimeDelta::days(7) - TimeDelta::hours(1))),
                as_of(),
                &s
            ),
            None
        );
        assert_eq!(check(&invited(Some(TimeDelta::days(7))), as_of(), &s), None);
        let hit = check(
            &invited(Some(TimeDelta::days(7) + TimeDelta::hours(1))),
            as_of(),
            &s,
        )
        .unwrap();
        assert_eq!(
            hit.detail,
            "invited 2026-10-24, still pending 7 days later on 2026-11-01 (limit 7 days)"
        );
    }

    #[test]
    fn missing_date_fires_and_other_statuses_do_not() {
        let s = PendingInvite::default();
        assert!(
            check(&invited(None), as_of(), &s)
                .unwrap()
                .detail
                .contains("no invitation date")
        );
        let mut a = invited(Some(TimeDelta::days(30)));
        a.status = "expired".into();
        assert_eq!(check(&a, as_of(), &s), None);
        a.status = "active".into();
        assert_eq!(check(&a, as_of(), &s), None);
    }
}
