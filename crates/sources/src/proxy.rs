//! A GOPROXY protocol client: [`ProxySource`] fetches `list`, `@latest`, `.info`, `.mod` and
//! `.zip` from one upstream module proxy.
//!
//! Go rule: `proxyRepo` in `cmd/go/internal/modfetch/proxy.go` (`Versions`, `Latest`, `Stat`,
//! `GoMod`, `Zip`, `getBody`) and the HTTP client in `cmd/go/internal/web` (`http.go`, `api.go`).
//! Restated:
//!
//! - Request URLs: the module path is case-escaped (`module.EscapePath`), the version too
//!   (`module.EscapeVersion`), and both are put into the base URL's path exactly as the go command
//!   does it (see `proxy_url.rs`), so upstreams see the bytes `go` would send.
//! - Only status 200 is success. 404 and 410 mean "not found" ([`SourceError::NotFound`]), every
//!   other status is an error ([`SourceError::Status`]). For both, when the body is `text/plain`
//!   (charset absent, `utf-8` or `us-ascii`) its first line is kept as the reason, if it is
//!   printable UTF-8, as Go shows a `server response:` only for such bodies.
//! - Redirects are followed, at most 10, and never from `https` to anything else.
//! - `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (and lower-case forms) are honoured,
//!   except for `localhost` and loopback addresses, which are always reached directly (Go's
//!   `http.ProxyFromEnvironment` rule).
//! - TLS is rustls with the webpki root certificates.
//!
//! Limits and timeouts (Go has none but the zip size; a mirror serving many clients needs them):
//!
//! - `.info` and `@latest` bodies: at most [`MAX_INFO_SIZE`] (1 MiB); `@v/list`: at most
//!   [`MAX_LIST_SIZE`] (4 MiB, about 100 000 versions); `.mod`: at most [`MAX_GO_MOD_SIZE`]
//!   (16 MiB, x/mod `zip.MaxGoMod`); `.zip`: the caller's limit (x/mod `zip.MaxZipFile` is
//!   500 MiB). A `Content-Length` above the limit fails before the body is read; a body that
//!   grows past it fails as soon as it does. Zips are streamed to the caller's sink chunk by
//!   chunk, never held in memory.
//! - A body shorter than its `Content-Length`, or a connection that breaks mid-body, is an error
//!   ([`SourceError::Truncated`], [`SourceError::Io`]), never a short success.
//! - [`HttpConfig::connect_timeout`] bounds connecting. Small requests (list, info, latest, mod)
//!   must complete, body included, within [`HttpConfig::request_timeout_small`]. Zip downloads
//!   have no total limit: they fail when the response headers, or the next piece of the body,
//!   take longer than [`HttpConfig::idle_read_timeout`].
//!
//! Deliberate deviations: `.info`/`@latest` bodies must be a JSON object whose `Version` and
//! `Time` fields, when present, are strings (Go fails on non-JSON in `Stat` the same way, but
//! only after it returns); the check that the answer names the version asked for is left to the
//! caller. `@latest` answering 404 is returned as is: deriving the latest version from `@v/list`
//! (Go's `latestFromList`) is a query, not a fetch.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

use crate::error::{ConfigError, SourceError};
use crate::proxy_url::{BaseUrl, redact};
use crate::source::{Source, ZipSink};

/// Largest `.info` or `@latest` body accepted (1 MiB).
pub const MAX_INFO_SIZE: u64 = 1 << 20;
/// Largest `@v/list` body accepted (4 MiB).
pub const MAX_LIST_SIZE: u64 = 4 << 20;
/// Largest `.mod` body accepted (16 MiB, x/mod `zip.MaxGoMod`).
pub const MAX_GO_MOD_SIZE: u64 = 16 << 20;
/// How much of an error response body is read to find its first line.
const MAX_REASON_READ: usize = 1024;
/// Redirects followed before giving up, as Go's `checkRedirect`.
const MAX_REDIRECTS: usize = 10;

