//! Evidence archives: what `--evidence` writes, what `--replay` reads, and that a replay is
//! indistinguishable from the live run it recorded.

use std::path::Path;

use crate::support::common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mixed_server() -> MockServer {
    let server = MockServer::start().await;
    mount_sentry_org(
        &server,
        "acme",
        vec![
            (1..=100)
                .map(|i| {
                    sentry_member(
                        i,
                        if i == 1 { "owner" } else { "member" },
                        i != 1,
                        Some("2026-10-20T00:00:00Z"),
                    )
                })
                .collect(),
            vec![
                sentry_member(101, "member", true, Some("2025-10-20T00:00:00Z")),
                sentry_invite(102, "2026-09-01T00:00:00Z", false),
            ],
        ],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/0/organizations/gone/members/"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"detail": "You do not have permission to perform this action."}),
            ),
        )
        .mount(&server)
        .await;
    mount_sentdm_users(
        &server,
        None,
        200,
        sentdm_ok(json!({"users": [sentdm_user("u1", "admin", "active", "2026-01-01T00:00:00.1234567+00:00", Some("2026-10-31T00:00:00+00:00"))]})),
    )
    .await;
    server
}

fn mixed_config(base: &str) -> String {
    format!(
        r#"
[[sources]]
type = "sentry"
base_url = "{base}"
token_env = "SENTRY_AUTH_TOKEN"
organizations = ["acme", "gone"]

[[sources]]
type = "sentdm"
base_url = "{base}"
api_key_env = "SENTDM_API_KEY"
profiles = []
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_is_complete_and_replay_reproduces_the_live_report() {
    let server = mixed_server().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &mixed_config(&server.uri()));
    let evidence = dir.path().join("evidence");
    let live_out = dir.path().join("live");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            AS_OF,
            "--out",
            live_out.to_str().unwrap(),
            "--evidence",
            evidence.to_str().unwrap(),
        ])
        .assert()
        .code(4);

    let manifest = read_json(&evidence.join("manifest.json"));
    assert_eq!(manifest["schema_version"], 1);
    assert_eq!(manifest["tool"]["name"], "access-audit");
    assert_eq!(manifest["sources"][0]["type"], "sentry");
    assert_eq!(manifest["sources"][0]["base_url"], server.uri());
    let responses = manifest["responses"].as_array().unwrap();
    assert_eq!(
        responses.len(),
        4,
        "two acme pages, the forbidden org, the Sent.dm organization"
    );
    for r in responses {
        let file = r["file"].as_str().unwrap();
        let body = std::fs::read(evidence.join(file)).unwrap();
        assert_eq!(r["bytes"].as_u64().unwrap(), body.len() as u64);
        assert_eq!(
            r["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&body))
        );
        assert!(r["fetched_at"].as_str().unwrap().ends_with('Z'));
        let url = r["url"].as_str().unwrap();
        assert!(url.starts_with(&server.uri()));
        assert!(!url.contains("TOKEN") && !url.contains("KEY"));
    }
    let acme: Vec<&serde_json::Value> = responses.iter().filter(|r| r["scope"] == "acme").collect();
    assert_eq!(acme[0]["file"], "sentry/acme/0001.json");
    assert_eq!(acme[1]["file"], "sentry/acme/0002.json");
    assert_eq!(
        acme[1]["url"],
        format!(
            "{}/api/0/organizations/acme/members/?per_page=100&cursor=100%3A1%3A0",
            server.uri()
        )
    );
    assert_eq!(acme[0]["endpoint"], "sentry.members");
    let gone = responses.iter().find(|r| r["scope"] == "gone").unwrap();
    assert_eq!(gone["status"], 403);
    let sentdm = responses
        .iter()
        .find(|r| r["source_name"] == "sentdm")
        .unwrap();
    assert_eq!(
        (sentdm["endpoint"].as_str(), sentdm["scope"].as_str()),
        (Some("sentdm.users"), Some("organization"))
    );
    // Bodies are kept exactly as received.
    let raw = std::fs::read_to_string(evidence.join("sentdm/organization/0001.json")).unwrap();
    assert!(raw.contains("2026-01-01T00:00:00.1234567+00:00"));

    // Replay: no network (the mock is gone), no config, same report.
    drop(server);
    let replay_out = dir.path().join("replay");
    bin()
        .current_dir(dir.path().join("..")) // no access-audit.toml here
        .args([
            "run",
            "--replay",
            evidence.to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--out",
            replay_out.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let live = read_json(&live_out.join("report.json"));
    let replayed = read_json(&replay_out.join("report.json"));
    assert_eq!(live["findings"], replayed["findings"]);
    assert_eq!(live["accounts"], replayed["accounts"]);
    assert_eq!(live["scopes"], replayed["scopes"]);
    assert_eq!(live["summary"], replayed["summary"]);
    assert_eq!(replayed["run"]["replayed"], true);
    assert_eq!(
        replayed["run"]["evidence_manifest_sha256"]
            .as_str()
            .unwrap(),
        hex::encode(Sha256::digest(
            std::fs::read(evidence.join("manifest.json")).unwrap()
        ))
    );
}

#[test]
fn evidence_directory_must_be_new_or_empty() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    std::fs::write(evidence.join("old.json"), "{}").unwrap();
    let cfg = write_config(dir.path(), &mixed_config("http://127.0.0.1:9"));
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--evidence",
            evidence.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is not empty"));
}

/// A copy of the demo archive in `dir` with one body altered (`sentry/acme/0002.json`: a member
/// made an owner), its manifest left as recorded.
fn tampered_demo(dir: &std::path::Path) -> std::path::PathBuf {
    let copy = dir.join("archive");
    copy_dir(&demo(), &copy);
    let victim = copy.join("sentry/acme/0002.json");
    let text = std::fs::read_to_string(&victim).unwrap().replacen(
        "\"orgRole\":\"member\"",
        "\"orgRole\":\"owner\"",
        1,
    );
    std::fs::write(&victim, text).unwrap();
    copy
}

#[test]
fn tampered_archive_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let copy = tampered_demo(dir.path());
    bin()
        .args([
            "run",
            "--replay",
            copy.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("sentry/acme/0002.json"))
        .stderr(predicates::str::contains("the archive was altered"));
    assert!(!dir.path().join("o/report.json").exists());
}

/// Bodies are hashed once, as they are replayed, and the ones a run does not replay (other
/// shards' scopes) after it: an altered body fails every shard, whether or not it replays it.
#[test]
fn tampered_body_fails_every_shard_whether_replayed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let copy = tampered_demo(dir.path());
    for shard in ["0/3", "1/3", "2/3"] {
        let out = dir.path().join(format!("o{}", &shard[..1]));
        bin()
            .args(["run", "--replay", copy.to_str().unwrap(), "--shard", shard])
            .args(["--as-of", DEMO_AS_OF, "--out", out.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicates::str::contains("sentry/acme/0002.json"))
            .stderr(predicates::str::contains("the archive was altered"));
        assert!(!out.join("report.json").exists(), "shard {shard}");
    }
}

#[test]
fn demo_archive_replays_with_every_rule_and_a_failed_scope() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    bin()
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(4);
    let report = read_json(&out.join("report.json"));
    let s = scopes(&report);
    assert!(s.len() >= 6, "{s:?}");
    assert!(s.iter().filter(|x| x.0 == "sentry" && x.2 == "ok").count() >= 2);
    assert!(s.iter().any(|x| x.0 == "sentry" && x.2 == "failed"));
    assert!(
        s.iter()
            .any(|x| x.0 == "sentdm" && x.1 == "organization" && x.2 == "ok")
    );
    assert!(
        s.iter()
            .filter(|x| x.0 == "sentdm" && x.1 != "organization" && x.2 == "ok")
            .count()
            >= 2
    );
    let failed_profile = report["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "sentdm" && x["status"] == "failed")
        .unwrap();
    assert_eq!(failed_profile["error"]["code"], "AUTH_004");
    assert!(failed_profile["error"]["request_id"].is_string());
    let keys = finding_keys(&report);
    for rule in [
        "stale_login",
        "pending_invite",
        "admin_without_2fa",
        "expired_membership",
    ] {
        assert!(
            keys.iter().any(|k| k.0 == rule && k.3 == "fail"),
            "{rule} fails somewhere"
        );
    }
    assert!(
        keys.iter()
            .any(|k| k.0 == "admin_without_2fa" && k.3 == "manual")
    );
    for f in ["report.html", "findings.csv", "accounts.csv", "report.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Hostile names from the API arrive escaped in HTML and neutralised in CSV.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<img src=x"));
    assert!(!html.to_lowercase().contains("<script"));
    let accounts_csv = std::fs::read_to_string(out.join("accounts.csv")).unwrap();
    assert!(accounts_csv.contains("\"'=HYPERLINK("));
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_archive_replay_equals_a_live_run_against_the_same_answers() {
    let server = serve_archive(&demo()).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = read_json(&demo().join("manifest.json"));
    let orgs: Vec<String> = manifest["sources"][0]["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("\"{}\"", o.as_str().unwrap()))
        .collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[sources]]
