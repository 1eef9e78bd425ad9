//! The `[store] url`: where the run folder goes. Its placeholders are filled, then it must be a
//! URL of a known scheme that names a bucket or container (or a local directory), with no
//! credentials, query or fragment, and a key prefix that is exactly the one written.

use std::path::Path;

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use url::Url;

const EXPECTED: &str = "expected s3://bucket/prefix, gs://bucket/prefix, az://container/prefix or file:///absolute/path";

/// The kind of store a URL names, by its scheme: `s3`, `gs`, `az`, `file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
    File,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::S3 => "S3",
            Scheme::Gcs => "Google Cloud Storage",
            Scheme::Azure => "Azure Blob Storage",
            Scheme::File => "local file",
        }
    }
}

/// The URL with its placeholders filled, parsed and checked.
pub(super) struct ParsedTarget {
    pub scheme: Scheme,
    pub url: Url,
    /// The object key prefix, decoded (empty for file://, whose directory is the root).
    pub prefix: String,
}

/// The URL `template` with `as_of` filled in, checked. Errors quote it without its user-info.
pub(super) fn parse_target(template: &str, as_of: &DateTime<Utc>) -> Result<ParsedTarget, String> {
    let raw = template.trim();
    // What errors quote: the URL with any user-info masked, since it may be a real secret.
    let template = &without_userinfo(raw);
    let expanded = crate::output::expand_placeholders(Path::new(raw), as_of)
        .map_err(|m| m.replace(raw, template))?;
    let text = expanded.to_str().unwrap_or(raw);
    // `url` resolves `a/../b` to `b`; a key prefix other than the one written is refused instead.
    if has_dot_segment(text) {
        return Err(format!("`{template}`: the path has a `.` or `..` segment"));
    }
    let url =
        Url::parse(text).map_err(|e| format!("`{template}` is not a URL ({e}): {EXPECTED}"))?;
    let scheme = match url.scheme() {
        "s3" => Scheme::S3,
        "gs" => Scheme::Gcs,
        "az" => Scheme::Azure,
        "file" => Scheme::File,
        other => return Err(format!("`{template}` has scheme `{other}`: {EXPECTED}")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{template}` carries credentials: {EXPECTED}; they come from the environment (AWS_ACCESS_KEY_ID, \
             GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY, …), never from the file: remove them, and rotate \
             them if the file was shared"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{template}` has a query or a fragment: {EXPECTED}"
        ));
    }
    let prefix = prefix_of(&url, scheme, template)?;
    Ok(ParsedTarget {
        scheme,
        url,
        prefix,
    })
}

/// Whether the path of `text` (a URL as written) has a `.` or `..` segment, percent-encoded or
/// not.
fn has_dot_segment(text: &str) -> bool {
    let path_part = text.split_once("://").map_or("", |(_, rest)| rest);
    path_part.split(['/', '?', '#']).skip(1).any(|seg| {
        matches!(
            seg.to_ascii_lowercase().replace("%2e", ".").as_str(),
            "." | ".."
        )
    })
}

/// The object key prefix `url` names, decoded: empty for a local `file://` directory, the path
/// after the bucket or container otherwise. `template` is the URL as errors quote it.
fn prefix_of(url: &Url, scheme: Scheme, template: &str) -> Result<String, String> {
    let host = url.host_str().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(url.path())
        .decode_utf8()
        .map_err(|_| format!("`{template}`: the path is not UTF-8"))?;
    let prefix = match scheme {
        Scheme::File if !(host.is_empty() || host == "localhost") => {
            return Err(format!(
                "`{template}` names host `{host}`: a file:// URL must be local, such as file:///var/backups/access-audit"
            ));
        }
        Scheme::File => String::new(),
        _ if host.is_empty() => {
            return Err(format!(
                "`{template}` names no bucket or container: {EXPECTED}"
            ));
        }
        _ => decoded.trim_matches('/').to_string(),
    };
    if !prefix.is_empty() {
        ObjectPath::parse(&prefix).map_err(|_| {
            format!("`{template}`: the prefix `{prefix}` has an empty, `.` or `..` segment")
        })?;
    }
    Ok(prefix)
}

/// `s3://***@bucket/x` for `s3://user:pass@bucket/x`; other text as it is.
fn without_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}
