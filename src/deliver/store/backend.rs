//! Building the object store client: the URL picks the backend, each cloud's standard
//! environment supplies credentials, region and endpoint, and every HTTP request goes through
//! our own client — no redirects followed, timeouts, bounded bodies, no proxy for loopback.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::BodyExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::{ClientConfigKey, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use super::Scheme;
use crate::deliver::target::{DeliveryError, Target};

/// An error answer's body is read up to this many bytes (object_store quotes it in errors).
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Each request's deadline at most; the whole upload has its own (`[store] timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variables the cloud SDKs read (`AWS_*`, `GOOGLE_*`, `AZURE_*`), taken once.
/// Tests build one by hand, so they never touch the process environment.
#[derive(Clone, Default)]
pub struct CloudEnv(Vec<(String, String)>);

impl std::fmt::Debug for CloudEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_tuple("CloudEnv").field(&names).finish()
    }
}

impl CloudEnv {
    pub fn from_process() -> CloudEnv {
        CloudEnv::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> CloudEnv {
        let vars = pairs
            .into_iter()
            .filter(|(k, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .collect();
        CloudEnv(vars)
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Register every value that may be a credential, so no error or log repeats it.
    fn register_secrets(&self) {
        for (k, v) in &self.0 {
            let credential = ["SECRET", "TOKEN", "KEY", "PASSWORD", "SAS", "CREDENTIAL"]
                .iter()
                .any(|w| k.contains(w));
            if credential && !k.ends_with("_ID") && !k.ends_with("_FILE") && !k.ends_with("_PATH") {
                crate::redact::register(v);
            }
        }
    }
}

/// The object store for `url` (`s3://bucket/…`, `gs://…`, `az://container/…`, `file:///…`).
pub(super) fn build(
    scheme: Scheme,
    url: &Url,
    env: &CloudEnv,
    timeout: Duration,
) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    env.register_secrets();
    let retry = RetryConfig {
        max_retries: 3,
        retry_timeout: timeout.min(Duration::from_secs(180)),
        ..RetryConfig::default()
    };
    match scheme {
        Scheme::File => local(url),
        Scheme::S3 => s3(url, env, retry, timeout),
        Scheme::Gcs => gcs(url, env, retry, timeout),
        Scheme::Azure => azure(url, env, retry, timeout),
    }
}

/// `file:///…`: a directory, created if missing.
fn local(url: &Url) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    let fail = |m: String| DeliveryError::new(Target::Store, m);
    let dir = url
        .to_file_path()
        .map_err(|()| fail(format!("{url} is not a local path")))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    set_up(Scheme::File, LocalFileSystem::new_with_prefix(&dir))
}

/// `s3://…`: configured by `AWS_*`; every object sent with its SHA-256 checksum.
fn s3(
    url: &Url,
    env: &CloudEnv,
    retry: RetryConfig,
    timeout: Duration,
) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    let mut b = AmazonS3Builder::new().with_url(url.as_str());
    for (k, v) in env.with_prefix("AWS_") {
        match parse_key::<AmazonS3ConfigKey>(k) {
            Some(AmazonS3ConfigKey::Client(_)) | None => {}
            Some(key) => b = b.with_config(key, v),
        }
    }
    let endpoints = [
        AmazonS3ConfigKey::Endpoint,
        AmazonS3ConfigKey::S3Endpoint,
        AmazonS3ConfigKey::StsEndpoint,
    ]
    .map(|k| b.get_config_value(&k));
    let net = Network::check(endpoints.iter().flatten(), "AWS_ENDPOINT_URL")?;
    // S3 checks x-amz-checksum-sha256 against what it received and refuses a mismatch.
    let built = b
        .with_checksum_algorithm(Checksum::SHA256)
        .with_allow_http(net.allow_http)
        .with_retry(retry)
        .with_http_connector(net.connector(timeout))
        .build();
    set_up(Scheme::S3, built)
}

/// `gs://…`: configured by `GOOGLE_*`.
fn gcs(
    url: &Url,
    env: &CloudEnv,
    retry: RetryConfig,
    timeout: Duration,
) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    let mut b = GoogleCloudStorageBuilder::new().with_url(url.as_str());
    for (k, v) in env.with_prefix("GOOGLE_") {
        match parse_key::<GoogleConfigKey>(k) {
            Some(GoogleConfigKey::Client(_)) | None => {}
            Some(key) => b = b.with_config(key, v),
        }
    }
    let net = Network::check(
        b.get_config_value(&GoogleConfigKey::BaseUrl).iter(),
        "GOOGLE_BASE_URL",
    )?;
    let built = b
        .with_client_options(ClientOptions::new().with_allow_http(net.allow_http))
        .with_retry(retry)
        .with_http_connector(net.connector(timeout))
        .build();
    set_up(Scheme::Gcs, built)
}

