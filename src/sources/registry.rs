//! The one list of the APIs access-audit audits. A new API is a folder under `src/sources/` that
//! implements [`Source`] and [`SourceSettings`](super::SourceSettings), its `mod` line in
//! `sources/mod.rs`, and one line here. Everything that depends on which API a source is asks
//! it through these traits; nothing else lists the APIs.

use super::source::Source;
use super::{sentdm, sentry};
use crate::model::SourceKind;

/// Every source, in the order error messages list them.
pub(crate) static SOURCES: &[&dyn Source] = &[
    &sentry::Sentry,
    &sentdm::Sentdm,
    #[cfg(test)]
    &super::testapi::TestApi,
];

/// The source whose `type` is `name`.
pub(crate) fn find(name: &str) -> Option<&'static dyn Source> {
    SOURCES.iter().copied().find(|s| s.kind().as_str() == name)
}

/// "unknown variant `x`, expected `a` or `b`": what serde said when the types were an enum.
pub(crate) fn unknown_type(name: &str) -> String {
    let names: Vec<String> = SOURCES.iter().map(|s| format!("`{}`", s.kind())).collect();
    let expected = match names.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        more => format!("one of {}", more.join(", ")),
    };
    format!("unknown variant `{name}`, expected {expected}")
}

/// The first source other than `except` whose table takes `key`: where a misplaced key belongs.
pub(crate) fn owner_of_key(key: &str, except: SourceKind) -> Option<&'static dyn Source> {
    SOURCES.iter().copied().find(|s| {
        let secret = s.secret_keys();
        let write = s.remediator().map(|r| r.secret_keys());
        s.kind() != except
            && (s.config_keys().contains(&key)
                || key == secret.env
                || key == secret.file
                || write.is_some_and(|w| key == w.env || key == w.file))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_has_its_own_type_and_secret_keys_apart_from_the_shared_ones() {
        for (i, s) in SOURCES.iter().enumerate() {
            assert!(
                SOURCES[..i].iter().all(|o| o.kind() != s.kind()),
                "{} is listed twice",
                s.kind()
            );
            let secret = s.secret_keys();
            for key in s.config_keys().iter().chain([&secret.env, &secret.file]) {
                assert!(
                    !super::super::config::is_shared_key(key),
                    "{}: `{key}` is a shared key",
                    s.kind()
                );
            }
            assert_eq!(find(s.kind().as_str()).map(|f| f.kind()), Some(s.kind()));
        }
    }
}
