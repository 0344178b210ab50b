//! HTTP routes: the GOPROXY protocol (`go help goproxy`) over the [`Mirror`], plus `/healthz`.
//!
//! Handlers are thin: parse the path once into an [`Endpoint`], ask the mirror, and shape the
//! response (`Content-Type`, `Cache-Control`, `ETag`, `Range`). `HEAD` is answered like `GET`
//! without a body.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use modferry_formats::module;
use modferry_formats::proxy::{Endpoint, parse_endpoint};
use modferry_store::{FileKind, GetResult, Key, Meta, layout};

use crate::error::ApiError;
use crate::http::{content_etag, etag_matches, parse_range, percent_decode};
use crate::mirror::{Mirror, store_key};

/// `Cache-Control` for files of canonical versions: they never change.
const IMMUTABLE: &str = "public, max-age=604800, immutable";
/// `Cache-Control` for answers that change when new versions appear.
const SHORT: &str = "public, max-age=60";

/// Builds the router over a mirror.
pub fn router(mirror: Arc<Mirror>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // A first path element starting with a dot is never a module path.
        .route("/.well-known/modferry", get(describe))
        .fallback(proxy)
        .with_state(mirror)
        .layer(axum::middleware::from_fn(log_request))
}

/// One structured log line per request: method, path, status, length, duration.
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let len = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    tracing::info!(
        target: "modferry::access",
        %method,
        path,
        status = resp.status().as_u16(),
        bytes = len,
        ms = start.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
}

/// Counters in the Prometheus text format (docs/scale-out.md).
async fn metrics(State(mirror): State<Arc<Mirror>>) -> Response {
    let body = format!(
        "# HELP modferry_immutable_conflicts_total Create-only writes that found different content already stored.\n\
         # TYPE modferry_immutable_conflicts_total counter\n\
         modferry_immutable_conflicts_total {}\n",
        mirror.immutable_conflicts()
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The mirror's self-description for `modferry doctor` (docs/operations.md).
async fn describe(State(mirror): State<Arc<Mirror>>) -> Response {
    let d = mirror.description();
    let body = serde_json::json!({
        "version": d.version,
        "offline": mirror.is_offline(),
        "private": d.private,
        "sumdbs": mirror.sumdbs().names().collect::<Vec<_>>(),
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn proxy(State(mirror): State<Arc<Mirror>>, req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    let resp = match handle(&mirror, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    };
    if head {
        // Same headers (Content-Length included), no body; the stream is never read.
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    resp
}

async fn handle(mirror: &Arc<Mirror>, req: Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut resp = (
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are supported\n",
        )
            .into_response();
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(resp);
    }
    let path = percent_decode(req.uri().path())?;
    let endpoint = parse_endpoint(&path).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let headers = req.headers();
    match endpoint {
        Endpoint::List { module } => {
            let body = mirror.list(&module).await?;
            Ok(small(
                headers,
                "text/plain; charset=utf-8",
                SHORT,
                Bytes::from(body),
            ))
        }
        Endpoint::Latest { module } => {
            let body = mirror.latest(&module).await?;
            Ok(small(headers, "application/json", SHORT, body))
        }
        Endpoint::Info { module, version } => {
            if !is_canonical(&version) {
                let body = mirror.info_query(&module, &version).await?;
                return Ok(small(headers, "application/json", SHORT, body));
            }
            let (body, etag) = mirror.small_file(&module, &version, FileKind::Info).await?;
            Ok(small_tagged(
                headers,
                "application/json",
                IMMUTABLE,
                body,
                &etag,
            ))
        }
        Endpoint::Mod { module, version } => {
            require_canonical(&module, &version)?;
            let (body, etag) = mirror.small_file(&module, &version, FileKind::Mod).await?;
            Ok(small_tagged(
                headers,
                "text/plain; charset=utf-8",
                IMMUTABLE,
                body,
                &etag,
            ))
        }
        Endpoint::Zip { module, version } => {
            require_canonical(&module, &version)?;
            let key = store_key(layout::zip(&module, &version))?;
            let head = method == Method::HEAD;
            if !head && !is_conditional(headers, true) {
                // The usual download: ask whether the zip is ready and start reading it at
                // once, one round trip to the store instead of two. The read is dropped
                // unread unless the zip is ready.
                let (ready, got) = futures::join!(
                    mirror.zip_ready(&module, &version),
                    mirror.store().get(&key, None)
                );
                if ready? {
                    let got = got
                        .map_err(|e| ApiError::from_store(&e))?
                        .ok_or_else(|| not_stored(&key))?;
                    return whole_file(got, "application/zip", true);
                }
            }
            mirror.ensure_zip(&module, &version).await?;
            serve_file(mirror, headers, &key, "application/zip", true, head).await
        }
        Endpoint::SumdbSupported { name } => {
            // cmd/go/internal/modfetch/sumdb.go: a 200 here makes go use this proxy for `name`.
            sumdb_for(mirror, &name)?;
            Ok(small(
                headers,
                "text/plain; charset=utf-8",
                SHORT,
                Bytes::new(),
            ))
        }
        Endpoint::Sumdb { name, path } => sumdb_for(mirror, &name)?.handle(&path).await,
    }
}

fn sumdb_for<'a>(
    mirror: &'a Arc<Mirror>,
    name: &str,
) -> Result<&'a Arc<dyn crate::checks::SumdbService>, ApiError> {
    mirror.sumdbs().get(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "this mirror does not serve the checksum database {name}; go will contact it directly"
        ))
    })
}

