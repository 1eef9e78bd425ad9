//! Files that appear whole or not at all: written to a temporary file in the same directory,
//! flushed to disk, then renamed over the final name. A killed run leaves at most a stray
//! `.access-audit-*.tmp`, never a half-written report or evidence file.

use std::io::Write;
use std::path::Path;

/// Write `path` atomically; `fill` streams the content.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".access-audit-").suffix(".tmp");
    // Reports and evidence are for other people and processes to read (subject to the umask),
    // not private scratch files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    let err = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp);
    fill(&mut out)?;
    out.flush().map_err(|e| err(&e))?;
    let tmp = out.into_inner().map_err(|e| err(e.error()))?;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    tmp.persist(path).map_err(|e| err(&e.error))?;
    Ok(())
}

/// Write bytes to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically(path, |out| {
        out.write_all(bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}

/// Fail early, with a clear message, if files cannot be created in `dir`.
pub fn probe_writable(dir: &Path) -> Result<(), String> {
    tempfile::Builder::new()
        .prefix(".access-audit-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("directory {} is not writable: {e}", dir.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_readable_by_others_and_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_bytes(&path, b"one").unwrap();
        write_bytes(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // What the umask lets through, seen on a plainly created file (0o666 before the umask).
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let allowed = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o644 & allowed,
            "rw-r--r-- less the umask, not the 0600 of a temporary file"
        );
        // A failing writer leaves nothing under the final name.
        let other = dir.path().join("findings.csv");
        assert!(write_atomically(&other, |_| Err("boom".into())).is_err());
        assert!(!other.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "report.json and plain; the temporary file was removed"
        );
    }
}

/// Fill `{date}` (2026-11-20) and `{as_of}` (2026-11-20T060000Z, safe in file names) in a
/// directory path, so each scheduled run keeps its own folder.
pub fn expand_placeholders(
    path: &Path,
    as_of: &chrono::DateTime<chrono::Utc>,
) -> Result<std::path::PathBuf, String> {
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    if !text.contains('{') {
        return Ok(path.to_path_buf());
    }
    let date = as_of.format("%Y-%m-%d").to_string();
    let stamp = as_of.format("%Y-%m-%dT%H%M%SZ").to_string();
    let expanded = text.replace("{date}", &date).replace("{as_of}", &stamp);
    if let Some(start) = expanded.find('{') {
        let end = expanded[start..]
            .find('}')
            .map_or(expanded.len(), |e| start + e + 1);
        return Err(format!(
            "unknown placeholder `{}` in {}: expected {{date}} or {{as_of}}",
            &expanded[start..end],
            path.display()
        ));
    }
    Ok(expanded.into())
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn date_and_as_of_are_filled() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 11, 20, 6, 5, 9).unwrap();
        assert_eq!(
            expand_placeholders(Path::new("reports/{date}"), &t).unwrap(),
            Path::new("reports/2026-11-20")
        );
        assert_eq!(
            expand_placeholders(Path::new("/out/{as_of}/x"), &t).unwrap(),
            Path::new("/out/2026-11-20T060509Z/x")
        );
        assert_eq!(
            expand_placeholders(Path::new("plain"), &t).unwrap(),
            Path::new("plain")
        );
        assert!(
            expand_placeholders(Path::new("r/{month}"), &t)
                .unwrap_err()
                .contains("`{month}`")
        );
    }
}