type = "sentry"
base_url = "{base}"
token_env = "SENTRY_AUTH_TOKEN"
organizations = [{orgs}]

[[sources]]
type = "sentdm"
base_url = "{base}"
api_key_env = "SENTDM_API_KEY"
profiles = "all"
"#,
            base = server.uri(),
            orgs = orgs.join(", ")
        ),
    );
    let live_out = dir.path().join("live");
    bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--as-of",
            DEMO_AS_OF,
            "--out",
            live_out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .assert()
        .code(4);
    let replay_out = dir.path().join("replay");
    bin()
        .args([
            "run",
            "--replay",
            demo().to_str().unwrap(),
            "--as-of",
            DEMO_AS_OF,
            "--out",
            replay_out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .assert()
        .code(4);
    let live = read_json(&live_out.join("report.json"));
    let replayed = read_json(&replay_out.join("report.json"));
    assert!(live["findings"].as_array().unwrap().len() > 20);
    assert_eq!(live["findings"], replayed["findings"]);
    assert_eq!(live["accounts"], replayed["accounts"]);
    // The same scopes; how each was obtained differs only in where and when the pages came
    // from (a loopback server now, the recording then) and in the digests a replay has.
    let without_provenance = |report: &serde_json::Value| {
        let mut scopes = report["scopes"].clone();
        for s in scopes.as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("provenance");
        }
        scopes
    };
    assert_eq!(without_provenance(&live), without_provenance(&replayed));
    let pages = |report: &serde_json::Value| -> Vec<(String, u64, u64)> {
        let scopes = report["scopes"].as_array().unwrap();
        let pages = scopes
            .iter()
            .flat_map(|s| s["provenance"]["pages"].as_array().unwrap());
        pages
            .map(|p| {
                let endpoint = p["endpoint"].as_str().unwrap().to_string();
                (
                    endpoint,
                    p["status"].as_u64().unwrap(),
                    p["bytes"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(pages(&live), pages(&replayed));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A hostile archive: every file regular, bounded and inside, every name a safe component.
#[cfg(unix)]
mod hostile {
    use super::*;

    /// Long enough for a loaded machine; a read that blocks fails the test instead of hanging it.
    const NO_HANG: std::time::Duration = std::time::Duration::from_secs(60);

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo");
        assert!(status.success(), "mkfifo {}", path.display());
    }

    /// Replay `archive`; expect exit 1, no report, and each of `parts` in the error.
    fn replay_is_refused(archive: &Path, parts: &[&str]) {
        let out = tempfile::tempdir().unwrap();
        let mut assert = bin()
            .timeout(NO_HANG)
            .args(["run", "--replay"])
            .arg(archive)
            .arg("--out")
            .arg(out.path())
            .assert()
            .code(1);
        for part in parts {
            assert = assert.stderr(predicates::str::contains(*part));
        }
        assert!(!out.path().join("report.json").exists());
    }

    fn demo_copy(dir: &Path) -> std::path::PathBuf {
        let copy = dir.join("archive");
        copy_dir(&demo(), &copy);
        copy
    }

    fn edit_manifest(archive: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = archive.join("manifest.json");
        let mut manifest = read_json(&path);
        edit(&mut manifest);
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    }

    #[test]
    fn a_fifo_as_manifest_or_body_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("fifo-manifest");
        std::fs::create_dir_all(&archive).unwrap();
        mkfifo(&archive.join("manifest.json"));
        replay_is_refused(
            &archive,
            &[
                "cannot read evidence manifest",
                "it is a FIFO, not a regular file",
            ],
        );

        let archive = demo_copy(dir.path());
        let body = archive.join("sentry/acme/0002.json");
        std::fs::remove_file(&body).unwrap();
        mkfifo(&body);
        replay_is_refused(
            &archive,
            &[
                "responses[1]",
                "sentry/acme/0002.json",
                "it is a FIFO, not a regular file",
            ],
        );
    }

    #[test]
    fn a_symlink_inside_the_archive_is_refused_even_to_an_identical_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();

        // The body file itself: the bytes outside match the manifest, but nothing vouches for them.
        let archive = demo_copy(dir.path());
        let body = archive.join("sentry/acme/0002.json");
        std::fs::rename(&body, outside.join("0002.json")).unwrap();
        std::os::unix::fs::symlink(outside.join("0002.json"), &body).unwrap();
        replay_is_refused(
            &archive,
            &["sentry/acme/0002.json", "it is a symbolic link"],
        );

        // A directory on the way.
        let archive2 = dir.path().join("archive2");
        copy_dir(&demo(), &archive2);
        std::fs::rename(archive2.join("sentry/acme"), outside.join("acme")).unwrap();
        std::os::unix::fs::symlink(outside.join("acme"), archive2.join("sentry/acme")).unwrap();
        replay_is_refused(&archive2, &["sentry/acme: it is a symbolic link"]);

        // The manifest.
        let archive3 = dir.path().join("archive3");
        copy_dir(&demo(), &archive3);
        std::fs::rename(
            archive3.join("manifest.json"),
            outside.join("manifest.json"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            outside.join("manifest.json"),
            archive3.join("manifest.json"),
        )
        .unwrap();
        replay_is_refused(
            &archive3,
            &["cannot read evidence manifest", "it is a symbolic link"],
        );
    }

    #[test]
    fn an_oversized_body_is_refused_from_the_manifest_and_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let archive = demo_copy(dir.path());
        let body = archive.join("sentry/acme-legacy/0001.json");
        // Sparse: 2 GiB on paper, nothing on disk.
        let size: u64 = 2 << 30;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&body)
            .unwrap()
            .set_len(size)
            .unwrap();
        edit_manifest(&archive, |m| m["responses"][4]["bytes"] = json!(size));
        replay_is_refused(
            &archive,
            &[
                "responses[4]",
                "sentry/acme-legacy/0001.json",
                &format!("{size} bytes, over the 1 GiB limit for an evidence body"),
            ],
        );
    }

    #[test]
    fn hostile_names_in_the_manifest_are_refused_naming_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let archive = demo_copy(dir.path());
        edit_manifest(&archive, |m| {
            m["responses"][4]["scope"] = json!("../../etc")
        });
        replay_is_refused(
            &archive,
            &[
                "manifest.json: responses[4].scope",
                "`../../etc` is not a usable scope name",
            ],
        );

        let archive = dir.path().join("archive2");
        copy_dir(&demo(), &archive);
        edit_manifest(&archive, |m| {
            m["sources"][1]["name"] = json!("manifest.json")
        });
        replay_is_refused(
            &archive,
            &[
                "manifest.json: sources[1].name",
                "`manifest.json` is not a usable source name",
            ],
        );

        let archive = dir.path().join("archive3");
        copy_dir(&demo(), &archive);
        edit_manifest(&archive, |m| {
            m["responses"][10]["source_name"] = json!("sent\u{0}dm")
        });
        replay_is_refused(
            &archive,
            &[
                "responses[10].source_name",
                "`sent\\0dm` is not a usable source name",
            ],
        );
    }
}
