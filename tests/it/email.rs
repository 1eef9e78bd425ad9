//! Email delivery against a real SMTP server on loopback (`support::smtp_server`, in Rust), plain and
//! with TLS (STARTTLS and implicit), then the received envelope and message taken apart; and the
//! email step's deadlines, stops and secrecy.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::*;
use crate::support::smtp_server::{self, Options, Received, Silence, SmtpServer, TestPki};
use mailparse::{MailHeaderMap, ParsedMail};
use predicates::prelude::*;

fn server_with(encryption: smtp_server::Encryption) -> SmtpServer {
    SmtpServer::start(Options {
        encryption,
        ..Options::default()
    })
}

fn email_config(extra: &str) -> String {
    format!(
        r#"
[report]
title = "Acme review"

[email]
enabled = true
from = "Access Audit <audit@acme.example>"
to = ["security@acme.example", "CISO <ciso@acme.example>"]
smtp_url_env = "SMTP_URL"
attach = ["html", "csv", "accounts", "json"]
{extra}
"#
    )
}

fn replay_demo(dir: &Path, config: &str, smtp_url: &str) -> assert_cmd::assert::Assert {
    replay_demo_env(dir, config, smtp_url, &[])
}

/// [`replay_demo`] with more of the environment (a cloud's credentials).
fn replay_demo_env(
    dir: &Path,
    config: &str,
    smtp_url: &str,
    env: &[(&str, String)],
) -> assert_cmd::assert::Assert {
    let cfg = write_config(dir, config);
    let mut cmd = bin();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("SMTP_URL", smtp_url)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
        ])
        .args(["--out", dir.join("out").to_str().unwrap()])
        .assert()
}

fn part_types(mail: &ParsedMail<'_>, out: &mut Vec<(String, Option<String>)>) {
    let disposition = mail.get_content_disposition();
    out.push((
        mail.ctype.mimetype.clone(),
        disposition.params.get("filename").cloned(),
    ));
    for sub in &mail.subparts {
        part_types(sub, out);
    }
}

fn find_part<'a>(
    mail: &'a ParsedMail<'a>,
    mimetype: &str,
    filename: Option<&str>,
) -> &'a ParsedMail<'a> {
    fn search<'a>(
        mail: &'a ParsedMail<'a>,
        mimetype: &str,
        filename: Option<&str>,
    ) -> Option<&'a ParsedMail<'a>> {
        let name = mail
            .get_content_disposition()
            .params
            .get("filename")
            .cloned();
        if mail.ctype.mimetype == mimetype && name.as_deref() == filename {
            return Some(mail);
        }
        mail.subparts
            .iter()
            .find_map(|sub| search(sub, mimetype, filename))
    }
    search(mail, mimetype, filename).unwrap_or_else(|| panic!("no part {mimetype} {filename:?}"))
}

