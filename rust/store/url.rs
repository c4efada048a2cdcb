//! A remote log directory: its URL, the object prefix inside the bucket, and the
//! `ObjectStore` that reaches it (credentials from the environment and `storage_options`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, RetryConfig};

use crate::error::FerroError;

/// The URL schemes a log directory may use, as error messages list them.
pub const SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "azure", "adl", "abfs", "abfss", "memory",
];

/// Retries inside one request. The uploader retries a failed publish on its own for as
/// long as the writer lives, so object_store's own retries are kept short.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: Default::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    S3,
    Gcs,
    Azure,
    Memory,
}

/// A parsed `scheme://bucket/prefix` log directory.
#[derive(Clone, Debug)]
pub struct RemoteDir {
    /// The URL as given, without trailing slashes (error messages and sidecars show it).
    pub url: String,
    backend: Backend,
    /// `scheme://bucket` (bucket, container, or `container@account...` for Azure).
    authority: String,
    /// Object path prefix inside the bucket, without leading or trailing `/`.
    prefix: String,
    /// `storage_options`, sorted by key.
    options: Vec<(String, String)>,
}

/// Whether `text` starts like a URL (`scheme://`, a scheme of two letters or more, so a
/// Windows drive stays a path).
pub fn looks_like_url(text: &str) -> bool {
    match text.find("://") {
        Some(i) if i >= 2 => {
            let scheme = &text[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        _ => false,
    }
}

impl RemoteDir {
    /// Parses `url` and checks `options` against the keys its store understands.
    pub fn parse(url: &str, mut options: Vec<(String, String)>) -> Result<RemoteDir, FerroError> {
        let invalid = |why: String| FerroError::InvalidArgument(format!("log_dir={url:?}: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid("not a URL (scheme://bucket/path)".into()));
        };
        let scheme = scheme.to_ascii_lowercase();
        let backend = match scheme.as_str() {
            "s3" | "s3a" => Backend::S3,
            "gs" => Backend::Gcs,
            "az" | "azure" | "adl" | "abfs" | "abfss" => Backend::Azure,
            "memory" => Backend::Memory,
            _ => {
                return Err(invalid(format!(
                    "the scheme {scheme}:// is not supported; supported: {}, or a local path",
                    SCHEMES
                        .iter()
                        .map(|s| format!("{s}://"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid(format!(
                "no bucket: write {scheme}://BUCKET/path/of/run"
            )));
        }
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(invalid(
                "'.' and '..' are not allowed in an object path".into(),
            ));
        }
        let prefix = parts.join("/");
        // The prefix must make valid object paths (no control characters, ...).
        ObjectPath::parse(&prefix).map_err(|e| invalid(e.to_string()))?;
        options.sort();
        for (key, _) in &options {
            let known = match backend {
                Backend::S3 => AmazonS3ConfigKey::from_str(key).is_ok(),
                Backend::Gcs => GoogleConfigKey::from_str(key).is_ok(),
                Backend::Azure => AzureConfigKey::from_str(key).is_ok(),
                Backend::Memory => false,
            };
            if !known {
                return Err(FerroError::InvalidArgument(format!(
                    "storage_options: unknown key {key:?} for {scheme}:// (keys are \
                     object_store configuration keys, e.g. \"aws_region\", \"endpoint\")"
                )));
            }
        }
        Ok(RemoteDir {
            url: url.trim_end_matches('/').to_owned(),
            backend,
            authority: format!("{scheme}://{bucket}"),
            prefix,
            options,
        })
    }

    /// The path of object `name` in this directory.
    pub fn object(&self, name: &str) -> Result<ObjectPath, FerroError> {
        let full = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|e| {
            FerroError::InvalidArgument(format!("{}: bad object name {name:?}: {e}", self.url))
        })
    }

    /// The directory's own path (the prefix), for listings.
    pub fn prefix(&self) -> ObjectPath {
        ObjectPath::from_iter(self.prefix.split('/').filter(|p| !p.is_empty()))
    }

    /// Key of the store cache: one client (one connection pool) per bucket and options.
    pub fn store_key(&self) -> String {
        format!("{}|{:?}", self.authority, self.options)
    }

    /// Builds the store. No network I/O happens here: bad configuration fails at once,
    /// missing credentials or an unreachable endpoint only at the first upload.
    pub fn build_store(&self) -> Result<Arc<dyn ObjectStore>, FerroError> {
        let failed = |e: object_store::Error| {
            FerroError::InvalidArgument(format!("log_dir={:?}: {e}", self.url))
        };
        let store: Arc<dyn ObjectStore> = match self.backend {
            Backend::S3 => {
                let mut builder = AmazonS3Builder::from_env().with_url(&self.authority);
                for (key, value) in &self.options {
                    if let Ok(key) = AmazonS3ConfigKey::from_str(key) {
                        builder = builder.with_config(key, value);
                    }
                }
                if builder
                    .get_config_value(&AmazonS3ConfigKey::Endpoint)
                    .is_none()
                {
                    if let Some(endpoint) = s3_endpoint_from_env() {
                        builder = builder.with_endpoint(endpoint);
                    }
                }
                let plain_http = builder
                    .get_config_value(&AmazonS3ConfigKey::Endpoint)
                    .is_some_and(|e| e.starts_with("http://"));
                let explicit_http = self.options.iter().any(|(k, _)| k.ends_with("allow_http"))
                    || std::env::var_os("AWS_ALLOW_HTTP").is_some();
                if plain_http && !explicit_http {
                    builder = builder.with_allow_http(true);
                }
                Arc::new(builder.with_retry(retry_config()).build().map_err(failed)?)
            }
            Backend::Gcs => {
                let mut builder = GoogleCloudStorageBuilder::from_env().with_url(&self.authority);
                for (key, value) in &self.options {
                    if let Ok(key) = GoogleConfigKey::from_str(key) {
                        builder = builder.with_config(key, value);
                    }
                }
                Arc::new(builder.with_retry(retry_config()).build().map_err(failed)?)
            }
            Backend::Azure => {
                let mut builder = MicrosoftAzureBuilder::from_env().with_url(&self.authority);
                for (key, value) in &self.options {
                    if let Ok(key) = AzureConfigKey::from_str(key) {
                        builder = builder.with_config(key, value);
                    }
                }
                Arc::new(builder.with_retry(retry_config()).build().map_err(failed)?)
            }
            Backend::Memory => memory_bucket(&self.authority),
        };
        Ok(store)
    }
}

/// TensorBoard's and tensorboardX's `S3_ENDPOINT` (a URL, or a bare host whose scheme
/// `S3_USE_HTTPS=0` makes http), used when no `AWS_ENDPOINT`/`AWS_ENDPOINT_URL` is set.
fn s3_endpoint_from_env() -> Option<String> {
    let endpoint = std::env::var("S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    if endpoint.contains("://") {
        return Some(endpoint);
    }
    let https = std::env::var("S3_USE_HTTPS").map_or(true, |v| v != "0");
    Some(format!(
        "{}://{endpoint}",
        if https { "https" } else { "http" }
    ))
}

/// `memory://NAME/...`: one in-process store per NAME, shared by every writer and
/// reader of this process (tests; nothing is persisted).
fn memory_bucket(authority: &str) -> Arc<dyn ObjectStore> {
    static BUCKETS: Mutex<Option<HashMap<String, Arc<InMemory>>>> = Mutex::new(None);
    let mut buckets = BUCKETS.lock().unwrap_or_else(PoisonError::into_inner);
    let store = buckets
        .get_or_insert_with(HashMap::new)
        .entry(authority.to_owned())
        .or_insert_with(|| Arc::new(InMemory::new()));
    Arc::clone(store) as Arc<dyn ObjectStore>
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        let d = RemoteDir::parse("s3://bucket/a//b/", vec![]).unwrap();
        assert_eq!(d.url, "s3://bucket/a//b");
        assert_eq!(d.object("x").unwrap().as_ref(), "a/b/x");
        let d = RemoteDir::parse("memory://m", vec![]).unwrap();
        assert_eq!(d.object("x").unwrap().as_ref(), "x");
    }

    #[test]
    fn bad_urls_and_options_name_the_problem() {
        let e = RemoteDir::parse("hdfs://nn/x", vec![])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hdfs://") && e.contains("s3://") && e.contains("gs://"),
            "{e}"
        );
        let e = RemoteDir::parse("s3:///x", vec![]).unwrap_err().to_string();
        assert!(e.contains("no bucket"), "{e}");
        let e = RemoteDir::parse("s3://b/../x", vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'..'"), "{e}");
        let e = RemoteDir::parse("s3://b/x", vec![("colour".into(), "red".into())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage_options") && e.contains("colour"), "{e}");
        assert!(RemoteDir::parse("s3://b/x", vec![("aws_region".into(), "eu".into())]).is_ok());
    }

    #[test]
    fn url_detection_keeps_windows_drives_local() {
        assert!(looks_like_url("s3://b"));
        assert!(!looks_like_url("C://runs"));
        assert!(!looks_like_url("runs/a"));
    }
}
