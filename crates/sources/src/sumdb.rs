//! A checksum-database client: [`SumdbClient`] fetches `supported`, `latest`,
//! `lookup/<module>@<version>` and `tile/...` from one database (`GOSUMDB`), reached either at
//! its own URL (`https://sum.golang.org`) or through a module proxy's `/sumdb/<name>/` prefix
//! (`https://proxy.golang.org/sumdb/sum.golang.org`).
//!
//! Go rule: the remote paths of x/mod `sumdb/client.go` (`Lookup`, `readTile`, `ReadRemote`) and
//! the proxying rule of cmd/go `modfetch/sumdb.go` (`initBase`: a proxy that answers 200 to
//! `<proxy>/sumdb/<name>/supported` serves every database path under `<proxy>/sumdb/<name>/`).
//! Restated:
//!
//! - A lookup asks for `lookup/<escaped module>@<escaped version>` with the module path and the
//!   version case-escaped as in proxy URLs (x/mod `module.EscapePath`, `EscapeVersion`).
//! - A tile is asked for by its tile path (`tile/<H>/<L>/<N>[.p/<W>]`, `tile/<H>/data/<N>…`).
//! - Only 200 is success; 404 and 410 are "not found" ([`SourceError::NotFound`]), like the
//!   module proxy protocol.
//!
//! This client does not verify anything: signatures, inclusion and consistency are checked by
//! the caller (modferry-service `sumdb::proxy`). It only bounds what it reads.
//!
//! Limits and timeouts (Go has none; a mirror serving many clients needs them): `latest` and
//! `supported` bodies at most [`MAX_SUMDB_NOTE_SIZE`], lookups at most [`MAX_SUMDB_LOOKUP_SIZE`],
//! tiles at most [`MAX_SUMDB_TILE_SIZE`]; every request, body included, must finish within
//! [`HttpConfig::request_timeout_small`]. A body shorter than its `Content-Length` is an error.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use modferry_formats::module;
use modferry_formats::tlog::Tile;

use crate::error::{ConfigError, SourceError};
use crate::proxy::{HttpConfig, check_status, error_chain};
use crate::proxy_url::BaseUrl;

/// Largest `latest` (a signed tree note) or `supported` body accepted (1 MiB; x/mod's tree text
/// limit is 1 000 000 bytes).
pub const MAX_SUMDB_NOTE_SIZE: u64 = 1 << 20;
/// Largest lookup body accepted (a record plus a signed tree note; 2 MiB).
pub const MAX_SUMDB_LOOKUP_SIZE: u64 = 2 << 20;
/// Largest tile body accepted (8 MiB: a hash tile of height 8 is 8 KiB; a data tile holds 256
/// records).
pub const MAX_SUMDB_TILE_SIZE: u64 = 8 << 20;

/// One upstream checksum database, at its own URL or behind a proxy's `/sumdb/<name>` prefix.
#[derive(Clone)]
pub struct SumdbClient {
    base: BaseUrl,
    client: reqwest::Client,
    cfg: HttpConfig,
}

impl std::fmt::Debug for SumdbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SumdbClient")
            .field("base", &self.base.redacted())
            .finish_non_exhaustive()
    }
}