/// HTTP settings shared by the proxy sources.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Longest wait for a TCP (and TLS) connection. Default 15 s.
    pub connect_timeout: Duration,
    /// Longest time for a whole list/info/latest/mod request, body included. Default 60 s.
    pub request_timeout_small: Duration,
    /// Longest time a zip download may go without receiving anything (response headers, or the
    /// next piece of body). No total cap: big zips on slow links must work. Default 60 s.
    pub idle_read_timeout: Duration,
    /// The `User-Agent` header. Default `modferry/<version>`.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(15),
            request_timeout_small: Duration::from_secs(60),
            idle_read_timeout: Duration::from_secs(60),
            user_agent: concat!("modferry/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// One upstream module proxy (`https://proxy.golang.org`, `http://athens:3000/prefix/`, ...).
#[derive(Clone)]
pub struct ProxySource {
    base: BaseUrl,
    client: reqwest::Client,
    cfg: HttpConfig,
}

impl std::fmt::Debug for ProxySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The base URL may carry a password: show the redacted form only.
        f.debug_struct("ProxySource")
            .field("base", &self.base.redacted())
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl ProxySource {
    /// A client for the proxy at `base_url`, which must be a complete `http` or `https` URL; it
    /// may carry a path prefix (with or without a trailing slash), a query, and `user:password@`
    /// (sent as HTTP basic authentication).
    pub fn new(base_url: &str, cfg: &HttpConfig) -> Result<Self, ConfigError> {
        let base = BaseUrl::parse(base_url)?;
        let client = build_client(cfg, !is_loopback(base.host()))?;
        Ok(ProxySource {
            base,
            client,
            cfg: cfg.clone(),
        })
    }

    async fn get_small(
        &self,
        escaped_module: &str,
        suffix: &str,
        limit: u64,
    ) -> Result<Bytes, SourceError> {
        let (url, redacted) = self.base.request_url(escaped_module, suffix);
        let start = Instant::now();
        let mut rec = Record::default();
        let after = self.cfg.request_timeout_small;
        let res =
            match tokio::time::timeout(after, self.fetch_small(&url, &redacted, limit, &mut rec))
                .await
            {
                Ok(res) => res,
                Err(_) => Err(SourceError::Timeout {
                    url: redacted.clone(),
                    after,
                }),
            };
        rec.log(&redacted, start, res.as_ref().err());
        res
    }

    async fn fetch_small(
        &self,
        url: &str,
        redacted: &str,
        limit: u64,
        rec: &mut Record,
    ) -> Result<Bytes, SourceError> {
        let resp = self.send(url, redacted).await?;
        rec.status = Some(resp.status().as_u16());
        let mut resp = check_status(resp, redacted).await?;
        let declared = resp.content_length();
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(redacted, limit));
        }
        let capacity = declared.unwrap_or(0).min(limit);
        let mut buf = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(body_error(&e, redacted, declared, rec.bytes)),
            };
            rec.bytes += chunk.len() as u64;
            if rec.bytes > limit {
                return Err(too_large(redacted, limit));
            }
            buf.extend_from_slice(&chunk);
        }
        check_complete(redacted, declared, rec.bytes)?;
        Ok(buf.freeze())
    }

    async fn fetch_zip(
        &self,
        url: &str,
        redacted: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
        rec: &mut Record,
    ) -> Result<u64, SourceError> {
        let idle = self.cfg.idle_read_timeout;
        let timed_out = || SourceError::Timeout {
            url: redacted.to_owned(),
            after: idle,
        };
        let resp = tokio::time::timeout(idle, self.send(url, redacted))
            .await
            .map_err(|_| timed_out())??;
        rec.status = Some(resp.status().as_u16());
        let mut resp = tokio::time::timeout(idle, check_status(resp, redacted))
            .await
            .map_err(|_| timed_out())??;
        let declared = resp.content_length();
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(redacted, limit));
        }
        loop {
            let next = tokio::time::timeout(idle, resp.chunk())
                .await
                .map_err(|_| timed_out())?;
            let chunk = match next {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(body_error(&e, redacted, declared, rec.bytes)),
            };
            let len = chunk.len() as u64;
            if rec.bytes + len > limit {
                return Err(too_large(redacted, limit));
            }
            dest.write_all(&chunk)
                .await
                .map_err(|e| sink_error(redacted, e))?;
            rec.bytes += len;
        }
        check_complete(redacted, declared, rec.bytes)?;
        dest.flush().await.map_err(|e| sink_error(redacted, e))?;
        Ok(rec.bytes)
    }

    async fn send(&self, url: &str, redacted: &str) -> Result<reqwest::Response, SourceError> {
        self.client
            .get(url)
            .send()
            .await
            .map_err(|e| send_error(&e, redacted, self.cfg.connect_timeout))
    }
}

