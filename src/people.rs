//! The people roster: who the accounts belong to. A CSV exported from HR or the IdP
//! (`email,name,status,end_date,manager`) lets the rules ask whether an account has a person,
//! whether that person has left, and whether time-bound access has ended, and lets the review
//! stage show each person with their accounts. It is input data, like the config: it depends on
//! no stage, and the stages read it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::cfg::ConfigError;

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
