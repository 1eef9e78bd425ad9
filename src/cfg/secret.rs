//! Secrets are named in the config file (an environment variable or a mounted file) and read
//! only here. They live in `SecretString`s, whose `Debug` prints `[REDACTED]`.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::files::{SECRET_FILE, Symlinks};

/// Where a secret comes from. Holds the *name* of the place, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Human description of the place: `environment variable SENTRY_AUTH_TOKEN`.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("environment variable {name}"),
            SecretRef::File(path) => format!("file {}", path.display()),
        }
    }

    /// Read the secret. The error says where we looked and why it failed, never what we found.
    pub fn resolve(&self) -> Result<SecretString, String> {
        let value = match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(format!("environment variable {name} is not set"));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("environment variable {name} is not valid UTF-8"));
                }
            },
            // Kubernetes mounts secrets as symlinks into `..data/`: follow them, but only to a
            // regular file of a bounded size (a FIFO would block the run forever).
            SecretRef::File(path) => {
                crate::files::read_bounded_text(path, SECRET_FILE, Symlinks::Follow)?
            }
        };
        // Kubernetes secret mounts and `echo > file` leave a trailing newline.
        let trimmed = value.trim_end_matches(['\n', '\r']);
        if trimmed.trim().is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        Ok(SecretString::from(trimmed.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn file_secret_is_trimmed_and_debug_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t-value\r\n").unwrap();
        let secret = SecretRef::File(path.clone()).resolve().unwrap();
        assert_eq!(secret.expose_secret(), "s3cr3t-value");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        std::fs::write(&path, "\n").unwrap();
        assert!(
            SecretRef::File(path)
                .resolve()
                .unwrap_err()
                .contains("is empty")
        );
    }

    /// Kubernetes: `token -> ..data/token`, `..data -> ..2026_11_01_…/`.
    #[cfg(unix)]
    #[test]
    fn a_kubernetes_style_symlinked_secret_is_followed_to_its_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("..2026_11_01_00_00_00.1");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("token"), "mounted\n").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("..data")).unwrap();
        let link = dir.path().join("token");
        std::os::unix::fs::symlink("..data/token", &link).unwrap();
        let secret = SecretRef::File(link).resolve().unwrap();
        assert_eq!(secret.expose_secret(), "mounted");
        // A directory is no secret, however it is reached.
        let err = SecretRef::File(dir.path().join("..data"))
            .resolve()
            .unwrap_err();
        assert!(
            err.contains("it is a directory, not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn missing_sources_are_named() {
        let err = SecretRef::Env("ACCESS_AUDIT_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .unwrap_err();
        assert_eq!(
            err,
            "environment variable ACCESS_AUDIT_TEST_SURELY_UNSET_VAR is not set"
        );
        let err = SecretRef::File("/nonexistent/token".into())
            .resolve()
            .unwrap_err();
        assert!(err.starts_with("cannot read secret file /nonexistent/token"));
    }
}
