//! The binary's contract: commands, exit codes, error messages, completions and the man page,
//! and that secrets never leak.

use crate::support::common::*;
use predicates::prelude::*;
use serde_json::json;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn example_config() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/access-audit.toml")
}

#[test]
fn rules_lists_every_rule_with_severity_and_references() {
    let out = bin()
        .arg("rules")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for (rule, severity) in [
        ("stale_login", "medium"),
        ("pending_invite", "low"),
        ("admin_without_2fa", "high"),
        ("expired_membership", "medium"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(rule))
            .unwrap_or_else(|| panic!("{rule} listed"));
        assert!(line.ends_with(severity), "{line}");
    }
    assert!(text.contains("SOC 2 CC6.1") && text.contains("PCI DSS v4.0 8.2.6"));
    let json_out = bin()
        .args(["rules", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let rules: serde_json::Value = serde_json::from_slice(&json_out).unwrap();
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 14);
    assert_eq!(rules[2]["id"], "admin_without_2fa");
    assert_eq!(rules[2]["default_severity"], "high");
    let on: Vec<&str> = rules
        .iter()
        .filter(|r| r["enabled_by_default"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        on,
        vec![
            "stale_login",
            "pending_invite",
            "admin_without_2fa",
            "expired_membership",
            "orphaned_account",
            "left_with_access",
            "access_past_end_date"
        ]
    );
    assert!(text.contains("owner_count            medium  (opt-in: enabled = true)"));
    assert!(text.contains("left_with_access       high  (runs when a [roster] is configured)"));
    let pci = bin()
        .args(["rules", "--framework", "pci", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let pci: serde_json::Value = serde_json::from_slice(&pci).unwrap();
    assert!(
        pci.as_array()
            .unwrap()
            .iter()
            .all(|r| r["references"].to_string().contains("PCI DSS"))
    );
    assert_eq!(pci.as_array().unwrap().len(), 8);
}

#[test]
fn usage_errors_exit_2() {
    bin()
        .args(["run", "--as-of", "last tuesday"])
        .assert()
        .code(2)
        .stderr(contains("RFC 3339"));
    bin()
        .args(["run", "--format", "pdf"])
        .assert()
        .code(2)
        .stderr(contains("html, csv, json, xlsx or ocsf"));
    bin()
        .args(["run", "--fail-on", "severe"])
        .assert()
        .code(2)
        .stderr(contains("critical, none"));
    bin().arg("frobnicate").assert().code(2);
    bin()
        .args(["run", "--evidence", "a", "--replay", "b"])
        .assert()
        .code(2);
    bin()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(contains("access-audit 0.1.0"));
}

#[test]
fn missing_config_is_fatal_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .current_dir(dir.path())
        .arg("run")
        .assert()
        .code(1)
        .stderr(contains("access-audit.toml").and(contains("file not found")));
    bin()
        .args(["--config", "/nonexistent/audit.toml", "check-config"])
        .assert()
        .code(1)
        .stderr(contains("/nonexistent/audit.toml"));
    // ACCESS_AUDIT_CONFIG names the file too.
    bin()
        .env("ACCESS_AUDIT_CONFIG", "/nonexistent/env.toml")
        .arg("run")
        .assert()
        .code(1)
        .stderr(contains("/nonexistent/env.toml"));
}

#[test]
fn a_source_type_or_key_that_does_not_fit_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str, expected: &str| {
        let cfg = write_config(dir.path(), text);
        bin()
            .args(["--config", cfg.to_str().unwrap(), "check-config"])
            .assert()
            .code(1)
            .stderr(contains(expected));
    };
    check(
        "[[sources]]\ntype = \"github\"\ntoken_env = \"T\"\n",
        "key `sources[0].type` (line 2): unknown variant `github`, expected `sentry` or `sentdm`",
    );
    check(
        "[[sources]]\ntype = \"sentdm\"\napi_key_env = \"K\"\norganizations = \"all\"\n",
        "key `sources[0].organizations` (line 4): `organizations` belongs to type = \"sentry\" \
         sources; this source is type = \"sentdm\"",
    );
    check(
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = \"all\"\nregion = 1\n",
        "key `sources[0].region` (line 5): unknown field `region`, expected one of `type`, `name`, \
         `base_url`, `token_env`, `token_file`, `organizations`, `projects`, `remediate_token_env`, \
         `remediate_token_file`, `remediate_requests_per_minute`, `concurrency`",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_and_missing_secret_fail_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"NOT_SET_ANYWHERE\"\norganizations = [\"acme\"]\n",
            server.uri()
        ),
    );
    let out = dir.path().join("out");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "key `sources[0].token_env` (line 4): environment variable NOT_SET_ANYWHERE is not set",
        ));
    let cfg = write_config(dir.path(), "[report]\nfail_on = \"sometimes\"\n");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(contains("key `report.fail_on` (line 2)").and(contains(
            "expected one of info, low, medium, high, critical, none",
        )));
    assert!(!out.join("report.json").exists());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unwritable_output_is_fatal_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n",
            server.uri()
        ),
    );
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--out",
            blocker.join("reports").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(contains("cannot create output directory"));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_decides_between_0_and_3() {
    let server = MockServer::start().await;
    // One owner without 2FA: a single high-severity failing finding.
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/members/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([sentry_member(
                1,
                "owner",
                false,
                Some("2026-10-31T00:00:00Z")
            )])),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[report]\nfail_on = \"critical\"\n[[sources]]\ntype = \"sentry\"\nbase_url = \"{}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n",
            server.uri()
        ),
    );
    let run = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ]);
        cmd.args(extra);
        cmd.assert()
    };
    run(&[]).code(0);
    run(&["--fail-on", "high"]).code(3);
    run(&["--fail-on", "info"]).code(3);
    run(&["--fail-on", "none"]).code(0);
}

