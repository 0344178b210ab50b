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
use modferry_store::{Key, layout};

use crate::error::ApiError;
use crate::http::{etag_matches, parse_range, percent_decode};
use crate::mirror::Mirror;

/// `Cache-Control` for files of canonical versions: they never change.
const IMMUTABLE: &str = "public, max-age=604800, immutable";
/// `Cache-Control` for answers that change when new versions appear.
const SHORT: &str = "public, max-age=60";

/// Builds the router over a mirror.
pub fn router(mirror: Arc<Mirror>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
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
            mirror.ensure_info_mod(&module, &version).await?;
            let key = key(layout::info(&module, &version))?;
            serve_file(mirror, headers, &key, "application/json", false).await
        }
        Endpoint::Mod { module, version } => {
            require_canonical(&module, &version)?;
            mirror.ensure_info_mod(&module, &version).await?;
            let key = key(layout::go_mod(&module, &version))?;
            serve_file(mirror, headers, &key, "text/plain; charset=utf-8", false).await
        }
        Endpoint::Zip { module, version } => {
            require_canonical(&module, &version)?;
            mirror.ensure_zip(&module, &version).await?;
            let key = key(layout::zip(&module, &version))?;
            serve_file(mirror, headers, &key, "application/zip", true).await
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

fn key(k: Result<Key, modferry_store::StoreError>) -> Result<Key, ApiError> {
    k.map_err(|e| ApiError::BadRequest(e.to_string()))
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
    let mut resp = if if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn content_etag(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    format!("\"{}\"", hex::encode(&d[..12]))
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag))
}

/// Streams a stored immutable file, honouring `If-None-Match` and (for zips) `Range`.
async fn serve_file(
    mirror: &Arc<Mirror>,
    headers: &HeaderMap,
    key: &Key,
    content_type: &'static str,
    ranges: bool,
) -> Result<Response, ApiError> {
    let store = mirror.store();
    let meta = store
        .head(key)
        .await
        .map_err(|e| ApiError::from_store(&e))?
        .ok_or_else(|| ApiError::not_found(format!("{key} is not in the store")))?;
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
    let got = store
        .get(key, range.clone())
        .await
        .map_err(|e| ApiError::from_store(&e))?
        .ok_or_else(|| ApiError::not_found(format!("{key} is not in the store")))?;
    let size = got.meta.size;
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
    builder
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(got.body))
        .map_err(|e| ApiError::Store(e.to_string()))
}

/// `If-Range`: serve the range only if the validator still matches.
fn if_range_ok(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag,
    }
}
