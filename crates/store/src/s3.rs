//! The S3 backend: a [`Store`] on a bucket (and an optional key prefix) of any S3-compatible
//! object store (AWS S3, SeaweedFS, MinIO, Ceph RGW, GCS's S3 interoperability), through the
//! `object_store` crate's AWS client (SigV4 signing, retries, multipart uploads), over an HTTP
//! transport of our own (`s3/transport.rs`) that bounds the memory each download holds.
//!
//! No Go rule lives here. Object keys are the filesystem layout's keys
//! (`cmd/go/internal/modfetch/cache.go` `CachePath`: `<escaped-path>/@v/<version>.zip`, ...)
//! under the prefix, so a bucket can be inspected, copied to a directory, or served by any static
//! file server as a GOPROXY. Keys travel percent-encoded in the request path (`@` as `%40`, `!` as
//! `%21`, `+` as `%2B`) and are signed in that form, as SigV4 wants for S3.
//!
//! How the trait maps onto S3:
//! - [`PutMode::Create`] is a conditional write (`If-None-Match: *`): the store itself decides the
//!   first writer, across any number of replicas; a `412` means [`PutOutcome::AlreadyExists`].
//! - A [`Payload::File`] larger than one part ([`S3Config::part_size`]) is uploaded as a multipart
//!   upload, one part in memory per concurrent part upload, never the whole file. `object_store`
//!   completes multipart uploads without a condition, so a create-only large file is uploaded to a
//!   temporary key under `.modferry/tmp/` and then copied to its name with a conditional
//!   server-side copy (a one-part multipart copy whose completion carries `If-None-Match: *`);
//!   the temporary key is deleted afterwards. That conditional completion is not atomic on every
//!   server (two concurrent ones both succeeded on SeaweedFS 4.48), so concurrent large writers
//!   of one key first race for a small claim object under `.modferry/tmp/claim/` with a single
//!   conditional `PUT` (atomic): only the winner uploads, the others wait for the object and
//!   report [`PutOutcome::AlreadyExists`]. A store with the key already there is noticed first
//!   (`HEAD`) and nothing is uploaded.
//! - The claim's body is `<unix seconds> <instance id>`: when it was taken or last refreshed, by
//!   the holder's clock. While the upload runs, a background task (stopped before the claim is
//!   released, and when the write's future is dropped) rewrites it with a fresh time every
//!   quarter of [`S3Config::claim_ttl`] (default 60 s), each time a compare-and-swap
//!   (`If-Match` the ETag it wrote last), so an upload of any length keeps its claim. A claim
//!   whose time is older than the TTL belongs to a writer that died (killed mid-upload) and is
//!   taken over; so, at once, is one this store instance left behind because it could not
//!   remove it (the store was down). Waiters give up after 15 minutes of a live claim. If a
//!   refresh finds the claim replaced (another writer took it over, e.g. after a pause longer
//!   than the TTL), the refresher logs a warning and stops, and the upload goes on: its
//!   completion is still the conditional copy, so at most one writer's bytes become the object
//!   (up to the non-atomic completion above, which two claimants at once would hit). Replica
//!   clocks must agree to well within the TTL.
//! - [`Store::put_if_match`] is a `PUT` with `If-Match: <etag>` (compare-and-swap; SeaweedFS
//!   4.48 and AWS S3 enforce it under concurrent writers): `412` (or `404`, `409`) means
//!   [`SwapOutcome::Mismatch`].
//! - Reads stream the response body in chunks of at most [`READ_CHUNK`] bytes; a range is sent as
//!   an HTTP `Range`. The ETag is S3's (quoted); replacing an object with identical bytes keeps
//!   its ETag, which is right for HTTP caching.
//! - `.modferry/tmp/` under the prefix is the backend's own temporary area, never a key (as for
//!   the fs backend): it is hidden from [`Store::list`], and temporary objects older than a day
//!   (left by a process that died mid-upload) are removed when a store is opened. Multipart uploads
//!   abandoned by a dead process are not visible as objects; a bucket lifecycle rule
//!   (`AbortIncompleteMultipartUpload`) reclaims their space.
//!
//! Configuration: [`S3Settings`] holds what one source says (the `AWS_*` environment, a
//! configuration file's `[s3]` table); [`S3Settings::over`] layers them (the environment wins
//! key by key; credentials go as one unit) and [`S3Config::from_settings`] fills in defaults.
//!
//! Failures: an unreachable endpoint, a timeout, a 5xx or 429 answer, and refused credentials are
//! [`StoreError::Unavailable`] (the service answers 503); retries are few and short, and every
//! request is bounded by a timeout, except the body of a streaming read, which fails only when
//! the server sends nothing for [`S3Config::stall_timeout`] while the reader waits.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, Stream};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, CopyMode, CopyOptions, GetOptions, GetRange, MultipartUpload,
    ObjectMeta, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
};
use tokio::io::AsyncReadExt;

use crate::key::check_prefix;
use crate::url::{StoreUrl, StoreUrlError};
use crate::{
    GetResult, Key, Meta, Payload, PutMode, PutOutcome, READ_CHUNK, Store, StoreError, SwapOutcome,
    resolve_range,
};
use transport::{Connector, Matcher, TransportConfig};

mod transport;

/// The backend's temporary area, relative to the prefix. Never a key.
const TMP_DIR: &str = ".modferry/tmp";

/// The default of [`S3Config::claim_ttl`].
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(60);

/// How long a writer waits for another writer's live claim (one that keeps being refreshed)
/// before it gives up with [`StoreError::Unavailable`].
const CLAIM_WAIT: Duration = Duration::from_secs(15 * 60);