#[test]
fn check_config_prints_the_plan_and_the_example_config_is_valid() {
    let out = bin()
        .args([
            "--config",
            example_config().to_str().unwrap(),
            "check-config",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("valid."));
    assert!(text.contains("\"Acme quarterly access review\" → reports/ (html, csv, json)"));
    assert!(text.contains("environment variable SENTRY_AUTH_TOKEN (set)"));
    assert!(text.contains("organizations: acme, acme-labs"));
    assert!(text.contains("the organization and every child profile"));
    assert!(
        text.contains("stale_login          medium    max_inactive_days = 90, grace_days = 14")
    );
    assert!(!text.contains(SENTRY_TOKEN) && !text.contains(SENTDM_KEY));
    // Without the secret: exit 1, naming the key and the variable.
    bin()
        .env_remove("SENTDM_API_KEY")
        .args([
            "--config",
            example_config().to_str().unwrap(),
            "check-config",
        ])
        .assert()
        .code(1)
        .stderr(contains("sources[1].api_key_env").and(contains("SENTDM_API_KEY is not set")));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_config_connect_reports_each_source() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/members/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string(""))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[sources]]\ntype = \"sentry\"\nbase_url = \"{0}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\n\
             [[sources]]\ntype = \"sentdm\"\nbase_url = \"{0}\"\napi_key_env = \"SENTDM_API_KEY\"\n",
            server.uri()
        ),
    );
    let assert = bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "check-config",
            "--connect",
        ])
        .assert()
        .code(1);
    let text = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(
        text.lines().any(|l| l.contains("sentry")
            && l.contains("ok (GET /api/0/organizations/acme/members/ answered 200)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("sentdm") && l.contains("FAILED: bad credentials: HTTP 401")),
        "{text}"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_leak_at_the_highest_verbosity() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/members/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/users"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[sources]]\ntype = \"sentry\"\nbase_url = \"{0}\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\norganizations = [\"acme\"]\nmax_attempts = 2\n\
             [[sources]]\ntype = \"sentdm\"\nbase_url = \"{0}\"\napi_key_env = \"SENTDM_API_KEY\"\nprofiles = []\nmax_attempts = 2\n",
            server.uri()
        ),
    );
    let out = dir.path().join("out");
    let evidence = dir.path().join("evidence");
    for format in ["json", "text"] {
        let _ = std::fs::remove_dir_all(&evidence);
        let assert = bin()
            .env("RUST_LOG", "trace")
            .args([
                "-vv",
                "--log-format",
                format,
                "--config",
                cfg.to_str().unwrap(),
                "run",
                "--out",
                out.to_str().unwrap(),
            ])
            .args(["--evidence", evidence.to_str().unwrap()])
            .assert()
            .code(4);
        let output = assert.get_output();
        let all = [output.stdout.clone(), output.stderr.clone()].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.contains("Invalid token"),
            "the failure itself is logged"
        );
        for secret in [SENTRY_TOKEN, SENTDM_KEY, "c0ffee_must", "deadbeef_must"] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into logs ({format})"
            );
        }
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            let content = String::from_utf8_lossy(&bytes);
            for secret in [SENTRY_TOKEN, SENTDM_KEY] {
                assert!(
                    !content.contains(secret),
                    "{secret} leaked into {}",
                    entry.display()
                );
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(s: &str) -> predicates::str::ContainsPredicate {
    predicates::str::contains(s)
}

#[test]
fn templates_and_subject_can_be_replaced() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-evidence");
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.html.hbs"),
        "<p>CUSTOM {{title}}: {{verdict}}</p>",
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[report]\ntitle = \"T & <b>\"\ntemplate_dir = \"{}\"\n[email]\nfrom = \"a@acme.example\"\nto = [\"b@acme.example\"]\n\
             subject = \"Review {{{{as_of_date}}}}: {{{{failing}}}}/{{{{manual}}}}\"\n",
            templates.display()
        ),
    );
    let out = dir.path().join("out");
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
            out.to_str().unwrap(),
            "--email-preview",
            preview.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.starts_with("<p>CUSTOM T &amp; &lt;b&gt;: 73 failing findings"),
        "{html}"
    );
    let eml = std::fs::read_dir(&preview)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read_to_string(eml).unwrap();
    assert!(raw.contains("Subject: Review 2026-11-20: 73/4"), "{raw}");

    // A template that does not compile stops the run before anything is fetched.
    std::fs::write(
        templates.join("report.html.hbs"),
        "{{#each scopes}}unclosed",
    )
    .unwrap();
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--replay",
            demo.to_str().unwrap(),
            "--out",
            dir.path().join("o2").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(contains("report.html.hbs is invalid"));
    assert!(!dir.path().join("o2/report.json").exists());
}

