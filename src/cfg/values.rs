//! Value types that validate themselves while the TOML is read, so a bad value is reported with
//! its key and line by the deserializer itself.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use url::Url;

use crate::model::FailOn;

/// A whole number of days, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Days(pub u32);

/// A whole number of days that may be 0 (a grace period can be switched off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DaysOrZero(pub u32);

const MAX_DAYS: i64 = 36_500;

/// Reads a whole number of days from `min` up, with a message that says so for any other type.
struct DaysVisitor {
    min: i64,
}

impl<'de> Visitor<'de> for DaysVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number of days from {} to {MAX_DAYS}", self.min)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<u32, E> {
        if (self.min..=MAX_DAYS).contains(&n) {
            u32::try_from(n).map_err(E::custom)
        } else {
            Err(E::custom(format!(
                "{n} is not a valid number of days: expected a whole number from {} to {MAX_DAYS}",
                self.min
            )))
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<u32, E> {
        self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(DaysVisitor { min: 1 }).map(Days)
    }
}

impl<'de> Deserialize<'de> for DaysOrZero {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(DaysVisitor { min: 0 }).map(DaysOrZero)
    }
}

impl<'de> Deserialize<'de> for FailOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// The name of an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvVarName(pub String);

impl<'de> Deserialize<'de> for EnvVarName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let valid = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(de::Error::custom(format!(
                "`{s}` is not an environment variable name: expected letters, digits and `_`, such as SENTRY_AUTH_TOKEN \
                 (the file names the variable; the secret itself never goes in the file)"
            )));
        }
        Ok(EnvVarName(s))
    }
}

/// An API base URL: `https://…`, or `http://…` to a loopback host only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl(pub Url);

impl BaseUrl {
    pub(crate) fn parse(s: &str) -> Result<BaseUrl, String> {
        let url = Url::parse(s).map_err(|e| format!("`{s}` is not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(&url) => {}
            "http" => {
                return Err(format!(
                    "`{s}` uses plain http:// to a host that is not loopback; tokens would cross the network \
                     unencrypted: use https://"
                ));
            }
            other => return Err(format!("`{s}` has scheme `{other}`: expected https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the base URL must not carry credentials; name the token's environment variable instead"
                    .to_string(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{s}` has a query or fragment: expected a bare base URL such as https://sentry.io"
            ));
        }
        Ok(BaseUrl(url))
    }

    /// The base with any trailing `/` removed, ready to have `/api/0/…` appended.
    pub(crate) fn trimmed(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.trimmed())
    }
}

pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        // Non-http schemes (smtp://) leave IP literals as opaque "domains".
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BaseUrl::parse(&s).map_err(de::Error::custom)
    }
}

/// Either the word `"all"` or a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllOr<T> {
    All,
    List(Vec<T>),
}

impl<T> AllOr<T> {
    /// Read `"all"` or a list of `T`; `what` names the items in errors ("organization slugs").
    /// Each value type that may appear in such a list implements `Deserialize for AllOr<Itself>`
    /// with this.
    pub(crate) fn deserialize_naming<'de, D>(d: D, what: &'static str) -> Result<AllOr<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        d.deserialize_any(AllOrVisitor(std::marker::PhantomData, what))
    }
}

struct AllOrVisitor<T>(std::marker::PhantomData<T>, &'static str);

impl<'de, T: Deserialize<'de>> Visitor<'de> for AllOrVisitor<T> {
    type Value = AllOr<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"all\" or a list of {}", self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v == "all" {
            Ok(AllOr::All)
        } else {
            Err(E::custom(format!(
                "`{v}` is not allowed here: expected \"all\" or a list of {}",
                self.1
            )))
        }
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(AllOr::List(items))
    }
}

/// A duration written the human way: `"30s"`, `"2m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub std::time::Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let dur = humantime::parse_duration(&s).map_err(|e| {
            de::Error::custom(format!(
                "`{s}` is not a duration such as \"30s\" or \"2m\" ({e})"
            ))
        })?;
        if dur.is_zero() {
            return Err(de::Error::custom("a duration of zero is not allowed"));
        }
        Ok(HumanDuration(dur))
    }
}

impl HumanDuration {
    /// The duration, if it lies within `(min, max)`; else a message naming the range.
    pub(crate) fn within(
        self,
        (min, max): (std::time::Duration, std::time::Duration),
    ) -> Result<std::time::Duration, String> {
        if (min..=max).contains(&self.0) {
            Ok(self.0)
        } else {
            Err(format!(
                "{}: expected a duration from {} to {}",
                humantime::format_duration(self.0),
                humantime::format_duration(min),
                humantime::format_duration(max)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert!(BaseUrl::parse("https://sentry.io").is_ok());
        assert!(BaseUrl::parse("http://127.0.0.1:8080").is_ok());
        assert!(BaseUrl::parse("http://localhost:1").is_ok());
        assert!(BaseUrl::parse("http://[::1]:9").is_ok());
        assert!(
            BaseUrl::parse("http://sentry.example.com")
                .unwrap_err()
                .contains("https")
        );
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("https://u:p@x").is_err());
        assert_eq!(
            BaseUrl::parse("https://sentry.io/").unwrap().trimmed(),
            "https://sentry.io"
        );
        assert_eq!(
            BaseUrl::parse("https://x.test/sentry/").unwrap().trimmed(),
            "https://x.test/sentry"
        );
    }
}