fn check_message(received: &Received, dir: &Path) {
    // The envelope: from the configured sender, to both recipients.
    assert_eq!(received.mail_from, "audit@acme.example");
    assert_eq!(
        received.rcpt_to,
        vec!["security@acme.example", "ciso@acme.example"]
    );
    let mail = mailparse::parse_mail(&received.data).unwrap();
    let headers = &mail.headers;
    assert_eq!(
        headers.get_first_value("Subject").unwrap(),
        "[access-audit] Acme review 2026-11-20: 73 failing, 2 scopes incomplete"
    );
    assert_eq!(
        headers.get_first_value("From").unwrap(),
        "\"Access Audit\" <audit@acme.example>"
    );
    // Threading, sorting, and no auto-replies to a machine (RFC 3834).
    let message_id = headers.get_first_value("Message-ID").unwrap_or_default();
    assert!(
        message_id.starts_with('<') && message_id.contains('@') && message_id.ends_with('>'),
        "{message_id}"
    );
    assert!(headers.get_first_value("Date").is_some());
    assert_eq!(
        headers.get_first_value("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let to = headers.get_first_value("To").unwrap();
    assert!(
        to.contains("security@acme.example") && to.contains("ciso@acme.example"),
        "{to}"
    );

    let mut parts = Vec::new();
    part_types(&mail, &mut parts);
    assert_eq!(
        parts,
        vec![
            ("multipart/mixed".into(), None),
            ("multipart/alternative".into(), None),
            ("text/plain".into(), None),
            ("text/html".into(), None),
            ("text/html".into(), Some("report.html".into())),
            ("text/csv".into(), Some("findings.csv".into())),
            ("text/csv".into(), Some("accounts.csv".into())),
            ("application/json".into(), Some("report.json".into())),
        ]
    );
    let text = find_part(&mail, "text/plain", None).get_body().unwrap();
    assert!(text.contains("73 failing findings across 7 scopes"));
    assert!(text.contains("INCOMPLETE RUN"));
    assert!(
        text.contains("req_7X9zKp2jDw"),
        "failed scopes with their request id"
    );
    let html = find_part(&mail, "text/html", None).get_body().unwrap();
    assert!(html.contains("INCOMPLETE RUN") && !html.contains("<svg") && !html.contains("<script"));
    // The attachments are the reports on disk, byte for byte.
    for (mime, name) in [
        ("application/json", "report.json"),
        ("text/csv", "findings.csv"),
        ("text/csv", "accounts.csv"),
        ("text/html", "report.html"),
    ] {
        let attached = find_part(&mail, mime, Some(name)).get_body_raw().unwrap();
        let on_disk = std::fs::read(dir.join("out").join(name)).unwrap();
        if name == "report.html" || name == "report.json" {
            // generated_at is the only thing that differs between two renderings.
            assert_eq!(attached.len(), on_disk.len(), "{name}");
        } else {
            assert_eq!(attached, on_disk, "{name}");
        }
    }
}

#[test]
fn plain_smtp_to_a_local_relay() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(smtp_server::Encryption::None);
    replay_demo(
        dir.path(),
        &email_config(""),
        &format!("smtp://127.0.0.1:{}", server.port),
    )
    .code(4);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(!messages[0].tls);
    check_message(&messages[0], dir.path());
}

#[test]
fn starttls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path());
    let server = server_with(pki.starttls());
    let url = format!("smtp://localhost:{}?tls=required", server.port);
    let config = email_config(&format!("smtp_ca_file = \"{}\"", pki.ca_pem.display()));
    replay_demo(dir.path(), &config, &url).code(4);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls, "the message came after STARTTLS");
    check_message(&messages[0], dir.path());

    // Without the CA the certificate is not trusted: nothing is sent, exit 5, reports on disk.
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    replay_demo(dir.path(), &email_config(""), &url)
        .code(5)
        .stderr(predicate::str::contains("email delivery failed"));
    assert_eq!(server.messages().len(), 1);
    assert!(dir.path().join("out/report.html").exists());
}

#[test]
fn implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path());
    let server = server_with(pki.implicit());
    let config = email_config(&format!("smtp_ca_file = \"{}\"", pki.ca_pem.display()));
    replay_demo(
        dir.path(),
        &config,
        &format!("smtps://127.0.0.1:{}", server.port),
    )
    .code(4);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].tls);
    check_message(&messages[0], dir.path());
}

#[test]
fn unreachable_server_exits_5_after_retries_with_reports_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    replay_demo(
        dir.path(),
        &email_config(""),
        &format!("smtp://127.0.0.1:{port}"),
    )
    .code(5)
    .stderr(predicate::str::contains("after 3 attempts"));
    for f in ["report.html", "report.json", "findings.csv", "accounts.csv"] {
        assert!(dir.path().join("out").join(f).exists(), "{f}");
    }
}

