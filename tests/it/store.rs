//! `[store]` against a real S3-protocol server — s3s with its filesystem backend, SigV4
//! checked — served on 127.0.0.1 from inside the test; and against file:// as a second backend.
//! Every object is listed and read back independently of the upload, and checked against the
//! run folder and manifest.sha256.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use access_audit::deliver::Target;
use access_audit::deliver::store::{self, CloudEnv, RawStore, Store, StoreReceipt, StoreSettings};
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
