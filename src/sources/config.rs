//! The `[[sources]]` tables of the config file. Each table is read by the source its `type`
//! names (through [`registry`]): that source reads its own keys. What every source shares —
//! `name`, `base_url`, the secret's env/file pair, the fetch settings — is read and checked
//! here, once.
//!
//! Every error names the file, the key (`sources[0].organizations[1]`) and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::registry;
use super::source::Source;
use super::spec::{RemediateConfig, SourceConfig, SourceSpec};
use crate::cfg::values::{BaseUrl, EnvVarName, HumanDuration};
use crate::cfg::{ConfigError, KeySegment, SecretRef, locate};
use crate::http::FetchSettings;

/// Bounds of the configurable durations: a mistyped `"500000000000years"` is refused at
/// validation instead of overflowing a clock later.
pub(crate) const REQUEST_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(600));
pub(crate) const MAX_RETRY_WAIT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// The keys every source's table takes, besides its secret keys and its own. Error messages
/// list a table's keys as: these first three, the secret's, the source's own, then the fetch
/// settings.
const LEADING_KEYS: &[&str] = &["type", "name", "base_url"];
const FETCH_KEYS: &[&str] = &[
    "concurrency",
    "max_concurrency",
    "requests_per_minute",
    "burst",
    "request_timeout",
    "max_attempts",
    "max_retry_wait",
    "max_response_mb",
];

/// Whether every source's table takes `key` (a source cannot claim it as its own; the registry's
/// tests check each source against this).
#[cfg(test)]
pub(crate) fn is_shared_key(key: &str) -> bool {
    LEADING_KEYS.contains(&key) || FETCH_KEYS.contains(&key)
}

/// The keys every source shares.
#[derive(Debug, Deserialize)]
struct SharedKeys {
    name: Option<String>,
    base_url: Option<BaseUrl>,
    concurrency: Option<u32>,
    max_concurrency: Option<u32>,
    requests_per_minute: Option<u32>,
    burst: Option<u32>,
    request_timeout: Option<HumanDuration>,
    max_attempts: Option<u32>,
    max_retry_wait: Option<HumanDuration>,
    max_response_mb: Option<u32>,
}

/// The `[[sources]]` array of a config file, with what is needed to point into it.
pub(crate) struct SourceTables<'t> {
    text: &'t str,
    file: Option<&'t Path>,
    items: Vec<Spanned<DeValue<'t>>>,
}

impl<'t> SourceTables<'t> {
    /// No sources (the built-in default config).
    pub(crate) fn none() -> SourceTables<'static> {
        SourceTables {
            text: "",
            file: None,
            items: Vec::new(),
        }
    }

    /// The `sources` array of a document already parsed (and perhaps with some keys taken out,
    /// as the config loader does to find every error): its spans still point into `text`.
    pub(crate) fn of_root(
        text: &'t str,
        file: Option<&'t Path>,
        root: &DeTable<'t>,
    ) -> SourceTables<'t> {
        let items = root
            .iter()
            .find(|(key, _)| key.get_ref().as_ref() == "sources")
            .and_then(|(_, value)| value.get_ref().as_array())
            .map(|array| array.iter().cloned().collect())
            .unwrap_or_default();
        SourceTables { text, file, items }
    }

    /// Every source that reads, and the first error of each that does not (each table is
    /// independent of the others).
    pub(crate) fn read_all(&self) -> (Vec<SourceConfig>, Vec<ConfigError>) {
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        let mut seen_names: BTreeMap<String, usize> = BTreeMap::new();
        for (index, item) in self.items.iter().enumerate() {
            let table = SourceTable {
                index,
                item,
                text: self.text,
                file: self.file,
            };
            match read_source(&table, &mut seen_names) {
                Ok(source) => sources.push(source),
                Err(e) => errors.push(e),
            }
        }
        (sources, errors)
    }
}

/// One `[[sources]]` table: what a source's [`Source::configure`] reads its keys from and
/// locates its errors with.
pub struct SourceTable<'t> {
    index: usize,
    item: &'t Spanned<DeValue<'t>>,
    text: &'t str,
    file: Option<&'t Path>,
}

