//! The messages of a review: each reviewer's worksheet when the review starts, and a reminder
//! to each reviewer with rows outstanding. Plain text; the headers come from
//! `deliver::compose::headers` (From, Message-ID, Date, `Auto-Submitted`), the sending and the
//! `.eml` previews from `deliver::smtp`, like the run's email.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::state::State;
use super::worksheet::file_stem;
use crate::deliver::email::EmailConfig;
use crate::files::Symlinks;
use crate::model::format_human;
use crate::report::plural;
use crate::text::escape_controls;

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV_TYPE: &str = "text/csv; charset=utf-8";
/// Outstanding accounts listed in a reminder; the worksheet has them all.
const LISTED: usize = 20;

/// Why a reviewer is written to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `review start`: here is your worksheet.
    Worksheet,
    /// `review status --remind`: rows are still undecided, as of `now`.
    Reminder { now: DateTime<Utc> },
}

/// A reviewer's worksheet files as `review start` wrote them.
pub(crate) struct Files {
    pub(crate) xlsx: (String, Vec<u8>),
    pub(crate) csv: (String, Vec<u8>),
}

/// The worksheets folder of a run.
pub(crate) fn worksheets_dir(run_dir: &Path) -> PathBuf {
    super::state::review_dir(run_dir).join(super::WORKSHEETS_DIR)
}

/// Read `reviewer`'s xlsx and CSV from the run's worksheets folder (bounded, no symlinks).
pub(crate) fn read_files(run_dir: &Path, reviewer: &str) -> Result<Files, String> {
    let dir = worksheets_dir(run_dir);
    let stem = file_stem(reviewer);
    let read = |ext: &str| -> Result<(String, Vec<u8>), String> {
        let name = format!("{stem}.{ext}");
        let bytes = crate::files::read_bounded(
            &dir.join(&name),
            super::returned::WORKSHEET_FILE,
            Symlinks::Refuse,
        )
        .map_err(|e| format!("{reviewer}'s worksheet: {e}"))?;
        Ok((name, bytes))
    };
    Ok(Files {
        xlsx: read("xlsx")?,
        csv: read("csv")?,
    })
}

/// The rows of `reviewer` without a decision.
fn outstanding<'a>(state: &'a State, reviewer: &str) -> Vec<&'a super::campaign::Row> {
    state
        .reviewers
        .get(reviewer)
        .map(|rows| {
            rows.iter()
                .filter(|r| !state.decisions.contains_key(&r.key))
                .collect()
        })
        .unwrap_or_default()
}

/// How many of `reviewer`'s rows are undecided.
pub(crate) fn outstanding_count(state: &State, reviewer: &str) -> usize {
    outstanding(state, reviewer).len()
}

/// "1 account", "3 accounts".
fn accounts(n: usize) -> String {
    format!("{n} account{}", plural(n))
}

pub(crate) fn subject(state: &State, reviewer: &str, kind: Kind) -> String {
    let due = format_human(&state.due_at);
    match kind {
        Kind::Worksheet => {
            let n = state.reviewers.get(reviewer).map_or(0, Vec::len);
            format!(
                "[access-audit] Access review {}: {} to decide by {due}",
                state.review_id,
                accounts(n)
            )
        }
        Kind::Reminder { now } => format!(
            "[access-audit] Reminder: access review {}: {} still to decide, {} {due}",
            state.review_id,
            accounts(outstanding_count(state, reviewer)),
            if now > state.due_at {
                "OVERDUE since"
            } else {
                "due"
            }
        ),
    }
}