/// Temporary objects older than this are left by a dead process and removed at open.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// S3's smallest allowed part (all parts but the last).
const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The default size of one multipart part, and the size above which a file is uploaded in parts.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The region used when none is configured (what S3-compatible stores expect by default).
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to reach a bucket. [`S3Config::new`] gives the defaults; [`S3Config::from_env`] reads the
/// standard `AWS_*` variables.
#[derive(Clone)]
pub struct S3Config {
    /// The bucket name.
    pub bucket: String,
    /// Key prefix of the store inside the bucket, without leading or trailing `/`; empty for the
    /// whole bucket.
    pub prefix: String,
    /// The service endpoint, e.g. `http://127.0.0.1:8333`; requests then use path-style
    /// addressing (`<endpoint>/<bucket>/<key>`). `None` means AWS S3 in [`S3Config::region`].
    pub endpoint: Option<String>,
    /// The SigV4 signing region.
    pub region: String,
    /// Access key id; with neither key set, requests are sent unsigned (anonymous).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Whether a plain `http://` endpoint is allowed.
    pub allow_http: bool,
    /// Where the per-store staging directory is created ([`Store::staging_dir`]); `None` means
    /// `modferry-staging` in the system temp directory.
    pub staging_root: Option<PathBuf>,
    /// Size of one multipart part (at least 5 MiB); files larger than this are uploaded in parts.
    pub part_size: usize,
    /// Parts of one upload sent at the same time (memory per upload ≈ `part_size` × this + 1).
    pub upload_concurrency: usize,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    /// Bound on one small request (head, small put, delete, one list page, starting a read, ...),
    /// retries included.
    pub request_timeout: Duration,
    /// A streaming read fails when the server sends nothing for this long while the reader waits.
    pub stall_timeout: Duration,
    /// Bound on uploading one part, and on a server-side copy.
    pub part_timeout: Duration,
    /// Retries of a failed request (connection errors, 5xx), with short backoff.
    pub max_retries: usize,
    /// How long an upload claim (see the module documentation) holds without being refreshed
    /// before another writer may take it over: the holder refreshes it every quarter of this
    /// while its upload runs, so this bounds how long the others wait after the holder died,
    /// not how long an upload may take. At least one second; replica clocks must agree to well
    /// within it.
    pub claim_ttl: Duration,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &S3Config::redact(&self.secret_access_key),
            )
            .field("session_token", &S3Config::redact(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("staging_root", &self.staging_root)
            .field("part_size", &self.part_size)
            .field("claim_ttl", &self.claim_ttl)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// How a secret (a secret access key or session token) shows in `Debug` output: `None`
    /// when unset, else the placeholder `"<redacted>"`, never the secret itself.
    pub fn redact(secret: &Option<String>) -> Option<&'static str> {
        secret.as_ref().map(|_| "<redacted>")
    }

    /// A configuration for `bucket` and `prefix` with AWS defaults, no endpoint and no
    /// credentials.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: None,
            region: DEFAULT_REGION.to_owned(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: false,
            staging_root: None,
            part_size: DEFAULT_PART_SIZE,
            upload_concurrency: 2,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            part_timeout: Duration::from_secs(300),
            max_retries: 2,
            claim_ttl: DEFAULT_CLAIM_TTL,
        }
    }

    /// Sets the endpoint (path-style addressing) and allows `http://` when it is one.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> S3Config {
        let endpoint = endpoint.into();
        self.allow_http = endpoint.starts_with("http://");
        self.endpoint = Some(endpoint);
        self
    }

    /// Sets static credentials.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> S3Config {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// The configuration for `s3://BUCKET[/PREFIX]` from the environment alone (see
    /// [`S3Settings::from_lookup`] for the variables).
    pub fn from_env(url: &str) -> Result<S3Config, StoreUrlError> {
        S3Config::from_settings(url, &S3Settings::from_env())
    }

    /// [`S3Config::from_env`] with the variables looked up by `var`.
    pub fn from_lookup(
        url: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Config, StoreUrlError> {
        S3Config::from_settings(url, &S3Settings::from_lookup(var))
    }

    /// The configuration for `s3://BUCKET[/PREFIX]`: `settings` over the defaults of
    /// [`S3Config::new`]. An endpoint means path-style addressing; `allow_http` unset allows
    /// plain `http://` exactly when the endpoint is an `http://` URL.
    pub fn from_settings(url: &str, settings: &S3Settings) -> Result<S3Config, StoreUrlError> {
        let StoreUrl::S3 { bucket, prefix } = StoreUrl::parse(url)? else {
            return Err(StoreUrlError {
                url: url.to_owned(),
                reason: "not an s3:// URL".to_owned(),
            });
        };
        let s = settings;
        let mut cfg = S3Config::new(bucket, prefix);
        if let Some(endpoint) = &s.endpoint {
            cfg = cfg.with_endpoint(endpoint);
        }
        if let Some(allow) = s.allow_http {
            cfg.allow_http = allow;
        }
        if let Some(region) = &s.region {
            cfg.region.clone_from(region);
        }
        cfg.access_key_id.clone_from(&s.access_key_id);
        cfg.secret_access_key.clone_from(&s.secret_access_key);
        cfg.session_token.clone_from(&s.session_token);
        if let Some(n) = s.part_size {
            cfg.part_size = n;
        }
        if let Some(n) = s.upload_concurrency {
            cfg.upload_concurrency = n;
        }
        if let Some(t) = s.request_timeout {
            cfg.request_timeout = t;
        }
        Ok(cfg)
    }

    /// The endpoint requests go to, for messages.
    fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.trim_end_matches('/').to_owned(),
            None => format!("https://s3.{}.amazonaws.com", self.region),
        }
    }

    /// `s3://bucket[/prefix]`.
    fn url(&self) -> String {
        StoreUrl::S3 {
            bucket: self.bucket.clone(),
            prefix: self.prefix.trim_matches('/').to_owned(),
        }
        .to_string()
    }
}