impl SourceTable<'_> {
    /// The table's keys as a struct of `Option`s (keys the struct does not name are ignored:
    /// [`read_source`] has checked that every key belongs to the source). A bad value is
    /// reported at its key and line.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.deserialize(self.item, &[])
    }

    /// An error at the table (`key` = `None`: `sources[0]`) or at one of its keys.
    pub fn error(&self, key: Option<&str>, message: String) -> ConfigError {
        let mut path = self.path();
        path.extend(key.map(|k| KeySegment::Key(k.to_string())));
        self.error_at(path, None, message)
    }

    fn path(&self) -> Vec<KeySegment> {
        vec![
            KeySegment::Key("sources".into()),
            KeySegment::Index(self.index),
        ]
    }

    /// The table's entries, in the order the parser keeps them.
    fn entries(&self) -> impl Iterator<Item = (&str, &Spanned<DeValue<'_>>)> {
        self.item
            .get_ref()
            .as_table()
            .into_iter()
            .flat_map(|t| t.iter())
            .map(|(k, v)| (k.get_ref().as_ref(), v))
    }

    fn value(&self, key: &str) -> Option<&Spanned<DeValue<'_>>> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Deserialize `value`, found at `key` of this table (none: the table itself), locating any
    /// error at the key path serde reports and the line of the span toml reports.
    fn deserialize<T: DeserializeOwned>(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &[KeySegment],
    ) -> Result<T, ConfigError> {
        let de = ValueDeserializer::from(value.clone());
        serde_path_to_error::deserialize(de).map_err(|e| {
            let mut path = self.path();
            path.extend(key.iter().cloned());
            path.extend(locate::path_segments(e.path()));
            let offset = e.inner().span().map(|s| s.start);
            self.error_at(path, offset, e.inner().message().trim().to_string())
        })
    }

    fn error_at(
        &self,
        path: Vec<KeySegment>,
        offset: Option<usize>,
        message: String,
    ) -> ConfigError {
        let line = offset
            .map(|o| locate::line_of_offset(self.text, o))
            .or_else(|| locate::line_of_path(self.text, &path));
        ConfigError {
            file: self.file.map(Path::to_path_buf),
            key: Some(locate::render_path(&path)),
            line,
            message,
        }
    }

    /// One key's value, if it is set.
    fn read_key<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        self.value(key)
            .map(|v| self.deserialize(v, &[KeySegment::Key(key.to_string())]))
            .transpose()
    }
}

/// One source: its type, its keys, its shared and own values, its name among the others'.
/// Values are read (a bad one reported) before the table is checked as a whole, as serde read
/// them before the checks when every source shared one struct.
fn read_source(
    table: &SourceTable<'_>,
    seen_names: &mut BTreeMap<String, usize>,
) -> Result<SourceConfig, ConfigError> {
    let source = source_of(table)?;
    check_keys(table, source)?;
    let shared: SharedKeys = table.read()?;
    let keys = source.secret_keys();
    let secret_env: Option<EnvVarName> = table.read_key(keys.env)?;
    let secret_file: Option<PathBuf> = table.read_key(keys.file)?;

    let remediate = remediate_settings(table, source)?;
    let name = unique_name(table, shared.name.as_deref(), source, seen_names)?;
    let (secret, secret_key) = match (secret_env, secret_file) {
        (Some(env), None) => (SecretRef::Env(env.0), keys.env),
        (None, Some(path)) => (SecretRef::File(path), keys.file),
        (Some(_), Some(_)) => {
            return Err(table.error(
                Some(keys.file),
                format!("set either `{}` or `{}`, not both", keys.env, keys.file),
            ));
        }
        (None, None) => {
            return Err(table.error(
                None,
                format!(
                    "missing `{}` (the environment variable that holds the {}) or `{}` (a file that holds it)",
                    keys.env, keys.what, keys.file
                ),
            ));
        }
    };
    let base_url = shared.base_url.as_ref().map_or_else(
        || source.default_base_url().to_string(),
        |b| b.trimmed().to_string(),
    );
    let settings = source.configure(table)?;
    let fetch = fetch_settings(table, &shared, source.fetch_defaults())?;
    Ok(SourceConfig {
        spec: SourceSpec {
            name,
            base_url,
            settings,
        },
        secret: Some(secret),
        secret_key: secret_key.into(),
        index: table.index,
        fetch,
        remediate,
    })
}

/// The key that paces a source's changes (`remediate`), besides its write credential's keys.
const REMEDIATE_RATE_KEY: &str = "remediate_requests_per_minute";
/// Changes per minute unless the config says otherwise: well below either API's read limits,
/// as changes have limits of their own that neither API documents.
const DEFAULT_REMEDIATE_RATE: u32 = 30;

