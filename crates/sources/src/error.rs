//! Errors of the module sources: what a fetch from an upstream can end in, and what a source
//! configuration can be rejected for.
//!
//! The split between "not found" and every other failure is the go command's: in
//! `cmd/go/internal/web/api.go` an HTTP error counts as `fs.ErrNotExist` exactly when the status is
//! 404 or 410, and `TryProxies` (`cmd/go/internal/modfetch/proxy.go`) lets a `,`-separated GOPROXY
//! list move on to the next entry only for such errors. `GOPROXY=off` is "not found" too there
//! (its error wraps `fs.ErrNotExist`), and so is [`SourceError::Disabled`] here.
//!
//! Every URL stored in an error is redacted: a password in the base URL shows as `xxxxx`, as Go's
//! `url.URL.Redacted` does, so errors can be logged and shown to clients.

use std::time::Duration;

/// Why a request to a module source failed.
#[derive(thiserror::Error, Debug)]
pub enum SourceError {
    /// The upstream answered 404 Not Found or 410 Gone: it does not have this module or version.
    #[error("reading {url}: {}{}", status_text(*.status), server_response(.reason))]
    NotFound {
        /// The redacted URL that was requested.
        url: String,
        /// 404 or 410.
        status: u16,
        /// The first line of the upstream's `text/plain` body; empty when it sent none (or one that
        /// was not printable UTF-8).
        reason: String,
    },
    /// A module source that builds modules itself (git, the go command's `direct`) found that
    /// the module or version does not exist or breaks the module rules: an unknown revision, a
    /// version that is invalid for this module path, a go.mod whose path does not match. Go
    /// reports these as "not found"/"invalid version" errors wrapping `fs.ErrNotExist`, and a
    /// proxy answers them with 404. The reason never names a local path or credentials.
    #[error("{}", module_message(.module, .version, .reason))]
    Module {
        /// The module path.
        module: String,
        /// The version or query asked for; empty for the version list.
        version: String,
        /// What is wrong, in the go command's words (e.g. `invalid version: unknown revision
        /// v1.2.3`).
        reason: String,
    },
    /// Lookups are switched off (`GOPROXY=off`, or the mirror runs offline).
    #[error("{reason}")]
    Disabled {
        /// What switched them off, e.g. "module lookup disabled by GOPROXY=off".
        reason: String,
    },
    /// The upstream answered with a status other than 200, 404 and 410 (5xx, 403, 204, an
    /// unfollowed 3xx, ...). The go command accepts only 200 as success.
    #[error("reading {url}: {}{}", status_text(*.status), server_response(.reason))]
    Status {
        /// The redacted URL that was requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The first line of the upstream's `text/plain` body, if any (see [`SourceError::NotFound`]).
        reason: String,
    },
    /// The upstream did not answer in time: no connection within the connect timeout, a small
    /// request not complete within its total timeout, or a zip download without a byte for the
    /// idle-read timeout.
    #[error("reading {url}: timed out after {after:?}")]
    Timeout {
        /// The redacted URL that was requested.
        url: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// No HTTP response was received: DNS, TCP, TLS or proxy failure, or the connection was closed
    /// before the response headers.
    #[error("reading {url}: {reason}")]
    Connect {
        /// The redacted URL that was requested.
        url: String,
        /// The underlying error chain, as text.
        reason: String,
    },
    /// The response body ended before the length the upstream declared in `Content-Length`.
    #[error("reading {url}: body truncated: got {got} of {expected} bytes")]
    Truncated {
        /// The redacted URL that was requested.
        url: String,
        /// The declared `Content-Length`.
        expected: u64,
        /// The bytes received before the body ended.
        got: u64,
    },
    /// The body is larger than the limit for this kind of file.
    #[error("reading {url}: response larger than the limit of {limit} bytes")]
    TooLarge {
        /// The redacted URL that was requested.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Reading the response body failed after the headers arrived (connection reset, broken
    /// chunked encoding, ...) and no `Content-Length` told how much was missing.
    #[error("reading {url}: {source}")]
    Io {
        /// The redacted URL that was requested.
        url: String,
        /// The read error.
        #[source]
        source: std::io::Error,
    },
    /// The upstream answered 200 with a body that cannot be what was asked for (an `.info` that
    /// is not a JSON object with a string `Version`, a `list` that is not UTF-8, a refused
    /// redirect).
    #[error("reading {url}: invalid response: {reason}")]
    InvalidResponse {
        /// The redacted URL that was requested.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the download to the caller's sink failed. This is a local failure: a
    /// [`ChainSource`](crate::ChainSource) never falls through on it.
    #[error("writing download of {url}: {source}")]
    Sink {
        /// The redacted URL that was being downloaded.
        url: String,
        /// The write, flush or reset error.
        #[source]
        source: std::io::Error,
    },
    /// The module path cannot be put into a proxy URL (it fails Go's `module.EscapePath`). No
    /// request was sent; a [`ChainSource`](crate::ChainSource) stops on it.
    #[error("malformed module path {path:?}: {reason}")]
    InvalidPath {
        /// The module path as given.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The version (or query) cannot be put into a proxy URL (it fails Go's
    /// `module.EscapeVersion`). No request was sent; a [`ChainSource`](crate::ChainSource) stops on it.
    #[error("{path}@{version}: invalid version: {reason}")]
    InvalidVersion {
        /// The module path.
        path: String,
        /// The version or query as given.
        version: String,
        /// Why it was rejected.
        reason: String,
    },
}

impl SourceError {
    /// Reports whether this error means "the source does not have it": an HTTP 404 or 410, or a
    /// disabled source. These are the errors a `,` in a GOPROXY list falls through on (Go:
    /// `errors.Is(err, fs.ErrNotExist)`); a service should answer them with 404/410 too, so that
    /// its own clients fall through in turn.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SourceError::NotFound { .. }
                | SourceError::Disabled { .. }
                | SourceError::Module { .. }
        )
    }

    /// Reports whether trying another source cannot help: the request itself is malformed, or the
    /// caller's sink failed. [`ChainSource`](crate::ChainSource) stops on these even after `|`.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            SourceError::Sink { .. }
                | SourceError::InvalidPath { .. }
                | SourceError::InvalidVersion { .. }
        )
    }