/// The plain-text body. Every value that came from an API (names, emails, scopes) is escaped
/// with [`escape_controls`]: it cannot forge lines.
pub(crate) fn body(state: &State, reviewer: &str, kind: Kind, files: &Files) -> String {
    let due = format_human(&state.due_at);
    let mut out = String::new();
    let total = state.reviewers.get(reviewer).map_or(0, Vec::len);
    match kind {
        Kind::Worksheet => {
            let _ = writeln!(
                out,
                "You are a reviewer in access review {} and have {} to decide by {due}.\n",
                state.review_id,
                accounts(total)
            );
        }
        Kind::Reminder { now } => {
            let n = outstanding_count(state, reviewer);
            let when = if now > state.due_at {
                format!("The review was due {due}: it is OVERDUE.")
            } else {
                format!("The review is due {due}.")
            };
            let _ = writeln!(
                out,
                "Access review {}: {} of your {} {} still undecided. {when}\n",
                state.review_id,
                n,
                accounts(total),
                if n == 1 { "is" } else { "are" }
            );
        }
    }
    instructions(&mut out, files, &due);
    if let Kind::Reminder { .. } = kind {
        list_outstanding(&mut out, state, reviewer);
    }
    if !state.missing_scopes.is_empty() {
        let scopes: Vec<String> = state
            .missing_scopes
            .iter()
            .map(|s| escape_controls(s).into_owned())
            .collect();
        let _ = writeln!(
            out,
            "\nThe run was incomplete: these scopes are not covered by this review: {}",
            scopes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\nReview {}, report SHA-256 {}.\n-- \naccess-audit {}",
        state.review_id,
        state.report_sha256,
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn instructions(out: &mut String, files: &Files, due: &str) {
    let _ = writeln!(
        out,
        "What to do:\n\
         1. Open the attached worksheet {} (or the same rows as CSV, {}).\n\
         2. For each row fill in only these columns:\n   \
            decision       keep, revoke or change_role\n   \
            new_role       the role to change to (with change_role only)\n   \
            justification  why (needed to keep an account with a failing finding)\n   \
         Change nothing else: no other column, row or sheet.\n\
         3. Return the file, by {due}, to the sender of this message.\n\
         Rows that are your own account are left blank: a second reviewer decides them.",
        files.xlsx.0, files.csv.0
    );
}

fn list_outstanding(out: &mut String, state: &State, reviewer: &str) {
    let rows = outstanding(state, reviewer);
    let _ = writeln!(out, "\nStill to decide:");
    for r in rows.iter().take(LISTED) {
        let who = if r.email.is_empty() {
            &r.name
        } else {
            &r.email
        };
        let _ = writeln!(
            out,
            "  - {} ({}/{}, {})",
            escape_controls(who),
            escape_controls(&r.source_name),
            escape_controls(r.scope_shown()),
            escape_controls(&r.role)
        );
    }
    if rows.len() > LISTED {
        let _ = writeln!(
            out,
            "  … and {} more (see the worksheet)",
            rows.len() - LISTED
        );
    }
}

/// One reviewer's message: from `email.from`, to the reviewer, the worksheet attached.
pub(crate) fn compose(
    cfg: &EmailConfig,
    state: &State,
    reviewer: &str,
    kind: Kind,
    files: Files,
) -> Result<Message, String> {
    let to: Mailbox = reviewer.parse().map_err(|e| {
        format!(
            "reviewer address `{}` is not valid: {e}",
            reviewer.escape_debug()
        )
    })?;
    let text = body(state, reviewer, kind, &files);
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
    for ((name, bytes), mime) in [(files.xlsx, XLSX_TYPE), (files.csv, CSV_TYPE)] {
        let content_type =
            ContentType::parse(mime).map_err(|e| format!("bad content type for {name}: {e}"))?;
        parts = parts.singlepart(Attachment::new(name).body(bytes, content_type));
    }
    crate::deliver::compose::headers(cfg, &subject(state, reviewer, kind))?
        .to(to)
        .multipart(parts)
        .map_err(|e| format!("cannot build the email to {reviewer}: {e}"))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::access_review::campaign::tests::{account, settings};
    use crate::access_review::campaign::{self, Decision};
    use crate::access_review::state::{DecisionRecord, STATE_VERSION};

    const ENG: &str = "eng@acme.example";

    /// Two accounts for eng@, one of them decided; an API name that tries to forge lines.
    fn state() -> State {
        let accounts = [
            account("acme", "1", "a@acme.example"),
            account("acme", "2", "b@acme.example"),
        ];
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 5).unwrap();
        let mut state = State {
            run_id: "0123456789abcdef".into(),
            state_version: STATE_VERSION,
            review_id: "r1".into(),
            report_sha256: "abc".into(),
            created_at: t,
            due_at: t,
            missing_scopes: vec!["sentry/legacy".into()],
            reviewers: campaign::assign(&settings(), &accounts, &[]),
            decisions: Default::default(),
            superseded: vec![],
            signed_off: None,
        };
        let rows = state.reviewers.get_mut(ENG).expect("eng@ reviews acme");
        rows[1].email = "Eve\r\nBcc: ceo@acme.example".into();
        let key = rows[0].key.clone();
        state.decisions.insert(
            key,
            DecisionRecord {
                decision: Decision::Revoke,
                new_role: None,
                justification: None,
                decided_by: ENG.into(),
                collected_at: t,
                file: "eng.xlsx".into(),
            },
        );
        state
    }

    fn files() -> Files {
        Files {
            xlsx: ("eng@acme.example.xlsx".into(), b"PK".to_vec()),
            csv: ("eng@acme.example.csv".into(), b"a,b\n".to_vec()),
        }
    }

    #[test]
    fn subjects_say_how_many_and_by_when_to_the_second() {
        let state = state();
        assert_eq!(
            subject(&state, ENG, Kind::Worksheet),
            "[access-audit] Access review r1: 2 accounts to decide by 2026-11-20 06:00:05 UTC"
        );
        let before = Kind::Reminder {
            now: state.due_at - Duration::hours(1),
        };
        assert_eq!(
            subject(&state, ENG, before),
            "[access-audit] Reminder: access review r1: 1 account still to decide, due 2026-11-20 06:00:05 UTC"
        );
        let after = Kind::Reminder {
            now: state.due_at + Duration::hours(1),
        };
        assert!(subject(&state, ENG, after).contains("OVERDUE since"));
    }

    #[test]
    fn a_reminder_lists_what_is_outstanding_without_forged_lines() {
        let state = state();
        let now = state.due_at + Duration::days(1);
        let text = body(&state, ENG, Kind::Reminder { now }, &files());
        assert!(
            text.contains("1 of your 2 accounts is still undecided"),
            "{text}"
        );
        assert!(text.contains("OVERDUE"), "{text}");
        assert!(text.contains("Eve\\r\\nBcc: ceo@acme.example"), "{text}");
        assert!(
            !text.contains("a@acme.example"),
            "decided rows are not listed:\n{text}"
        );
        assert!(
            text.contains("not covered by this review: sentry/legacy"),
            "{text}"
        );
    }

    #[test]
    fn a_reviewer_address_that_is_not_one_is_refused_by_name() {
        let cfg = EmailConfig {
            enabled: false,
            from: Some("audit@acme.example".into()),
            to: vec![],
            smtp_url: None,
            attach: vec![],
            send: Default::default(),
            subject: None,
            smtp_ca_file: None,
            max_attachment_mb: 10,
            timeout: EmailConfig::DEFAULT_TIMEOUT,
        };
        let state = state();
        let err = compose(
            &cfg,
            &state,
            "eng@acme.example\r\nBcc: x@y",
            Kind::Worksheet,
            files(),
        )
        .unwrap_err();
        assert!(err.contains("reviewer address"), "{err}");
        let message = compose(&cfg, &state, ENG, Kind::Worksheet, files()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-generated\r\n"), "{raw}");
        assert!(raw.contains("To: eng@acme.example\r\n"), "{raw}");
    }
}
