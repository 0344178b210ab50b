//! Store URLs: how a user names a store on the command line or in a config file.
//!
//! A STORE is a local directory path, `file://DIR`, or `s3://BUCKET[/PREFIX]`. No Go rule lives
//! here; the go command names its file-based proxies with `file://` URLs (`go help goproxy`), and
//! `s3://BUCKET/KEY` is the usual spelling of S3 locations (AWS CLI). Bucket names follow the S3
//! naming rules for new buckets (3–63 characters of lowercase letters, digits, `.` and `-`,
//! starting and ending with a letter or digit); a prefix must be a valid [`Key`](crate::Key)
//! (relative, no empty, `.` or `..` element), ignoring one trailing `/`.
//!
//! Deviation: `file://` takes the rest of the URL as a path without percent-decoding, so
//! `file:///srv/mod ferry` and `/srv/mod ferry` name the same directory (the go command's
//! `file://` URLs are only written by people, and unescaped paths are what they write).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::{DynStore, FsStore, Key, S3Config, S3Settings, S3Store, StoreError};

/// A parsed store location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// A directory on the local filesystem ([`FsStore`]).
    Fs(PathBuf),
    /// A bucket (and an optional key prefix inside it) in an S3-compatible object store
    /// ([`S3Store`]).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix every object of the store lives under, without leading or trailing
        /// `/`; empty for the whole bucket.
        prefix: String,
    },
}

/// Why a store URL was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid store {url:?}: {reason}")]
pub struct StoreUrlError {
    /// The URL as given.
    pub url: String,
    /// Which rule it breaks.
    pub reason: String,
}

