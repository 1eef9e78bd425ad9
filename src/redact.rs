//! Known secret values, kept out of everything the run writes for people to read.
//!
//! A server that echoes a token in an error message, a proxy that reflects a header, a mail
//! server that repeats a password: whatever they send back must not travel on into a report, an
//! evidence manifest's `error`, a log line or an email. Every secret the run resolves is
//! registered here (with the encodings in which it travels: percent-encoded in a URL, base64 in
//! SMTP AUTH), and the boundaries where outside text enters — API answers, transport errors —
//! and the one place where log lines leave (the log writer) pass text through [`redact`].
//!
//! Secrets shorter than [`MIN_LEN`] are not registered: they would match ordinary words (a
//! password `admin` would blank every admin role in the report). API tokens are far longer.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What a secret is replaced with.
pub(crate) const MASK: &str = "[REDACTED]";
/// Shorter values are not redacted from text (see the module docs).
pub(crate) const MIN_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Register a secret and the forms in which it is sent: as is, percent-encoded (strictly,
/// and as a query string encodes it), base64.
pub(crate) fn register(secret: &str) {
    let strict = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let query: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    add(&[secret, &strict, &query, &STANDARD.encode(secret)]);
}

/// Register the credentials of a URL's user-info (`smtps://user:password@host`): the whole
/// URL, the password, and SMTP AUTH's encodings of them (PLAIN: base64 of `\0user\0password`;
/// LOGIN: base64 of each). The user name alone is not a secret and is not registered.
pub(crate) fn register_url_credentials(url: &str) {
    register(url.trim());
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return;
    };
    let Some(password) = parsed.password() else {
        return;
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = (decode(parsed.username()), decode(password));
    register(&password);
    add(&[&STANDARD.encode(format!("\0{user}\0{password}"))]);
}

fn add(values: &[&str]) {
    let Ok(mut secrets) = SECRETS.write() else {
        return;
    };
    for value in values {
        if value.len() >= MIN_LEN && !secrets.iter().any(|s| s == value) {
            secrets.push((*value).to_string());
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret replaced by [`MASK`].
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// `bytes` with every registered secret replaced; the input itself when none occurs (the
/// common case costs one substring search per secret).
pub(crate) fn redact_bytes(bytes: bytes::Bytes) -> bytes::Bytes {
    let Ok(secrets) = SECRETS.read() else {
        return bytes;
    };
    if !secrets
        .iter()
        .any(|s| memchr::memmem::find(&bytes, s.as_bytes()).is_some())
    {
        return bytes;
    }
    let mut out = bytes.to_vec();
    for secret in secrets.iter() {
        out = replace_all(&out, secret.as_bytes(), MASK.as_bytes());
    }
    bytes::Bytes::from(out)
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = memchr::memmem::find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is process-wide: each test uses values no other test registers.
    #[test]
    fn secrets_and_their_encodings_are_masked() {
        register("sk_live_redact-test/1");
        let text = "key sk_live_redact-test/1 or sk_live_redact-test%2F1 or sk%5Flive%5Fredact%2Dtest%2F1 \
                    or c2tfbGl2ZV9yZWRhY3QtdGVzdC8x";
        assert_eq!(
            redact(text),
            "key [REDACTED] or [REDACTED] or [REDACTED] or [REDACTED]"
        );
        assert_eq!(
            redact_bytes(bytes::Bytes::from_static(
                b"{\"m\":\"sk_live_redact-test/1!\"}"
            )),
            bytes::Bytes::from_static(b"{\"m\":\"[REDACTED]!\"}")
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn url_credentials_and_smtp_auth_forms() {
        register_url_credentials("smtps://audit%40acme.example:p%40ssw0rd-redact@mail.example:465");
        let plain = STANDARD.encode("\0audit@acme.example\0p@ssw0rd-redact");
        let text = format!(
            "AUTH PLAIN {plain} / p@ssw0rd-redact / {}",
            STANDARD.encode("p@ssw0rd-redact")
        );
        let out = redact(&text);
        assert!(!out.contains("ssw0rd"), "{out}");
        assert!(!out.contains(&plain), "{out}");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("admin");
        assert_eq!(redact("role admin"), "role admin");
    }
}
