//! Which API an account or scope comes from.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// Which API an account or scope comes from: the `type` of its source (`"sentry"`, `"sentdm"`,
/// …) as configs, reports and evidence manifests spell it. Only an identifier: what a kind means
/// (its config keys, requests and answers) is known to the sources that `sources::registry`
/// lists, so a new API needs no variant here. Kept inline and `Copy` (no allocation per account)
/// and readable from any report without the registry (the model sits below the sources).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKind {
    len: u8,
    bytes: [u8; SourceKind::MAX_LEN],
}

impl SourceKind {
    /// The longest identifier: room for a descriptive API name, small enough to copy freely.
    pub const MAX_LEN: usize = 16;

    // The two APIs' identifiers keep the names they had as enum variants: rules and fixtures
    // name them directly.
    #[allow(non_upper_case_globals)]
    pub const Sentry: SourceKind = SourceKind::new("sentry");
    #[allow(non_upper_case_globals)]
    pub const Sentdm: SourceKind = SourceKind::new("sentdm");

    /// A kind for a constant. An identifier that [`SourceKind::parse`] refuses does not compile.
    pub const fn new(id: &str) -> SourceKind {
        match SourceKind::checked(id) {
            Some(kind) => kind,
            None => panic!("a source kind is 1 to 16 lower-case ASCII letters, digits or `_`"),
        }
    }

    /// A kind read from outside (a report, a manifest): 1 to 16 lower-case ASCII letters, digits
    /// or `_`, starting with a letter.
    pub fn parse(id: &str) -> Result<SourceKind, String> {
        SourceKind::checked(id).ok_or_else(|| {
            format!(
                "`{}` is not a source type: expected 1 to {} lower-case letters, digits or `_`",
                id.escape_debug(),
                SourceKind::MAX_LEN
            )
        })
    }

    const fn checked(id: &str) -> Option<SourceKind> {
        let src = id.as_bytes();
        if src.is_empty() || src.len() > SourceKind::MAX_LEN || !src[0].is_ascii_lowercase() {
            return None;
        }
        let mut bytes = [0u8; SourceKind::MAX_LEN];
        let mut i = 0;
        while i < src.len() {
            let b = src[i];
            if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return None;
            }
            bytes[i] = b;
            i += 1;
        }
        Some(SourceKind {
            len: src.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only `checked` builds a kind, from ASCII: the bytes are always valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SourceKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SourceKind::parse(&id).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kinds_read_and_write_as_their_identifier() {
        assert_eq!(SourceKind::Sentry.as_str(), "sentry");
        assert_eq!(
            serde_json::to_string(&SourceKind::Sentdm).unwrap(),
            "\"sentdm\""
        );
        let read: SourceKind = serde_json::from_str("\"sentry\"").unwrap();
        assert_eq!(read, SourceKind::Sentry);
        assert_eq!(
            SourceKind::parse("new_api2"),
            Ok(SourceKind::new("new_api2"))
        );
        for bad in [
            "",
            "Sentry",
            "1api",
            "sent-dm",
            "a_name_of_17_char",
            "sentry\n",
        ] {
            assert!(SourceKind::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<SourceKind>("\"../x\"").is_err());
    }
}