#[test]
fn insecure_smtp_url_is_refused_before_any_work_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    replay_demo(
        dir.path(),
        &email_config(""),
        "smtp://audit:hunter2@mail.acme.example:587",
    )
    .code(1)
    .stderr(predicate::str::contains("email.smtp_url_env"))
    .stderr(predicate::str::contains("only allowed to a loopback relay"))
    .stderr(predicate::str::contains("hunter2").not());
    assert!(!dir.path().join("out/report.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn send_problems_skips_a_clean_run() {
    let api = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!([sentry_member(
                1,
                "member",
                true,
                Some("2026-10-31T00:00:00Z")
            )])),
        )
        .mount(&api)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(smtp_server::Encryption::None);
    let config = format!(
        "{}send = \"problems\"\n[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n",
        email_config(""),
        api.uri()
    );
    let cfg = write_config(dir.path(), &config);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let run = |as_of: &'static str, code: i32| {
        let (cfg, out, url) = (cfg.clone(), dir.path().join("out"), url.clone());
        move || {
            bin()
                .env("SMTP_URL", &url)
                .args([
                    "--config",
                    cfg.to_str().unwrap(),
                    "run",
                    "--as-of",
                    as_of,
                    "--out",
                    out.to_str().unwrap(),
                ])
                .assert()
                .code(code);
        }
    };
    tokio::task::spawn_blocking(run(AS_OF, 0)).await.unwrap();
    assert!(
        server.messages().is_empty(),
        "a clean run sends nothing with send = \"problems\""
    );
    // Half a year later the same member is stale: a problem, so the email goes out.
    tokio::task::spawn_blocking(run("2027-06-01T00:00:00Z", 3))
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn preview_writes_the_eml_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &email_config("").replace("enabled = true", "enabled = false"),
    );
    let preview = dir.path().join("preview");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
        ])
        .args([
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--email-preview",
            preview.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let files: Vec<_> = std::fs::read_dir(&preview)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert!(
        mail.headers
            .get_first_value("Subject")
            .unwrap()
            .starts_with("[access-audit] Acme review 2026-11-20")
    );
}

// ---------------------------------------------------------------------------------------------
// Where the message says the reports are: the stored report.html once the upload has succeeded
// (the email is sent after it), the local folder when there is no store or the upload failed.

/// The plain-text and HTML bodies of the one message the server received.
fn received_bodies(server: &SmtpServer) -> (String, String) {
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let mail = mailparse::parse_mail(&messages[0].data).unwrap();
    let text = find_part(&mail, "text/plain", None).get_body().unwrap();
    let html = find_part(&mail, "text/html", None).get_body().unwrap();
    (text, html)
}

#[test]
fn the_email_links_to_the_stored_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(smtp_server::Encryption::None);
    let bucket = dir.path().join("bucket");
    let config = email_config(&format!(
        "\n[store]\nurl = \"file://{}/{{date}}\"\n",
        bucket.display()
    ));
    replay_demo(
        dir.path(),
        &config,
        &format!("smtp://127.0.0.1:{}", server.port),
    )
    .code(4);
    let stored = bucket.join("2026-11-20/report.html");
    let url = format!("file://{}", stored.display());
    let (text, html) = received_bodies(&server);
    assert!(
        text.lines().any(|l| l == format!("Stored report: {url}")),
        "{text}"
    );
    assert!(!text.contains("Reports are in"), "{text}");
    assert!(
        html.contains(&url) && !html.contains("Reports are in"),
        "{html}"
    );
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(dir.path().join("out/report.html")).unwrap()
    );
}

#[test]
fn a_failed_upload_is_exit_5_and_the_email_names_the_local_reports() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(smtp_server::Encryption::None);
    // A port that was free a moment ago: the S3 endpoint refuses every connection.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAACCESSAUDITTEST".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "email-test-secret-key".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
    ];
    let config = email_config("\n[store]\nurl = \"s3://audit-bucket/runs\"\ntimeout = \"10s\"\n");
    let assert = replay_demo_env(
        dir.path(),
        &config,
        &format!("smtp://127.0.0.1:{}", server.port),
        &env,
    )
    .code(5);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("uploading the run's files failed"),
        "{stderr}"
    );
    let out = dir.path().join("out");
    let (text, html) = received_bodies(&server);
    assert!(
        text.contains(&format!("Reports are in {}.", out.display())),
        "{text}"
    );
    assert!(
        !text.contains("Stored report") && !text.contains("s3://"),
        "{text}"
    );
    assert!(!html.contains("s3://"), "{html}");
    // The local reports are whole, as the email's attachments show them.
    check_message(&server.messages()[0], dir.path());
    assert_eq!(read_json(&out.join("report.json"))["complete"], false);
}