/// The settings of an S3 store that its URL does not carry, each optional: what one source
/// (the `AWS_*` environment, a configuration file) says. [`S3Settings::over`] layers two
/// sources; [`S3Config::from_settings`] applies the result to the defaults.
///
/// The credentials (`access_key_id`, `secret_access_key`, `session_token`) are one unit: a
/// source that names a key id or a secret supplies all three, so a key id from one source is
/// never paired with a secret from another.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The service endpoint ([`S3Config::endpoint`]).
    pub endpoint: Option<String>,
    /// The SigV4 signing region ([`S3Config::region`]).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Whether a plain `http://` endpoint is allowed; unset: exactly when the endpoint is one.
    pub allow_http: Option<bool>,
    /// [`S3Config::part_size`].
    pub part_size: Option<usize>,
    /// [`S3Config::upload_concurrency`].
    pub upload_concurrency: Option<usize>,
    /// [`S3Config::request_timeout`].
    pub request_timeout: Option<Duration>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &S3Config::redact(&self.secret_access_key),
            )
            .field("session_token", &S3Config::redact(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl S3Settings {
    /// What the standard AWS environment variables say: `AWS_ENDPOINT_URL_S3`, else
    /// `AWS_ENDPOINT_URL`; `AWS_REGION`, else `AWS_DEFAULT_REGION`; `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`. Empty variables count as unset. No
    /// variable sets `allow_http` or the tunables.
    pub fn from_env() -> S3Settings {
        S3Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`S3Settings::from_env`] with the variables looked up by `var`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> S3Settings {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        S3Settings {
            endpoint: get("AWS_ENDPOINT_URL_S3").or_else(|| get("AWS_ENDPOINT_URL")),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
            session_token: get("AWS_SESSION_TOKEN"),
            ..S3Settings::default()
        }
    }

    /// Whether these settings name credentials (a key id or a secret).
    pub fn has_credentials(&self) -> bool {
        self.access_key_id.is_some() || self.secret_access_key.is_some()
    }

    /// `self` layered over `lower`: each setting `self` has wins, the others come from
    /// `lower`. The credentials go as one unit: all three from `self` when it has a key id or
    /// a secret, else all three from `lower`.
    pub fn over(&self, lower: &S3Settings) -> S3Settings {
        let creds = if self.has_credentials() { self } else { lower };
        S3Settings {
            endpoint: self.endpoint.clone().or_else(|| lower.endpoint.clone()),
            region: self.region.clone().or_else(|| lower.region.clone()),
            access_key_id: creds.access_key_id.clone(),
            secret_access_key: creds.secret_access_key.clone(),
            session_token: creds.session_token.clone(),
            allow_http: self.allow_http.or(lower.allow_http),
            part_size: self.part_size.or(lower.part_size),
            upload_concurrency: self.upload_concurrency.or(lower.upload_concurrency),
            request_timeout: self.request_timeout.or(lower.request_timeout),
        }
    }
}

/// A [`Store`] on an S3 bucket. Cheap to clone (clones share one client and staging directory).
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    s3: AmazonS3,
    bucket: String,
    /// The configured prefix plus `/`, or empty: prepended to every key.
    key_prefix: String,
    /// `s3://bucket[/prefix]`.
    url: String,
    /// The endpoint, for messages.
    endpoint: String,
    staging: tempfile::TempDir,
    part_size: usize,
    upload_concurrency: usize,
    request_timeout: Duration,
    stall_timeout: Duration,
    part_timeout: Duration,
    /// [`S3Config::claim_ttl`].
    claim_ttl: Duration,
    /// Names temporary objects: a random instance id and a counter.
    instance: u64,
    temp_counter: AtomicU64,
    /// Upload claims this instance holds now (claim path → how many). A claim in the bucket
    /// with this instance's id that is not counted here was left behind by a release that
    /// failed (the store was down): it is taken over at once rather than waited out.
    claims: crate::HeldKeys,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("url", &self.inner.url)
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

/// What an `object_store` failure means for the caller.
enum Failure {
    /// No such object (or bucket).
    NotFound,
    /// A conditional request found the object there.
    Exists,
    /// Credentials refused.
    Denied,
    /// The service cannot be used right now: network, timeout, 5xx, throttling.
    Unreachable,
    /// Anything else: a request the service rejected.
    Other,
}

impl S3Store {
    /// Opens the store: builds the client, then lists the bucket (one key) so that a wrong
    /// endpoint, refused credentials or a missing bucket fail here, with a message naming the
    /// endpoint and the bucket. Removes temporary objects that a dead process left behind.
    pub async fn open(cfg: S3Config) -> Result<S3Store, StoreError> {
        let url = cfg.url();
        let endpoint = cfg.endpoint_display();
        let invalid = |reason: String| {
            StoreError::io(
                "configure",
                "",
                format!("{url} ({endpoint})"),
                io::Error::new(io::ErrorKind::InvalidInput, reason),
            )
        };
        // Validates the bucket and prefix the same way the URL parser does.
        let prefix = cfg.prefix.trim_matches('/').to_owned();
        StoreUrl::parse(&url).map_err(|e| invalid(e.reason))?;
        if cfg.part_size < MIN_PART_SIZE {
            return Err(invalid(format!(
                "part size {} is below S3's minimum of {MIN_PART_SIZE} bytes",
                cfg.part_size
            )));
        }
        if !cfg.allow_http
            && let Some(e) = &cfg.endpoint
            && e.starts_with("http://")
        {
            return Err(invalid(format!(
                "the endpoint {e} is plain http:// but allow_http is false"
            )));
        }
        install_crypto_provider();

        // The transport (transport.rs) applies the HTTP settings itself; these options only
        // say the same to object_store. There is no whole-request timeout: every call is
        // bounded by our own timeouts instead, since one would also cut off long streaming
        // reads and part uploads.
        let connector = Connector::new(TransportConfig {
            allow_http: cfg.allow_http,
            connect_timeout: cfg.connect_timeout,
            proxies: Matcher::from_env(),
        })
        .map_err(|e| invalid(format!("cannot set up TLS certificate verification: {e}")))?;
        let client = ClientOptions::new()
            .with_allow_http(cfg.allow_http)
            .with_connect_timeout(cfg.connect_timeout)
            .with_timeout_disabled();
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: cfg.max_retries,
            retry_timeout: cfg.request_timeout,
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_client_options(client)
            .with_http_connector(connector)
            .with_retry(retry)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
        if let Some(e) = &cfg.endpoint {
            builder = builder
                .with_endpoint(e)
                .with_virtual_hosted_style_request(false);
        }
        match (&cfg.access_key_id, &cfg.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
                if let Some(token) = &cfg.session_token {
                    builder = builder.with_token(token);
                }
            }
            (None, None) => builder = builder.with_skip_signature(true),
            _ => {
                return Err(invalid(
                    "set both the access key id and the secret access key (AWS_ACCESS_KEY_ID \
                     and AWS_SECRET_ACCESS_KEY, or the configuration's access_key_id and \
                     secret_access_key), or neither"
                        .to_owned(),
                ));
            }
        }
        let s3 = builder.build().map_err(|e| invalid(e.to_string()))?;

        let base = cfg
            .staging_root
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("modferry-staging"));
        std::fs::create_dir_all(&base).map_err(|e| {
            StoreError::io(
                "create staging directory",
                "",
                base.display().to_string(),
                e,
            )
        })?;
        let staging = tempfile::Builder::new()
            .prefix("s3-")
            .tempdir_in(&base)
            .map_err(|e| {
                StoreError::io(
                    "create staging directory in",
                    "",
                    base.display().to_string(),
                    e,
                )
            })?;

        let store = S3Store {
            inner: Arc::new(Inner {
                s3,
                bucket: cfg.bucket.clone(),
                key_prefix: if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                },
                url,
                endpoint,
                staging,
                part_size: cfg.part_size,
                upload_concurrency: cfg.upload_concurrency.max(1),
                request_timeout: cfg.request_timeout,
                stall_timeout: cfg.stall_timeout,
                part_timeout: cfg.part_timeout,
                claim_ttl: cfg.claim_ttl.max(Duration::from_secs(1)),
                instance: random_u64(),
                temp_counter: AtomicU64::new(0),
                claims: Default::default(),
            }),
        };
        store.check_bucket().await?;
        store.remove_stale_temps().await;
        Ok(store)
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The key prefix inside the bucket (without trailing `/`; empty for the whole bucket).
    pub fn prefix(&self) -> &str {
        self.inner
            .key_prefix
            .strip_suffix('/')
            .unwrap_or(&self.inner.key_prefix)
    }

    /// The startup check: one list request of at most one key under the prefix.
    async fn check_bucket(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let opts = PaginatedListOptions {
            max_keys: Some(1),
            ..Default::default()
        };
        let prefix = (!inner.key_prefix.is_empty()).then_some(inner.key_prefix.as_str());
        let listed =
            tokio::time::timeout(inner.request_timeout, inner.s3.list_paginated(prefix, opts))
                .await;
        let e = match listed {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(StoreError::Unavailable {
                    reason: format!(
                        "S3 endpoint {} did not answer within {:?} when opening bucket {:?}",
                        inner.endpoint, inner.request_timeout, inner.bucket
                    ),
                });
            }
        };
        let what = match classify(&e) {
            Failure::NotFound => "the bucket does not exist".to_owned(),
            Failure::Denied => "access denied: check the credentials (AWS_ACCESS_KEY_ID and \
                                AWS_SECRET_ACCESS_KEY, or the configuration's access_key_id \
                                and secret_access_key) and the bucket's permissions"
                .to_owned(),
            Failure::Unreachable => {
                return Err(StoreError::Unavailable {
                    reason: format!(
                        "cannot reach S3 endpoint {} to open bucket {:?}: {}",
                        inner.endpoint,
                        inner.bucket,
                        one_line(&e)
                    ),
                });
            }
            Failure::Exists | Failure::Other => "the bucket cannot be listed".to_owned(),
        };
        Err(StoreError::io(
            "open bucket",
            "",
            format!("{} at {}", inner.url, inner.endpoint),
            io::Error::other(format!("{what} ({})", one_line(&e))),
        ))
    }

    /// Deletes temporary objects older than [`STALE_TEMP_AGE`]; failures are only logged.
    async fn remove_stale_temps(&self) {
        let inner = &self.inner;
        let Ok(prefix) = ObjectPath::parse(format!("{}{TMP_DIR}", inner.key_prefix)) else {
            return;
        };
        let listed = tokio::time::timeout(inner.request_timeout, async {
            inner
                .s3
                .list(Some(&prefix))
                .try_collect::<Vec<ObjectMeta>>()
                .await
        })
        .await;
        let metas = match listed {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                tracing::warn!(store = %inner.url, error = %one_line(&e), "store: cannot list temporary objects");
                return;
            }
            Err(_) => return,
        };
        let cutoff = SystemTime::now()
            .checked_sub(STALE_TEMP_AGE)
            .unwrap_or(UNIX_EPOCH);
        for meta in metas {
            if SystemTime::from(meta.last_modified) >= cutoff {
                continue;
            }
            tracing::info!(store = %inner.url, key = %meta.location, "store: removing a stale temporary object");
            let deleted =
                tokio::time::timeout(inner.request_timeout, inner.s3.delete(&meta.location)).await;
            if !matches!(deleted, Ok(Ok(()))) {
                tracing::warn!(store = %inner.url, key = %meta.location, "store: cannot remove a stale temporary object");
            }
        }
    }
}

