//! `[store]` against a real S3-protocol server — s3s with its filesystem backend, SigV4
//! checked — served on 127.0.0.1 from inside the test; and against file:// as a second backend.
//! Every object is listed and read back independently of the upload, and checked against the
//! run folder and manifest.sha256. The last tests run the binary: a live run (against mocked
//! APIs) with `--evidence` and `--email-preview`, stored to the S3 server.

use crate::support::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use access_audit::delivery::Target;
use access_audit::delivery::store::{
    self, CloudEnv, RawStore, RunFile, Store, StoreReceipt, StoreSettings,
};
use chrono::{DateTime, TimeZone, Utc};
use futures::TryStreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use object_store::{ObjectStore, ObjectStoreExt};
use s3s::dto::{
    GetObjectInput, GetObjectOutput, ListObjectsV2Input, ListObjectsV2Output, PutObjectInput,
    PutObjectOutput, StreamingBlob,
};
use s3s::{S3, S3Request, S3Response, S3Result};
use sha2::{Digest, Sha256};

const ACCESS_KEY: &str = "AKIAACCESSAUDITTEST";
const SECRET_KEY: &str = "store-test-secret-key-0f3b9d";
const BUCKET: &str = "audit-bucket";

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap()
}

/// An S3 server on a free loopback port, serving `service` until the test's runtime ends.
async fn serve(service: s3s::service::S3Service) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    addr
}

/// s3s-fs over `root` (one directory per bucket), with SigV4 checked against the test's keys.
async fn s3_server(root: &Path, tamper: bool) -> SocketAddr {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(Server {
        fs,
        root: root.to_path_buf(),
        tamper,
    });
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    serve(builder.build()).await
}

/// s3s-fs, made to answer like S3 where it is lenient: a PUT into a bucket that does not exist
/// is `NoSuchBucket` (s3s-fs would create it). With `tamper`, it keeps what it is given but
/// serves it back with one byte changed.
struct Server {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    tamper: bool,
}

#[async_trait::async_trait]
impl S3 for Server {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if !self.root.join(&req.input.bucket).is_dir() {
            return Err(s3s::s3_error!(
                NoSuchBucket,
                "The specified bucket does not exist"
            ));
        }
        self.fs.put_object(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let mut resp = self.fs.get_object(req).await?;
        if !self.tamper {
            return Ok(resp);
        }
        if let Some(body) = resp.output.body.take() {
            let mut bytes: Vec<u8> = body
                .try_fold(Vec::new(), |mut all, chunk| async move {
                    all.extend_from_slice(&chunk);
                    Ok(all)
                })
                .await
                .map_err(|e| s3s::s3_error!(InternalError, "{e}"))?;
            if let Some(first) = bytes.first_mut() {
                *first ^= 0x20;
            }
            let chunk = bytes::Bytes::from(bytes);
            resp.output.body = Some(StreamingBlob::wrap(futures::stream::once(async move {
                Ok::<_, std::io::Error>(chunk)
            })));
        }
        Ok(resp)
    }
}

fn env(addr: SocketAddr, secret: &str) -> CloudEnv {
    CloudEnv::from_pairs([
        ("AWS_ACCESS_KEY_ID".to_string(), ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), secret.to_string()),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL".to_string(), format!("http://{addr}")),
    ])
}

fn settings(toml_text: &str) -> StoreSettings {
    let raw: RawStore = toml::from_str(toml_text).unwrap();
    store::validate(raw).unwrap()
}

