//! The access review's email through the real binary: `review start --email-preview` writes one
//! message per reviewer with their worksheet attached byte for byte; `review start --email`
//! sends them through a real SMTP server (`support::smtp_server`); `review status --remind`
//! reminds only the reviewers with rows outstanding; a server that refuses one reviewer makes
//! the command exit 5, with the others' mail sent and the review saved.

use std::path::{Path, PathBuf};

use mailparse::{MailHeaderMap, ParsedMail};

use crate::review_campaign::{ENG, SEC, review, revoke_all_csv, stderr, worksheet};
use crate::support::common::*;
use crate::support::smtp_server::{Options, SmtpServer};

const FROM: &str = "audit@acme.example";

/// A replayed demo run in `dir/run` (incomplete: two scopes fail) and a config with `[review]`
/// (ENG reviews sentdm, SEC the rest) and `[email]` (the SMTP URL in `SMTP_URL`).
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let run = dir.join("run");
    replay_demo(&run, &[]).code(4);
    let config = write_config(
        dir,
        &format!(
            "[email]\nfrom = \"Access Audit <{FROM}>\"\nsmtp_url_env = \"SMTP_URL\"\ntimeout = \"5s\"\n\
             [review]\ndefault_reviewer = \"{SEC}\"\nledger_dir = \"{}\"\n\
             [[review.reviewers]]\nemail = \"{ENG}\"\nscopes = [\"sentdm/*\"]\n",
            dir.join("ledger").display()
        ),
    );
    (run, config)
}

/// `review …` with `SMTP_URL` pointing at the test server.
fn review_smtp(config: &Path, port: u16, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .args(["--config", config.to_str().unwrap(), "review"])
        .args(args)
        .assert()
}

/// The `.eml` files in `dir`, by their `To` address.
fn previews(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .map(|raw| (to_of(&raw), raw))
        .collect();
    out.sort();
    out
}

fn to_of(raw: &[u8]) -> String {
    let mail = mailparse::parse_mail(raw).unwrap();
    mail.headers.get_first_value("To").unwrap()
}

fn subject_of(raw: &[u8]) -> String {
    let mail = mailparse::parse_mail(raw).unwrap();
    mail.headers.get_first_value("Subject").unwrap()
}

/// The part with this attachment file name.
fn attachment<'a>(mail: &'a ParsedMail<'a>, name: &str) -> Option<&'a ParsedMail<'a>> {
    if mail
        .get_content_disposition()
        .params
        .get("filename")
        .map(String::as_str)
        == Some(name)
    {
        return Some(mail);
    }
    mail.subparts.iter().find_map(|p| attachment(p, name))
}

fn text_of(mail: &ParsedMail<'_>) -> String {
    if mail.ctype.mimetype == "text/plain" {
        return mail.get_body().unwrap();
    }
    mail.subparts.iter().map(text_of).collect()
}

fn state(run: &Path) -> serde_json::Value {
    read_json(&run.join("review/state.json"))
}

