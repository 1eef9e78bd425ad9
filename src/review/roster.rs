//! The people roster: who the accounts belong to. A CSV exported from HR or the IdP
//! (`email,name,status,end_date,manager`) lets the rules ask whether an account has a person,
//! whether that person has left, and whether time-bound access has ended.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::model::{Account, Finding};

/// `[roster]` of the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterConfig {
    /// The CSV file, relative to the working directory.
    pub file: PathBuf,
    /// Other domains people's addresses appear under: `{ "acme.io" = "acme.example" }` matches
    /// `ann@acme.io` to the roster's `ann@acme.example`.
    #[serde(default)]
    pub domain_aliases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonStatus {
    Active,
    Left,
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub email: String,
    pub name: String,
    pub status: PersonStatus,
    pub end_date: Option<NaiveDate>,
    pub manager: String,
}

#[derive(Debug, Clone, Default)]
pub struct Roster {
    people: Vec<Person>,
    by_email: HashMap<String, usize>,
    domain_aliases: BTreeMap<String, String>,
}

impl Roster {
    pub fn load(config: &RosterConfig) -> Result<Roster, ConfigError> {
        let path = &config.file;
        let err = |line: Option<usize>, message: String| ConfigError {
            file: Some(path.clone()),
            key: None,
            line,
            message,
        };
        let bytes = crate::files::read_bounded(
            path,
            crate::files::ROSTER_FILE,
            crate::files::Symlinks::Follow,
        )
        .map_err(|e| err(None, format!("cannot read the roster: {}", e.reason())))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());
        let headers = reader
            .headers()
            .map_err(|e| err(Some(1), format!("cannot read the header row: {e}")))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let email_col = column("email").ok_or_else(|| {
            err(
                Some(1),
                "no `email` column: expected email,name,status,end_date,manager".into(),
            )
        })?;
        let status_col = column("status")
            .ok_or_else(|| err(Some(1), "no `status` column (active or left)".into()))?;
        let (name_col, end_col, manager_col) =
            (column("name"), column("end_date"), column("manager"));
        let mut roster = Roster {
            domain_aliases: config
                .domain_aliases
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
                .collect(),
            ..Roster::default()
        };
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| err(Some(line), format!("unreadable row: {e}")))?;
            let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
            let email = get(Some(email_col)).to_ascii_lowercase();
            if email.is_empty() {
                continue;
            }
            let status = match get(Some(status_col)).to_ascii_lowercase().as_str() {
                "active" => PersonStatus::Active,
                "left" => PersonStatus::Left,
                other => {
                    return Err(err(
                        Some(line),
                        format!("status `{other}` of {email}: expected active or left"),
                    ));
                }
            };
            let end = get(end_col);
            let end_date = if end.is_empty() {
                None
            } else {
                Some(NaiveDate::parse_from_str(&end, "%Y-%m-%d").map_err(|_| {
                    err(
                        Some(line),
                        format!("end_date `{end}` of {email}: expected a date such as 2026-12-31"),
                    )
                })?)
            };
            if roster
                .by_email
                .insert(email.clone(), roster.people.len())
                .is_some()
            {
                return Err(err(Some(line), format!("{email} is listed twice")));
            }
            roster.people.push(Person {
                email,
                name: get(name_col),
                status,
                end_date,
                manager: get(manager_col),
            });
        }
        Ok(roster)
    }

    /// The person an email belongs to: case-insensitive, through the domain aliases.
    pub fn person(&self, email: &str) -> Option<&Person> {
        let email = email.trim().to_ascii_lowercase();
        if let Some(&i) = self.by_email.get(&email) {
            return self.people.get(i);
        }
        let (local, domain) = email.rsplit_once('@')?;
        let canonical = self.domain_aliases.get(domain)?;
        self.by_email
            .get(&format!("{local}@{canonical}"))
            .and_then(|&i| self.people.get(i))
    }

    pub fn people(&self) -> &[Person] {
        &self.people
    }
}

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
pub fn people_view(roster: &Roster, accounts: &[Account], findings: &[Finding]) -> Vec<PersonRow> {
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
            name: a.name.clone().unwrap_or_default(),
            status: "not in roster".into(),
            end_date: None,
            manager: String::new(),
            accounts: Vec::new(),
            findings: 0,
        });
        row.accounts
            .push(format!("{} / {}", a.source_name, a.scope));
    }
    for f in findings.iter().filter(|f| !f.account_id.is_empty()) {
        if let Some(row) = rows.get_mut(&key_of(f.email.as_deref())) {
            row.findings += 1;
        }
    }
    rows.into_values().collect()
}

/// Stream people.csv (one row per person and their accounts) into `out`.
pub fn write_people_to(rows: &[PersonRow], out: &mut dyn std::io::Write) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write people.csv: {e}");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record([
        "email", "name", "status", "end_date", "manager", "accounts", "findings",
    ])
    .map_err(|e| err(&e))?;
    for r in rows {
        let cells = [
            r.email.clone(),
            r.name.clone(),
            r.status.clone(),
            r.end_date.clone().unwrap_or_default(),
            r.manager.clone(),
            r.accounts.join("; "),
            r.findings.to_string(),
        ];
        w.write_record(
            cells
                .iter()
                .map(|c| crate::report::neutralise_cell(c).into_owned()),
        )
        .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}
