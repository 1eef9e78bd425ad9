//! The people view of the review stage: every person of the roster with the accounts they
//! hold, then the accounts that match nobody.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Accounts, Finding};
use crate::people::{PersonStatus, Roster};

/// One row of the people view: a person (or an unmatched email) and every account they hold.
#[derive(Debug, Clone, Serialize)]
pub struct PersonRow {
    pub email: String,
    pub name: String,
    /// `active`, `left`, or `not in roster`.
    pub status: String,
    pub end_date: Option<String>,
    pub manager: String,
    /// `source_name / scope` of every account.
    pub accounts: Vec<String>,
    pub findings: usize,
}

/// The people view: roster people with their accounts, then emails that match nobody.
pub(crate) fn people_view(
    roster: &Roster,
    accounts: &Accounts,
    findings: &[Finding],
) -> Vec<PersonRow> {
    let mut rows: BTreeMap<String, PersonRow> = BTreeMap::new();
    for p in roster.people() {
        rows.insert(
            p.email.clone(),
            PersonRow {
                email: p.email.clone(),
                name: p.name.clone(),
                status: match p.status {
                    PersonStatus::Active => "active".into(),
                    PersonStatus::Left => "left".into(),
                },
                end_date: p.end_date.map(|d| d.to_string()),
                manager: p.manager.clone(),
                accounts: Vec::new(),
                findings: 0,
            },
        );
    }
    let key_of = |email: Option<&str>| -> String {
        match email {
            Some(e) => roster
                .person(e)
                .map_or_else(|| e.trim().to_ascii_lowercase(), |p| p.email.clone()),
            None => "(no email)".into(),
        }
    };
    for a in accounts {
        let key = key_of(a.email.as_deref());
        let row = rows.entry(key.clone()).or_insert_with(|| PersonRow {
            email: key,
            name: a.name.as_deref().unwrap_or_default().to_string(),
            status: "not in roster".into(),
            end_date: None,
            manager: String::new(),
            accounts: Vec::new(),
            findings: 0,
        });
        row.accounts
            .push(format!("{} / {}", a.source_name, a.scope));
    }
    for f in findings.iter().filter(|f| f.subject.account().is_some()) {
        if let Some(row) = rows.get_mut(&key_of(f.subject.email())) {
            row.findings += 1;
        }
    }
    rows.into_values().collect()
}
