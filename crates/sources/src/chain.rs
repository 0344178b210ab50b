//! [`ChainSource`]: a GOPROXY list as one [`Source`], trying its entries in order.
//!
//! Go rule: `TryProxies` in `cmd/go/internal/modfetch/proxy.go`, and `downloadZip` in
//! `cmd/go/internal/modfetch/fetch.go` for zips. Restated:
//!
//! - Entries are tried in order until one succeeds.
//! - After a failure, the next entry is tried when the failure was "not found" (404, 410, a
//!   disabled entry) or when the failed entry was followed by `|`; otherwise the lookup stops.
//! - When every entry tried has failed, the error reported is the most useful one: a direct
//!   (version control) source's error beats everything; otherwise the last error that is not
//!   "not found"; otherwise the last "not found" error. So `https://a,off` answering 404 then
//!   reaching `off` reports `off`, while `https://a|off` answering 500 reports the 500.
//! - Before each zip attempt after the first, the sink is emptied ([`ZipSink::reset`]), as the go
//!   command truncates its temporary file before each entry, so a fall-through after a partial
//!   download restarts from byte 0.
//!
//! Deliberate deviation: errors that no other source can cure ([`SourceError::is_local`]: a
//! malformed module path or version, a failing sink) stop the walk even after `|`. In Go the
//! first two arise before any proxy is asked, and the third cannot happen.

use crate::error::{ConfigError, SourceError};
use crate::list::{ProxyEntry, parse_proxy_list};
use crate::proxy::{HttpConfig, ProxySource};
use crate::source::{DisabledSource, DynSource, Source, ZipSink};

use std::sync::Arc;

/// A list of sources tried in order with the go command's GOPROXY semantics.
#[derive(Clone)]
pub struct ChainSource {
    entries: Vec<(DynSource, bool)>,
}

impl std::fmt::Debug for ChainSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChainSource")
            .field(&self.describe())
            .finish()
    }
}

impl ChainSource {
    /// A chain over `entries`: each source with whether a lookup falls through it on any error
    /// (`true`, a `|` after it) or only on "not found" (`false`, a `,`). An empty chain answers
    /// every request with [`SourceError::Disabled`].
    pub fn new(entries: Vec<(DynSource, bool)>) -> Self {
        ChainSource { entries }
    }

    /// A chain for a GOPROXY value (see [`parse_proxy_list`]): each URL becomes a
    /// [`ProxySource`] with `cfg`, `off` a [`DisabledSource`] with Go's message, and `direct` the
    /// given `direct` source, which must then be supplied.
    pub fn from_proxy_list(
        s: &str,
        cfg: &HttpConfig,
        direct: Option<DynSource>,
    ) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for (entry, fall_through_any) in parse_proxy_list(s)? {
            let source: DynSource = match entry {
                ProxyEntry::Url(url) => Arc::new(ProxySource::new(&url, cfg)?),
                ProxyEntry::Direct => direct.clone().ok_or(ConfigError::DirectUnavailable)?,
                ProxyEntry::Off => Arc::new(DisabledSource::goproxy_off()),
            };
            entries.push((source, fall_through_any));
        }
        Ok(ChainSource { entries })
    }

    /// The sources, in order, each with its fall-through-on-any-error flag.
    pub fn entries(&self) -> &[(DynSource, bool)] {
        &self.entries
    }
}

/// How useful an error is to report, lowest first (Go's `notExistRank`, `proxyRank`,
/// `directRank`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    NotFound,
    Proxy,
    Direct,
}

/// The errors seen so far while walking the chain.
struct Walk {
    best: Option<SourceError>,
    rank: Rank,
}

impl Walk {
    fn new() -> Self {
        Walk {
            best: None,
            rank: Rank::NotFound,
        }
    }

    /// Records the failure of `source`; returns whether to go on to the next entry.
    fn failed(&mut self, source: &dyn Source, fall_through_any: bool, err: SourceError) -> bool {
        let not_found = err.is_not_found();
        let local = err.is_local();
        tracing::debug!(source = %source.describe(), error = %err, "module source failed");
        if source.is_direct() {
            self.best = Some(err);
            self.rank = Rank::Direct;
        } else if self.rank <= Rank::Proxy && !not_found {
            self.best = Some(err);
            self.rank = Rank::Proxy;
        } else if self.rank == Rank::NotFound {
            self.best = Some(err);
        }
        !local && (fall_through_any || not_found)
    }

    fn finish(self) -> SourceError {
        self.best.unwrap_or_else(|| SourceError::Disabled {
            reason: "no module sources configured".to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl Source for ChainSource {
    /// The sources joined the way a GOPROXY value writes them, e.g.
    /// `https://proxy.golang.org|https://backup.example,off`.
    fn describe(&self) -> String {
        let mut out = String::new();
        let mut separator = None;
        for (source, any) in &self.entries {
            if let Some(c) = separator {
                out.push(c);
            }
            out.push_str(&source.describe());
            separator = Some(if *any { '|' } else { ',' });
        }
        out
    }

    fn is_direct(&self) -> bool {
        false
    }

    async fn list(&self, module: &str) -> Result<String, SourceError> {
        let mut walk = Walk::new();
        for (source, any) in &self.entries {
            match source.list(module).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !walk.failed(source.as_ref(), *any, e) {
                        break;
                    }
                }
            }
        }
        Err(walk.finish())
    }

    async fn latest(&self, module: &str) -> Result<bytes::Bytes, SourceError> {
        let mut walk = Walk::new();
        for (source, any) in &self.entries {
            match source.latest(module).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !walk.failed(source.as_ref(), *any, e) {
                        break;
                    }
                }
            }
        }
        Err(walk.finish())
    }

    async fn info(&self, module: &str, version: &str) -> Result<bytes::Bytes, SourceError> {
        let mut walk = Walk::new();
        for (source, any) in &self.entries {
            match source.info(module, version).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !walk.failed(source.as_ref(), *any, e) {
                        break;
                    }
                }
            }
        }
        Err(walk.finish())
    }

    async fn go_mod(&self, module: &str, version: &str) -> Result<bytes::Bytes, SourceError> {
        let mut walk = Walk::new();
        for (source, any) in &self.entries {
            match source.go_mod(module, version).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !walk.failed(source.as_ref(), *any, e) {
                        break;
                    }
                }
            }
        }
        Err(walk.finish())
    }

    async fn zip(
        &self,
        module: &str,
        version: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
    ) -> Result<u64, SourceError> {
        let mut walk = Walk::new();
        for (i, (source, any)) in self.entries.iter().enumerate() {
            if i > 0 {
                dest.reset().await.map_err(|e| SourceError::Sink {
                    url: source.describe(),
                    source: e,
                })?;
            }
            match source.zip(module, version, dest, limit).await {
                Ok(n) => return Ok(n),
                Err(e) => {
                    if !walk.failed(source.as_ref(), *any, e) {
                        break;
                    }
                }
            }
        }
        Err(walk.finish())
    }
}
