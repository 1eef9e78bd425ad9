//! SMTP: where to send (from the secret `smtp_url`), TLS, retries, and `.eml` previews.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::cfg::values::is_loopback_host;

const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://…?tls=required`: STARTTLS, refusing to continue without it.
    StartTls,
    /// `smtp://` to a loopback relay only.
    Plain,
}

/// A parsed `smtp_url`. Holds the password; its `Debug` does not show it.
pub(crate) struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    user: Option<String>,
    password: Option<SecretString>,
    ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

const EXPECTED: &str = "expected smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required, or smtp://127.0.0.1:25 for a local relay";

impl SmtpTarget {
    /// Parse the secret URL. Errors never repeat the URL: it may hold a password.
    pub(crate) fn parse(
        secret: &SecretString,
        ca_file: Option<&Path>,
    ) -> Result<SmtpTarget, String> {
        let url = Url::parse(secret.expose_secret().trim())
            .map_err(|_| format!("it is not a URL: {EXPECTED}"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("it has no host: {EXPECTED}"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let security = security(&url)?;
        let port = url.port().unwrap_or(match security {
            Security::ImplicitTls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        });
        let user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
        let password = url
            .password()
            .map(|p| SecretString::from(percent_decode(p)));
        let ca_pem = ca_file.map(read_ca).transpose()?;
        Ok(SmtpTarget {
            host,
            port,
            security,
            user,
            password,
            ca_pem,
        })
    }

    fn transport(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
                .port(self.port)
                .timeout(Some(timeout));
        if self.security != Security::Plain {
            let mut params = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_pem {
                let cert =
                    Certificate::from_pem(pem).map_err(|e| format!("email.smtp_ca_file: {e}"))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| format!("cannot set up TLS for SMTP: {e}"))?;
            builder = builder.tls(match self.security {
                Security::ImplicitTls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(builder.build())
    }
}

/// How the URL asks to protect the connection (its scheme and `?tls=`), where that is allowed.
fn security(url: &Url) -> Result<Security, String> {
    let mut tls_param = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "tls" => tls_param = Some(v.into_owned()),
            other => return Err(format!("it has an unknown parameter `{other}`: {EXPECTED}")),
        }
    }
    match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None) => Ok(Security::ImplicitTls),
        ("smtp", Some("required")) => Ok(Security::StartTls),
        ("smtp", None | Some("none") | Some("opportunistic")) if is_loopback_host(url) => {
            Ok(Security::Plain)
        }
        ("smtp", None | Some("none") | Some("opportunistic")) => Err(format!(
            "plain smtp:// is only allowed to a loopback relay; mail and credentials would cross the network \
             unencrypted: use smtps:// or add ?tls=required ({EXPECTED})"
        )),
        ("smtps", Some(_)) => Err(format!("smtps:// takes no tls parameter: {EXPECTED}")),
        ("smtp", Some(other)) => Err(format!("tls={other} is not supported: {EXPECTED}")),
        (other, _) => Err(format!("scheme `{other}` is not SMTP: {EXPECTED}")),
    }
}

/// `email.smtp_ca_file`: the certificate the server's is checked against, read and parsed once
/// here so that a bad file fails before any work.
fn read_ca(path: &Path) -> Result<Vec<u8>, String> {
    let pem =
        crate::files::read_bounded(path, crate::files::PEM_FILE, crate::files::Symlinks::Follow)
            .map_err(|e| format!("email.smtp_ca_file: {e}"))?;
    Certificate::from_pem(&pem).map_err(|e| {
        format!(
            "email.smtp_ca_file {} is not a PEM certificate: {e}",
            path.display()
        )
    })?;
    Ok(pem)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Waits between attempts: after the first failure, after the second, ….
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2).saturating_mul(attempt)
}

/// The longest the whole email step may take: every attempt's deadline and the waits between
/// them, and a second's grace so that the per-attempt deadlines (whose errors say more) fire
/// first. A backstop, computed so that no setting overflows.
pub(crate) fn overall_bound(timeout: Duration) -> Duration {
    (1..ATTEMPTS).fold(
        timeout
            .saturating_mul(ATTEMPTS)
            .saturating_add(Duration::from_secs(1)),
        |total, attempt| total.saturating_add(backoff(attempt)),
    )
}

/// Send, retrying what may pass (connection trouble, 4xx answers, no answer in time); a 5xx
/// answer or a TLS failure is final. Each attempt ends after `timeout` whatever the server does
/// (lettre's own timeout covers only connecting). Returns the attempts made.
pub(crate) async fn send(
    target: &SmtpTarget,
    message: Message,
    timeout: Duration,
) -> Result<u32, String> {
    let bound = overall_bound(timeout);
    tokio::time::timeout(bound, send_with_retries(target, message, timeout))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "sending the email through {}:{} timed out: not done within {} ({ATTEMPTS} attempts of email.timeout = {} and the waits between them)",
                target.host,
                target.port,
                humantime::format_duration(bound),
                humantime::format_duration(timeout)
            ))
        })
}