impl StoreUrl {
    /// Parses a STORE: a directory path, `file://DIR` or `s3://BUCKET[/PREFIX]`.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreUrlError> {
        let fail = |reason: String| StoreUrlError {
            url: url.to_owned(),
            reason,
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|r| fail(r.to_owned()))?;
            let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
            if !prefix.is_empty() {
                Key::new(prefix).map_err(|e| match e {
                    StoreError::InvalidKey { reason, .. } => fail(format!("prefix: {reason}")),
                    other => fail(other.to_string()),
                })?;
            }
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("file://") {
            // file:///abs/path has an empty host; file://localhost/abs/path names the same.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(fail(
                    "a file:// URL needs an absolute path (file:///DIR)".to_owned(),
                ));
            }
            return Ok(StoreUrl::Fs(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(fail(format!(
                "unsupported scheme {scheme:?} (want a directory, file://DIR or s3://BUCKET[/PREFIX])"
            )));
        }
        if url.is_empty() {
            return Err(fail("empty".to_owned()));
        }
        Ok(StoreUrl::Fs(PathBuf::from(url)))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Fs(path) => write!(f, "file://{}", path.display()),
            StoreUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The S3 rules for a new bucket's name (the legacy rules allowed more; no store needs them).
fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    if bucket.is_empty() {
        return Err("no bucket name after s3://");
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("a bucket name has only lowercase letters, digits, '.' and '-'");
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(bucket.bytes().next()) || !edge_ok(bucket.bytes().last()) {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    if bucket.contains("..") {
        return Err("a bucket name has no two adjacent '.'");
    }
    Ok(())
}

/// Opens the store a STORE string names: a directory ([`FsStore::open`], created if missing) or
/// a bucket ([`S3Store::open`] with [`S3Config::from_env`]: endpoint, region and credentials from
/// the standard `AWS_*` environment variables). The same as [`open_store_with`] and no settings.
pub async fn open_store(url: &str) -> Result<DynStore, StoreError> {
    open_store_with(url, &S3Settings::default()).await
}

/// [`open_store`] with S3 settings from a configuration: a bucket is opened with the `AWS_*`
/// environment ([`S3Settings::from_env`]) layered over `s3` ([`S3Settings::over`]: each variable
/// that is set wins, credentials as one unit), then the defaults. Layering is idempotent, so
/// `s3` may already include the environment. A directory ignores `s3`.
pub async fn open_store_with(url: &str, s3: &S3Settings) -> Result<DynStore, StoreError> {
    let parsed = StoreUrl::parse(url).map_err(|e| invalid_url(url, e))?;
    match parsed {
        StoreUrl::Fs(path) => {
            let opened = tokio::task::spawn_blocking(move || FsStore::open(path)).await;
            match opened {
                Ok(store) => Ok(Arc::new(store?)),
                Err(e) => Err(StoreError::io(
                    "open",
                    "",
                    url,
                    std::io::Error::other(e.to_string()),
                )),
            }
        }
        StoreUrl::S3 { .. } => {
            let settings = S3Settings::from_env().over(s3);
            let cfg = S3Config::from_settings(url, &settings).map_err(|e| invalid_url(url, e))?;
            Ok(Arc::new(S3Store::open(cfg).await?))
        }
    }
}

fn invalid_url(url: &str, e: StoreUrlError) -> StoreError {
    StoreError::io(
        "parse store URL",
        "",
        url,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.reason),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, want bucket, want prefix).
    const S3_URLS: &[(&str, &str, &str)] = &[
        ("s3://modferry", "modferry", ""),
        ("s3://modferry/", "modferry", ""),
        ("s3://modferry/mirror", "modferry", "mirror"),
        ("s3://modferry/mirror/", "modferry", "mirror"),
        ("s3://my.bucket-1/a/b/c", "my.bucket-1", "a/b/c"),
        ("s3://abc/@v/!x+y", "abc", "@v/!x+y"),
    ];

    #[test]
    fn parse_s3_url_splits_bucket_and_prefix() {
        for (url, bucket, prefix) in S3_URLS {
            let want = StoreUrl::S3 {
                bucket: (*bucket).to_owned(),
                prefix: (*prefix).to_owned(),
            };
            assert_eq!(StoreUrl::parse(url), Ok(want), "{url}");
        }
    }

    const BAD_URLS: &[&str] = &[
        "",
        "s3://",
        "s3:///prefix",
        "s3://ab",
        "s3://Upper",
        "s3://under_score",
        "s3://-lead",
        "s3://trail-",
        "s3://a..b",
        "s3://bucket//x",
        "s3://bucket/a/../b",
        "s3://bucket/./b",
        "s3://bucket/a\\b",
        "gs://bucket",
        "http://example.com/x",
        "file://relative/dir",
    ];

    #[test]
    fn parse_rejects_bad_buckets_prefixes_and_schemes() {
        for url in BAD_URLS {
            let err = StoreUrl::parse(url).expect_err(url);
            assert_eq!(err.url, *url);
        }
    }

    /// (input, want path).
    const FS_URLS: &[(&str, &str)] = &[
        ("/srv/modferry", "/srv/modferry"),
        ("relative/dir", "relative/dir"),
        ("file:///srv/modferry", "/srv/modferry"),
        ("file://localhost/srv/x", "/srv/x"),
        ("file:///srv/mod ferry", "/srv/mod ferry"),
    ];

    #[test]
    fn parse_directory_and_file_url() {
        for (url, path) in FS_URLS {
            assert_eq!(
                StoreUrl::parse(url),
                Ok(StoreUrl::Fs(PathBuf::from(path))),
                "{url}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for url in ["s3://modferry", "s3://modferry/a/b", "file:///srv/x"] {
            assert_eq!(StoreUrl::parse(url).unwrap().to_string(), url);
        }
    }

    #[tokio::test]
    async fn open_store_rejects_an_invalid_url_naming_it() {
        let err = open_store("s3://X").await.err().expect("invalid bucket");
        assert!(err.to_string().contains("s3://X"), "{err}");
    }

    #[tokio::test]
    async fn open_store_opens_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let store = open_store(&url).await.unwrap();
        assert!(
            store.describe().starts_with("file://"),
            "{}",
            store.describe()
        );
    }
}
