//! Rules that need the people roster: `orphaned_account`, `left_with_access`,
//! `access_past_end_date`. They run only when a roster is configured.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Context, Hit, Needs, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, RuleId, Severity};
use crate::people::{PersonStatus, Roster};

pub(crate) const ORPHANED_ACCOUNT: RuleInfo = RuleInfo {
    id: RuleId::new("orphaned_account"),
    default_severity: Severity::Medium,
    population: Population::Accounts("active accounts", super::is_active),
    checks: "Active accounts whose email matches no person in the roster (runs when a roster is configured).",
    references: &[
        "SOC 2 CC6.2",
        "ISO/IEC 27001:2022 A.5.16",
        "PCI DSS v4.0 8.2.4",
    ],
};

pub(crate) const LEFT_WITH_ACCESS: RuleInfo = RuleInfo {
    id: RuleId::new("left_with_access"),
    default_severity: Severity::High,
    population: Population::Accounts("accounts with access (active or invited)", has_access),
    checks: "Accounts, active or invited, of people the roster says have left (runs when a roster is configured).",
    references: &[
        "SOC 2 CC6.2",
        "SOC 2 CC6.3",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.4",
    ],
};

pub(crate) const ACCESS_PAST_END_DATE: RuleInfo = RuleInfo {
    id: RuleId::new("access_past_end_date"),
    default_severity: Severity::High,
    population: Population::Accounts("accounts with access (active or invited)", has_access),
    checks: "Accounts of people whose end date (a contractor's term) has passed, still active or invited \
             (runs when a roster is configured).",
    references: &[
        "SOC 2 CC6.2",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.4",
    ],
};

/// A rule that needs the roster: its settings, on by default since it runs only when a roster
/// is configured, and its check (a function of the account, the roster and `as_of`).
macro_rules! roster_rule {
    ($name:ident, $info:ident, $check:ident) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub severity: Option<Severity>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: true,
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
            fn needs(&self) -> Needs {
                Needs::ROSTER
            }
            fn check(&self, account: &Account, context: &Context) -> Option<Hit> {
                $check(account, context.roster?, context.as_of)
            }
        }
    };
}

roster_rule!(OrphanedAccount, ORPHANED_ACCOUNT, orphaned);
roster_rule!(LeftWithAccess, LEFT_WITH_ACCESS, left);
roster_rule!(AccessPastEndDate, ACCESS_PAST_END_DATE, past_end_date);

fn has_access(a: &Account) -> bool {
    a.status.grants_access()
}

pub(crate) fn orphaned(account: &Account, roster: &Roster, _as_of: DateTime<Utc>) -> Option<Hit> {
    if account.status != AccountStatus::Active {
        return None;
    }
    match account.email.as_deref() {
        Some(email) if roster.person(email).is_some() => None,
        Some(email) => Some(Hit::fail(format!(
            "no person in the roster has the address {email}"
        ))),
        None => Some(Hit::fail(
            "the account has no email to match against the roster".into(),
        )),
    }
}

pub(crate) fn left(account: &Account, roster: &Roster, _as_of: DateTime<Utc>) -> Option<Hit> {
    let person = roster.person(account.email.as_deref()?)?;
    (person.status == PersonStatus::Left && has_access(account)).then(|| {
        Hit::fail(match person.end_date {
            Some(d) => format!(
                "{} left on {d}; the account is still {}",
                person.name, account.status
            ),
            None => format!(
                "{} has left; the account is still {}",
                person.name, account.status
            ),
        })
    })
}

pub(crate) fn past_end_date(
    account: &Account,
    roster: &Roster,
    as_of: DateTime<Utc>,
) -> Option<Hit> {
    let person = roster.person(account.email.as_deref()?)?;
    let end = person.end_date?;
    (person.status == PersonStatus::Active && end < as_of.date_naive() && has_access(account)).then(
        || {
            Hit::fail(format!(
                "access for {} ended on {end}; the account is still {}",
                person.name, account.status
            ))
        },
    )
}
