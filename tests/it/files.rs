//! Files from outside are hostile until checked, two runs never mix their output, and a report
//! set is replaced whole or not at all: FIFO and oversized inputs, source names that would
//! break the evidence archive, the output-directory lock, and a disk that fills up mid-write.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::*;
use predicates::prelude::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Long enough for a loaded machine, short enough that a hang fails the test instead of CI.
const NO_HANG: Duration = Duration::from_secs(60);
const BIN: &str = env!("CARGO_BIN_EXE_access-audit");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn sentry_config(base: &str, token: &str) -> String {
    format!(
        "[[sources]]\ntype = \"sentry\"\nbase_url = \"{base}\"\n{token}\norganizations = [\"acme\"]\n"
    )
}

#[test]
fn a_fifo_secret_file_fails_at_once_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("token");
    mkfifo(&fifo);
    let cfg = write_config(
        dir.path(),
        &sentry_config(
            "http://127.0.0.1:9",
            &format!("token_file = \"{}\"", fifo.display()),
        ),
    );
    bin()
        .timeout(NO_HANG)
        .args(["--config", cfg.to_str().unwrap(), "run", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(1)
        .stderr(contains("key `sources[0].token_file` (line 4)"))
        .stderr(contains(format!(
            "cannot read secret file {}",
            fifo.display()
        )))
        .stderr(contains("it is a FIFO, not a regular file"));
    assert!(!dir.path().join("out/report.json").exists());

    // A file far larger than any secret is refused, naming the limit.
    let big = dir.path().join("big-token");
    std::fs::write(&big, vec![b'x'; 100 * 1024]).unwrap();
    let cfg = write_config(
        dir.path(),
        &sentry_config(
            "http://127.0.0.1:9",
            &format!("token_file = \"{}\"", big.display()),
        ),
    );
    bin()
        .timeout(NO_HANG)
        .args(["--config", cfg.to_str().unwrap(), "check-config"])
        .assert()
        .code(1)
        .stderr(contains("over the 64 KiB limit for a secret file"));
}

#[test]
fn a_fifo_config_or_baseline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    bin()
        .timeout(NO_HANG)
        .args(["--config", fifo.to_str().unwrap(), "check-config"])
        .assert()
        .code(1)
        .stderr(contains(fifo.to_str().unwrap()))
        .stderr(contains("it is a FIFO, not a regular file"));
    bin()
        .timeout(NO_HANG)
        .args(["run", "--replay"])
        .arg(demo())
        .args(["--baseline", fifo.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(1)
        .stderr(contains(format!(
            "cannot read baseline report.json {}: it is a FIFO",
            fifo.display()
        )));
    assert!(!dir.path().join("out/report.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_name_that_would_break_the_archive_fails_before_any_request() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    for (name, shown) in [
        ("manifest.json", "`manifest.json`"),
        ("a\\u0000b", "`a\\0b`"),
        ("..", "`..`"),
    ] {
        let cfg = write_config(
            dir.path(),
            &format!(
                "{}name = \"{name}\"\n",
                sentry_config(&server.uri(), "token_env = \"SENTRY_AUTH_TOKEN\"")
            ),
        );
        bin()
            .args(["--config", cfg.to_str().unwrap(), "run", "--evidence"])
            .arg(dir.path().join("evidence"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .assert()
            .code(1)
            .stderr(contains("key `sources[0].name` (line 6)"))
            .stderr(contains(format!("{shown} is not a usable source name")));
    }
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(!dir.path().join("out/report.json").exists());
}

/// Sentry members of `acme`, answered only after `delay`: a run that holds its locks a while.
async fn slow_sentry(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/acme/members/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([sentry_member(
                    1,
                    "member",
                    true,
                    Some("2026-10-20T00:00:00Z")
                )]))
                .insert_header("link", sentry_link("acme", None).as_str())
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// Start a run in the background; `args` follow `run --as-of AS_OF`.
fn spawn_run(cfg: &Path, args: &[&std::ffi::OsStr]) -> Child {
    Command::new(BIN)
        .env_clear()
        .env("SENTRY_AUTH_TOKEN", SENTRY_TOKEN)
        .args(["--config", cfg.to_str().unwrap(), "run", "--as-of", AS_OF])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the first run")
}

fn config_file(dir: &Path, name: &str, base: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        sentry_config(base, "token_env = \"SENTRY_AUTH_TOKEN\""),
    )
    .unwrap();
    path
}

/// Wait until `server` has been asked something: the run that asked holds its locks by then.
async fn until_asked(server: &MockServer) {
    let started = Instant::now();
    while server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            started.elapsed() < NO_HANG,
            "the first run never made its request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn wait_code(mut child: Child) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the first run") {
            return status.code();
        }
        if started.elapsed() > NO_HANG {
            let _ = child.kill();
            panic!("the first run did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_into_a_locked_output_directory_fails_before_any_request() {
    let slow = slow_sentry(Duration::from_secs(5)).await;
    let other = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first_cfg = config_file(dir.path(), "first.toml", &slow.uri());
    let first = spawn_run(&first_cfg, &["--out".as_ref(), out.as_ref()]);
    until_asked(&slow).await;

    let second_cfg = config_file(dir.path(), "second.toml", &other.uri());
    bin()
        .timeout(NO_HANG)
        .args(["--config", second_cfg.to_str().unwrap(), "run", "--out"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(format!(
            "output directory {} is in use by another access-audit run",
            out.display()
        )));
    assert!(
        other
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the second run made a request"
    );
    let code = wait_code(first);
    assert!(matches!(code, Some(0 | 3)), "first run exited {code:?}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["scopes"][0]["accounts"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_into_the_same_new_evidence_directory_fails_before_any_request() {
    let slow = slow_sentry(Duration::from_secs(5)).await;
    let other = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let first_cfg = config_file(dir.path(), "first.toml", &slow.uri());
    let first_out = dir.path().join("first");
    let first = spawn_run(
        &first_cfg,
        &[
            "--out".as_ref(),
            first_out.as_ref(),
            "--evidence".as_ref(),
            evidence.as_ref(),
        ],
    );
    until_asked(&slow).await;

    let second_cfg = config_file(dir.path(), "second.toml", &other.uri());
    bin()
        .timeout(NO_HANG)
        .args([
            "--config",
            second_cfg.to_str().unwrap(),
            "run",
            "--evidence",
        ])
        .arg(&evidence)
        .arg("--out")
        .arg(dir.path().join("second"))
        .assert()
        .code(1)
        .stderr(contains(format!(
            "evidence directory {} is already claimed by another run",
            evidence.display()
        )));
    assert!(
        other
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the second run made a request"
    );
    assert!(!dir.path().join("second/report.json").exists());
    let code = wait_code(first);
    assert!(matches!(code, Some(0 | 3)), "first run exited {code:?}");

    // The claim marker stays, says who recorded, and replay pays it no attention.
    let marker = read_json(&evidence.join(".access-audit-evidence"));
    assert!(marker["pid"].as_u64().is_some_and(|p| p > 0), "{marker}");
    assert!(marker["started_at"].as_str().is_some(), "{marker}");
    let replay_out = dir.path().join("replay");
    bin()
        .args(["run", "--replay"])
        .arg(&evidence)
        .args(["--as-of", AS_OF, "--out"])
        .arg(&replay_out)
        .assert()
        .code(code.unwrap_or(-1));
    assert_eq!(
        read_json(&first_out.join("report.json"))["accounts"],
        read_json(&replay_out.join("report.json"))["accounts"]
    );
}

/// A report set from replaying the demo archive into `out` (json only when `json_only`).
fn replay_into(out: &Path, json_only: bool) {
    let mut cmd = bin();
    cmd.args(["run", "--replay"])
        .arg(demo())
        .args(["--as-of", "2026-11-20T06:00:00Z", "--out"])
        .arg(out);
    if json_only {
        cmd.args(["--format", "json"]);
    }
    cmd.assert().code(4);
}

#[test]
fn merge_refuses_an_output_directory_another_run_holds() {
    let dir = tempfile::tempdir().unwrap();
    let shard = dir.path().join("shard");
    replay_into(&shard, true);
    let out = dir.path().join("merged");
    std::fs::create_dir_all(&out).unwrap();
    let held = std::fs::File::create(out.join(".access-audit.lock")).unwrap();
    held.try_lock().expect("the test takes the lock");
    bin()
        .timeout(NO_HANG)
        .current_dir(dir.path())
        .arg("merge")
        .arg(&shard)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(format!(
            "output directory {} is in use by another access-audit run",
            out.display()
        )));
    assert!(!out.join("report.json").exists());
    drop(held);
    bin()
        .current_dir(dir.path())
        .arg("merge")
        .arg(&shard)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(4);
}

/// Every file in `dir`, by name, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The binary under a file-size limit of `blocks` shell blocks (512 bytes for a POSIX sh),
/// with SIGXFSZ ignored so that a write past the limit fails with EFBIG like a full disk.
fn limited(blocks: u64) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new("sh");
    cmd.env_clear()
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(BIN)
        .timeout(NO_HANG);
    cmd
}

/// The bytes in one of `sh`'s `ulimit -f` blocks (512 in POSIX mode, 1024 in bash's own),
/// measured: a 1-block limit either stops a 1000-byte write or it does not.
fn shell_block_bytes() -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1; head -c 1000 /dev/zero > \"$0\" 2>/dev/null")
        .arg(&file)
        .status()
        .unwrap();
    if status.success() && std::fs::metadata(&file).unwrap().len() == 1000 {
        1024
    } else {
        512
    }
}

/// A limit that lets every file but report.json be written.
fn blocks_for_all_but_json(set: &BTreeMap<String, Vec<u8>>) -> u64 {
    let json = set["report.json"].len() as u64;
    let others = set
        .iter()
        .filter(|(name, _)| *name != "report.json")
        .map(|(_, bytes)| bytes.len() as u64)
        .max()
        .unwrap_or(0);
    let unit = shell_block_bytes();
    let blocks = others / unit + 8;
    assert!(
        blocks * unit < json,
        "the test needs report.json ({json} bytes) above the other files ({others})"
    );
    blocks
}

fn assert_untouched(before: &BTreeMap<String, Vec<u8>>, out: &Path) {
    let after = snapshot(out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "no file added or removed, no temporary file left behind"
    );
    for (name, bytes) in before {
        assert!(
            &after[name] == bytes,
            "{name} was changed by the failed run"
        );
    }
}

#[test]
fn a_disk_full_during_the_reports_leaves_the_previous_set_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[roster]\nfile = \"{}\"\ndomain_aliases = {{ \"acme-labs.example\" = \"acme.example\" }}\n",
            root().join("examples/roster.csv").display()
        ),
    );
    let out = dir.path().join("out");
    let run = |cmd: &mut assert_cmd::Command| {
        cmd.arg("--config")
            .arg(&cfg)
            .args(["run", "--replay"])
            .arg(demo())
            .args(["--as-of", "2026-11-20T06:00:00Z", "--out"])
            .arg(&out)
            .assert()
    };
    run(&mut bin()).code(4);
    let before = snapshot(&out);
    for f in [
        "report.html",
        "findings.csv",
        "accounts.csv",
        "people.csv",
        "report.json",
    ] {
        assert!(before.contains_key(f), "{f} in the first set");
    }
    let blocks = blocks_for_all_but_json(&before);
    run(&mut limited(blocks))
        .code(1)
        .stderr(contains("report.json"))
        .stderr(contains("no complete report was produced"));
    assert_untouched(&before, &out);
}

#[test]
fn a_disk_full_during_merge_leaves_the_previous_set_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let shard = dir.path().join("shard");
    replay_into(&shard, true);
    let out = dir.path().join("merged");
    let merge = |cmd: &mut assert_cmd::Command| {
        cmd.current_dir(dir.path())
            .arg("merge")
            .arg(&shard)
            .arg("--out")
            .arg(&out)
            .assert()
    };
    merge(&mut bin()).code(4);
    let before = snapshot(&out);
    assert!(before.contains_key("report.html") && before.contains_key("report.json"));
    let blocks = blocks_for_all_but_json(&before);
    merge(&mut limited(blocks))
        .code(1)
        .stderr(contains("report.json"));
    assert_untouched(&before, &out);
}

fn contains(s: impl Into<String>) -> predicates::str::ContainsPredicate {
    predicate::str::contains(s.into())
}