/// The write credential `remediate` uses (optional: only remediation needs it) and the pace of
/// its changes.
fn remediate_settings(
    table: &SourceTable<'_>,
    source: &dyn Source,
) -> Result<Option<RemediateConfig>, ConfigError> {
    let Some(remediator) = source.remediator() else {
        return Ok(None);
    };
    let keys = remediator.secret_keys();
    let env: Option<EnvVarName> = table.read_key(keys.env)?;
    let file: Option<PathBuf> = table.read_key(keys.file)?;
    let rate: Option<u32> = table.read_key(REMEDIATE_RATE_KEY)?;
    if rate.is_some_and(|r| !(1..=600).contains(&r)) {
        return Err(table.error(
            Some(REMEDIATE_RATE_KEY),
            format!(
                "{}: expected a number of changes per minute from 1 to 600",
                rate.unwrap_or(0)
            ),
        ));
    }
    let secret = match (env, file) {
        (Some(env), None) => Some((SecretRef::Env(env.0), keys.env)),
        (None, Some(path)) => Some((SecretRef::File(path), keys.file)),
        (Some(_), Some(_)) => {
            return Err(table.error(
                Some(keys.file),
                format!("set either `{}` or `{}`, not both", keys.env, keys.file),
            ));
        }
        (None, None) => None,
    };
    Ok(Some(RemediateConfig {
        secret: secret.as_ref().map(|(s, _)| s.clone()),
        secret_key: secret.map_or(keys.env, |(_, k)| k).to_string(),
        requests_per_minute: rate.unwrap_or(DEFAULT_REMEDIATE_RATE),
    }))
}

/// The source's name (it defaults to the type): a safe directory name of the evidence archive,
/// and no other source's.
fn unique_name(
    table: &SourceTable<'_>,
    name: Option<&str>,
    source: &dyn Source,
    seen_names: &mut BTreeMap<String, usize>,
) -> Result<String, ConfigError> {
    let name = name.map_or_else(|| source.kind().as_str().to_string(), str::to_string);
    if let Some(problem) = super::evidence::source_name_problem(&name) {
        return Err(table.error(Some("name"), problem));
    }
    if let Some(first) = seen_names.insert(name.clone(), table.index) {
        return Err(table.error(
            Some("name"),
            format!(
                "source name `{name}` is already used by sources[{first}]; every source needs its own `name` \
                 (it defaults to the type)"
            ),
        ));
    }
    Ok(name)
}