/// A run folder: reports, an evidence archive, an email preview. Returns the relative paths.
fn run_folder(dir: &Path) -> Vec<PathBuf> {
    let files: [(&str, &[u8]); 7] = [
        ("report.html", b"<!doctype html><title>Access audit</title>"),
        ("report.json", br#"{"schema_version":1,"complete":false}"#),
        ("findings.csv", b"id,rule\n1,stale_login\n"),
        ("accounts.csv", b"source,scope\nsentry,acme\n"),
        (
            "evidence/manifest.json",
            br#"{"schema_version":1,"responses":[]}"#,
        ),
        ("evidence/sentry/acme/0001.json", b"[{\"id\":\"1\"}]"),
        (
            "email/preview.eml",
            b"Subject: Access audit\r\n\r\nhello\r\n",
        ),
    ];
    files
        .iter()
        .map(|(rel, bytes)| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            PathBuf::from(rel)
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The receipt, the objects read back independently, and the manifest agree with the folder.
fn check_against_folder(
    receipt: &StoreReceipt,
    run_dir: &Path,
    stored: &BTreeMap<String, Vec<u8>>,
    expected: &[&str],
) {
    let mut names: Vec<&str> = stored.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = expected
        .iter()
        .copied()
        .chain(["manifest.sha256"])
        .collect();
    names.sort_unstable();
    want.sort_unstable();
    assert_eq!(names, want, "exactly these objects, same relative paths");
    for rel in expected {
        let local = std::fs::read(run_dir.join(rel)).unwrap();
        assert_eq!(stored[*rel], local, "{rel} stored byte for byte");
        let object = receipt.objects.iter().find(|o| o.path == *rel).unwrap();
        assert_eq!(object.sha256, sha256_hex(&local), "{rel}");
        assert_eq!(object.bytes, local.len() as u64);
        assert_eq!(object.url, format!("{}{rel}", receipt.folder_url));
    }
    let manifest = String::from_utf8(stored["manifest.sha256"].clone()).unwrap();
    let mut lines: Vec<String> = expected
        .iter()
        .map(|rel| {
            format!(
                "{}  {rel}",
                sha256_hex(&std::fs::read(run_dir.join(rel)).unwrap())
            )
        })
        .collect();
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    assert_eq!(
        manifest,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    assert_eq!(receipt.manifest.sha256, sha256_hex(manifest.as_bytes()));
}

/// Every object under `prefix`, listed and read through a separate S3 client.
async fn read_bucket(addr: SocketAddr, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_region("us-east-1")
        .with_endpoint(format!("http://{addr}"))
        .with_allow_http(true)
        .build()
        .unwrap();
    let prefix_path = object_store::path::Path::from(prefix);
    let listed: Vec<_> = s3.list(Some(&prefix_path)).try_collect().await.unwrap();
    let mut out = BTreeMap::new();
    for meta in listed {
        let bytes = s3.get(&meta.location).await.unwrap().bytes().await.unwrap();
        let rel = meta
            .location
            .as_ref()
            .strip_prefix(&format!("{prefix}/"))
            .unwrap()
            .to_string();
        out.insert(rel, bytes.to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_folder_is_uploaded_to_s3_and_verified() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), false).await;
    let run = tempfile::tempdir().unwrap();
    let files = run_folder(run.path());
    let s = settings(&format!("url = \"s3://{BUCKET}/access-audit/{{date}}\""));
    let store = Store::connect(&s, &as_of(), &env(addr, SECRET_KEY)).unwrap();
    assert_eq!(
        store.folder_url(),
        "s3://audit-bucket/access-audit/2026-11-20/"
    );
    let receipt = store.upload(run.path(), &files).await.unwrap();
    assert_eq!(
        receipt.folder_url,
        "s3://audit-bucket/access-audit/2026-11-20/"
    );
    assert_eq!(
        receipt.url_of("report.html"),
        Some("s3://audit-bucket/access-audit/2026-11-20/report.html")
    );

    let stored = read_bucket(addr, "access-audit/2026-11-20").await;
    let all: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    check_against_folder(&receipt, run.path(), &stored, &all);
    // The server kept them on disk under the bucket, as s3s-fs does.
    let on_disk = server_root
        .path()
        .join(BUCKET)
        .join("access-audit/2026-11-20/evidence/sentry/acme/0001.json");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"[{\"id\":\"1\"}]");

    // `include` picks kinds of files; the local folder is never touched.
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run.path().join(f)).unwrap())
        .collect();
    let s = settings(&format!(
        "url = \"s3://{BUCKET}/reports-only/{{as_of}}\"\ninclude = [\"reports\"]"
    ));
    let receipt = Store::connect(&s, &as_of(), &env(addr, SECRET_KEY))
        .unwrap()
        .upload(run.path(), &files)
        .await
        .unwrap();
    let stored = read_bucket(addr, "reports-only/2026-11-20T060000Z").await;
    check_against_folder(
        &receipt,
        run.path(),
        &stored,
        &["report.html", "report.json", "findings.csv", "accounts.csv"],
    );
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run.path().join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_and_a_missing_bucket_are_clear_errors() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), false).await;
    let run = tempfile::tempdir().unwrap();
    let files = run_folder(run.path());

    let s = settings(&format!("url = \"s3://{BUCKET}/x\""));
    let wrong = "wrong-secret-key-for-the-test-77aa";
    let err = Store::connect(&s, &as_of(), &env(addr, wrong))
        .unwrap()
        .upload(run.path(), &files)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.target, Target::Store);
    assert_eq!(err.status, Some(403), "{text}");
    assert!(
        text.starts_with("store: PUT s3://audit-bucket/x/"),
        "{text}"
    );
    assert!(text.contains("HTTP 403 SignatureDoesNotMatch"), "{text}");
    assert!(text.contains("the credentials were refused"), "{text}");
    assert!(
        !text.contains(wrong) && !text.contains(SECRET_KEY),
        "{text}"
    );
    assert!(text.chars().count() < 1100, "{text}");

    let s = settings("url = \"s3://no-such-bucket/x\"");
    let err = Store::connect(&s, &as_of(), &env(addr, SECRET_KEY))
        .unwrap()
        .upload(run.path(), &files)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status, Some(404), "{text}");
    assert!(text.contains("PUT s3://no-such-bucket/x/"), "{text}");
    assert!(
        text.contains("NoSuchBucket") && text.contains("does the bucket or container exist?"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_that_reads_back_differently_fails_verification() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), true).await;
    let run = tempfile::tempdir().unwrap();
    let files = run_folder(run.path());
    let s = settings(&format!(
        "url = \"s3://{BUCKET}/tampered\"\ninclude = [\"evidence\"]"
    ));
    let err = Store::connect(&s, &as_of(), &env(addr, SECRET_KEY))
        .unwrap()
        .upload(run.path(), &files)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("does not verify"), "{text}");
    assert!(
        text.contains("s3://audit-bucket/tampered/evidence/"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_listening_fails_within_the_deadline() {
    // A port that was free a moment ago: connections are refused.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let run = tempfile::tempdir().unwrap();
    let files = run_folder(run.path());
    let s = settings(&format!("url = \"s3://{BUCKET}/x\"\ntimeout = \"10s\""));
    let started = std::time::Instant::now();
    let err = Store::connect(&s, &as_of(), &env(addr, SECRET_KEY))
        .unwrap()
        .upload(run.path(), &files)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("s3://audit-bucket/x/"), "{text}");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

#[tokio::test]
async fn a_local_directory_is_a_second_backend() {
    let run = tempfile::tempdir().unwrap();
    let files = run_folder(run.path());
    let target = tempfile::tempdir().unwrap();
    let s = settings(&format!(
        "url = \"file://{}/archive/{{date}}\"",
        target.path().display()
    ));
    let receipt = store::upload(&s, run.path(), &files, &as_of())
        .await
        .unwrap();
    let folder = target.path().join("archive/2026-11-20");
    assert_eq!(receipt.folder_url, format!("file://{}/", folder.display()));
    let mut stored = BTreeMap::new();
    for entry in walk(&folder) {
        let rel = entry
            .strip_prefix(&folder)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        stored.insert(rel, std::fs::read(&entry).unwrap());
    }
    let all: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    check_against_folder(&receipt, run.path(), &stored, &all);

    // A file that is not a plain relative path inside the run folder is refused.
    let err = store::upload(&s, run.path(), &[PathBuf::from("../escape.html")], &as_of())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a plain relative path"),
        "{err}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Files of a run in three places — the output directory, an evidence archive elsewhere, an
/// email preview directory — stored in one folder at their object paths, each read inside its
/// own directory; two files for one object path, or a link inside a directory, are refused.
#[tokio::test]
async fn files_from_several_directories_are_stored_at_their_object_paths() {
    let out = tempfile::tempdir().unwrap();
    let evidence = tempfile::tempdir().unwrap();
    let preview = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    for (dir, rel, bytes) in [
        (out.path(), "report.html", &b"<!doctype html>"[..]),
        (evidence.path(), "manifest.json", b"{\"schema_version\":1}"),
        (evidence.path(), "sentry/acme/0001.json", b"[]"),
        (preview.path(), "1234.eml", b"Subject: x\r\n\r\nx\r\n"),
    ] {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let files = vec![
        RunFile::same_path(out.path(), "report.html"),
        RunFile::new(evidence.path(), "manifest.json", "evidence/manifest.json"),
        RunFile::new(
            evidence.path(),
            "sentry/acme/0001.json",
            "evidence/sentry/acme/0001.json",
        ),
        RunFile::new(preview.path(), "1234.eml", "email/1234.eml"),
    ];
    let s = settings(&format!("url = \"file://{}/run\"", target.path().display()));
    let store = Store::connect(&s, &as_of(), &CloudEnv::default()).unwrap();
    let receipt = store.upload_files(&files).await.unwrap();
    let folder = target.path().join("run");
    let paths: Vec<&str> = receipt.objects.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "email/1234.eml",
            "evidence/manifest.json",
            "evidence/sentry/acme/0001.json",
            "report.html"
        ]
    );
    for f in &files {
        let local = std::fs::read(f.dir.join(&f.file)).unwrap();
        assert_eq!(std::fs::read(folder.join(&f.object)).unwrap(), local);
    }
    let manifest = std::fs::read_to_string(folder.join("manifest.sha256")).unwrap();
    assert_eq!(manifest.lines().count(), 4, "{manifest}");
    assert!(manifest.contains(&format!(
        "{}  evidence/sentry/acme/0001.json\n",
        sha256_hex(b"[]")
    )));
    assert_eq!(
        store.url_of("report.html"),
        receipt.url_of("report.html").unwrap()
    );

    // Two different files for one object.
    let clash = [
        RunFile::same_path(out.path(), "report.html"),
        RunFile::new(preview.path(), "1234.eml", "report.html"),
    ];
    let err = store.upload_files(&clash).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("would both be stored as report.html"),
        "{err}"
    );

    // A link inside the evidence archive is not followed.
    std::os::unix::fs::symlink(out.path(), evidence.path().join("linked")).unwrap();
    let linked = [RunFile::new(
        evidence.path(),
        "linked/report.html",
        "evidence/linked/report.html",
    )];
    let err = store.upload_files(&linked).await.unwrap_err();
    assert!(err.to_string().contains("link"), "{err}");
}

/// The evidence archive is listed from its manifest: the bodies it names, in the recorder's
/// shape, and not whatever else lies in the directory.
#[test]
fn the_evidence_archive_is_listed_from_its_manifest() {
    use access_audit::evidence::archive_files;
    let dir = tempfile::tempdir().unwrap();
    let manifest = |files: &[(&str, &str, Option<&str>)]| {
        let responses: Vec<serde_json::Value> = files
            .iter()
            .map(|(source, scope, file)| {
                serde_json::json!({
                    "source_name": source, "scope": scope, "endpoint": "sentry.members",
                    "url": "https://sentry.io/x", "status": file.map(|_| 200), "file": file,
                    "bytes": 2, "sha256": null, "fetched_at": "2026-11-01T00:00:00Z",
                    "request_id": null, "error": file.is_none().then_some("refused")
                })
            })
            .collect();
        let text = serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "access-audit", "version": "0"},
            "started_at": "2026-11-01T00:00:00Z",
            "finished_at": "2026-11-01T00:00:00Z",
            "sources": [],
            "responses": responses,
        });
        std::fs::write(dir.path().join("manifest.json"), text.to_string()).unwrap();
    };
    std::fs::write(dir.path().join(".access-audit-evidence"), "{}").unwrap();
    manifest(&[
        ("sentry", "acme", Some("sentry/acme/0001.json")),
        ("sentry", "gone", None),
        ("sentry", "acme", Some("sentry/acme/0002.json")),
    ]);
    let (files, sha256) = archive_files(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        files,
        [
            "manifest.json",
            "sentry/acme/0001.json",
            "sentry/acme/0002.json"
        ]
    );
    assert_eq!(
        sha256,
        sha256_hex(&std::fs::read(dir.path().join("manifest.json")).unwrap())
    );
    for bad in [
        "../../etc/passwd",
        "sentry/acme/../../x.json",
        "sentry/other/0001.json",
    ] {
        manifest(&[("sentry", "acme", Some(bad))]);
        let err = archive_files(dir.path()).unwrap_err();
        assert!(
            err.contains("is not <source>/<scope>/NNNN.json"),
            "{bad}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The binary: every file of a run, stored.

/// The binary, given the S3 server's credentials and endpoint as a pod would get them.
fn bin_for(addr: SocketAddr) -> assert_cmd::Command {
    let mut cmd = common::bin();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
    ] {
        cmd.env(k, v);
    }
    cmd
}

/// Sentry with two organizations: acme over two pages, labs on one.
async fn sentry() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    let member = |i| common::sentry_member(i, "member", true, Some("2026-10-20T00:00:00Z"));
    common::mount_sentry_org(
        &server,
        "acme",
        vec![(1..=100).map(member).collect(), vec![member(101)]],
    )
    .await;
    common::mount_sentry_org(&server, "labs", vec![vec![member(200)]]).await;
    server
}

