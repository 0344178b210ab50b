//! Errors of the HTTP service and the one place that maps each to a status code.
//!
//! The go command falls through a `,`-separated GOPROXY list only on 404 and 410
//! (`cmd/go/internal/modfetch/proxy.go`, `TryProxies`), and prints the response body on a
//! `server response:` line only when it is `text/plain`. So every error is a one-line
//! text/plain reason, and "not found" in all its forms (unknown module or version, offline
//! miss, not a module) is a 404 or 410. The match in [`ApiError::status`] has no `_ =>` arm:
//! a new variant forces a decision.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use modferry_sources::SourceError;
use modferry_store::StoreError;

/// Everything a request can fail with, as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (bad path, bad escaping, bad version syntax).
    #[error("{0}")]
    BadRequest(String),
    /// The module, version or file does not exist here or upstream (404, or 410 relayed).
    #[error("{reason}")]
    NotFound { gone: bool, reason: String },
    /// The upstream answered with something unusable: 5xx, truncated or invalid content.
    #[error("{0}")]
    BadUpstream(String),
    /// The upstream did not answer in time.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// The requested byte range lies outside the file.
    #[error("requested range not satisfiable (file has {size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    /// The store cannot be reached right now (object store down); clients may retry.
    #[error("{0}")]
    StoreUnavailable(String),
    /// The store failed in a way that is not the client's fault (disk error).
    #[error("{0}")]
    Store(String),
}

impl ApiError {
    /// A 404 with a reason.
    pub fn not_found(reason: impl Into<String>) -> Self {
        ApiError::NotFound {
            gone: false,
            reason: reason.into(),
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound { gone: false, .. } => StatusCode::NOT_FOUND,
            ApiError::NotFound { gone: true, .. } => StatusCode::GONE,
            ApiError::BadUpstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps an upstream failure for `what` (e.g. `example.com/m@v1.0.0`) to a client error.
    pub fn from_source(what: &str, err: &SourceError) -> Self {
        match err {
            SourceError::NotFound { status, .. } => ApiError::NotFound {
                gone: *status == 410,
                reason: format!("{what}: not found upstream: {err}"),
            },
            // Built from version control: the reason is already the go command's one-line
            // "module@version: invalid version: ..." (proxy.golang.org answers "not found: ...").
            SourceError::Module { .. } => ApiError::not_found(format!("not found: {err}")),
            SourceError::Disabled { reason } => {
                ApiError::not_found(format!("{what}: not in the mirror and {reason}"))
            }
            SourceError::Timeout { .. } => ApiError::UpstreamTimeout(format!("{what}: {err}")),
            _ => ApiError::BadUpstream(format!("{what}: {err}")),
        }
    }

    /// Maps a store failure.
    pub fn from_store(err: &StoreError) -> Self {
        match err {
            StoreError::Unavailable { .. } => ApiError::StoreUnavailable(format!("{err}")),
            StoreError::RangeNotSatisfiable { size, .. } => {
                ApiError::RangeNotSatisfiable { size: *size }
            }
            StoreError::InvalidKey { .. } | StoreError::InvalidModule { .. } => {
                ApiError::BadRequest(format!("{err}"))
            }
            StoreError::Io { .. }
            | StoreError::TooLarge { .. }
            | StoreError::InvalidPayload { .. } => ApiError::Store(format!("storage error: {err}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // One line: the go command prints the body after "server response:".
        let mut line = self.to_string().replace(['\n', '\r'], " ");
        line.push('\n');
        let mut resp = (status, line).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let cache = match &self {
            // Not-found answers are cached briefly so `,` lists fall through fast but a
            // newly published version shows up soon.
            ApiError::NotFound { .. } => "public, max-age=30",
            _ => "no-store",
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let ApiError::StoreUnavailable(_) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let ApiError::RangeNotSatisfiable { size } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            headers.insert(header::CONTENT_RANGE, v);
        }
        resp
    }
}