/// The source the table's `type` names.
fn source_of(table: &SourceTable<'_>) -> Result<&'static dyn Source, ConfigError> {
    if table.item.get_ref().as_table().is_none() {
        return Err(table.error(
            None,
            format!(
                "invalid type: {}, expected a table",
                table.item.get_ref().type_str()
            ),
        ));
    }
    let Some(value) = table.value("type") else {
        return Err(table.error(None, "missing field `type`".into()));
    };
    let name: String = table.deserialize(value, &[KeySegment::Key("type".into())])?;
    registry::find(&name).ok_or_else(|| {
        let mut path = table.path();
        path.push(KeySegment::Key("type".into()));
        table.error_at(
            path,
            Some(value.span().start),
            registry::unknown_type(&name),
        )
    })
}

/// Every key is shared, the source's secret key or one of its own; a key of another source's
/// table is named as such.
fn check_keys(table: &SourceTable<'_>, source: &dyn Source) -> Result<(), ConfigError> {
    let secret = source.secret_keys();
    let remediate: Vec<&str> = source.remediator().map_or_else(Vec::new, |r| {
        let keys = r.secret_keys();
        vec![keys.env, keys.file, REMEDIATE_RATE_KEY]
    });
    let allowed: Vec<&str> = LEADING_KEYS
        .iter()
        .copied()
        .chain([secret.env, secret.file])
        .chain(source.config_keys().iter().copied())
        .chain(remediate)
        .chain(FETCH_KEYS.iter().copied())
        .collect();
    for (key, _) in table.entries() {
        if allowed.contains(&key) {
            continue;
        }
        let message = match registry::owner_of_key(key, source.kind()) {
            Some(owner) => format!(
                "`{key}` belongs to type = \"{}\" sources; this source is type = \"{}\"",
                owner.kind(),
                source.kind()
            ),
            None => unknown_field(key, &allowed),
        };
        return Err(table.error(Some(key), message));
    }
    Ok(())
}

/// serde's message for a key a struct does not have.
fn unknown_field(key: &str, allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
    match quoted.as_slice() {
        [] => format!("unknown field `{key}`, there are no fields"),
        [one] => format!("unknown field `{key}`, expected {one}"),
        [a, b] => format!("unknown field `{key}`, expected {a} or {b}"),
        more => format!("unknown field `{key}`, expected one of {}", more.join(", ")),
    }
}

/// The source's fetch defaults, with what the table overrides, each within its bounds.
fn fetch_settings(
    table: &SourceTable<'_>,
    s: &SharedKeys,
    mut fetch: FetchSettings,
) -> Result<FetchSettings, ConfigError> {
    let at = |key: &str, message: String| table.error(Some(key), message);
    concurrency_settings(s, &mut fetch).map_err(|(key, message)| at(key, message))?;
    if let Some(rpm) = s.requests_per_minute {
        if rpm == 0 {
            return Err(at(
                "requests_per_minute",
                "0: expected a positive number of requests per minute".into(),
            ));
        }
        fetch.requests_per_minute = Some(rpm);
    }
    if let Some(b) = s.burst {
        if b == 0 {
            return Err(at("burst", "0: expected a positive burst size".into()));
        }
        fetch.burst = b;
    }
    if let Some(w) = s.max_retry_wait {
        fetch.max_retry_wait = w
            .within(MAX_RETRY_WAIT_RANGE)
            .map_err(|m| at("max_retry_wait", m))?;
    }
    if let Some(t) = s.request_timeout {
        fetch.request_timeout = t
            .within(REQUEST_TIMEOUT_RANGE)
            .map_err(|m| at("request_timeout", m))?;
    }
    if let Some(mb) = s.max_response_mb {
        if !(1..=1024).contains(&mb) {
            return Err(at(
                "max_response_mb",
                format!("{mb}: expected a number of MiB from 1 to 1024"),
            ));
        }
        fetch.max_response_bytes = u64::from(mb) << 20;
    }
    if let Some(m) = s.max_attempts {
        if !(1..=20).contains(&m) {
            return Err(at(
                "max_attempts",
                format!("{m}: expected a number from 1 to 20"),
            ));
        }
        fetch.max_attempts = m;
    }
    Ok(fetch)
}

/// Where fetching starts (`concurrency`) and how far the server's budget headers may take it
/// (`max_concurrency`): each from 1 to 64, the ceiling no lower than the start. Unset, the
/// ceiling is the default or the start, whichever is higher, so raising `concurrency` alone
/// still means what it says. An error names its key.
fn concurrency_settings(
    s: &SharedKeys,
    fetch: &mut FetchSettings,
) -> Result<(), (&'static str, String)> {
    let within = |key: &'static str, n: u32| {
        if (1..=64).contains(&n) {
            Ok(n as usize)
        } else {
            Err((key, format!("{n}: expected a number from 1 to 64")))
        }
    };
    if let Some(c) = s.concurrency {
        fetch.concurrency = within("concurrency", c)?;
    }
    match s.max_concurrency {
        Some(m) => {
            let m = within("max_concurrency", m)?;
            if m < fetch.concurrency {
                return Err((
                    "max_concurrency",
                    format!(
                        "{m}: expected at least `concurrency` ({}): fetching starts at `concurrency` \
                         and rises no higher than `max_concurrency`",
                        fetch.concurrency
                    ),
                ));
            }
            fetch.max_concurrency = m;
        }
        None => fetch.max_concurrency = fetch.max_concurrency.max(fetch.concurrency),
    }
    Ok(())
}

/// The field names of a struct read from a table: what a source's own keys are, taken from the
/// struct its [`Source::configure`] reads, so the list cannot drift from it.
pub(crate) fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    /// A deserializer that only records the fields a derived struct asks for.
    struct Fields(&'static [&'static str]);
    impl<'de> de::Deserializer<'de> for &mut Fields {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("fields recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Two {
        first: Option<u32>,
        #[serde(rename = "second_key")]
        second: Option<String>,
    }

    #[test]
    fn keys_of_a_struct_are_its_field_names_as_written_in_the_file() {
        assert_eq!(keys_of::<Two>(), ["first", "second_key"]);
        assert!(keys_of::<String>().is_empty(), "not a struct: no keys");
    }

    #[test]
    fn unknown_field_reads_as_serde_says_it() {
        assert_eq!(
            unknown_field("x", &["a", "b", "c"]),
            "unknown field `x`, expected one of `a`, `b`, `c`"
        );
        assert_eq!(
            unknown_field("x", &["a", "b"]),
            "unknown field `x`, expected `a` or `b`"
        );
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod config_tests;