#[async_trait::async_trait]
impl Source for ProxySource {
    fn describe(&self) -> String {
        self.base.redacted()
    }

    async fn list(&self, module: &str) -> Result<String, SourceError> {
        let m = escape_module(module)?;
        let body = self.get_small(&m, "@v/list", MAX_LIST_SIZE).await?;
        String::from_utf8(body.to_vec()).map_err(|e| SourceError::InvalidResponse {
            url: self.base.request_url(&m, "@v/list").1,
            reason: format!("version list is not UTF-8: {e}"),
        })
    }

    async fn latest(&self, module: &str) -> Result<Bytes, SourceError> {
        let m = escape_module(module)?;
        let body = self.get_small(&m, "@latest", MAX_INFO_SIZE).await?;
        check_info(&body, || self.base.request_url(&m, "@latest").1)?;
        Ok(body)
    }

    async fn info(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        let m = escape_module(module)?;
        let suffix = format!("@v/{}.info", escape_version(module, version)?);
        let body = self.get_small(&m, &suffix, MAX_INFO_SIZE).await?;
        check_info(&body, || self.base.request_url(&m, &suffix).1)?;
        Ok(body)
    }

    async fn go_mod(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        let m = escape_module(module)?;
        let suffix = format!("@v/{}.mod", escape_version(module, version)?);
        self.get_small(&m, &suffix, MAX_GO_MOD_SIZE).await
    }

    async fn zip(
        &self,
        module: &str,
        version: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
    ) -> Result<u64, SourceError> {
        let m = escape_module(module)?;
        let suffix = format!("@v/{}.zip", escape_version(module, version)?);
        let (url, redacted) = self.base.request_url(&m, &suffix);
        let start = Instant::now();
        let mut rec = Record::default();
        let res = self.fetch_zip(&url, &redacted, dest, limit, &mut rec).await;
        rec.log(&redacted, start, res.as_ref().err());
        res
    }
}

/// What one request got, for its log line.
#[derive(Default)]
struct Record {
    status: Option<u16>,
    bytes: u64,
}

impl Record {
    fn log(&self, url: &str, start: Instant, err: Option<&SourceError>) {
        let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match err {
            None => tracing::debug!(
                url,
                status = self.status,
                bytes = self.bytes,
                elapsed_ms,
                "upstream GET"
            ),
            Some(e) => {
                tracing::debug!(url, status = self.status, bytes = self.bytes, elapsed_ms, error = %e, "upstream GET failed")
            }
        }
    }
}

fn build_client(cfg: &HttpConfig, env_proxies: bool) -> Result<reqwest::Client, ConfigError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .user_agent(cfg.user_agent.as_str())
        .referer(false)
        .redirect(redirect_policy());
    if !env_proxies {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| ConfigError::HttpClient {
        reason: error_chain(&e),
    })
}

/// Go's `checkRedirect` plus `securityPreservingHTTPClient`: at most 10 redirects, and none from
/// an `https` URL to a non-`https` one.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let previous = attempt.previous();
        if previous.len() >= MAX_REDIRECTS {
            return attempt.error(format!("stopped after {MAX_REDIRECTS} redirects"));
        }
        let from_https = previous.first().is_some_and(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() != "https" {
            let last = previous
                .last()
                .map(|u| redact(u.as_str()))
                .unwrap_or_default();
            let to = redact(attempt.url().as_str());
            return attempt.error(format!(
                "redirected from secure URL {last} to insecure URL {to}"
            ));
        }
        attempt.follow()
    })
}

