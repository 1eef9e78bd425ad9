//! A real SMTP server for the tests, in Rust, on 127.0.0.1: it speaks the protocol lettre speaks
//! (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), plain, with STARTTLS or with TLS from
//! the first byte, under a private CA made by rcgen; it records the envelope, the credentials and
//! the message, and on demand goes silent at a chosen stage, as a hung server does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// Where the server stops answering (the connection stays open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Answers everything.
    Never,
    /// Accepts the connection and never greets.
    BeforeGreeting,
    /// Greets, then never answers EHLO.
    AfterGreeting,
    /// Answers EHLO (and AUTH), then never answers MAIL FROM.
    AfterEhlo,
    /// Takes the whole message after DATA, then never answers its final dot.
    AfterData,
}

/// How the connection is secured.
#[derive(Clone, Default)]
pub enum Encryption {
    #[default]
    None,
    /// Plain until the client says STARTTLS (offered in the EHLO answer).
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte (`smtps://`).
    Implicit(Arc<rustls::ServerConfig>),
}

#[derive(Clone)]
pub struct Options {
    pub silence: Silence,
    /// Advertise AUTH PLAIN and refuse mail until the client authenticates.
    pub auth: bool,
    pub encryption: Encryption,
    /// Recipients refused at RCPT TO with a permanent 550, as a server that knows no such
    /// mailbox does.
    pub refuse_rcpt: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            silence: Silence::Never,
            auth: false,
            encryption: Encryption::None,
            refuse_rcpt: Vec::new(),
        }
    }
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message, CRLF line ends, dot-stuffing undone.
    pub data: Vec<u8>,
    /// Whether it came over TLS (STARTTLS or implicit).
    pub tls: bool,
}

#[derive(Debug, Default)]
struct Record {
    connections: usize,
    /// (user, password) of every AUTH PLAIN.
    logins: Vec<(String, String)>,
    messages: Vec<Received>,
}

