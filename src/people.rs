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
            .map_err(|e| err(Some(1), format!("cannot read the header row: {e}")))?;
        let columns = Columns::find(headers).map_err(|m| err(Some(1), m))?;
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
            let person = columns.person(&record).map_err(|m| err(Some(line), m))?;
            if let Some(person) = person {
                roster.add(person).map_err(|m| err(Some(line), m))?;
            }
        }
        Ok(roster)
    }

    /// One more person; an email is listed once.
    fn add(&mut self, person: Person) -> Result<(), String> {
        if self
            .by_email
            .insert(person.email.clone(), self.people.len())
            .is_some()
        {
            return Err(format!("{} is listed twice", person.email));
        }
        self.people.push(person);
        Ok(())
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

/// Where each field is in the roster's rows: any order, any case, `email` and `status` required.
struct Columns {
    email: usize,
    status: usize,
    name: Option<usize>,
    end_date: Option<usize>,
    manager: Option<usize>,
}

impl Columns {
    fn find(headers: &csv::StringRecord) -> Result<Columns, String> {
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        Ok(Columns {
            email: column("email")
                .ok_or("no `email` column: expected email,name,status,end_date,manager")?,
            status: column("status").ok_or("no `status` column (active or left)")?,
            name: column("name"),
            end_date: column("end_date"),
            manager: column("manager"),
        })
    }

    /// The person a row describes; `None` for a row without an email.
    fn person(&self, record: &csv::StringRecord) -> Result<Option<Person>, String> {
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let email = get(Some(self.email)).to_ascii_lowercase();
        if email.is_empty() {
            return Ok(None);
        }
        let status = match get(Some(self.status)).to_ascii_lowercase().as_str() {
            "active" => PersonStatus::Active,
            "left" => PersonStatus::Left,
            other => {
                return Err(format!(
                    "status `{other}` of {email}: expected active or left"
                ));
            }
        };
        let end = get(self.end_date);
        let end_date = if end.is_empty() {
            None
        } else {
            Some(NaiveDate::parse_from_str(&end, "%Y-%m-%d").map_err(|_| {
                format!("end_date `{end}` of {email}: expected a date such as 2026-12-31")
            })?)
        };
        Ok(Some(Person {
            email,
            name: get(self.name),
            status,
            end_date,
            manager: get(self.manager),
        }))
    }
}
