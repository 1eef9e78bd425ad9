//! Snapshots of what people read: report.html and both email bodies, for the demo archive at a
//! fixed --as-of. Only the generation time and temporary paths are masked.

use std::path::Path;

use crate::support::common::*;
use mailparse::ParsedMail;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        "generated [time]",
    );
    s.add_filter(
        r"<dt>Generated</dt><dd>[^<]+</dd>",
        "<dt>Generated</dt><dd>[time]</dd>",
    );
    s.add_filter(
        r"Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        "Generated [time]",
    );
    s.add_filter(r"Reports are in [^\s<]+", "Reports are in [dir]");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn body<'a>(mail: &'a ParsedMail<'a>, mimetype: &str) -> String {
    fn search<'a>(mail: &'a ParsedMail<'a>, mimetype: &str) -> Option<&'a ParsedMail<'a>> {
        if mail.ctype.mimetype == mimetype
            && !mail
                .get_content_disposition()
                .params
                .contains_key("filename")
        {
            return Some(mail);
        }
        mail.subparts.iter().find_map(|s| search(s, mimetype))
    }
    search(mail, mimetype)
        .expect("part")
        .get_body()
        .expect("body")
}

#[test]
fn report_and_email_of_the_demo_archive() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[report]\ntitle = \"Acme quarterly access review\"\n[email]\nfrom = \"Access Audit <audit@acme.example>\"\nto = [\"security@acme.example\"]\n",
    );
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-evidence");
    let preview = dir.path().join("preview");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo.to_str().unwrap(),
            "--as-of",
            "2026-11-20T06:00:00Z",
        ])
        .args([
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--email-preview",
            preview.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    let eml = std::fs::read_dir(&preview)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read(eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    settings().bind(|| {
        insta::assert_snapshot!("report_html", html);
        insta::assert_snapshot!("email_text", body(&mail, "text/plain"));
        insta::assert_snapshot!("email_html", body(&mail, "text/html"));
    });
}