/// The server runs on its own thread and runtime, so that it serves both plain `#[test]`s and
/// `#[tokio::test]`s; it stops when dropped.
pub struct SmtpServer {
    pub port: u16,
    record: Arc<Mutex<Record>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl SmtpServer {
    pub fn start(options: Options) -> SmtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("listener address").port();
        let record = Arc::new(Mutex::new(Record::default()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = Arc::clone(&record);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test SMTP server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    () = accept_loop(listener, options, shared) => {}
                    _ = rx => {}
                }
            });
        });
        SmtpServer {
            port,
            record,
            shutdown: Some(tx),
        }
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.record().connections
    }

    /// Every AUTH PLAIN so far, as (user, password).
    pub fn logins(&self) -> Vec<(String, String)> {
        self.record().logins.clone()
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.record().messages.clone()
    }

    /// Wait until a client has connected; false if none did within `limit`.
    pub fn wait_for_connection(&self, limit: Duration) -> bool {
        let started = Instant::now();
        while self.connections() == 0 {
            if started.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

async fn accept_loop(listener: TcpListener, options: Options, record: Arc<Mutex<Record>>) {
    while let Ok((stream, _)) = listener.accept().await {
        if let Ok(mut r) = record.lock() {
            r.connections += 1;
        }
        let record = Arc::clone(&record);
        let options = options.clone();
        tokio::spawn(async move {
            let (io, encrypted): (Box<dyn Io>, bool) = match &options.encryption {
                Encryption::Implicit(config) => {
                    match TlsAcceptor::from(Arc::clone(config)).accept(stream).await {
                        Ok(tls) => (Box::new(tls), true),
                        // A client that refuses the certificate hangs up here.
                        Err(_) => return,
                    }
                }
                _ => (Box::new(stream), false),
            };
            let mut session = Session {
                io: BufReader::new(io),
                options,
                record,
                authenticated: false,
                encrypted,
            };
            // A client that goes away mid-conversation is not the server's problem.
            let _ = session.run().await;
        });
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Session {
    io: BufReader<Box<dyn Io>>,
    options: Options,
    record: Arc<Mutex<Record>>,
    authenticated: bool,
    encrypted: bool,
}

type Step = std::io::Result<()>;

impl Session {
    async fn run(&mut self) -> Step {
        self.silent_at(Silence::BeforeGreeting).await;
        self.reply("220 localhost ESMTP access-audit test server")
            .await?;
        let mut envelope: Option<(String, Vec<String>)> = None;
        loop {
            let Some(line) = self.line().await? else {
                return Ok(());
            };
            let verb = line
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" | "HELO" => {
                    self.silent_at(Silence::AfterGreeting).await;
                    self.ehlo().await?;
                }
                "STARTTLS" => {
                    envelope = None;
                    self.starttls().await?;
                }
                "AUTH" => self.auth(&line).await?,
                "MAIL" => {
                    self.silent_at(Silence::AfterEhlo).await;
                    if self.options.auth && !self.authenticated {
                        self.reply("530 5.7.0 Authentication required").await?;
                        continue;
                    }
                    envelope = Some((address(&line), Vec::new()));
                    self.reply("250 2.1.0 OK").await?;
                }
                "RCPT" => match envelope.as_mut() {
                    Some(_) if self.options.refuse_rcpt.contains(&address(&line)) => {
                        self.reply("550 5.1.1 No such mailbox").await?;
                    }
                    Some((_, rcpt)) => {
                        rcpt.push(address(&line));
                        self.reply("250 2.1.5 OK").await?;
                    }
                    None => self.reply("503 5.5.1 MAIL first").await?,
                },
                "DATA" => match envelope.take() {
                    Some((mail_from, rcpt_to)) if !rcpt_to.is_empty() => {
                        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                        let data = self.data().await?;
                        self.silent_at(Silence::AfterData).await;
                        self.keep(Received {
                            mail_from,
                            rcpt_to,
                            data,
                            tls: self.encrypted,
                        });
                        self.reply("250 2.0.0 OK: queued").await?;
                    }
                    _ => self.reply("503 5.5.1 RCPT first").await?,
                },
                "RSET" => {
                    envelope = None;
                    self.reply("250 2.0.0 OK").await?;
                }
                "NOOP" => self.reply("250 2.0.0 OK").await?,
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    return Ok(());
                }
                _ => self.reply("502 5.5.2 Command not recognized").await?,
            }
        }
    }

    /// At the configured stage, hold the connection open and never answer again.
    async fn silent_at(&mut self, stage: Silence) {
        if self.options.silence == stage {
            std::future::pending::<()>().await;
        }
    }

    fn offers_starttls(&self) -> bool {
        matches!(self.options.encryption, Encryption::StartTls(_)) && !self.encrypted
    }

    async fn ehlo(&mut self) -> Step {
        let mut lines = vec!["250-localhost", "250-8BITMIME"];
        if self.offers_starttls() {
            lines.push("250-STARTTLS");
        }
        // As real servers do: no password over a connection that could still be encrypted.
        if self.options.auth && !self.offers_starttls() {
            lines.push("250-AUTH PLAIN");
        }
        lines.push("250 SIZE 52428800");
        self.reply(&lines.join("\r\n")).await
    }

    /// Switch the connection to TLS; the client starts over with EHLO (RFC 3207).
    async fn starttls(&mut self) -> Step {
        let Encryption::StartTls(config) = &self.options.encryption else {
            return self.reply("502 5.5.1 STARTTLS not offered").await;
        };
        if self.encrypted {
            return self.reply("503 5.5.1 TLS already active").await;
        }
        // Commands sent after STARTTLS in the same packet would cross into the TLS session.
        if !self.io.buffer().is_empty() {
            return self.reply("501 5.5.2 Nothing may follow STARTTLS").await;
        }
        let acceptor = TlsAcceptor::from(Arc::clone(config));
        self.reply("220 2.0.0 Ready to start TLS").await?;
        let placeholder: Box<dyn Io> = Box::new(tokio::io::duplex(1).0);
        let plain = std::mem::replace(&mut self.io, BufReader::new(placeholder)).into_inner();
        let tls = acceptor.accept(plain).await?;
        self.io = BufReader::new(Box::new(tls));
        self.encrypted = true;
        self.authenticated = false;
        Ok(())
    }

    /// AUTH PLAIN, with the credentials on the command line or after a 334.
    async fn auth(&mut self, line: &str) -> Step {
        let mut words = line.split_whitespace().skip(1);
        if !words
            .next()
            .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN"))
        {
            return self.reply("504 5.5.4 Only PLAIN").await;
        }
        let encoded = match words.next() {
            Some(initial) => initial.to_string(),
            None => {
                self.reply("334 ").await?;
                self.line().await?.unwrap_or_default()
            }
        };
        if self.offers_starttls() {
            return self.reply("538 5.7.11 Encryption required").await;
        }
        let Some((user, password)) = decode_plain(&encoded) else {
            return self.reply("501 5.5.2 Bad AUTH PLAIN response").await;
        };
        if let Ok(mut r) = self.record.lock() {
            r.logins.push((user, password));
        }
        self.authenticated = true;
        self.reply("235 2.7.0 Authentication successful").await
    }

    /// The message up to the lone dot, dot-stuffing undone.
    async fn data(&mut self) -> std::io::Result<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.io.read_until(b'\n', &mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == b".\r\n" || line == b".\n" {
                return Ok(data);
            }
            let unstuffed = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            data.extend_from_slice(unstuffed);
        }
    }

    fn keep(&self, message: Received) {
        if let Ok(mut r) = self.record.lock() {
            r.messages.push(message);
        }
    }

    /// One command line without its line end; `None` when the client has gone.
    async fn line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        if self.io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }

    async fn reply(&mut self, text: &str) -> Step {
        let stream = self.io.get_mut();
        stream.write_all(text.as_bytes()).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await
    }
}

/// A private CA and a server certificate it signed, for `localhost` and `127.0.0.1`.
pub struct TestPki {
    /// The CA certificate, for `email.smtp_ca_file`.
    pub ca_pem: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

impl TestPki {
    pub fn create(dir: &Path) -> TestPki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "access-audit test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, ca_cert.pem()).expect("write ca.pem");

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server TLS config");
        TestPki {
            ca_pem,
            server: Arc::new(server),
        }
    }

    pub fn starttls(&self) -> Encryption {
        Encryption::StartTls(Arc::clone(&self.server))
    }

    pub fn implicit(&self) -> Encryption {
        Encryption::Implicit(Arc::clone(&self.server))
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}

/// AUTH PLAIN's base64 of `authzid \0 user \0 password`.
fn decode_plain(encoded: &str) -> Option<(String, String)> {
    let bytes = base64_decode(encoded.trim())?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, password))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (what AUTH PLAIN uses); the tests also search logs for it.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = BASE64.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[test]
fn base64_round_trips() {
    for s in ["", "a", "ab", "abc", "\0user\0pass word"] {
        assert_eq!(
            base64_decode(&base64_encode(s.as_bytes())).as_deref(),
            Some(s.as_bytes())
        );
    }
    assert_eq!(base64_encode(b"\0u\0p"), "AHUAcA==");
}