/// A user's copy of a template from before `report_url` names only `output_dir`; strict mode
/// still renders it, with a store configured.
#[test]
fn an_older_template_that_names_only_output_dir_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("email.txt.hbs"),
        "{{verdict}}\nReports are in {{output_dir}}.\n",
    )
    .unwrap();
    std::fs::write(
        templates.join("email.html.hbs"),
        "<p>{{verdict}}</p><p>Reports are in {{output_dir}}.</p>",
    )
    .unwrap();
    let server = server_with(smtp_server::Encryption::None);
    let config = email_config(&format!(
        "\n[store]\nurl = \"file://{}/bucket\"\n",
        dir.path().display()
    ))
    .replace(
        "title = \"Acme review\"",
        &format!(
            "title = \"Acme review\"\ntemplate_dir = \"{}\"",
            templates.display()
        ),
    );
    replay_demo(
        dir.path(),
        &config,
        &format!("smtp://127.0.0.1:{}", server.port),
    )
    .code(4);
    let (text, html) = received_bodies(&server);
    let line = format!("Reports are in {}.", dir.path().join("out").display());
    assert!(text.contains(&line), "{text}");
    assert!(html.contains(&line), "{html}");
    assert!(dir.path().join("bucket/report.html").is_file());
}

// ---------------------------------------------------------------------------------------------
// Deadlines, stops and secrets.

/// The binary, started so that the test can signal it and must see it end within a limit.
struct Running {
    child: Child,
    started: Instant,
    stdout: PathBuf,
    stderr: PathBuf,
}