/// Canonical as the go command means it: `module.CanonicalVersion` keeps `+incompatible`.
fn is_canonical(version: &str) -> bool {
    module::canonical_version(version).as_deref() == Some(version)
}

/// `.mod` and `.zip` exist only for canonical versions: the go command resolves queries
/// through `.info` first.
fn require_canonical(module: &str, version: &str) -> Result<(), ApiError> {
    if is_canonical(version) {
        return Ok(());
    }
    let hint = module::canonical_version(version)
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    Err(ApiError::not_found(format!(
        "{module}@{version}: not a canonical version{hint}; .mod and .zip are served only for canonical versions"
    )))
}

/// A small in-memory answer with a content-derived ETag.
fn small(
    headers: &HeaderMap,
    content_type: &'static str,
    cache: &'static str,
    body: Bytes,
) -> Response {
    let etag = content_etag(&body);
    small_tagged(headers, content_type, cache, body, &etag)
}

/// A small in-memory answer whose ETag is already known.
fn small_tagged(
    headers: &HeaderMap,
    content_type: &'static str,
    cache: &'static str,
    body: Bytes,
    etag: &str,
) -> Response {
    let mut resp = if if_none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag))
}

/// Whether a request's answer depends on the file's metadata before its body is read: an
/// `If-None-Match`, or a `Range` where ranges are served.
fn is_conditional(headers: &HeaderMap, ranges: bool) -> bool {
    headers.contains_key(header::IF_NONE_MATCH) || (ranges && headers.contains_key(header::RANGE))
}

fn not_stored(key: &Key) -> ApiError {
    ApiError::not_found(format!("{key} is not in the store"))
}

/// Streams a stored immutable file, honouring `If-None-Match` and (for zips) `Range`.
///
/// A plain `GET` is one store request: the metadata comes with the body. A conditional or
/// ranged `GET` reads the metadata first (it decides the status and the range), and a `HEAD`
/// reads only the metadata.
async fn serve_file(
    mirror: &Arc<Mirror>,
    headers: &HeaderMap,
    key: &Key,
    content_type: &'static str,
    ranges: bool,
    head: bool,
) -> Result<Response, ApiError> {
    let store = mirror.store();
    if !head && !is_conditional(headers, ranges) {
        let got = store
            .get(key, None)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| not_stored(key))?;
        return whole_file(got, content_type, ranges);
    }
    let meta = store
        .head(key)
        .await
        .map_err(|e| ApiError::from_store(&e))?
        .ok_or_else(|| not_stored(key))?;
    let (mut builder, etag) = file_headers(&meta, content_type, ranges);
    if if_none_match(headers, &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(|e| ApiError::Store(e.to_string()));
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if ranges && if_range_ok(headers, &etag) => parse_range(r, meta.size)?,
        _ => None,
    };
    let size = meta.size;
    let (status, len) = match &range {
        Some(r) => {
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, size),
            );
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    let body = if head {
        Body::empty()
    } else {
        let got = store
            .get(key, range)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| not_stored(key))?;
        Body::from_stream(got.body)
    };
    builder
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .body(body)
        .map_err(|e| ApiError::Store(e.to_string()))
}

/// A `200` with the whole file, from a read of it (which carries its metadata).
fn whole_file(
    got: GetResult,
    content_type: &'static str,
    ranges: bool,
) -> Result<Response, ApiError> {
    let (builder, _) = file_headers(&got.meta, content_type, ranges);
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, got.meta.size)
        .body(Body::from_stream(got.body))
        .map_err(|e| ApiError::Store(e.to_string()))
}

/// The headers every answer about a stored file carries, and its quoted `ETag`.
fn file_headers(
    meta: &Meta,
    content_type: &'static str,
    ranges: bool,
) -> (axum::http::response::Builder, String) {
    let etag = format!("\"{}\"", meta.etag.trim_matches('"'));
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, IMMUTABLE)
        .header(header::ETAG, &etag)
        .header(
            header::LAST_MODIFIED,
            httpdate::fmt_http_date(meta.modified),
        );
    if ranges {
        builder = builder.header(header::ACCEPT_RANGES, "bytes");
    }
    (builder, etag)
}