/// A live run with `--evidence` and `--email-preview` outside the output directory, stored
/// under `s3://audit-bucket/<prefix>/{date}` with `include` as given. Returns the temporary
/// directory (out/, evidence/, preview/ in it) and the run's stdout.
async fn stored_run(
    addr: SocketAddr,
    prefix: &str,
    include: Option<&str>,
) -> (tempfile::TempDir, String) {
    let api = sentry().await;
    let dir = tempfile::tempdir().unwrap();
    let include = include.map_or(String::new(), |i| format!("include = {i}\n"));
    let cfg = common::write_config(
        dir.path(),
        &format!(
            r#"
[report]
title = "Acme review"

[email]
from = "Access Audit <audit@acme.example>"
to = ["security@acme.example"]

[[sources]]
type = "sentry"
base_url = "{}"
token_env = "SENTRY_AUTH_TOKEN"
organizations = ["acme", "labs"]

[store]
url = "s3://{BUCKET}/{prefix}/{{date}}"
{include}"#,
            api.uri()
        ),
    );
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let assert = bin_for(addr)
        .args(["--config", cfg.to_str().unwrap()])
        .args(["run", "--as-of", common::AS_OF, "--no-progress"])
        .args(["--out", &path("out"), "--evidence", &path("evidence")])
        .args(["--email-preview", &path("preview")])
        .assert();
    let output = assert.get_output();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (dir, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What a run left locally, as (object path, local file): the reports, the evidence archive
/// under evidence/ (its manifest and the bodies it lists, not the claim marker), the preview
/// under email/.
fn local_run_files(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with('.') {
            files.insert(name, path);
        }
    }
    let evidence = dir.join("evidence");
    files.insert(
        "evidence/manifest.json".into(),
        evidence.join("manifest.json"),
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("manifest.json")).unwrap()).unwrap();
    for r in manifest["responses"].as_array().unwrap() {
        let file = r["file"].as_str().unwrap();
        files.insert(format!("evidence/{file}"), evidence.join(file));
    }
    for entry in std::fs::read_dir(dir.join("preview")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        files.insert(format!("email/{name}"), path);
    }
    files
}