/// `az://…`: configured by `AZURE_*`; the emulator, when asked for, is on loopback.
fn azure(
    url: &Url,
    env: &CloudEnv,
    retry: RetryConfig,
    timeout: Duration,
) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    let mut b = MicrosoftAzureBuilder::new().with_url(url.as_str());
    for (k, v) in env.with_prefix("AZURE_") {
        match parse_key::<AzureConfigKey>(k) {
            Some(AzureConfigKey::Client(_)) | None => {}
            Some(key) => b = b.with_config(key, v),
        }
    }
    let emulator = b
        .get_config_value(&AzureConfigKey::UseEmulator)
        .filter(|v| v == "true")
        .map(|_| "http://127.0.0.1:10000".to_string());
    let endpoints = [b.get_config_value(&AzureConfigKey::Endpoint), emulator];
    let net = Network::check(endpoints.iter().flatten(), "AZURE_STORAGE_ENDPOINT")?;
    let built = b
        .with_allow_http(net.allow_http)
        .with_retry(retry)
        .with_http_connector(net.connector(timeout))
        .build();
    set_up(Scheme::Azure, built)
}

/// The store object_store built, or why it could not.
fn set_up(
    scheme: Scheme,
    built: object_store::Result<impl ObjectStore>,
) -> Result<Arc<dyn ObjectStore>, DeliveryError> {
    match built {
        Ok(store) => Ok(Arc::new(store)),
        Err(e) => Err(DeliveryError::new(
            Target::Store,
            format!(
                "cannot set up the {} client: {}",
                scheme.name(),
                super::errors::chain(&e)
            ),
        )),
    }
}

/// A key of the cloud's environment, as its SDK names it. The callers drop the HTTP client
/// options among them (`AWS_ALLOW_HTTP`, `*_ALLOW_INVALID_CERTIFICATES`, proxies, timeouts):
/// TLS, proxies and deadlines are decided here, not by whatever the environment holds.
fn parse_key<K: std::str::FromStr>(name: &str) -> Option<K> {
    name.to_ascii_lowercase().parse().ok()
}

/// What the configured endpoints allow: plain HTTP only to loopback, and then no proxy.
struct Network {
    allow_http: bool,
    loopback: bool,
}

impl Network {
    fn check<'a>(
        endpoints: impl Iterator<Item = &'a String>,
        var: &str,
    ) -> Result<Network, DeliveryError> {
        let mut net = Network {
            allow_http: false,
            loopback: false,
        };
        for endpoint in endpoints {
            let url = Url::parse(endpoint).map_err(|_| {
                DeliveryError::new(
                    Target::Store,
                    format!("the endpoint in {var} (or its aliases) is not a URL"),
                )
            })?;
            let loopback = crate::cfg::values::is_loopback_host(&url);
            net.loopback |= loopback;
            match url.scheme() {
                "https" => {}
                "http" if loopback => net.allow_http = true,
                "http" => {
                    return Err(DeliveryError::new(
                        Target::Store,
                        format!(
                            "the endpoint {} (from {var} or its aliases) is plain http:// to a host that is not loopback; \
                             credentials and reports would cross the network unencrypted: use https://",
                            crate::deliver::target::shown_origin(&url)
                        ),
                    ));
                }
                other => {
                    return Err(DeliveryError::new(
                        Target::Store,
                        format!("the endpoint in {var} has scheme `{other}`: expected https://"),
                    ));
                }
            }
        }
        Ok(net)
    }

    fn connector(&self, timeout: Duration) -> Connector {
        Connector {
            loopback: self.loopback,
            timeout: timeout.min(REQUEST_TIMEOUT),
        }
    }
}

/// object_store's HTTP client, built our way.
#[derive(Debug)]
struct Connector {
    loopback: bool,
    timeout: Duration,
}

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        // Plain HTTP is allowed where object_store asks for it: a loopback endpoint (above), or
        // the instance-metadata credential endpoints, which are link-local HTTP by design.
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let client = crate::http::delivery_client_builder(self.loopback, self.timeout)
            .https_only(!allow_http)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "HTTP",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(Bounded { client }))
    }
}

/// Error answers are read up to [`ERROR_BODY_LIMIT`] bytes; a larger one fails the request.
#[derive(Debug)]
struct Bounded {
    client: reqwest::Client,
}

#[async_trait]
impl HttpService for Bounded {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = HttpService::call(&self.client, req).await?;
        if response.status().is_success() {
            // Bodies we asked for: read back no more than was written (see `verify`).
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, ERROR_BODY_LIMIT)
            .map_err(|e| HttpError::new_boxed(HttpErrorKind::Decode, e));
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
    }
}