struct Finished {
    code: Option<i32>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl Running {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
        let (stdout, stderr) = (dir.join("stdout.log"), dir.join("stderr.log"));
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("access-audit"));
        cmd.env_clear()
            .env("SENTRY_AUTH_TOKEN", SENTRY_TOKEN)
            .env("SENTDM_API_KEY", SENTDM_KEY);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start access-audit");
        Running {
            child,
            started: Instant::now(),
            stdout,
            stderr,
        }
    }

    /// A run of the demo archive with this config and SMTP URL.
    fn replay(dir: &Path, config: &str, smtp_url: &str, extra: &[&str]) -> Running {
        let cfg = write_config(dir, config);
        let out = dir.join("out");
        let mut args = vec![
            "--config",
            cfg.to_str().expect("utf-8 path"),
            "run",
            "--replay",
            demo_dir(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            out.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        Running::start(dir, &args, &[("SMTP_URL", smtp_url)])
    }

    #[cfg(unix)]
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait for the exit; a run still going after `limit` is killed and the test fails.
    fn finish_within(mut self, limit: Duration) -> Finished {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for access-audit") {
                return Finished {
                    code: status.code(),
                    elapsed: self.started.elapsed(),
                    stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
                    stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
                };
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "access-audit still running after {limit:?}; stderr:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn demo_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-evidence")
}

fn assert_reports_on_disk(dir: &Path) {
    for f in ["report.html", "report.json", "findings.csv", "accounts.csv"] {
        assert!(dir.join("out").join(f).exists(), "{f} is on disk");
    }
}

/// A server that goes silent at `stage` holds every attempt until `email.timeout`: three attempts
/// of 1s and the waits of 2s and 4s between them, then exit 5 with the reports on disk.
fn silent_server_times_out(stage: Silence) {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(Options {
        silence: stage,
        ..Options::default()
    });
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let done = Running::replay(dir.path(), &email_config("timeout = \"1s\""), &url, &[])
        .finish_within(Duration::from_secs(40));
    assert_eq!(done.code, Some(5), "{stage:?}: {}", done.stderr);
    assert!(
        done.elapsed < Duration::from_secs(16),
        "{stage:?}: took {:?}",
        done.elapsed
    );
    assert_eq!(
        server.connections(),
        3,
        "{stage:?}: every attempt connects; {}",
        done.stderr
    );
    let named = format!(
        "sending the email through 127.0.0.1:{} timed out",
        server.port
    );
    assert!(done.stderr.contains(&named), "{stage:?}: {}", done.stderr);
    assert!(done.stderr.contains("after 3 attempts"), "{}", done.stderr);
    assert!(server.messages().is_empty());
    assert_reports_on_disk(dir.path());
    // Logs go to stderr; stdout holds only the closing summary for a person.
    assert!(
        done.stdout
            .ends_with("Exit 5: a delivery failed (the reports are on disk)\n"),
        "{}",
        done.stdout
    );
    assert!(
        !done.stdout.contains("WARN") && !done.stdout.contains("ERROR"),
        "{}",
        done.stdout
    );
}

#[test]
fn a_server_silent_after_the_greeting_times_out() {
    silent_server_times_out(Silence::AfterGreeting);
}

#[test]
fn a_server_silent_after_ehlo_times_out() {
    silent_server_times_out(Silence::AfterEhlo);
}

#[test]
fn a_server_silent_after_data_times_out() {
    silent_server_times_out(Silence::AfterData);
}

#[test]
fn email_timeout_is_a_duration_from_1s_to_10m() {
    let dir = tempfile::tempdir().unwrap();
    for (value, message) in [
        ("500ms", "500ms: expected from 1s to 10m"),
        ("11m", "11m: expected from 1s to 10m"),
        ("0s", "a duration of zero is not allowed"),
        ("soon", "is not a duration"),
    ] {
        replay_demo(
            dir.path(),
            &email_config(&format!("timeout = \"{value}\"")),
            "smtp://127.0.0.1:25",
        )
        .code(1)
        .stderr(predicate::str::contains("email.timeout"))
        .stderr(predicate::str::contains(message));
        assert!(!dir.path().join("out/report.json").exists());
    }
}

#[cfg(unix)]
#[test]
fn sigterm_during_the_email_abandons_it_and_the_reports_record_the_stop() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(Options {
        silence: Silence::BeforeGreeting,
        ..Options::default()
    });
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let run = Running::replay(dir.path(), &email_config(""), &url, &[]);
    // The reports are on disk before the email starts: this SIGTERM comes after them.
    assert!(
        server.wait_for_connection(Duration::from_secs(30)),
        "the email step connected"
    );
    let signalled = Instant::now();
    run.signal("TERM");
    let done = run.finish_within(Duration::from_secs(30));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "abandoned within seconds, took {:?}",
        signalled.elapsed()
    );
    assert_eq!(done.code, Some(4), "{}", done.stderr);
    assert!(server.messages().is_empty());
    let report = read_json(&dir.path().join("out/report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(report["run"]["stopped"], "SIGTERM was received");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("SIGTERM was received"));
    assert!(
        done.stderr.contains("email under way is abandoned"),
        "{}",
        done.stderr
    );
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_merge_email_abandons_it_and_the_merged_report_records_the_stop() {
    let dir = tempfile::tempdir().unwrap();
    // One run's report to merge, without email.
    replay_demo(
        dir.path(),
        &email_config("").replace("enabled = true", "enabled = false"),
        "",
    )
    .code(4);
    let server = SmtpServer::start(Options {
        silence: Silence::BeforeGreeting,
        ..Options::default()
    });
    let cfg = write_config(dir.path(), &email_config(""));
    let (input, merged) = (dir.path().join("out"), dir.path().join("merged"));
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let run = Running::start(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "merge",
            input.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &[("SMTP_URL", &url)],
    );
    assert!(server.wait_for_connection(Duration::from_secs(30)));
    let signalled = Instant::now();
    run.signal("TERM");
    let done = run.finish_within(Duration::from_secs(30));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "abandoned within seconds, took {:?}",
        signalled.elapsed()
    );
    assert_eq!(done.code, Some(4), "{}", done.stderr);
    assert!(server.messages().is_empty());
    let report = read_json(&merged.join("report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(report["run"]["stopped"], "SIGTERM was received");
}

/// A run whose source is still answering after 20 s, with an SMTP server: the deadline or a
/// signal stops it during fetching.
fn stopped_while_fetching(api: &str, dir: &Path, server: &SmtpServer, deadline: &str) -> Running {
    let config = format!(
        "{}[[sources]]\ntype = \"sentry\"\nbase_url = \"{api}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n",
        email_config("")
    );
    let cfg = write_config(dir, &config);
    let out = dir.join("out");
    let url = format!("smtp://127.0.0.1:{}", server.port);
    Running::start(
        dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--deadline",
            deadline,
            "--out",
            out.to_str().unwrap(),
        ],
        &[("SMTP_URL", &url)],
    )
}

async fn slow_source() -> wiremock::MockServer {
    let api = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([]))
                .set_delay(Duration::from_secs(20)),
        )
        .mount(&api)
        .await;
    api
}

