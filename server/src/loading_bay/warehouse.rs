//! Where tables are written: a local directory (`file:///…`) or an
//! S3-compatible bucket (`s3://bucket/prefix`), through `object_store`.
//! S3 credentials come from the usual AWS variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`); the endpoint
//! and region can also be settings.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

/// How long one request to an object store may take, and all the tries of
/// one together.
const STORE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const STORE_RETRY_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of the warehouse, as validated at start.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WarehouseSettings {
    /// `file:///dir` or `s3://bucket[/prefix]`; empty turns Loading Bay off.
    pub url: String,
    /// An S3 endpoint other than AWS's (`http://` allowed).
    pub s3_endpoint: String,
    pub s3_region: String,
    /// Credentials given as settings; empty: the AWS variables.
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
}

impl std::fmt::Debug for WarehouseSettings {
    /// Never shows the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseSettings")
            .field("url", &self.url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field("s3_secret_access_key", &"[redacted]")
            .finish()
    }
}

/// Checks the URL's form; used when settings are read.
pub fn check_url(url: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(format!("{url:?}: a file:// warehouse needs an absolute path"));
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or_default();
        if bucket.is_empty() {
            return Err(format!("{url:?}: name the bucket, as s3://bucket/prefix"));
        }
        return Ok(());
    }
    Err(format!("{url:?}: expected file:///path or s3://bucket/prefix"))
}

#[derive(Clone, Debug)]
pub struct Warehouse {
    store: Arc<dyn ObjectStore>,
    /// What object keys are relative to, inside the store.
    root: Path,
    /// The warehouse URL without a trailing slash, for table locations.
    url: String,
}

impl Warehouse {
    pub fn open(settings: &WarehouseSettings) -> Result<Self, String> {
        check_url(&settings.url)?;
        let url = settings.url.trim_end_matches('/').to_string();
        if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| e.to_string())?
                .with_automatic_cleanup(true);
            return Ok(Self { store: Arc::new(store), root: Path::default(), url });
        }
        let rest = url.strip_prefix("s3://").unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // Signing and TLS use ring, as the rest of the server does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // A landing that cannot reach the store fails within a minute or so
        // and is retried by the scheduler, rather than hanging for the
        // client's default of three minutes of retries.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: STORE_RETRY_TIMEOUT,
            ..Default::default()
        };
        let options = object_store::ClientOptions::new()
            .with_timeout(STORE_REQUEST_TIMEOUT)
            .with_connect_timeout(Duration::from_secs(5));
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_retry(retry)
            .with_client_options(options)
            .with_bucket_name(bucket)
            .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
        if !settings.s3_endpoint.is_empty() {
            builder = builder
                .with_endpoint(&settings.s3_endpoint)
                .with_allow_http(settings.s3_endpoint.starts_with("http://"));
        }
        if !settings.s3_region.is_empty() {
            builder = builder.with_region(&settings.s3_region);
        }
        if !settings.s3_access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&settings.s3_access_key_id)
                .with_secret_access_key(&settings.s3_secret_access_key);
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { store: Arc::new(store), root: Path::from(prefix), url })
    }

    fn path(&self, key: &str) -> Path {
        key.split('/').filter(|p| !p.is_empty()).fold(self.root.clone(), |p, part| p.join(part))
    }

    /// The URL of `key` (a table's or partition's location).
    pub fn location(&self, key: &str) -> String {
        format!("{}/{}", self.url, key.trim_matches('/'))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), object_store::Error> {
        self.store.put(&self.path(key), PutPayload::from(bytes)).await.map(|_| ())
    }

    /// Writes `key` unless it exists; false when it did.
    pub async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<bool, object_store::Error> {
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&self.path(key), PutPayload::from(bytes), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The object's bytes; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, object_store::Error> {
        match self.store.get(&self.path(key)).await {
            Ok(found) => found.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of the "directories" right under `key`.
    pub async fn dirs(&self, key: &str) -> Result<Vec<String>, object_store::Error> {
        let listed = self.store.list_with_delimiter(Some(&self.path(key))).await?;
        Ok(listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect())
    }

    /// The names of the objects right under `key`.
    pub async fn files(&self, key: &str) -> Result<Vec<String>, object_store::Error> {
        let listed = self.store.list_with_delimiter(Some(&self.path(key))).await?;
        Ok(listed
            .objects
            .iter()
            .filter_map(|o| o.location.filename().map(str::to_string))
            .collect())
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object key under `key`, relative to the warehouse.
    pub async fn walk(&self, key: &str) -> Result<Vec<String>, object_store::Error> {
        let root = self.root.as_ref().len();
        let found: Vec<_> = self.store.list(Some(&self.path(key))).try_collect().await?;
        Ok(found
            .into_iter()
            .map(|o| o.location.as_ref()[root..].trim_start_matches('/').to_string())
            .collect())
    }
}
