//! [`RoutedSource`]: private modules go only to git; everything else to the public upstreams.
//!
//! Go rule: `cmd/go/internal/modfetch/repo.go` `lookup` — a module matching `GONOPROXY`
//! (which defaults to `GOPRIVATE`) is fetched directly from version control and never from a
//! GOPROXY entry, so its name does not leak to a public proxy. The patterns have GOPRIVATE
//! syntax (`module.MatchPrefixPatterns`: comma-separated globs, each matching a path prefix).
//!
//! On top of Go's rule, a module placed by an explicit `--vcs` rule is also served from git
//! only: such a rule says where the module lives, so the public upstreams are not asked (and
//! do not learn its name) even when the upstream list has no `direct`.

use bytes::Bytes;
use modferry_formats::module;

use crate::error::SourceError;
use crate::git::StaticRouter;
use crate::source::{DynSource, Source, ZipSink};

/// Sends private modules (and modules with an explicit git rule) to git, the rest to the
/// public source.
#[derive(Clone)]
pub struct RoutedSource {
    private: String,
    explicit: StaticRouter,
    git: DynSource,
    public: DynSource,
}

impl RoutedSource {
    /// Modules matching `private` (GOPRIVATE syntax) or a rule of `explicit` go to `git`;
    /// all others to `public`.
    pub fn new(private: &str, explicit: StaticRouter, git: DynSource, public: DynSource) -> Self {
        RoutedSource {
            private: private.to_owned(),
            explicit,
            git,
            public,
        }
    }

    /// Whether `module` is served from git only.
    pub fn is_git_only(&self, module: &str) -> bool {
        module::match_prefix_patterns(&self.private, module)
            || self.explicit.resolve(module).is_some()
    }

    fn pick(&self, module: &str) -> &DynSource {
        if self.is_git_only(module) {
            &self.git
        } else {
            &self.public
        }
    }
}

#[async_trait::async_trait]
impl Source for RoutedSource {
    fn describe(&self) -> String {
        let mut only = Vec::new();
        if !self.private.is_empty() {
            only.push(format!("private {}", self.private));
        }
        if !self.explicit.rules().is_empty() {
            let prefixes: Vec<&str> = self.explicit.rules().iter().map(|r| r.prefix()).collect();
            only.push(format!("rules {}", prefixes.join(",")));
        }
        format!(
            "{} for {}; otherwise {}",
            self.git.describe(),
            only.join("; "),
            self.public.describe()
        )
    }

    fn is_direct(&self) -> bool {
        self.public.is_direct()
    }

    async fn list(&self, module: &str) -> Result<String, SourceError> {
        self.pick(module).list(module).await
    }

    async fn latest(&self, module: &str) -> Result<Bytes, SourceError> {
        self.pick(module).latest(module).await
    }

    async fn info(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        self.pick(module).info(module, version).await
    }

    async fn go_mod(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        self.pick(module).go_mod(module, version).await
    }

    async fn zip(
        &self,
        module: &str,
        version: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
    ) -> Result<u64, SourceError> {
        self.pick(module).zip(module, version, dest, limit).await
    }
}