impl SumdbClient {
    /// A client for the database at `base_url` (`http` or `https`; may carry a path prefix such
    /// as `/sumdb/sum.golang.org` and `user:password@`, sent as basic authentication).
    pub fn new(base_url: &str, cfg: &HttpConfig) -> Result<Self, ConfigError> {
        let base = BaseUrl::parse(base_url)?;
        let host = base.host().to_owned();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let mut builder = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .user_agent(cfg.user_agent.as_str())
            .referer(false)
            .redirect(reqwest::redirect::Policy::limited(10))
            .https_only(base_url.to_ascii_lowercase().starts_with("https:"));
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| ConfigError::HttpClient {
            reason: e.to_string(),
        })?;
        Ok(SumdbClient {
            base,
            client,
            cfg: cfg.clone(),
        })
    }

    /// The base URL with any password redacted, for messages.
    pub fn describe(&self) -> String {
        self.base.redacted()
    }

    /// `GET supported`: `Ok` when the upstream answers 200 (a proxy that relays this database).
    pub async fn supported(&self) -> Result<(), SourceError> {
        self.get("supported", MAX_SUMDB_NOTE_SIZE).await.map(|_| ())
    }

    /// `GET latest`: the database's current signed tree note, unverified.
    pub async fn latest(&self) -> Result<Bytes, SourceError> {
        self.get("latest", MAX_SUMDB_NOTE_SIZE).await
    }

    /// `GET lookup/<module>@<version>`: the record of `module@version` and a signed tree note.
    pub async fn lookup(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        self.get(&lookup_path(module, version)?, MAX_SUMDB_LOOKUP_SIZE)
            .await
    }

    /// `GET tile/...`: one tile, unverified.
    pub async fn tile(&self, tile: &Tile) -> Result<Bytes, SourceError> {
        self.get(&tile.path(), MAX_SUMDB_TILE_SIZE).await
    }

    /// `GET <path>` relative to the base URL (`latest`, `lookup/…`, `tile/…`), at most `limit`
    /// bytes. The caller must have checked `path` (it is sent as given, cleaned of `.`/`..`).
    pub async fn get(&self, path: &str, limit: u64) -> Result<Bytes, SourceError> {
        let (first, rest) = path.split_once('/').unwrap_or((path, ""));
        let (url, redacted) = self.base.request_url(first, rest);
        let start = Instant::now();
        let after = self.cfg.request_timeout_small;
        let res = match tokio::time::timeout(after, self.fetch(&url, &redacted, limit)).await {
            Ok(res) => res,
            Err(_) => Err(SourceError::Timeout {
                url: redacted.clone(),
                after,
            }),
        };
        let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &res {
            Ok(body) => {
                tracing::debug!(url = %redacted, bytes = body.len(), elapsed_ms, "sumdb GET")
            }
            Err(e) => tracing::debug!(url = %redacted, elapsed_ms, error = %e, "sumdb GET failed"),
        }
        res
    }

    async fn fetch(&self, url: &str, redacted: &str, limit: u64) -> Result<Bytes, SourceError> {
        let resp = self.client.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                SourceError::Timeout {
                    url: redacted.to_owned(),
                    after: self.cfg.connect_timeout,
                }
            } else {
                SourceError::Connect {
                    url: redacted.to_owned(),
                    reason: error_chain(&e),
                }
            }
        })?;
        let mut resp = check_status(resp, redacted).await?;
        let too_large = || SourceError::TooLarge {
            url: redacted.to_owned(),
            limit,
        };
        let declared = resp.content_length();
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > limit {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(match declared {
                        Some(expected) if (buf.len() as u64) < expected => SourceError::Truncated {
                            url: redacted.to_owned(),
                            expected,
                            got: buf.len() as u64,
                        },
                        _ => SourceError::Io {
                            url: redacted.to_owned(),
                            source: std::io::Error::other(error_chain(&e)),
                        },
                    });
                }
            }
        }
        if let Some(expected) = declared
            && expected != buf.len() as u64
        {
            return Err(SourceError::Truncated {
                url: redacted.to_owned(),
                expected,
                got: buf.len() as u64,
            });
        }
        Ok(buf.freeze())
    }
}

/// The remote path of a lookup: `lookup/<escaped module>@<escaped version>` (x/mod
/// `Client.Lookup`). Fails, without any request, on a path or version Go could not escape.
pub fn lookup_path(module: &str, version: &str) -> Result<String, SourceError> {
    let m = module::escape_path(module).map_err(|e| SourceError::InvalidPath {
        path: module.to_owned(),
        reason: e.to_string(),
    })?;
    let v = module::escape_version(version).map_err(|e| SourceError::InvalidVersion {
        path: module.to_owned(),
        version: version.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(format!("lookup/{m}@{v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKUPS: &[(&str, &str, Option<&str>)] = &[
        (
            "golang.org/x/text",
            "v0.3.0",
            Some("lookup/golang.org/x/text@v0.3.0"),
        ),
        (
            "github.com/Azure/go-autorest",
            "v1.0.0-RC",
            Some("lookup/github.com/!azure/go-autorest@v1.0.0-!r!c"),
        ),
        ("bad path/x", "v1.0.0", None),
    ];

    #[test]
    fn lookup_path_case_escapes_like_x_mod_client_lookup() {
        for &(m, v, want) in LOOKUPS {
            assert_eq!(lookup_path(m, v).ok().as_deref(), want, "{m}@{v}");
        }
    }

    #[tokio::test]
    async fn request_urls_join_base_prefix_like_web_join() {
        let cfg = HttpConfig::default();
        let cases: &[(&str, &str, &str)] = &[
            (
                "https://sum.golang.org",
                "latest",
                "https://sum.golang.org/latest",
            ),
            (
                "https://proxy.example/sumdb/sum.golang.org/",
                "tile/8/0/000.p/12",
                "https://proxy.example/sumdb/sum.golang.org/tile/8/0/000.p/12",
            ),
            (
                "http://127.0.0.1:9/sumdb/sum.golang.org",
                "lookup/golang.org/x/text@v0.3.0",
                "http://127.0.0.1:9/sumdb/sum.golang.org/lookup/golang.org/x/text@v0.3.0",
            ),
        ];
        for &(base, path, want) in cases {
            let c = SumdbClient::new(base, &cfg).expect("client");
            let (first, rest) = path.split_once('/').unwrap_or((path, ""));
            assert_eq!(c.base.request_url(first, rest).0, want, "{base} {path}");
        }
    }
}