impl Inner {
    /// The object path of `key`: the prefix plus the key.
    fn path(&self, key: &Key) -> Result<ObjectPath, StoreError> {
        if is_tmp(key.as_str()) {
            return Err(StoreError::InvalidKey {
                key: key.as_str().to_owned(),
                reason: "reserved for the store's temp files",
            });
        }
        ObjectPath::parse(format!("{}{}", self.key_prefix, key.as_str())).map_err(|_| {
            StoreError::InvalidKey {
                key: key.as_str().to_owned(),
                reason: "not usable as an object key (control characters)",
            }
        })
    }

    /// A fresh temporary object path.
    fn temp_path(&self, key: &str) -> Result<ObjectPath, StoreError> {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}{TMP_DIR}/upload-{:016x}-{n}",
            self.key_prefix, self.instance
        );
        ObjectPath::parse(&name).map_err(|e| {
            StoreError::io(
                "name a temporary object for",
                key,
                self.location(key),
                io::Error::other(e),
            )
        })
    }

    /// Where `key` is, for messages: `s3://bucket/prefix/key`.
    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}{}", self.bucket, self.key_prefix, key)
    }

    /// Turns a failure of `op` on `key` into the store's error.
    fn error(&self, op: &'static str, key: &str, e: object_store::Error) -> StoreError {
        match classify(&e) {
            Failure::Denied => StoreError::Unavailable {
                reason: format!(
                    "S3 endpoint {} denied access to bucket {:?} ({op} {key:?}): {}",
                    self.endpoint,
                    self.bucket,
                    one_line(&e)
                ),
            },
            Failure::Unreachable => StoreError::Unavailable {
                reason: format!(
                    "S3 endpoint {} failed for bucket {:?} ({op} {key:?}): {}",
                    self.endpoint,
                    self.bucket,
                    one_line(&e)
                ),
            },
            Failure::NotFound => StoreError::io(
                op,
                key,
                self.location(key),
                io::Error::new(io::ErrorKind::NotFound, one_line(&e)),
            ),
            Failure::Exists | Failure::Other => {
                StoreError::io(op, key, self.location(key), io::Error::other(one_line(&e)))
            }
        }
    }

    fn timed_out(&self, op: &'static str, key: &str, limit: Duration) -> StoreError {
        StoreError::Unavailable {
            reason: format!(
                "S3 endpoint {} did not finish {op} {key:?} in bucket {:?} within {limit:?}",
                self.endpoint, self.bucket
            ),
        }
    }

    /// Runs one request with a time limit; a timeout is [`StoreError::Unavailable`], anything
    /// else is returned for the caller to classify.
    async fn bounded<T>(
        &self,
        op: &'static str,
        key: &str,
        limit: Duration,
        fut: impl Future<Output = object_store::Result<T>>,
    ) -> Result<object_store::Result<T>, StoreError> {
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| self.timed_out(op, key, limit))
    }

    async fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError> {
        let path = self.path(key)?;
        self.head_path(key.as_str(), &path).await
    }

    async fn head_path(&self, key: &str, path: &ObjectPath) -> Result<Option<Meta>, StoreError> {
        match self
            .bounded(
                "read metadata of",
                key,
                self.request_timeout,
                self.s3.head(path),
            )
            .await?
        {
            Ok(meta) => Ok(Some(meta_of(&meta))),
            Err(e) if matches!(classify(&e), Failure::NotFound) => Ok(None),
            Err(e) => Err(self.error("read metadata of", key, e)),
        }
    }

    async fn get(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<GetResult>, StoreError> {
        let path = self.path(key)?;
        // HTTP cannot ask for an empty range (or a reversed one): answer from the metadata.
        if let Some(r) = &range
            && r.start >= r.end
        {
            let Some(meta) = self.head_path(key.as_str(), &path).await? else {
                return Ok(None);
            };
            let served = resolve_range(key, range, meta.size)?;
            return Ok(Some(GetResult {
                meta,
                range: served,
                body: futures::stream::empty().boxed(),
            }));
        }
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let res = self
            .bounded(
                "read",
                key.as_str(),
                self.request_timeout,
                self.s3.get_opts(&path, opts),
            )
            .await?;
        let got = match res {
            Ok(got) => got,
            Err(e) if matches!(classify(&e), Failure::NotFound) => return Ok(None),
            Err(e) => {
                // A range past the end is a 416; tell it apart from other failures by the size.
                if range.is_some()
                    && let Ok(Some(meta)) = self.head_path(key.as_str(), &path).await
                {
                    resolve_range(key, range, meta.size)?;
                }
                return Err(self.error("read", key.as_str(), e));
            }
        };
        let meta = meta_of(&got.meta);
        let served = got.range.clone();
        let body = BodyStream {
            inner: got.into_stream(),
            pending: Bytes::new(),
            stall: self.stall_timeout,
            timer: None,
            location: self.location(key.as_str()),
            done: false,
        };
        Ok(Some(GetResult {
            meta,
            range: served,
            body: body.boxed(),
        }))
    }

    async fn get_bytes(&self, key: &Key, limit: u64) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key)?;
        let too_large = || StoreError::TooLarge {
            key: key.as_str().to_owned(),
            limit,
        };
        let read = async {
            let got = self.s3.get_opts(&path, GetOptions::default()).await?;
            if got.meta.size > limit {
                return Ok(None);
            }
            got.bytes().await.map(Some)
        };
        match self
            .bounded("read", key.as_str(), self.request_timeout, read)
            .await?
        {
            Ok(Some(bytes)) if bytes.len() as u64 <= limit => Ok(Some(bytes)),
            Ok(_) => Err(too_large()),
            Err(e) if matches!(classify(&e), Failure::NotFound) => Ok(None),
            Err(e) => Err(self.error("read", key.as_str(), e)),
        }
    }

    async fn put(
        &self,
        key: &Key,
        payload: Payload,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let path = self.path(key)?;
        match payload {
            Payload::Bytes(bytes) => self.put_bytes(key.as_str(), &path, bytes, mode).await,
            Payload::File(src) => {
                let outcome = self.put_file(key.as_str(), &path, &src, mode).await?;
                match tokio::fs::remove_file(&src).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(
                        key = key.as_str(),
                        path = %src.display(),
                        error = %e,
                        "store: cannot remove payload file"
                    ),
                }
                Ok(outcome)
            }
        }
    }

    /// [`Store::put_if_match`]: one `PUT` with `If-Match: <etag>`. The object store decides:
    /// `412 Precondition Failed` (or `404`, `409`) means another writer replaced the object.
    async fn put_if_match(
        &self,
        key: &Key,
        bytes: Bytes,
        etag: &str,
    ) -> Result<SwapOutcome, StoreError> {
        let path = self.path(key)?;
        let opts = PutOptions::from(object_store::PutMode::Update(object_store::UpdateVersion {
            e_tag: Some(etag.to_owned()),
            version: None,
        }));
        let limit = self.request_timeout + Duration::from_secs(bytes.len() as u64 >> 20);
        let put = self.s3.put_opts(&path, PutPayload::from(bytes), opts);
        match self.bounded("write", key.as_str(), limit, put).await? {
            Ok(done) => {
                let etag = match done.e_tag {
                    Some(t) => quote_etag(&t),
                    None => match self.head_path(key.as_str(), &path).await? {
                        Some(meta) => meta.etag,
                        None => String::new(),
                    },
                };
                Ok(SwapOutcome::Swapped { etag })
            }
            Err(e) if matches!(classify(&e), Failure::Exists | Failure::NotFound) => {
                Ok(SwapOutcome::Mismatch)
            }
            Err(e) => Err(self.error("write", key.as_str(), e)),
        }
    }

    /// One `PUT` request; create-only with `If-None-Match: *`.
    async fn put_bytes(
        &self,
        key: &str,
        path: &ObjectPath,
        bytes: Bytes,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let opts = PutOptions::from(match mode {
            PutMode::Overwrite => object_store::PutMode::Overwrite,
            PutMode::Create => object_store::PutMode::Create,
        });
        // Time for the request plus the body at a modest 1 MiB/s.
        let limit = self.request_timeout + Duration::from_secs(bytes.len() as u64 >> 20);
        let put = self.s3.put_opts(path, PutPayload::from(bytes), opts);
        match self.bounded("write", key, limit, put).await? {
            Ok(_) => Ok(PutOutcome::Created),
            Err(e) if mode == PutMode::Create && matches!(classify(&e), Failure::Exists) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(self.error("write", key, e)),
        }
    }

    async fn put_file(
        &self,
        key: &str,
        path: &ObjectPath,
        src: &Path,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        let src_err = |op, e| StoreError::io(op, key, src.display().to_string(), e);
        let mut file = tokio::fs::File::open(src)
            .await
            .map_err(|e| src_err("open payload file", e))?;
        let md = file
            .metadata()
            .await
            .map_err(|e| src_err("read metadata of payload file", e))?;
        if !md.is_file() {
            return Err(StoreError::InvalidPayload {
                key: key.to_owned(),
                reason: format!("{} is not a regular file", src.display()),
            });
        }
        let size = md.len();
        if size <= self.part_size as u64 {
            let bytes = read_up_to(&mut file, self.part_size)
                .await
                .map_err(|e| src_err("read payload file", e))?;
            check_size(key, src, size, bytes.len() as u64)?;
            return self.put_bytes(key, path, bytes, mode).await;
        }
        match mode {
            PutMode::Overwrite => {
                self.upload_parts(key, path, src, file, size).await?;
                Ok(PutOutcome::Created)
            }
            PutMode::Create => self.create_large(key, path, src, file, size).await,
        }
    }

    /// A create-only write of a large file: upload to a temporary key, then a conditional
    /// server-side copy to the final name, then remove the temporary key.
    async fn create_large(
        &self,
        key: &str,
        path: &ObjectPath,
        src: &Path,
        file: tokio::fs::File,
        size: u64,
    ) -> Result<PutOutcome, StoreError> {
        // A multipart completion carrying If-None-Match is not atomic on every S3 server
        // (SeaweedFS 4.48 let two concurrent ones both succeed), while a single conditional
        // PUT is. So large create-only writers of one key first race for a small claim object;
        // only the winner uploads, the others wait for the object to appear.
        let (claim, etag) = match self.claim_large(key, path).await? {
            Some(claim) => claim,
            None => return Ok(PutOutcome::AlreadyExists),
        };
        // Keeps the claim fresh while the upload runs; stopped (also when this future is
        // dropped) before the claim is removed.
        let heartbeat = self.claim_heartbeat(key, &claim, etag);
        let outcome = self.create_large_claimed(key, path, src, file, size).await;
        heartbeat.stop().await;
        let released = tokio::time::timeout(self.request_timeout, self.s3.delete(&claim)).await;
        self.claims.give_back(claim.as_ref());
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!(store = %self.url, key = %claim, "store: cannot remove a claim object (it expires)");
        }
        outcome
    }

    /// Starts refreshing `claim` (written with `etag`) every quarter of the claim TTL, each
    /// time with a compare-and-swap on the version written last, so that a claim another
    /// writer has taken over is never overwritten.
    fn claim_heartbeat(&self, key: &str, claim: &ObjectPath, etag: String) -> ClaimHeartbeat {
        let s3 = self.s3.clone();
        let claim = claim.clone();
        let (url, key) = (self.url.clone(), key.to_owned());
        let instance = self.instance;
        let (every, limit) = (self.claim_ttl / 4, self.request_timeout);
        let task = tokio::spawn(async move {
            let mut etag = etag;
            loop {
                tokio::time::sleep(every).await;
                let body = claim_body(instance);
                let opts =
                    PutOptions::from(object_store::PutMode::Update(object_store::UpdateVersion {
                        e_tag: Some(etag.clone()),
                        version: None,
                    }));
                let put = s3.put_opts(&claim, PutPayload::from(body), opts);
                match tokio::time::timeout(limit, put).await {
                    Ok(Ok(done)) => match done.e_tag {
                        Some(t) => etag = t,
                        None => {
                            tracing::warn!(store = %url, key, "store: refreshed an upload claim but got no ETag; no longer refreshing it");
                            return;
                        }
                    },
                    Ok(Err(e)) if matches!(classify(&e), Failure::Exists | Failure::NotFound) => {
                        tracing::warn!(store = %url, key, "store: lost the upload claim to another writer (its upload went on; the conditional completion still decides the first writer)");
                        return;
                    }
                    // The store is unreachable or slow: try again at the next tick.
                    Ok(Err(e)) => {
                        tracing::debug!(store = %url, key, error = %one_line(&e), "store: cannot refresh an upload claim");
                    }
                    Err(_) => {
                        tracing::debug!(store = %url, key, "store: refreshing an upload claim timed out");
                    }
                }
            }
        });
        ClaimHeartbeat { task }
    }

    /// Takes the claim on a large create-only write of `key`: `Some((claim path, its ETag))`
    /// when this writer may upload, `None` when the object exists (possibly after waiting for
    /// another writer's upload to finish). A claim not refreshed for
    /// [`S3Config::claim_ttl`] belongs to a writer that died and is taken over, and so is one
    /// of this instance that it no longer holds.
    async fn claim_large(
        &self,
        key: &str,
        path: &ObjectPath,
    ) -> Result<Option<(ObjectPath, String)>, StoreError> {
        let claim = ObjectPath::parse(format!(
            "{}{TMP_DIR}/claim/{}",
            self.key_prefix,
            path.as_ref()
        ))
        .map_err(|e| {
            StoreError::io(
                "name a claim object for",
                key,
                self.location(key),
                io::Error::other(e),
            )
        })?;
        let started = std::time::Instant::now();
        loop {
            if self.head_path(key, path).await?.is_some() {
                return Ok(None);
            }
            let now = unix_now();
            if let Some(etag) = self.put_claim(key, &claim).await? {
                self.claims.take(claim.as_ref());
                // The object may have been completed between the head and the claim.
                if self.head_path(key, path).await?.is_some() {
                    let _ =
                        tokio::time::timeout(self.request_timeout, self.s3.delete(&claim)).await;
                    self.claims.give_back(claim.as_ref());
                    return Ok(None);
                }
                return Ok(Some((claim, etag)));
            }
            // Someone else holds the claim: take it over if it is stale or a leftover of ours,
            // else wait.
            let held = match self
                .bounded(
                    "read claim of",
                    key,
                    self.request_timeout,
                    self.s3.get(&claim),
                )
                .await?
            {
                Ok(r) => match self
                    .bounded("read claim of", key, self.request_timeout, r.bytes())
                    .await?
                {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(_) => String::new(),
                },
                Err(_) => String::new(),
            };
            let mut fields = held.split_whitespace();
            let held_since = fields.next().and_then(|t| t.parse::<u64>().ok());
            let leftover = fields.next() == Some(format!("{:016x}", self.instance).as_str())
                && !self.claims.holds(claim.as_ref());
            let stale =
                held_since.is_some_and(|t| now.saturating_sub(t) > self.claim_ttl.as_secs());
            if leftover || stale {
                let why = if leftover {
                    "store: taking over an upload claim this process failed to remove"
                } else {
                    "store: taking over a stale upload claim"
                };
                tracing::warn!(store = %self.url, key, "{why}");
                let _ = tokio::time::timeout(self.request_timeout, self.s3.delete(&claim)).await;
                continue;
            }
            if started.elapsed() > CLAIM_WAIT {
                return Err(StoreError::Unavailable {
                    reason: format!(
                        "{}: another writer has been storing {key} for over {} s",
                        self.url,
                        CLAIM_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates the claim object `claim` (one conditional `PUT`): `Some(its ETag)` when this
    /// writer took it, `None` when it is there already.
    async fn put_claim(&self, key: &str, claim: &ObjectPath) -> Result<Option<String>, StoreError> {
        let opts = PutOptions::from(object_store::PutMode::Create);
        let put = self
            .s3
            .put_opts(claim, PutPayload::from(claim_body(self.instance)), opts);
        match self
            .bounded("write claim of", key, self.request_timeout, put)
            .await?
        {
            Ok(done) => match done.e_tag {
                Some(etag) => Ok(Some(etag)),
                None => match self
                    .bounded(
                        "read claim of",
                        key,
                        self.request_timeout,
                        self.s3.head(claim),
                    )
                    .await?
                {
                    Ok(meta) => Ok(Some(meta.e_tag.unwrap_or_default())),
                    Err(e) => Err(self.error("read claim of", key, e)),
                },
            },
            Err(e) if matches!(classify(&e), Failure::Exists) => Ok(None),
            Err(e) => Err(self.error("write claim of", key, e)),
        }
    }

    /// The upload of a claimed large create-only write.
    async fn create_large_claimed(
        &self,
        key: &str,
        path: &ObjectPath,
        src: &Path,
        file: tokio::fs::File,
        size: u64,
    ) -> Result<PutOutcome, StoreError> {
        let temp = self.temp_path(key)?;
        let outcome = async {
            self.upload_parts(key, &temp, src, file, size).await?;
            let copy = self.s3.copy_opts(
                &temp,
                path,
                CopyOptions {
                    mode: CopyMode::Create,
                    ..Default::default()
                },
            );
            match self
                .bounded("copy into place", key, self.part_timeout, copy)
                .await?
            {
                Ok(()) => Ok(PutOutcome::Created),
                Err(e) if matches!(classify(&e), Failure::Exists) => Ok(PutOutcome::AlreadyExists),
                Err(e) => Err(self.error("copy into place", key, e)),
            }
        }
        .await;
        let deleted = tokio::time::timeout(self.request_timeout, self.s3.delete(&temp)).await;
        if !matches!(deleted, Ok(Ok(()))) {
            tracing::warn!(store = %self.url, key = %temp, "store: cannot remove a temporary object (removed at a later open)");
        }
        outcome
    }

    /// A multipart upload of `file` (`size` bytes) to `path`; aborted on failure.
    async fn upload_parts(
        &self,
        key: &str,
        path: &ObjectPath,
        src: &Path,
        file: tokio::fs::File,
        size: u64,
    ) -> Result<(), StoreError> {
        let mut upload = match self
            .bounded(
                "start upload of",
                key,
                self.request_timeout,
                self.s3.put_multipart(path),
            )
            .await?
        {
            Ok(u) => u,
            Err(e) => return Err(self.error("start upload of", key, e)),
        };
        let sent = self.send_parts(key, src, file, size, &mut upload).await;
        let done = match sent {
            Ok(()) => match self
                .bounded(
                    "finish upload of",
                    key,
                    self.request_timeout,
                    upload.complete(),
                )
                .await
            {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => Err(self.error("finish upload of", key, e)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if !matches!(
            tokio::time::timeout(self.request_timeout, upload.abort()).await,
            Ok(Ok(()))
        ) {
            tracing::warn!(store = %self.url, key, "store: cannot abort a failed multipart upload");
        }
        done
    }

    /// Reads `file` part by part and uploads the parts, at most `upload_concurrency` at a time.
    async fn send_parts(
        &self,
        key: &str,
        src: &Path,
        mut file: tokio::fs::File,
        size: u64,
        upload: &mut Box<dyn MultipartUpload>,
    ) -> Result<(), StoreError> {
        let mut parts = tokio::task::JoinSet::new();
        let mut read = 0u64;
        loop {
            let part = read_up_to(&mut file, self.part_size).await.map_err(|e| {
                StoreError::io("read payload file", key, src.display().to_string(), e)
            })?;
            if part.is_empty() {
                break;
            }
            read += part.len() as u64;
            parts.spawn(tokio::time::timeout(
                self.part_timeout,
                upload.put_part(PutPayload::from(part)),
            ));
            while parts.len() >= self.upload_concurrency {
                self.part_done(key, parts.join_next().await)?;
            }
        }
        while let Some(done) = parts.join_next().await {
            self.part_done(key, Some(done))?;
        }
        check_size(key, src, size, read)
    }

    fn part_done(
        &self,
        key: &str,
        done: Option<
            Result<
                Result<object_store::Result<()>, tokio::time::error::Elapsed>,
                tokio::task::JoinError,
            >,
        >,
    ) -> Result<(), StoreError> {
        match done {
            None | Some(Ok(Ok(Ok(())))) => Ok(()),
            Some(Ok(Ok(Err(e)))) => Err(self.error("upload part of", key, e)),
            Some(Ok(Err(_))) => Err(self.timed_out("upload part of", key, self.part_timeout)),
            Some(Err(e)) => Err(StoreError::io(
                "upload part of",
                key,
                self.location(key),
                io::Error::other(e.to_string()),
            )),
        }
    }

    async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match self
            .bounded(
                "delete",
                key.as_str(),
                self.request_timeout,
                self.s3.delete(&path),
            )
            .await?
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(classify(&e), Failure::NotFound) => Ok(()),
            Err(e) => Err(self.error("delete", key.as_str(), e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        check_prefix(prefix)?;
        let full = format!("{}{prefix}", self.key_prefix);
        let mut keys = Vec::new();
        let mut page_token = None;
        loop {
            let opts = PaginatedListOptions {
                page_token: page_token.take(),
                ..Default::default()
            };
            let page = self
                .s3
                .list_paginated((!full.is_empty()).then_some(full.as_str()), opts);
            let page = match self
                .bounded("list", prefix, self.request_timeout, page)
                .await?
            {
                Ok(p) => p,
                Err(e) => return Err(self.error("list", prefix, e)),
            };
            for meta in page.result.objects {
                let Some(rel) = meta.location.as_ref().strip_prefix(&self.key_prefix) else {
                    continue;
                };
                if !rel.starts_with(prefix) || is_tmp(rel) {
                    continue;
                }
                match Key::new(rel) {
                    Ok(k) => keys.push(k),
                    Err(e) => {
                        tracing::debug!(error = %e, "store: skipping an object with an invalid key")
                    }
                }
            }
            match page.page_token {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[async_trait]
impl Store for S3Store {
    async fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError> {
        self.inner.head(key).await
    }

    async fn get(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<GetResult>, StoreError> {
        self.inner.get(key, range).await
    }

    async fn get_bytes(&self, key: &Key, limit: u64) -> Result<Option<Bytes>, StoreError> {
        self.inner.get_bytes(key, limit).await
    }

    async fn put(
        &self,
        key: &Key,
        payload: Payload,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError> {
        self.inner.put(key, payload, mode).await
    }

    async fn put_if_match(
        &self,
        key: &Key,
        bytes: Bytes,
        etag: &str,
    ) -> Result<SwapOutcome, StoreError> {
        self.inner.put_if_match(key, bytes, etag).await
    }

    async fn delete(&self, key: &Key) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        self.inner.list(prefix).await
    }

    fn staging_dir(&self) -> &Path {
        self.inner.staging.path()
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.inner.url, self.inner.endpoint)
    }
}

/// A streaming read's body: re-chunked to at most [`READ_CHUNK`] bytes, and failing when the
/// server sends nothing for `stall` while the reader is waiting (time the reader spends
/// elsewhere does not count, so slow clients are not cut off).
struct BodyStream {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    /// The rest of a chunk larger than `READ_CHUNK`.
    pending: Bytes,
    stall: Duration,
    /// Started when the reader first finds no data; cleared when data arrives.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    location: String,
    done: bool,
}

impl BodyStream {
    fn take_pending(&mut self) -> Bytes {
        let n = self.pending.len().min(READ_CHUNK);
        self.pending.split_to(n)
    }
}

impl Stream for BodyStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if !this.pending.is_empty() {
            return Poll::Ready(Some(Ok(this.take_pending())));
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.timer = None;
                    if chunk.is_empty() {
                        continue;
                    }
                    this.pending = chunk;
                    return Poll::Ready(Some(Ok(this.take_pending())));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    let kind = match classify(&e) {
                        Failure::Unreachable => io::ErrorKind::ConnectionAborted,
                        _ => io::ErrorKind::Other,
                    };
                    return Poll::Ready(Some(Err(io::Error::new(
                        kind,
                        format!("reading {}: {}", this.location, one_line(&e)),
                    ))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    let stall = this.stall;
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "reading {}: no data from the server for {stall:?}",
                                this.location
                            ),
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Reads until `limit` bytes or the end of the file, into one buffer of exactly that size.
async fn read_up_to(file: &mut tokio::fs::File, limit: usize) -> io::Result<Bytes> {
    let mut buf = vec![0u8; limit];
    let mut filled = 0;
    while filled < limit {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

fn check_size(key: &str, src: &Path, want: u64, got: u64) -> Result<(), StoreError> {
    if want == got {
        return Ok(());
    }
    Err(StoreError::InvalidPayload {
        key: key.to_owned(),
        reason: format!(
            "{} changed size while being stored ({want} bytes, then {got})",
            src.display()
        ),
    })
}

/// Sorts an `object_store` error into what the store does with it. Status codes the crate does
/// not map to a variant of its own are only in the error text (its retry error type is private),
/// so they are read from there.
fn classify(e: &object_store::Error) -> Failure {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Failure::NotFound,
        E::AlreadyExists { .. } | E::Precondition { .. } => Failure::Exists,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => Failure::Denied,
        _ => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
            while let Some(err) = source {
                if let Some(http) = err.downcast_ref::<HttpError>() {
                    return match http.kind() {
                        HttpErrorKind::Connect
                        | HttpErrorKind::Request
                        | HttpErrorKind::Timeout
                        | HttpErrorKind::Interrupted
                        | HttpErrorKind::Unknown => Failure::Unreachable,
                        _ => Failure::Other,
                    };
                }
                source = err.source();
            }
            match status_in_text(&e.to_string()) {
                Some(404) => Failure::NotFound,
                Some(401 | 403) => Failure::Denied,
                Some(s) if s >= 500 || s == 429 || s == 408 => Failure::Unreachable,
                _ => Failure::Other,
            }
        }
    }
}

/// The HTTP status in an `object_store` error message ("... status code: 503 Service ...").
fn status_in_text(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// An error's message on one line (S3 error bodies are XML with newlines).
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn meta_of(meta: &ObjectMeta) -> Meta {
    let modified = SystemTime::from(meta.last_modified);
    let etag = match meta.e_tag.as_deref() {
        Some(t) => quote_etag(t),
        None => {
            let nanos = modified
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("\"{:x}-{nanos:x}\"", meta.size)
        }
    };
    Meta {
        size: meta.size,
        etag,
        modified,
    }
}

/// S3 sends ETags quoted; some compatible stores do not, or mark them weak.
fn quote_etag(tag: &str) -> String {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let bare = tag.trim_matches('"');
    format!("\"{bare}\"")
}

/// The refresher of an upload claim ([`Inner::claim_heartbeat`]); stops when dropped.
struct ClaimHeartbeat {
    task: tokio::task::JoinHandle<()>,
}

impl ClaimHeartbeat {
    /// Stops refreshing and waits until no refresh is in flight.
    async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ClaimHeartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the Unix epoch by this machine's clock.
/// The body of a claim object: when it was taken or last refreshed (Unix seconds, by the
/// holder's clock) and the holder's instance id.
fn claim_body(instance: u64) -> Bytes {
    Bytes::from(format!("{} {instance:016x}\n", unix_now()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Whether `key` (or a list prefix) is in the backend's temporary area.
fn is_tmp(key: &str) -> bool {
    key == TMP_DIR
        || key
            .strip_prefix(TMP_DIR)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// rustls is built without a default crypto provider; use ring's unless the process has chosen
/// one already (the S3 transport names ring itself; this is for any other rustls user).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A random number for naming temporary objects (the std hasher is randomly seeded).
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (ETag as sent, as the store reports it).
    const ETAGS: &[(&str, &str)] = &[
        ("\"abc\"", "\"abc\""),
        ("abc", "\"abc\""),
        ("W/\"abc\"", "\"abc\""),
        (
            "\"d41d8cd98f00b204e9800998ecf8427e-3\"",
            "\"d41d8cd98f00b204e9800998ecf8427e-3\"",
        ),
    ];

    #[test]
    fn etags_are_reported_quoted_and_strong() {
        for (sent, want) in ETAGS {
            assert_eq!(quote_etag(sent), *want, "{sent}");
        }
    }

    /// (error text, status found).
    const STATUS_TEXTS: &[(&str, Option<u16>)] = &[
        (
            "Error performing GET http://h/b/k in 3ms - Server returned non-2xx status code: 503 Service Unavailable: <Error/>",
            Some(503),
        ),
        (
            "Server returned non-2xx status code: 400 Bad Request: ",
            Some(400),
        ),
        ("HTTP error: connection refused", None),
        ("status code: 5", None),
    ];

    #[test]
    fn status_is_read_from_the_error_text() {
        for (text, want) in STATUS_TEXTS {
            assert_eq!(status_in_text(text), *want, "{text}");
        }
    }

    #[test]
    fn tmp_area_is_not_a_key() {
        for (k, tmp) in [
            (".modferry/tmp", true),
            (".modferry/tmp/x", true),
            (".modferry/tmpx", false),
            (".modferry/meta/x", false),
        ] {
            assert_eq!(is_tmp(k), tmp, "{k}");
        }
    }

    #[test]
    fn from_lookup_reads_the_standard_aws_variables() {
        let env = |name: &str| {
            match name {
                "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:8333"),
                "AWS_REGION" => Some("eu-west-3"),
                "AWS_ACCESS_KEY_ID" => Some("id"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_SESSION_TOKEN" => Some(""),
                _ => None,
            }
            .map(str::to_owned)
        };
        let cfg = S3Config::from_lookup("s3://modferry/mirror/", env).unwrap();
        assert_eq!(cfg.bucket, "modferry");
        assert_eq!(cfg.prefix, "mirror");
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert!(cfg.allow_http);
        assert_eq!(cfg.region, "eu-west-3");
        assert_eq!(cfg.access_key_id.as_deref(), Some("id"));
        assert_eq!(cfg.secret_access_key.as_deref(), Some("secret"));
        assert_eq!(cfg.session_token, None, "an empty variable is unset");
        assert!(!format!("{cfg:?}").contains("secret\""), "{cfg:?}");
    }

    #[test]
    fn from_lookup_prefers_the_s3_specific_endpoint_and_defaults_the_region() {
        let env = |name: &str| {
            match name {
                "AWS_ENDPOINT_URL_S3" => Some("https://s3.example"),
                "AWS_ENDPOINT_URL" => Some("http://other"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let cfg = S3Config::from_lookup("s3://modferry", env).unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("https://s3.example"));
        assert!(!cfg.allow_http);
        assert_eq!(cfg.region, DEFAULT_REGION);
        assert_eq!(cfg.access_key_id, None);
        assert!(S3Config::from_lookup("/srv/dir", env).is_err());
    }

    fn file_settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://file:8333".into()),
            region: Some("file-region".into()),
            access_key_id: Some("file-id".into()),
            secret_access_key: Some("file-secret".into()),
            session_token: Some("file-token".into()),
            allow_http: Some(true),
            part_size: Some(16 << 20),
            upload_concurrency: Some(4),
            request_timeout: Some(Duration::from_secs(7)),
        }
    }

    /// (environment, want endpoint, region, key id, secret, token).
    type Layered = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    const ENV_OVER_FILE: &[Layered] = &[
        // Nothing in the environment: the file's settings.
        (
            &[],
            "http://file:8333",
            "file-region",
            Some("file-id"),
            Some("file-secret"),
            Some("file-token"),
        ),
        // Empty variables count as unset.
        (
            &[("AWS_ENDPOINT_URL", ""), ("AWS_ACCESS_KEY_ID", "")],
            "http://file:8333",
            "file-region",
            Some("file-id"),
            Some("file-secret"),
            Some("file-token"),
        ),
        // Each variable that is set wins over its key.
        (
            &[
                ("AWS_ENDPOINT_URL", "http://env:1"),
                ("AWS_DEFAULT_REGION", "env-region"),
            ],
            "http://env:1",
            "env-region",
            Some("file-id"),
            Some("file-secret"),
            Some("file-token"),
        ),
        // Credentials are one unit: an environment key pair drops the file's token too.
        (
            &[
                ("AWS_ACCESS_KEY_ID", "env-id"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ],
            "http://file:8333",
            "file-region",
            Some("env-id"),
            Some("env-secret"),
            None,
        ),
        // A key id alone in the environment still replaces all three (and open then refuses
        // the half pair instead of signing with a mixed one).
        (
            &[("AWS_ACCESS_KEY_ID", "env-id")],
            "http://file:8333",
            "file-region",
            Some("env-id"),
            None,
            None,
        ),
        // A session token alone is not credentials: the file's unit stays.
        (
            &[("AWS_SESSION_TOKEN", "env-token")],
            "http://file:8333",
            "file-region",
            Some("file-id"),
            Some("file-secret"),
            Some("file-token"),
        ),
    ];

    #[test]
    fn settings_over_lets_each_set_aws_variable_win_with_credentials_as_one_unit() {
        for (env, endpoint, region, id, secret, token) in ENV_OVER_FILE {
            let vars = *env;
            let from_env = S3Settings::from_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            });
            let got = from_env.over(&file_settings());
            assert_eq!(got.endpoint.as_deref(), Some(*endpoint), "{env:?}");
            assert_eq!(got.region.as_deref(), Some(*region), "{env:?}");
            assert_eq!(got.access_key_id.as_deref(), *id, "{env:?}");
            assert_eq!(got.secret_access_key.as_deref(), *secret, "{env:?}");
            assert_eq!(got.session_token.as_deref(), *token, "{env:?}");
            // No variable sets these.
            assert_eq!(got.allow_http, Some(true));
            assert_eq!(got.part_size, Some(16 << 20));
            assert_eq!(got.upload_concurrency, Some(4));
            assert_eq!(got.request_timeout, Some(Duration::from_secs(7)));
            // Idempotent: layering the environment again changes nothing.
            assert_eq!(from_env.over(&got), got, "{env:?}");
        }
    }

    /// (endpoint, allow_http setting, want allow_http).
    const ALLOW_HTTP: &[(Option<&str>, Option<bool>, bool)] = &[
        (None, None, false),
        (Some("http://127.0.0.1:8333"), None, true),
        (Some("https://s3.example"), None, false),
        (Some("http://127.0.0.1:8333"), Some(false), false),
        (Some("https://s3.example"), Some(true), true),
        (None, Some(true), true),
    ];

    #[test]
    fn from_settings_allows_http_only_for_an_http_endpoint_unless_set() {
        for (endpoint, allow, want) in ALLOW_HTTP {
            let settings = S3Settings {
                endpoint: endpoint.map(str::to_owned),
                allow_http: *allow,
                ..S3Settings::default()
            };
            let cfg = S3Config::from_settings("s3://modferry", &settings).unwrap();
            assert_eq!(cfg.allow_http, *want, "{endpoint:?} {allow:?}");
        }
    }

    #[test]
    fn from_settings_applies_tunables_over_the_defaults() {
        let cfg = S3Config::from_settings("s3://modferry/p", &file_settings()).unwrap();
        assert_eq!(cfg.part_size, 16 << 20);
        assert_eq!(cfg.upload_concurrency, 4);
        assert_eq!(cfg.request_timeout, Duration::from_secs(7));
        assert_eq!(cfg.region, "file-region");
        let cfg = S3Config::from_settings("s3://modferry", &S3Settings::default()).unwrap();
        assert_eq!(cfg.part_size, DEFAULT_PART_SIZE);
        assert_eq!(cfg.region, DEFAULT_REGION);
        assert_eq!(cfg.endpoint, None);
    }

    #[test]
    fn settings_debug_redacts_the_secret_and_the_token() {
        let text = format!("{:?}", file_settings());
        assert!(!text.contains("file-secret"), "{text}");
        assert!(!text.contains("file-token"), "{text}");
        assert!(text.contains("file-id"), "{text}");
    }

    #[tokio::test]
    async fn open_refuses_an_http_endpoint_when_allow_http_is_false() {
        let mut cfg = S3Config::new("modferry", "").with_endpoint("http://127.0.0.1:9");
        cfg.allow_http = false;
        let err = S3Store::open(cfg).await.unwrap_err();
        assert!(err.to_string().contains("allow_http"), "{err}");
    }

    #[tokio::test]
    async fn open_rejects_a_part_size_below_the_s3_minimum() {
        let mut cfg = S3Config::new("modferry", "").with_endpoint("http://127.0.0.1:9");
        cfg.part_size = 1024;
        let err = S3Store::open(cfg).await.unwrap_err();
        assert!(err.to_string().contains("part size"), "{err}");
    }

    #[tokio::test]
    async fn open_of_an_unreachable_endpoint_is_unavailable_naming_it() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let cfg = S3Config::new("modferry", "")
            .with_endpoint("http://127.0.0.1:9")
            .with_credentials("id", "secret");
        let started = std::time::Instant::now();
        match S3Store::open(cfg).await {
            Err(StoreError::Unavailable { reason }) => {
                assert!(reason.contains("127.0.0.1:9"), "{reason}");
                assert!(reason.contains("modferry"), "{reason}");
            }
            other => panic!("want Unavailable, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
