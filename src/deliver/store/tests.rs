//! `[store]` validation and file selection (tests/it/store.rs uploads to real stores).

use super::*;

fn raw(text: &str) -> RawStore {
    toml::from_str(text).unwrap()
}

#[test]
fn urls_are_checked_with_their_placeholders() {
    let ok = validate(raw("url = \"s3://audit-bucket/access-audit/{date}\"")).unwrap();
    assert_eq!(ok.scheme, Scheme::S3);
    assert_eq!(ok.include, Include::ALL.to_vec());
    assert_eq!(ok.timeout, DEFAULT_TIMEOUT);
    assert_eq!(ok.url, "s3://audit-bucket/access-audit/{date}");
    for (url, scheme) in [
        ("gs://b/p/{as_of}", Scheme::Gcs),
        ("az://container/p", Scheme::Azure),
        ("file:///var/backups/audit/{date}", Scheme::File),
    ] {
        assert_eq!(
            validate(raw(&format!("url = \"{url}\""))).unwrap().scheme,
            scheme,
            "{url}"
        );
    }
    for (url, expected) in [
        ("s3://b/{month}", "`{month}`"),
        ("https://b.s3.amazonaws.com/x", "scheme `https`"),
        ("s3://key:hunter2@b/x", "carries credentials"),
        ("s3://key:hunter2@b/{month}", "s3://***@b/{month}"),
        ("s3://key:hunter2@/x y", "not a URL"),
        ("s3://b/x?versionId=1", "query"),
        ("s3:///x", "no bucket"),
        ("s3://b/a//c", "empty"),
        ("s3://b/a/../c", "`..`"),
        ("file://server/share", "must be local"),
        ("not a url", "not a URL"),
    ] {
        let (key, message) = validate(raw(&format!("url = \"{url}\""))).unwrap_err();
        assert_eq!(key, "url");
        assert!(message.contains(expected), "{url}: {message}");
        assert!(
            !message.contains("hunter2"),
            "credentials are never echoed: {message}"
        );
    }
}

#[test]
fn include_and_timeout() {
    let s = validate(raw(
        "url = \"s3://b\"\ninclude = [\"evidence\", \"reports\", \"evidence\"]\ntimeout = \"2m\"",
    ))
    .unwrap();
    assert_eq!(s.include, vec![Include::Evidence, Include::Reports]);
    assert_eq!(s.timeout, Duration::from_secs(120));
    assert_eq!(
        validate(raw("url = \"s3://b\"\ninclude = []"))
            .unwrap_err()
            .0,
        "include"
    );
    assert_eq!(
        validate(raw("url = \"s3://b\"\ntimeout = \"1s\""))
            .unwrap_err()
            .0,
        "timeout"
    );
    let unknown = toml::from_str::<RawStore>("url = \"s3://b\"\ninclude = [\"logs\"]").unwrap_err();
    assert!(
        unknown.to_string().contains("unknown variant `logs`"),
        "{unknown}"
    );
    let unknown = toml::from_str::<RawStore>("url = \"s3://b\"\nbucket = \"x\"").unwrap_err();
    assert!(unknown.to_string().contains("unknown field"), "{unknown}");
}

#[test]
fn files_are_sorted_into_kinds() {
    assert_eq!(Include::of(Path::new("report.html")), Include::Reports);
    assert_eq!(Include::of(Path::new("people.csv")), Include::Reports);
    assert_eq!(
        Include::of(Path::new("evidence/manifest.json")),
        Include::Evidence
    );
    assert_eq!(
        Include::of(Path::new("evidence/sentry/acme/0001.json")),
        Include::Evidence
    );
    assert_eq!(Include::of(Path::new("email/1234.eml")), Include::Email);
    assert_eq!(Include::of(Path::new("preview.eml")), Include::Email);
    assert_eq!(
        relative_path(Path::new("evidence/a/0001.json")).unwrap(),
        "evidence/a/0001.json"
    );
    for bad in ["../x", "/etc/passwd", "a/../b", ""] {
        assert!(relative_path(Path::new(bad)).is_err(), "{bad}");
    }
}

#[test]
fn plain_http_endpoints_must_be_loopback() {
    let settings = validate(raw("url = \"s3://b/p\"")).unwrap();
    let as_of = Utc::now();
    let env = |endpoint: &str| {
        CloudEnv::from_pairs([
            ("AWS_ACCESS_KEY_ID".to_string(), "AKIDEXAMPLE".to_string()),
            (
                "AWS_SECRET_ACCESS_KEY".to_string(),
                "store-unit-secret-key".to_string(),
            ),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL".to_string(), endpoint.to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ])
    };
    let err = Store::connect(&settings, &as_of, &env("http://minio.internal:9000")).unwrap_err();
    assert!(err.message.contains("plain http://"), "{err}");
    assert!(err.message.contains("http://minio.internal:9000"), "{err}");
    assert!(Store::connect(&settings, &as_of, &env("http://127.0.0.1:9000")).is_ok());
    assert!(Store::connect(&settings, &as_of, &env("https://minio.internal:9000")).is_ok());
    assert_eq!(
        crate::redact::redact("key store-unit-secret-key"),
        "key [REDACTED]"
    );
    let shown = format!("{:?}", env("https://x"));
    assert!(shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("store-unit-secret-key"));
    assert!(
        !shown.contains("HOME"),
        "only the clouds' variables are taken"
    );
}