    /// The HTTP status the upstream answered with, when the error is an HTTP error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            SourceError::NotFound { status, .. } | SourceError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// Why a source configuration (a GOPROXY list, a proxy base URL, HTTP client settings) was rejected.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The GOPROXY list has no entries (Go: "GOPROXY list is not the empty string, but contains no
    /// entries"). The empty string is rejected too: a caller applies its default before parsing.
    #[error("GOPROXY list {list:?} contains no entries")]
    EmptyList {
        /// The list as given.
        list: String,
    },
    /// The proxy URL has no scheme (a single word like `myproxy`, or an absolute file path).
    #[error("invalid proxy URL missing scheme: {url}")]
    MissingScheme {
        /// The URL (redacted).
        url: String,
    },
    /// The proxy URL has a scheme other than http, https or file.
    #[error("invalid proxy URL scheme (must be https, http, file): {url}")]
    UnsupportedScheme {
        /// The URL (redacted).
        url: String,
    },
    /// A `file://` proxy: the go command accepts them, this crate does not read them (yet).
    #[error("file:// proxy URLs are not supported: {url}")]
    FileProxyUnsupported {
        /// The URL (redacted).
        url: String,
    },
    /// The proxy URL does not parse.
    #[error("invalid proxy URL {url}: {reason}")]
    InvalidUrl {
        /// The URL (redacted where possible).
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The GOPROXY list contains `direct`, but no direct (version control) source was supplied.
    #[error("GOPROXY list contains \"direct\", but fetching from version control is not available")]
    DirectUnavailable,
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("building the HTTP client: {reason}")]
    HttpClient {
        /// The underlying error, as text.
        reason: String,
    },
}

fn module_message(module: &str, version: &str, reason: &str) -> String {
    if version.is_empty() {
        format!("{module}: {reason}")
    } else {
        format!("{module}@{version}: {reason}")
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(text) => format!("{status} {text}"),
        None => status.to_string(),
    }
}

fn server_response(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": server response: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_404_410_and_disabled_like_go_err_not_exist() {
        let nf = |status| SourceError::NotFound {
            url: "u".into(),
            status,
            reason: String::new(),
        };
        assert!(nf(404).is_not_found());
        assert!(nf(410).is_not_found());
        assert!(
            SourceError::Disabled {
                reason: "off".into()
            }
            .is_not_found()
        );
        let st = SourceError::Status {
            url: "u".into(),
            status: 500,
            reason: String::new(),
        };
        assert!(!st.is_not_found());
        assert_eq!(st.status(), Some(500));
    }

    #[test]
    fn http_error_message_names_url_status_and_server_response() {
        let e = SourceError::NotFound {
            url: "https://p/m/@v/list".into(),
            status: 404,
            reason: "not found: no such module".into(),
        };
        assert_eq!(
            e.to_string(),
            "reading https://p/m/@v/list: 404 Not Found: server response: not found: no such module"
        );
        let e = SourceError::Status {
            url: "https://p/m/@v/list".into(),
            status: 503,
            reason: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "reading https://p/m/@v/list: 503 Service Unavailable"
        );
    }
}