/// `localhost` and loopback IP addresses never go through an HTTP proxy (Go's
/// `httpproxy.Config.useProxy`).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn escape_module(module: &str) -> Result<String, SourceError> {
    modferry_formats::module::escape_path(module).map_err(|e| SourceError::InvalidPath {
        path: module.to_owned(),
        reason: e.to_string(),
    })
}

fn escape_version(module: &str, version: &str) -> Result<String, SourceError> {
    modferry_formats::module::escape_version(version).map_err(|e| SourceError::InvalidVersion {
        path: module.to_owned(),
        version: version.to_owned(),
        reason: e.to_string(),
    })
}

/// Turns a non-200 response into [`SourceError::NotFound`] or [`SourceError::Status`].
pub(crate) async fn check_status(
    resp: reqwest::Response,
    redacted: &str,
) -> Result<reqwest::Response, SourceError> {
    let status = resp.status().as_u16();
    if status == 200 {
        return Ok(resp);
    }
    let reason = error_reason(resp).await;
    let url = redacted.to_owned();
    Err(if status == 404 || status == 410 {
        SourceError::NotFound {
            url,
            status,
            reason,
        }
    } else {
        SourceError::Status {
            url,
            status,
            reason,
        }
    })
}

/// The first line of a `text/plain` error body (UTF-8 or ASCII), when printable; else empty.
async fn error_reason(mut resp: reqwest::Response) -> String {
    let is_text = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_plain_text);
    if !is_text {
        return String::new();
    }
    let mut buf = Vec::new();
    while buf.len() < MAX_REASON_READ && !buf.contains(&b'\n') {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    first_line(&buf[..buf.len().min(MAX_REASON_READ)])
}

/// Whether a Content-Type is `text/plain` with no charset, `utf-8` or `us-ascii` (Go's
/// `web.get`, which only then collects error detail).
fn is_plain_text(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/plain") {
        return false;
    }
    for param in parts {
        if let Some((key, value)) = param.split_once('=')
            && key.trim().eq_ignore_ascii_case("charset")
        {
            let value = value.trim().trim_matches('"');
            return ["utf-8", "us-ascii", ""]
                .iter()
                .any(|c| value.eq_ignore_ascii_case(c));
        }
    }
    true
}

/// The first line of `buf`, trimmed, if it is UTF-8 (a character cut at the end of the read is
/// dropped) and has no control characters; else empty.
fn first_line(buf: &[u8]) -> String {
    let line = buf.split(|&c| c == b'\n').next().unwrap_or(&[]);
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return String::new(),
    };
    let text = text.trim();
    if text.chars().any(|c| c.is_control()) {
        return String::new();
    }
    text.to_owned()
}

/// `.info` and `@latest` bodies must be a JSON object whose `Version` and `Time` fields (matched
/// case-insensitively, as Go's encoding/json does), when present, are strings.
fn check_info(body: &[u8], url: impl Fn() -> String) -> Result<(), SourceError> {
    let invalid = |reason: String| SourceError::InvalidResponse { url: url(), reason };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("version info is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(invalid("version info is not a JSON object".to_owned()));
    };
    for (key, value) in object {
        let named = ["Version", "Time"]
            .iter()
            .find(|k| key.eq_ignore_ascii_case(k));
        if let Some(name) = named
            && !value.is_string()
        {
            return Err(invalid(format!(
                "version info field {name} is not a string"
            )));
        }
    }
    Ok(())
}

fn too_large(redacted: &str, limit: u64) -> SourceError {
    SourceError::TooLarge {
        url: redacted.to_owned(),
        limit,
    }
}

fn sink_error(redacted: &str, source: std::io::Error) -> SourceError {
    SourceError::Sink {
        url: redacted.to_owned(),
        source,
    }
}

fn check_complete(redacted: &str, declared: Option<u64>, got: u64) -> Result<(), SourceError> {
    match declared {
        Some(expected) if expected != got => Err(SourceError::Truncated {
            url: redacted.to_owned(),
            expected,
            got,
        }),
        _ => Ok(()),
    }
}

