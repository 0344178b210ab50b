//! Modules built straight from git repositories: the go command's `direct` mode, without the go
//! command.
//!
//! Go rules: `cmd/go/internal/modfetch/coderepo.go` (how a module maps onto a repository: tags,
//! `+incompatible`, `/vN`, subdirectories, pseudo-versions, go.mod, zip),
//! `cmd/go/internal/modfetch/codehost/git.go` (how the go command talks to git: refs, stat,
//! `git archive`, ancestor checks) and `codehost/codehost.go` (the size limits, the `Origin`
//! record). `cmd/go/internal/modfetch/cache.go` `writeDiskStat` decides what an `.info` file says.
//!
//! The parts:
//!
//! - [`GitSource`] (`source.rs`) implements [`Source`](crate::Source) for every module a
//!   [`GitRouter`] can place in a repository; [`StaticRouter`] (`route.rs`) is the `--vcs
//!   PREFIX=URL` rule list; `discovery.rs` places other modules like the go command does
//!   ([`KnownHostRouter`], [`DiscoveryRouter`] for `?go-get=1`), and [`ChainRouter`] asks
//!   them in order.
//! - `cache.rs` keeps one bare mirror per repository URL under [`GitConfig::cache_dir`] and
//!   refreshes it with `git fetch` (single-flight, at most once per [`GitConfig::refresh_ttl`]
//!   for questions whose answer can change).
//! - `command.rs` runs git: a semaphore bounds concurrent processes, a timeout kills the whole
//!   process session, output is bounded, the environment is scrubbed of variables that would
//!   redirect git.
//! - `repo.rs` is Go's `codehost` layer over a mirror: refs, `stat`, files at a revision,
//!   reachable tags, ancestry, `git archive`.
//! - `coderepo.rs` is Go's `codeRepo`: versions, `Stat`/`Latest` with pseudo-version rules,
//!   `GoMod`, `Zip`; `archive.rs` turns `git archive` output into the module zip; `info.rs`
//!   writes `.info` JSON byte for byte as the go command does.
//!
//! Deliberate deviations from the go command, each for a mirror serving many clients:
//!
//! - The mirror fetches full history of all branches and tags (Go first fetches single refs
//!   shallowly and deepens on demand). Results equal Go's once Go has the full history; Go's
//!   shallow shortcuts can pick a lower pseudo-version base in rare cases.
//! - Hash-prefix queries are answered from the mirror's refs (as a fresh go command answers them
//!   from `git ls-remote`), so the `Origin.Ref` of such a query does not depend on cache state.
//! - A module whose `go` line is newer than the go command is served (Go's direct mode refuses
//!   to build it; the client decides).
//! - The repository's own view is its mirror: a fresh go command asks the remote, so a tag
//!   moved or added upstream is seen here only after the next refresh (see `cache.rs`).
//! - The go command's own answers for `HEAD` depend on its cache (`Origin.Ref` is `HEAD` when
//!   the commit was already local, absent after a fresh fetch); this answers as a fresh go
//!   command does, except `@latest`, which names `HEAD` as Go's `Latest` always does.
//! - `.info` answers are what the go command writes into its module cache (`writeDiskStat`):
//!   `TagPrefix`, `TagSum` and `RepoSum` are dropped, and `Ref` too for pseudo-versions.
//!   Passwords in the repository URL are redacted in `Origin.URL`.

mod archive;
mod cache;
mod coderepo;
mod command;
mod discovery;
mod error;
mod info;
mod repo;
mod route;
mod source;

use std::path::PathBuf;
use std::time::Duration;

pub use discovery::{
    ChainRouter, DiscoveryConfig, DiscoveryRouter, DiscoveryRule, KnownHostRouter, KnownRoot,
    MetaImport, known_host_root, match_go_import, parse_meta_go_imports,
};
pub use route::{RouteError, StaticRouter, StaticRule};
pub use source::{GitSource, GitStats};

use crate::error::SourceError;

/// Where a module's repository is: the answer of a [`GitRouter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRoute {
    /// The module path of the repository root, e.g. `example.com/repo`. Modules below it
    /// (`example.com/repo/sub`, `example.com/repo/v2`) live in subdirectories or use major
    /// version tags, by the go command's rules.
    pub root: String,
    /// The git URL: `https://`, `http://`, `ssh://`, `git://`, `file://`, or scp-like
    /// `user@host:path`.
    pub url: String,
    /// The directory in the repository that holds the module tree of `root` (the optional
    /// fourth field of a go 1.25+ `go-import` meta tag); empty for the repository root. Module
    /// directories and tag prefixes are relative to it.
    pub subdir: String,
    /// A PEM file of certificate authorities to trust for this repository (`http.sslCAInfo`).
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification (`http.sslVerify=false`); logged as a warning on every fetch.
    pub insecure: bool,
}

/// Maps module paths to repositories. [`StaticRouter`] implements the configured rules,
/// [`KnownHostRouter`] the hosting sites the go command knows, [`DiscoveryRouter`] `?go-get=1`
/// discovery; [`ChainRouter`] asks them in that order.
#[async_trait::async_trait]
pub trait GitRouter: Send + Sync {
    /// The repository holding `module`, or `None` when this router does not know it.
    async fn route(&self, module: &str) -> Result<Option<GitRoute>, SourceError>;
}

/// Settings of a [`GitSource`].
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// Directory holding one bare mirror per repository (named by a hash of its URL).
    pub cache_dir: PathBuf,
    /// How long a fetch stays good enough for questions whose answer can change (the version
    /// list, `@latest`, branch names, versions the mirror does not have yet). A version the
    /// mirror can already resolve never causes a fetch.
    pub refresh_ttl: Duration,
    /// The most git processes running at once.
    pub max_concurrent: usize,
    /// The longest a git process may run; it is then killed with its children.
    pub command_timeout: Duration,
    /// The most bytes read from a git command's standard output (`git archive` is bounded by
    /// the module zip limit instead). Must hold a go.mod file (16 MiB).
    pub max_output: u64,
}

impl GitConfig {
    /// Defaults: a 60 s refresh TTL, 4 concurrent git processes, a 10 minute timeout and
    /// 64 MiB of output per command.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        GitConfig {
            cache_dir: cache_dir.into(),
            refresh_ttl: Duration::from_secs(60),
            max_concurrent: 4,
            command_timeout: Duration::from_secs(600),
            max_output: 64 << 20,
        }
    }
}
