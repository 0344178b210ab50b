//! Module sources: where modules come from when the store does not have them.
//!
//! - [`Source`]: the GOPROXY protocol's questions (`list`, `@latest`, `.info`, `.mod`, `.zip`),
//!   answered with the upstream's raw bytes; [`DynSource`] is the shared form.
//! - [`ProxySource`] (`proxy.rs`): one upstream module proxy over HTTP(S), Go's `proxyRepo`.
//! - [`parse_proxy_list`] (`list.rs`): a GOPROXY value, Go's `proxyList`.
//! - [`ChainSource`] (`chain.rs`): a list of sources with Go's `TryProxies` fall-through rules.
//! - [`DisabledSource`]: `off`, or offline operation.
//! - [`ZipSink`]: where zip downloads are streamed, resettable so a chain can restart one.
//! - `localdir`: modules from a local directory.
//! - [`SumdbClient`] (`sumdb.rs`): one upstream checksum database (`GOSUMDB`), direct or proxied.
//!
//! - [`git`]: modules built from git repositories (the go command's `direct`), [`GitSource`];
//!   [`ChainSource::from_proxy_list`] takes it as its `direct` entry.
//! - [`RoutedSource`] (`routed.rs`): private modules (GOPRIVATE-style patterns, explicit git
//!   rules) go only to git, never to a public upstream.

mod chain;
mod error;
mod list;
mod proxy;
mod proxy_url;
mod routed;
mod source;
mod sumdb;

pub mod git;
pub mod localdir;

pub use chain::ChainSource;
pub use error::{ConfigError, SourceError};
pub use git::{
    ChainRouter, DiscoveryConfig, DiscoveryRouter, DiscoveryRule, GitConfig, GitRoute, GitRouter,
    GitSource, GitStats, KnownHostRouter, RouteError, StaticRouter, StaticRule,
};
pub use list::{ProxyEntry, parse_proxy_list};
pub use proxy::{HttpConfig, MAX_GO_MOD_SIZE, MAX_INFO_SIZE, MAX_LIST_SIZE, ProxySource};
pub use routed::RoutedSource;
pub use source::{DisabledSource, DynSource, GOPROXY_OFF_REASON, Source, ZipSink};
pub use sumdb::{
    MAX_SUMDB_LOOKUP_SIZE, MAX_SUMDB_NOTE_SIZE, MAX_SUMDB_TILE_SIZE, SumdbClient, lookup_path,
};