/// The due date as the messages say it, to the second.
fn due(run: &Path) -> String {
    let due = state(run)["due_at"].as_str().unwrap().to_string();
    let t = chrono::DateTime::parse_from_rfc3339(&due).unwrap();
    t.with_timezone(&chrono::Utc)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// A worksheet message to `who` with `n` rows: its headers, text and both files attached as
/// `review start` wrote them.
fn check_worksheet_message(raw: &[u8], run: &Path, who: &str, n: usize) {
    let mail = mailparse::parse_mail(raw).unwrap();
    let h = &mail.headers;
    let id = state(run)["review_id"].as_str().unwrap().to_string();
    assert_eq!(h.get_first_value("To").unwrap(), who);
    assert_eq!(
        h.get_first_value("From").unwrap(),
        format!("\"Access Audit\" <{FROM}>")
    );
    assert_eq!(
        h.get_first_value("Subject").unwrap(),
        format!(
            "[access-audit] Access review {id}: {n} accounts to decide by {}",
            due(run)
        )
    );
    assert_eq!(
        h.get_first_value("Auto-Submitted").unwrap(),
        "auto-generated"
    );
    let text = text_of(&mail);
    for says in [
        "decision",
        "new_role",
        "justification",
        "Change nothing else",
        &due(run),
        "not covered by this review",
    ] {
        assert!(text.contains(says), "{says} in\n{text}");
    }
    for ext in ["xlsx", "csv"] {
        let path = worksheet(run, who, ext);
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let part = attachment(&mail, &name).unwrap_or_else(|| panic!("{name} attached"));
        assert_eq!(
            part.get_body_raw().unwrap(),
            std::fs::read(&path).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn each_reviewer_gets_their_worksheet_in_a_preview() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = setup(dir.path());
    let out = dir.path().join("mail");
    let r = run.to_str().unwrap();
    let both = review(
        &config,
        &[
            "start",
            r,
            "--allow-incomplete",
            "--email",
            "--email-preview",
            "x",
        ],
    )
    .code(2);
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    review(
        &config,
        &[
            "start",
            r,
            "--allow-incomplete",
            "--email-preview",
            out.to_str().unwrap(),
        ],
    )
    .code(0);
    let mails = previews(&out);
    assert_eq!(mails.len(), 2);
    check_worksheet_message(&mails[0].1, &run, ENG, 19);
    check_worksheet_message(&mails[1].1, &run, SEC, 283);
}

#[test]
fn a_preview_needs_email_from_and_starts_nothing_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    replay_demo(&run, &[]).code(4);
    let config = write_config(
        dir.path(),
        &format!(
            "[review]\ndefault_reviewer = \"{SEC}\"\nledger_dir = \"{}\"\n",
            dir.path().join("ledger").display()
        ),
    );
    let out = dir.path().join("mail");
    let a = review(
        &config,
        &[
            "start",
            run.to_str().unwrap(),
            "--allow-incomplete",
            "--email-preview",
            out.to_str().unwrap(),
        ],
    )
    .code(1);
    assert!(stderr(&a).contains("email.from"), "{}", stderr(&a));
    assert!(!run.join("review/state.json").exists());
}

#[test]
fn worksheets_are_sent_and_reminders_go_only_to_who_has_rows_outstanding() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = setup(dir.path());
    let server = SmtpServer::start(Options::default());
    let r = run.to_str().unwrap();
    review_smtp(
        &config,
        server.port,
        &["start", r, "--allow-incomplete", "--email"],
    )
    .code(0);
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m.mail_from, FROM);
        assert_eq!(m.rcpt_to.len(), 1);
        let who = m.rcpt_to[0].as_str();
        check_worksheet_message(&m.data, &run, who, if who == ENG { 19 } else { 283 });
    }
    let mut to: Vec<&str> = messages.iter().map(|m| m.rcpt_to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, [ENG, SEC]);

    // SEC returns every row decided; ENG has not: only ENG is reminded. Still exit 3.
    let sec = worksheet(&run, SEC, "csv");
    revoke_all_csv(&sec);
    review(&config, &["collect", r, sec.to_str().unwrap()]).code(0);
    let reminded = review_smtp(&config, server.port, &["status", r, "--remind"]).code(3);
    let said = String::from_utf8_lossy(&reminded.get_output().stdout).into_owned();
    assert!(said.contains(ENG) && said.contains("sent"), "{said}");
    let messages = server.messages();
    assert_eq!(messages.len(), 3);
    let reminder = &messages[2];
    assert_eq!(reminder.rcpt_to, [ENG]);
    let subject = subject_of(&reminder.data);
    assert!(
        subject.contains("Reminder") && subject.contains("19 accounts still to decide"),
        "{subject}"
    );
    let mail = mailparse::parse_mail(&reminder.data).unwrap();
    let xlsx = worksheet(&run, ENG, "xlsx");
    let name = xlsx.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        attachment(&mail, name).unwrap().get_body_raw().unwrap(),
        std::fs::read(&xlsx).unwrap()
    );
    assert!(text_of(&mail).contains("Still to decide:"));

    // The same as a preview: no SMTP, one file, for ENG.
    let out = dir.path().join("remind");
    review(
        &config,
        &[
            "status",
            r,
            "--remind",
            "--email-preview",
            out.to_str().unwrap(),
        ],
    )
    .code(3);
    let mails = previews(&out);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, ENG);
    assert_eq!(server.messages().len(), 3);
}

#[test]
fn a_refused_reviewer_exits_5_the_others_get_theirs_and_the_review_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = setup(dir.path());
    let server = SmtpServer::start(Options {
        refuse_rcpt: vec![ENG.to_string()],
        ..Options::default()
    });
    let r = run.to_str().unwrap();
    let a = review_smtp(
        &config,
        server.port,
        &["start", r, "--allow-incomplete", "--email"],
    )
    .code(5);
    let err = stderr(&a);
    assert!(err.contains(ENG) && err.contains("did not get"), "{err}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, [SEC]);
    assert_eq!(state(&run)["reviewers"].as_object().unwrap().len(), 2);
    assert!(worksheet(&run, ENG, "xlsx").exists());
    review(&config, &["status", r]).code(3);
    // A reminder refused the same way: 5, not status's 3.
    review_smtp(&config, server.port, &["status", r, "--remind"]).code(5);
}