#[test]
fn example_suppressions_file_is_valid() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-evidence");
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/suppressions.toml");
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args([
            "run",
            "--replay",
            demo.to_str().unwrap(),
            "--as-of",
            "2026-11-20T06:00:00Z",
            "--format",
            "json",
        ])
        .args([
            "--out",
            dir.path().to_str().unwrap(),
            "--suppressions",
            file.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let report = read_json(&dir.path().join("report.json"));
    assert_eq!(report["suppressions"].as_array().unwrap().len(), 2);
}

/// `rules --format json | head` and friends: a reader that goes away is a normal end (exit 0),
/// not a panic (exit 101).
#[test]
fn a_closed_pipe_is_a_normal_exit() {
    for args in [
        vec!["rules", "--format", "json"],
        vec!["rules"],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("access-audit"))
            .args(&args)
            .env_clear()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        bin()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("access-audit"));
    }
    bin().arg("man").assert().code(0).stdout(
        predicate::str::contains(".TH access-audit")
            .and(predicate::str::contains("check\\-config")),
    );
}

#[test]
fn check_config_reports_every_error_of_the_config_and_the_files_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let suppressions = dir.path().join("suppressions.toml");
    std::fs::write(
        &suppressions,
        "[[suppress]]\nrule = \"stale_login\"\nemail = \"a@acme.example\"\nreason = \"r\"\n\
         owner = \"o@acme.example\"\nexpires = 2020-01-01\nticket = \"SEC-1\"\n",
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "suppressions = '{}'\n\n[report]\ntitle = \"Audit\"\ntitel = \"typo\"\n\n\
             [[sources]]\ntype = \"sentry\"\ntoken_env = \"SENTRY_AUTH_TOKEN\"\n\
             organizations = [\"acme\"]\nconcurency = 4\n\n[email]\nfrom = \"nobody\"\n",
            suppressions.display()
        ),
    );
    let out = bin()
        .args(["--config", cfg.to_str().unwrap(), "check-config"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for expected in [
        "key `report.titel` (line 5): unknown field `titel`",
        "did you mean `title`?",
        "key `sources[0].concurency` (line 11): unknown field `concurency`",
        "did you mean `concurrency`?",
        "key `email.from` (line 14): `nobody` is not an email address",
        "unknown field `ticket`",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    let suppressions_line = stderr
        .lines()
        .find(|l| l.contains("unknown field `ticket`"))
        .unwrap();
    assert!(
        suppressions_line.contains(&suppressions.display().to_string()),
        "{suppressions_line}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        4,
        "one line per error:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no plan printed for a config in error"
    );
}