/// `If-Range`: serve the range only if the validator still matches.
fn if_range_ok(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag,
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;
    use std::path::Path;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use http_body_util::BodyExt;
    use modferry_store::{
        DynStore, FsStore, Payload, PutMode, PutOutcome, Store, StoreError, SwapOutcome,
    };
    use tower::ServiceExt;

    use super::*;
    use crate::mirror::MirrorConfig;

    /// A store that records each metadata read and body read it is asked for.
    struct Counting {
        inner: FsStore,
        calls: Mutex<Vec<String>>,
    }

    impl Counting {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    #[async_trait]
    impl Store for Counting {
        async fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError> {
            self.calls.lock().unwrap().push(format!("head {key}"));
            self.inner.head(key).await
        }
        async fn get(
            &self,
            key: &Key,
            range: Option<Range<u64>>,
        ) -> Result<Option<GetResult>, StoreError> {
            self.calls.lock().unwrap().push(format!("get {key}"));
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
            self.inner.staging_dir()
        }
        fn describe(&self) -> String {
            self.inner.describe()
        }
    }

    const ZIP: &str = "/example.com/m/@v/v1.0.0.zip";
    const ZIP_KEY: &str = "example.com/m/@v/v1.0.0.zip";
    const HASH_KEY: &str = "example.com/m/@v/v1.0.0.ziphash";

    /// An offline mirror over a store holding a ready zip (its `.ziphash` stored).
    async fn ready_zip() -> (tempfile::TempDir, Arc<Counting>, Router) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Counting {
            inner: FsStore::open(dir.path()).unwrap(),
            calls: Mutex::default(),
        });
        for (key, bytes) in [(ZIP_KEY, &b"zip bytes"[..]), (HASH_KEY, b"h1:x")] {
            let key = Key::new(key).unwrap();
            let body = Payload::Bytes(Bytes::copy_from_slice(bytes));
            store.put(&key, body, PutMode::Create).await.unwrap();
        }
        let cfg = MirrorConfig {
            offline: true,
            ..MirrorConfig::default()
        };
        let app = router(Mirror::new(Arc::clone(&store) as DynStore, None, cfg));
        (dir, store, app)
    }

    async fn send(app: &Router, method: &str, headers: &[(&str, &str)]) -> (Response, Bytes) {
        let mut req = Request::builder().method(method).uri(ZIP);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    #[tokio::test]
    async fn plain_zip_get_reads_the_ziphash_metadata_and_the_zip_body_only() {
        let (_dir, store, app) = ready_zip().await;
        let (resp, body) = send(&app, "GET", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(body, &b"zip bytes"[..]);
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], "9");
        assert!(resp.headers().contains_key(header::ETAG));
        assert_eq!(resp.headers()[header::CACHE_CONTROL], IMMUTABLE);
        let mut calls = store.take();
        calls.sort();
        assert_eq!(
            calls,
            [format!("get {ZIP_KEY}"), format!("head {HASH_KEY}")]
        );
    }

    #[tokio::test]
    async fn zip_head_and_conditional_get_read_metadata_and_only_what_they_answer() {
        let (_dir, store, app) = ready_zip().await;
        let (resp, body) = send(&app, "HEAD", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], "9");
        assert!(body.is_empty());
        let etag = resp.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(
            store.take(),
            [format!("head {HASH_KEY}"), format!("head {ZIP_KEY}")]
        );

        let (resp, _) = send(&app, "GET", &[("if-none-match", &etag)]).await;
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            store.take(),
            [format!("head {HASH_KEY}"), format!("head {ZIP_KEY}")]
        );

        let (resp, body) = send(&app, "GET", &[("range", "bytes=-3")]).await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes 6-8/9");
        assert_eq!(body, &b"tes"[..]);
        assert_eq!(
            store.take(),
            [
                format!("head {HASH_KEY}"),
                format!("head {ZIP_KEY}"),
                format!("get {ZIP_KEY}")
            ]
        );
    }

    #[tokio::test]
    async fn zip_not_ready_is_verified_before_it_is_served() {
        let (_dir, store, app) = ready_zip().await;
        let hash = Key::new(HASH_KEY).unwrap();
        store.delete(&hash).await.unwrap();
        // "zip bytes" is not a zip: the early read is dropped, and the object is refused.
        let (resp, body) = send(&app, "GET", &[]).await;
        assert_ne!(resp.status(), StatusCode::OK);
        assert_ne!(body, &b"zip bytes"[..]);
    }
}