/// The stored objects are exactly `want` (plus manifest.sha256), byte for byte as on disk, and
/// manifest.sha256 lists each with its SHA-256, sorted by path.
fn check_stored(stored: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, PathBuf>) {
    let names: Vec<&String> = stored.keys().filter(|k| *k != "manifest.sha256").collect();
    assert_eq!(names, want.keys().collect::<Vec<_>>());
    let mut manifest = String::new();
    for (object, local) in want {
        let bytes = std::fs::read(local).unwrap();
        assert_eq!(stored[object], bytes, "{object} stored byte for byte");
        manifest.push_str(&format!("{}  {object}\n", sha256_hex(&bytes)));
    }
    assert_eq!(
        String::from_utf8(stored["manifest.sha256"].clone()).unwrap(),
        manifest
    );
}

/// The plain-text and HTML bodies of the previewed message.
fn preview_bodies(dir: &Path) -> (String, String) {
    let eml = std::fs::read_dir(dir.join("preview"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read(eml).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    let mut bodies = (String::new(), String::new());
    for part in &mail.subparts[0].subparts {
        match part.ctype.mimetype.as_str() {
            "text/plain" => bodies.0 = part.get_body().unwrap(),
            "text/html" => bodies.1 = part.get_body().unwrap(),
            _ => {}
        }
    }
    bodies
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stores_its_evidence_and_email_preview_beside_the_reports() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), false).await;
    let (dir, stdout) = stored_run(addr, "runs", None).await;

    let want = local_run_files(dir.path());
    let objects: Vec<&str> = want.keys().map(String::as_str).collect();
    for expected in [
        "report.html",
        "report.json",
        "evidence/manifest.json",
        "evidence/sentry/acme/0001.json",
        "evidence/sentry/acme/0002.json",
        "evidence/sentry/labs/0001.json",
    ] {
        assert!(objects.contains(&expected), "{expected} in {objects:?}");
    }
    assert!(
        objects
            .iter()
            .any(|o| o.starts_with("email/") && o.ends_with(".eml")),
        "{objects:?}"
    );
    let stored = read_bucket(addr, "runs/2026-11-01").await;
    check_stored(&stored, &want);

    // The preview, written before the upload, names where the report is stored.
    let url = format!("s3://{BUCKET}/runs/2026-11-01/report.html");
    let (text, html) = preview_bodies(dir.path());
    assert!(
        text.lines().any(|l| l == format!("Stored report: {url}")),
        "{text}"
    );
    assert!(!text.contains("Reports are in"), "{text}");
    assert!(html.contains(&url), "{html}");
    assert!(stdout.contains(&format!("Stored: {url}")), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn include_picks_the_kinds_of_files_stored() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), false).await;
    for (prefix, include) in [
        ("reports", "[\"reports\"]"),
        ("evidence", "[\"evidence\"]"),
        ("email", "[\"email\", \"evidence\"]"),
    ] {
        let (dir, _) = stored_run(addr, prefix, Some(include)).await;
        let want: BTreeMap<String, PathBuf> = local_run_files(dir.path())
            .into_iter()
            .filter(|(object, _)| match prefix {
                "reports" => !object.contains('/'),
                "evidence" => object.starts_with("evidence/"),
                _ => object.contains('/'),
            })
            .collect();
        let stored = read_bucket(addr, &format!("{prefix}/2026-11-01")).await;
        check_stored(&stored, &want);
        // The preview links to the stored report only when the reports are stored.
        let (text, _) = preview_bodies(dir.path());
        assert_eq!(
            text.contains(&format!(
                "Stored report: s3://{BUCKET}/{prefix}/2026-11-01/report.html"
            )),
            prefix == "reports",
            "{prefix}: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// An access review, mirrored into its run's stored folder.

/// `access-audit --config CFG ARGS…` against the S3 server, with `secret` as the secret key.
fn audit(addr: SocketAddr, secret: &str, cfg: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin_for(addr)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .args(["--config", cfg.to_str().unwrap()])
        .args(args)
        .assert()
}

/// `review start` whose upload is refused (wrong secret) exits 5 with the review saved; the
/// next `review collect` stores the ledger — every record, the review's included — and the
/// review's files under review/ with their own manifest, leaving the run's manifest.sha256 as
/// the run wrote it.
#[tokio::test(flavor = "multi_thread")]
async fn a_review_and_its_ledger_records_are_stored_with_the_run() {
    let server_root = tempfile::tempdir().unwrap();
    let addr = s3_server(server_root.path(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let cfg = common::write_config(
        dir.path(),
        &format!(
            "[store]\nurl = \"s3://{BUCKET}/reviews/{{date}}\"\n\n[review]\n\
             default_reviewer = \"security@acme.example\"\nledger_dir = \"{}\"\n",
            ledger.display()
        ),
    );
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let demo = common::demo();
    let replay = [
        "run",
        "--replay",
        demo.to_str().unwrap(),
        "--as-of",
        common::DEMO_AS_OF,
    ];
    let mut args = replay.to_vec();
    args.extend(["--out", run_s, "--format", "json"]);
    audit(addr, SECRET_KEY, &cfg, &args).code(4);
    let prefix = "reviews/2026-11-20";
    let run_manifest = read_bucket(addr, prefix).await["manifest.sha256"].clone();

    let refused = audit(
        addr,
        "wrong",
        &cfg,
        &["review", "start", run_s, "--allow-incomplete"],
    )
    .code(5);
    let err = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(
        err.contains("storing it and the ledger in [store] failed"),
        "{err}"
    );
    assert!(
        run.join("review/state.json").is_file(),
        "the review is kept"
    );

    let sheet = std::fs::read_dir(run.join("review/worksheets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap();
    let collect = ["review", "collect", run_s, sheet.to_str().unwrap()];
    let done = audit(addr, SECRET_KEY, &cfg, &collect).get_output().clone();
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    let stored = read_bucket(addr, prefix).await;
    let local = std::fs::read(ledger.join("ledger.jsonl")).unwrap();
    assert_eq!(stored["ledger/ledger.jsonl"], local);
    let kinds = String::from_utf8(local).unwrap();
    assert!(kinds.contains("\"kind\":\"review_start\""), "{kinds}");
    assert!(kinds.contains("\"kind\":\"review_collect\""), "{kinds}");
    assert_eq!(
        stored["review/state.json"],
        std::fs::read(run.join("review/state.json")).unwrap()
    );
    let name = sheet.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        stored[&format!("review/worksheets/{name}")],
        std::fs::read(&sheet).unwrap()
    );
    let manifest = String::from_utf8(stored["review/manifest.sha256"].clone()).unwrap();
    assert!(manifest.contains("  review/state.json\n"), "{manifest}");
    assert!(manifest.contains("  ledger/ledger.jsonl\n"), "{manifest}");
    assert_eq!(
        stored["manifest.sha256"], run_manifest,
        "the run's manifest is the run's"
    );
}