/// A failure while reading the body: [`SourceError::Truncated`] when the declared length was not
/// reached, else [`SourceError::Io`].
fn body_error(e: &reqwest::Error, redacted: &str, declared: Option<u64>, got: u64) -> SourceError {
    match declared {
        Some(expected) if got < expected => SourceError::Truncated {
            url: redacted.to_owned(),
            expected,
            got,
        },
        _ => SourceError::Io {
            url: redacted.to_owned(),
            source: std::io::Error::other(error_chain(e)),
        },
    }
}

/// A failure before any response: timeout, refused redirect, or connection failure.
fn send_error(e: &reqwest::Error, redacted: &str, connect_timeout: Duration) -> SourceError {
    let url = redacted.to_owned();
    if e.is_timeout() {
        SourceError::Timeout {
            url,
            after: connect_timeout,
        }
    } else if e.is_redirect() {
        SourceError::InvalidResponse {
            url,
            reason: error_chain(e),
        }
    } else {
        SourceError::Connect {
            url,
            reason: error_chain(e),
        }
    }
}

/// An error and its sources as one line, skipping a source whose text repeats the previous one.
/// URLs inside reqwest's messages are redacted.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut last = String::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.is_empty() && !last.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        last = text;
        cur = err.source();
    }
    redact_all(&out)
}

/// Replaces every `user:password@` inside `scheme://...` URLs in a message.
fn redact_all(msg: &str) -> String {
    msg.split(' ')
        .map(|word| {
            let trimmed = word.trim_start_matches(['(', '"']);
            if trimmed.contains("://") {
                word.replace(trimmed, &redact(trimmed))
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT_TYPES: &[(&str, bool)] = &[
        ("text/plain", true),
        ("text/plain; charset=utf-8", true),
        ("Text/Plain; Charset=\"US-ASCII\"", true),
        ("text/plain; charset=latin1", false),
        ("text/html", false),
        ("application/json", false),
    ];

    #[test]
    fn error_detail_only_from_plain_text_like_go_web_get() {
        for &(ct, want) in CONTENT_TYPES {
            assert_eq!(is_plain_text(ct), want, "{ct}");
        }
    }

    const FIRST_LINES: &[(&[u8], &str)] = &[
        (
            b"not found: no such module\nmore\n",
            "not found: no such module",
        ),
        (b"  padded \r\n", "padded"),
        (b"", ""),
        (b"\xff\xfe bad utf-8", ""),
        (b"bell \x07 rings", ""),
        (b"cut in the middle of \xc3", "cut in the middle of"),
    ];

    #[test]
    fn error_reason_is_first_printable_utf8_line() {
        for &(body, want) in FIRST_LINES {
            assert_eq!(first_line(body), want, "{body:?}");
        }
    }

    const INFOS: &[(&str, bool)] = &[
        (
            r#"{"Version":"v1.0.0","Time":"2020-01-01T00:00:00Z"}"#,
            true,
        ),
        (r#"{"version":"v1.0.0"}"#, true),
        (r#"{"Version":"v1.0.0","Origin":{"VCS":"git"}}"#, true),
        (r#"{}"#, true),
        (r#"{"Version":1}"#, false),
        (r#"{"Time":null}"#, false),
        (r#"["v1.0.0"]"#, false),
        ("<html>captive portal</html>", false),
    ];

    #[test]
    fn info_body_must_be_json_object_like_go_stat_unmarshal() {
        for &(body, ok) in INFOS {
            assert_eq!(
                check_info(body.as_bytes(), || "u".to_owned()).is_ok(),
                ok,
                "{body}"
            );
        }
    }

    const LOOPBACK: &[(&str, bool)] = &[
        ("localhost", true),
        ("LOCALHOST", true),
        ("127.0.0.1", true),
        ("127.1.2.3", true),
        ("::1", true),
        ("proxy.golang.org", false),
        ("10.0.0.1", false),
    ];

    #[test]
    fn loopback_hosts_bypass_http_proxy_like_go_proxy_from_environment() {
        for &(host, want) in LOOPBACK {
            assert_eq!(is_loopback(host), want, "{host}");
        }
    }

    #[test]
    fn messages_redact_passwords_in_urls() {
        assert_eq!(
            redact_all("error sending request for url (https://u:pw@h/x)"),
            "error sending request for url (https://u:xxxxx@h/x)"
        );
    }
}