async fn send_with_retries(
    target: &SmtpTarget,
    message: Message,
    timeout: Duration,
) -> Result<u32, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A fresh transport each time: lettre's pool would hand the next attempt the connection
        // a timed-out attempt left mid-command, out of step with the server.
        let transport = target.transport(timeout)?;
        let (error, permanent) =
            match tokio::time::timeout(timeout, transport.send(message.clone())).await {
                Ok(Ok(_)) => return Ok(attempt),
                Ok(Err(e)) => {
                    let permanent = e.is_permanent() || e.is_tls();
                    (format!("failed: {e}"), permanent)
                }
                Err(_) => (
                    format!(
                        "timed out: no answer within {} (email.timeout)",
                        humantime::format_duration(timeout)
                    ),
                    false,
                ),
            };
        let what = format!(
            "sending the email through {}:{} {error}",
            target.host, target.port
        );
        if permanent || attempt >= ATTEMPTS {
            return Err(if permanent {
                what
            } else {
                format!("{what} (after {attempt} attempts)")
            });
        }
        let wait = backoff(attempt);
        tracing::warn!(attempt, wait_s = wait.as_secs(), error = %what, "email not sent; retrying");
        tokio::time::sleep(wait).await;
    }
}

/// Write the message to `dir/<id>.eml` instead of sending it.
pub(crate) async fn write_preview(message: Message, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create email preview directory {}: {e}",
            dir.display()
        )
    })?;
    let id = AsyncFileTransport::<Tokio1Executor>::new(dir)
        .send(message)
        .await
        .map_err(|e| format!("cannot write the email preview in {}: {e}", dir.display()))?;
    Ok(dir.join(format!("{id}.eml")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_step_is_bounded_for_any_timeout() {
        // 3 attempts of 60s, waits of 2s and 4s between them, 1s of grace.
        assert_eq!(
            overall_bound(Duration::from_secs(60)),
            Duration::from_secs(187)
        );
        assert_eq!(overall_bound(Duration::MAX), Duration::MAX);
    }

    fn parse(url: &str) -> Result<SmtpTarget, String> {
        SmtpTarget::parse(&SecretString::from(url.to_string()), None)
    }

    #[test]
    fn url_forms() {
        let t = parse("smtps://audit%40acme.example:p%40ss%3Aword@mail.acme.example").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("mail.acme.example", 465, Security::ImplicitTls)
        );
        assert_eq!(t.user.as_deref(), Some("audit@acme.example"));
        assert_eq!(t.password.as_ref().unwrap().expose_secret(), "p@ss:word");
        let t = parse("smtp://u:p@mail.acme.example:2587?tls=required").unwrap();
        assert_eq!((t.port, t.security), (2587, Security::StartTls));
        let t = parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.port, t.security, t.user.is_none()),
            (2525, Security::Plain, true)
        );
        assert_eq!(parse("smtp://localhost").unwrap().port, 25);
    }

    #[test]
    fn insecure_or_odd_urls_are_refused_without_echoing_them() {
        for url in [
            "smtp://user:hunter2@mail.acme.example:587",
            "smtp://user:hunter2@mail.acme.example?tls=opportunistic",
            "smtps://user:hunter2@mail.acme.example?tls=required",
            "http://user:hunter2@mail.acme.example",
            "smtp://user:hunter2@mail.acme.example?tls=required&foo=1",
            "not a url hunter2",
        ] {
            let err = parse(url).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
        assert!(
            parse("smtp://mail.acme.example")
                .unwrap_err()
                .contains("only allowed to a loopback relay")
        );
        assert!(!format!("{:?}", parse("smtps://u:hunter2@h").unwrap()).contains("hunter2"));
    }
}