/// The deadline bounds fetching: the reports say the run was cut short, exit 4, and the email
/// still goes out, so its readers learn the audit is incomplete.
#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_stop_still_emails_the_incomplete_report() {
    let api = slow_source().await;
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(Options::default());
    let run = stopped_while_fetching(&api.uri(), dir.path(), &server, "1s");
    let done = tokio::task::spawn_blocking(move || run.finish_within(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(done.code, Some(4), "{}", done.stderr);
    assert!(done.elapsed < Duration::from_secs(10), "{:?}", done.elapsed);
    let report = read_json(&dir.path().join("out").join("report.json"));
    assert_eq!(
        report["run"]["stopped"],
        "the run deadline of 1s was reached"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{}", done.stderr);
    let text = String::from_utf8_lossy(&messages[0].data);
    assert!(text.contains("INCOMPLETE"), "{text}");
}

/// A signal while fetching: the reports say so, exit 4, and the SMTP server never hears from
/// the run.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_before_the_email_means_no_smtp_connection() {
    let api = slow_source().await;
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(Options::default());
    let run = stopped_while_fetching(&api.uri(), dir.path(), &server, "1h");
    tokio::time::sleep(Duration::from_secs(2)).await;
    run.signal("TERM");
    let done = tokio::task::spawn_blocking(move || run.finish_within(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(done.code, Some(4), "{}", done.stderr);
    assert_eq!(server.connections(), 0, "no SMTP connection after a signal");
    let report = read_json(&dir.path().join("out").join("report.json"));
    assert_eq!(report["run"]["stopped"], "SIGTERM was received");
    assert!(
        done.stderr.contains("no email is started"),
        "{}",
        done.stderr
    );
}

/// At the most verbose logging, with a server that demands AUTH: neither the password (plain or
/// base64, alone or as AUTH PLAIN sends it) nor the message reaches stdout or stderr.
#[test]
fn trace_logs_carry_neither_the_smtp_password_nor_the_message() {
    no_secret_in_trace_logs(false);
}

/// The same with STARTTLS, as production mail servers want it.
#[test]
fn trace_logs_carry_neither_the_smtp_password_nor_the_message_over_starttls() {
    no_secret_in_trace_logs(true);
}

fn no_secret_in_trace_logs(starttls: bool) {
    const USER: &str = "audit@acme.example";
    const PASSWORD: &str = "Xq7-smtp-pw-must-never-leak-4d2f";
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path());
    let server = SmtpServer::start(Options {
        auth: true,
        encryption: if starttls {
            pki.starttls()
        } else {
            smtp_server::Encryption::None
        },
        ..Options::default()
    });
    let (url, extra) = if starttls {
        (
            format!(
                "smtp://audit%40acme.example:{PASSWORD}@localhost:{}?tls=required",
                server.port
            ),
            format!("smtp_ca_file = \"{}\"", pki.ca_pem.display()),
        )
    } else {
        (
            format!(
                "smtp://audit%40acme.example:{PASSWORD}@127.0.0.1:{}",
                server.port
            ),
            String::new(),
        )
    };
    let cfg = write_config(dir.path(), &email_config(&extra));
    let out = dir.path().join("out");
    let done = Running::start(
        dir.path(),
        &[
            "-vv",
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo_dir(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            out.to_str().unwrap(),
        ],
        &[("SMTP_URL", &url), ("RUST_LOG", "trace")],
    )
    .finish_within(Duration::from_secs(60));
    assert_eq!(done.code, Some(4), "{}", done.stderr);
    // The conversation really happened: authenticated, and the message delivered.
    assert_eq!(
        server.logins(),
        vec![(USER.to_string(), PASSWORD.to_string())]
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].tls, starttls);
    let raw = String::from_utf8_lossy(&messages[0].data).into_owned();
    assert!(
        done.stderr.contains("\"level\":\"DEBUG\""),
        "verbose logging was on: {}",
        done.stderr
    );

    let mut secrets = vec![
        PASSWORD.to_string(),
        smtp_server::base64_encode(PASSWORD.as_bytes()),
        smtp_server::base64_encode(format!("\0{USER}\0{PASSWORD}").as_bytes()),
    ];
    // Lines of the message as it crossed the wire: a header, the text part, an attachment.
    let attachment_line = raw
        .split("Content-Transfer-Encoding: base64\r\n")
        .nth(1)
        .and_then(|part| part.lines().find(|l| l.len() >= 40))
        .expect("a base64 attachment line")
        .to_string();
    for line in [
        "Subject: [access-audit] Acme review 2026-11-20",
        "Failing findings by severity:",
        "report; do not read their absence as clean.",
        attachment_line.as_str(),
    ] {
        assert!(raw.contains(line), "the message has `{line}`");
        secrets.push(line.to_string());
    }
    let leaks: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            [("stderr", &done.stderr), ("stdout", &done.stdout)]
                .into_iter()
                .filter(|(_, output)| output.contains(secret.as_str()))
                .map(move |(name, _)| format!("{name} contains `{secret}`"))
        })
        .collect();
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// A display name from an API that tries to add lines of its own, clear the terminal line and
/// reverse text, and an API error message that tries the same: in the plain-text part and the
/// subject every one of those characters is shown as an escape; the HTML part stays escaped HTML.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_cannot_forge_lines_in_the_text_email_or_subject() {
    const FAKE: &str = "  - ceo@acme.example [owner] sentry / acme: all good";
    let hostile = format!(
        "Mallory\n{FAKE}\r\n\u{1b}[2K\ttab\u{85}nel\u{2028}ls\u{2029}ps\u{202e}gpj.exe\u{2066}iso\u{7f}<b>bold</b>"
    );
    let api = wiremock::MockServer::start().await;
    let mut member = sentry_member(1, "owner", false, Some("2026-10-31T00:00:00Z"));
    member["name"] = serde_json::json!(hostile);
    member["user"]["name"] = serde_json::json!(hostile);
    mount_sentry_org(&api, "acme", vec![vec![member]]).await;
    wiremock::Mock::given(wiremock::matchers::path(
        "/api/0/organizations/evil/members/",
    ))
    .respond_with(
        wiremock::ResponseTemplate::new(403)
            .set_body_json(serde_json::json!({ "detail": format!("denied\n{FAKE}\u{202e}") })),
    )
    .mount(&api)
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}subject = \"{{{{title}}}}: {{{{#each rules}}}}{{{{#each rows}}}}{{{{who}}}}{{{{/each}}}}{{{{/each}}}}\"\n\
         [[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\", \"evil\"]\n",
        email_config("").replace("enabled = true", "enabled = false"),
        api.uri()
    );
    let cfg = write_config(dir.path(), &config);
    let (out, preview) = (dir.path().join("out"), dir.path().join("preview"));
    let args = [
        "--config".to_string(),
        cfg.display().to_string(),
        "run".into(),
        "--as-of".into(),
        AS_OF.into(),
        "--out".into(),
        out.display().to_string(),
        "--email-preview".into(),
        preview.display().to_string(),
    ];
    tokio::task::spawn_blocking(move || bin().args(args).assert().code(4))
        .await
        .unwrap();
    let eml = std::fs::read_dir(&preview)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .expect("the previewed email");
    let raw = std::fs::read(eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();

    let escaped_name = "Mallory\\n  - ceo@acme.example [owner] sentry / acme: all good\\r\\n\\u{1b}[2K\\ttab\\u{85}nel\\u{2028}ls\\u{2029}ps\\u{202e}gpj.exe\\u{2066}iso\\u{7f}<b>bold</b>";
    let text = find_part(&mail, "text/plain", None).get_body().unwrap();
    assert!(text.contains(escaped_name), "{text}");
    assert!(
        text.contains("denied\\n  - ceo@acme.example [owner] sentry / acme: all good\\u{202e}"),
        "the API's error message is escaped too: {text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with(FAKE)),
        "no forged line: {text}"
    );
    let forging = |c: char| {
        (c.is_control() && c != '\n' && c != '\r')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    assert!(!text.chars().any(forging), "{text:?}");
    assert!(!text.replace("\r\n", "\n").contains('\r'), "{text:?}");

    let subject = mail.headers.get_first_value("Subject").unwrap();
    assert!(subject.starts_with("Acme review: "), "{subject}");
    assert!(subject.contains(escaped_name), "{subject}");
    assert!(
        !subject.chars().any(|c| forging(c) || c == '\n'),
        "{subject:?}"
    );

    // HTML keeps its own escaping; the name is there as text, not as markup.
    let html = find_part(&mail, "text/html", None).get_body().unwrap();
    assert!(html.contains("iso\u{7f}&lt;b&gt;bold&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>bold"));
}
