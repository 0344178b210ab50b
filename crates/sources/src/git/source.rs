//! [`GitSource`]: the GOPROXY protocol answered from git repositories, as the go command's
//! direct mode would answer it.
//!
//! Go rule: `cmd/go/internal/modfetch/repo.go` `Lookup`/`lookupDirect` (a module path is
//! placed in a repository, then served by a `codeRepo`) and `cache.go` (what is written for each
//! answer). The request handling:
//!
//! - The module path must pass `module.CheckPath`; a version or query must look like a git
//!   revision or a semantic version (see [`check_query`]) before anything runs.
//! - `list` and `@latest` refresh the mirror first (at most once per TTL); so do queries that
//!   are not canonical versions or hashes (branch names move).
//! - Canonical versions and hash prefixes are answered from the mirror as it is; only when that
//!   fails, and the mirror was not fetched within the TTL, is it refreshed and the request
//!   tried again. So a version once resolved never needs the network.
//! - `.mod` and `.zip` of a version first resolve it like `.info`: a version that does not
//!   resolve to itself (a branch-like tag, `v2.0.0` that is really `v2.0.0+incompatible`) is
//!   not served.

use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use modferry_formats::{module, modzip, semver};
use tokio::io::AsyncWriteExt;

use super::archive::{self, ZipInput};
use super::cache::{Mirror, MirrorCache};
use super::coderepo::{CodeRepo, has_path_prefix};
use super::command::GitRunner;
use super::error::GitError;
use super::info::info_json;
use super::repo::{GitRepo, MIN_HASH_DIGITS, is_hex};
use super::route::check_url;
use super::{GitConfig, GitRoute, GitRouter};
use crate::error::SourceError;
use crate::source::{Source, ZipSink};

/// What a [`GitSource`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GitStats {
    /// Bare mirrors created (one per repository, ever).
    pub mirrors_created: u64,
    /// `git fetch` runs.
    pub fetches: u64,
    /// git processes started.
    pub commands: u64,
}

/// Builds modules from git repositories (the go command's `direct`).
#[derive(Clone)]
pub struct GitSource {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: GitConfig,
    router: Arc<dyn GitRouter>,
    git: Arc<GitRunner>,
    mirrors: MirrorCache,
}

/// A module placed in its repository, with the mirror opened.
struct Located {
    route: GitRoute,
    mirror: Arc<Mirror>,
    /// The repository URL with any password redacted (for `Origin` and errors).
    url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Refresh the mirror (within the TTL) before answering.
    Refresh,
    /// Answer from the mirror; refresh and retry only if that fails.
    LocalFirst,
}

enum Want {
    Info,
    GoMod,
    Zip,
}

enum Got {
    Info(Vec<u8>),
    GoMod(Bytes),
    Zip(std::fs::File),
}

impl GitSource {
    /// A source keeping its mirrors under `cfg.cache_dir`, placing modules with `router`.
    pub fn new(cfg: GitConfig, router: Arc<dyn GitRouter>) -> Self {
        let git = Arc::new(GitRunner::new(
            cfg.max_concurrent,
            cfg.command_timeout,
            cfg.max_output,
        ));
        GitSource {
            inner: Arc::new(Inner {
                mirrors: MirrorCache::new(cfg.cache_dir.clone()),
                cfg,
                router,
                git,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GitConfig {
        &self.inner.cfg
    }

    /// Counters of mirrors created, fetches and git processes.
    pub fn stats(&self) -> GitStats {
        let m = &self.inner.mirrors.counters;
        GitStats {
            mirrors_created: m.created.load(Ordering::Relaxed),
            fetches: m.fetches.load(Ordering::Relaxed),
            commands: self.inner.git.counters.commands.load(Ordering::Relaxed),
        }
    }

    async fn locate(&self, module: &str, version: &str) -> Result<Located, SourceError> {
        module::check_path(module).map_err(|e| SourceError::InvalidPath {
            path: module.to_owned(),
            reason: e.to_string(),
        })?;
        let routed = self.inner.router.route(module).await.map_err(|e| match e {
            SourceError::Module {
                module,
                version: v,
                reason,
            } if v.is_empty() => SourceError::Module {
                module,
                version: version.to_owned(),
                reason,
            },
            other => other,
        })?;
        let Some(route) = routed else {
            return Err(SourceError::Module {
                module: module.to_owned(),
                version: version.to_owned(),
                reason: "no git repository is known for this module path (add a --vcs rule)"
                    .to_owned(),
            });
        };
        let url = crate::proxy_url::redact(&route.url);
        if let Err(e) = check_url(&route.url) {
            return Err(SourceError::Connect {
                url,
                reason: e.to_string(),
            });
        }
        if module::check_path(&route.root).is_err() || !has_path_prefix(module, &route.root) {
            return Err(SourceError::Module {
                module: module.to_owned(),
                version: version.to_owned(),
                reason: format!("repository rooted at {} cannot contain it", route.root),
            });
        }
        let mirror = self.inner.mirrors.get(&route.url);
        mirror
            .open(&self.inner.git, &route)
            .await
            .map_err(|e| e.into_source_error(&url, module, version))?;
        Ok(Located { route, mirror, url })
    }

    async fn refresh(&self, loc: &Located) -> Result<(), GitError> {
        loc.mirror
            .refresh(&self.inner.git, &loc.route, self.inner.cfg.refresh_ttl)
            .await
    }

    fn repo(&self, loc: &Located) -> GitRepo {
        GitRepo::new(self.inner.git.clone(), loc.mirror.clone())
    }

    /// Answers `want` for `module@version`, refreshing the mirror as `freshness` says.
    async fn answer(
        &self,
        loc: &Located,
        module: &str,
        version: &str,
        want: &Want,
        freshness: Freshness,
    ) -> Result<Got, GitError> {
        if freshness == Freshness::Refresh {
            self.refresh(loc).await?;
        }
        match self.answer_once(loc, module, version, want).await {
            Err(e @ (GitError::NotFound { .. } | GitError::Invalid { .. }))
                if freshness == Freshness::LocalFirst
                    && !loc.mirror.is_fresh(self.inner.cfg.refresh_ttl).await =>
            {
                tracing::debug!(module, version, error = %e, "not in the git mirror; fetching");
                self.refresh(loc).await?;
                self.answer_once(loc, module, version, want).await
            }
            r => r,
        }
    }

    async fn answer_once(
        &self,
        loc: &Located,
        module: &str,
        version: &str,
        want: &Want,
    ) -> Result<Got, GitError> {
        let repo = self.repo(loc);
        let cr = CodeRepo::new(&repo, &loc.url, &loc.route.root, &loc.route.subdir, module)?;
        let info = cr.stat(version).await?;
        let info_bytes = || info_json(&info.version, info.time, &info.origin);
        if matches!(want, Want::Info) {
            return Ok(Got::Info(info_bytes()?));
        }
        if info.version != version {
            return Err(GitError::not_found(format!(
                "{module}@{version}: invalid version: resolves to version {}",
                info.version
            )));
        }
        match want {
            Want::Info => Ok(Got::Info(info_bytes()?)),
            Want::GoMod => Ok(Got::GoMod(cr.go_mod(version).await?)),
            Want::Zip => self
                .build_zip(&repo, &cr, module, version)
                .await
                .map(Got::Zip),
        }
    }

    /// Go's `codeRepo.Zip`: `git archive`, then the module zip, in a temporary file.
    async fn build_zip(
        &self,
        repo: &GitRepo,
        cr: &CodeRepo<'_>,
        module: &str,
        version: &str,
    ) -> Result<std::fs::File, GitError> {
        let plan = cr.zip_source(version).await?;
        let tmp = || {
            tempfile::tempfile_in(&self.inner.cfg.cache_dir)
                .map_err(|e| GitError::io("creating a temporary file", e))
        };
        let mut archive_file = tokio::fs::File::from_std(tmp()?);
        let limit = modzip::MAX_ZIP_FILE;
        repo.archive(&plan.hash, &plan.subdir, &mut archive_file, limit)
            .await
            .map_err(|e| match e {
                GitError::Command(super::command::RunError::OutputTooLarge { .. }) => {
                    GitError::TooLarge {
                        module: format!("{module}@{version}"),
                        reason: format!("git archive is larger than {limit} bytes"),
                        limit,
                    }
                }
                other => other,
            })?;
        let archive_file = archive_file.into_std().await;
        let subdir = plan.subdir.clone();
        let listed =
            tokio::task::spawn_blocking(move || archive::read_archive(archive_file, &subdir))
                .await
                .map_err(|e| GitError::io("reading git archive", std::io::Error::other(e)))??;
        let mut files = listed.files;
        if !listed.has_license
            && !plan.subdir.is_empty()
            && let Some(data) = cr.root_license(&plan.rev).await?
        {
            files.push(ZipInput::Data {
                path: "LICENSE".to_owned(),
                data: data.to_vec(),
            });
        }
        let mut out = tmp()?;
        let (module, version) = (module.to_owned(), version.to_owned());
        tokio::task::spawn_blocking(move || {
            archive::create_zip(&mut out, &module, &version, &files)?;
            out.seek(SeekFrom::Start(0))
                .map_err(|e| GitError::io("rewinding module zip", e))?;
            Ok::<_, GitError>(out)
        })
        .await
        .map_err(|e| GitError::io("writing module zip", std::io::Error::other(e)))?
    }

    async fn run(
        &self,
        module: &str,
        version: &str,
        want: Want,
    ) -> Result<(Located, Got), SourceError> {
        check_query(module, version)?;
        let loc = self.locate(module, version).await?;
        let freshness = if version != "latest"
            && (module::canonical_version(version).as_deref() == Some(version)
                || (version.len() >= MIN_HASH_DIGITS && is_hex(version)))
        {
            Freshness::LocalFirst
        } else {
            Freshness::Refresh
        };
        match self.answer(&loc, module, version, &want, freshness).await {
            Ok(got) => Ok((loc, got)),
            Err(e) => Err(e.into_source_error(&loc.url, module, version)),
        }
    }
}

/// Checks a version or query before it is looked up: a semantic version, a hex hash prefix,
/// or a name git would accept as a branch or tag (`git check-ref-format` rules, stricter:
/// no white space or control characters, no leading `-`).
pub(crate) fn check_query(module: &str, query: &str) -> Result<(), SourceError> {
    let bad = |reason: &str| SourceError::InvalidVersion {
        path: module.to_owned(),
        version: query.to_owned(),
        reason: reason.to_owned(),
    };
    if query.is_empty() {
        return Err(bad("empty version"));
    }
    if query.len() > 1024 {
        return Err(bad("version too long"));
    }
    if semver::is_valid(query) {
        return Ok(());
    }
    if query.starts_with('-') || query.starts_with('/') || query.starts_with('.') {
        return Err(bad("not a revision: bad first character"));
    }
    if query
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
    {
        return Err(bad("not a revision: disallowed character"));
    }
    if query.contains("..")
        || query.contains("@{")
        || query.contains("//")
        || query.contains("/.")
        || query.ends_with('/')
        || query.ends_with('.')
        || query.ends_with(".lock")
        || query == "@"
    {
        return Err(bad("not a revision"));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Source for GitSource {
    fn describe(&self) -> String {
        "direct (git)".to_owned()
    }

    fn is_direct(&self) -> bool {
        true
    }

    async fn list(&self, module: &str) -> Result<String, SourceError> {
        let loc = self.locate(module, "").await?;
        let result = async {
            self.refresh(&loc).await?;
            let repo = self.repo(&loc);
            let cr = CodeRepo::new(&repo, &loc.url, &loc.route.root, &loc.route.subdir, module)?;
            cr.versions("").await
        }
        .await;
        let versions = result.map_err(|e| e.into_source_error(&loc.url, module, ""))?;
        let mut body = String::new();
        for v in versions {
            body.push_str(&v);
            body.push('\n');
        }
        Ok(body)
    }

    async fn latest(&self, module: &str) -> Result<Bytes, SourceError> {
        let loc = self.locate(module, "latest").await?;
        let result = async {
            self.refresh(&loc).await?;
            let repo = self.repo(&loc);
            let cr = CodeRepo::new(&repo, &loc.url, &loc.route.root, &loc.route.subdir, module)?;
            let info = cr.latest().await.map_err(|e| {
                // "no commits" names nothing; Go's module errors already name the module.
                if e.to_string().starts_with(module) {
                    e
                } else {
                    e.context(&format!("module {module}"))
                }
            })?;
            info_json(&info.version, info.time, &info.origin)
        }
        .await;
        result
            .map(Bytes::from)
            .map_err(|e| e.into_source_error(&loc.url, module, "latest"))
    }

    async fn info(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        match self.run(module, version, Want::Info).await? {
            (_, Got::Info(b)) => Ok(Bytes::from(b)),
            (loc, _) => Err(internal(&loc.url)),
        }
    }

    async fn go_mod(&self, module: &str, version: &str) -> Result<Bytes, SourceError> {
        match self.run(module, version, Want::GoMod).await? {
            (_, Got::GoMod(b)) => Ok(b),
            (loc, _) => Err(internal(&loc.url)),
        }
    }

    async fn zip(
        &self,
        module: &str,
        version: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
    ) -> Result<u64, SourceError> {
        let (loc, file) = match self.run(module, version, Want::Zip).await? {
            (loc, Got::Zip(f)) => (loc, f),
            (loc, _) => return Err(internal(&loc.url)),
        };
        let size = file
            .metadata()
            .map_err(|source| SourceError::Io {
                url: loc.url.clone(),
                source,
            })?
            .len();
        if size > limit {
            return Err(SourceError::TooLarge {
                url: loc.url.clone(),
                limit,
            });
        }
        let mut src = tokio::fs::File::from_std(file);
        let sink_err = |source| SourceError::Sink {
            url: loc.url.clone(),
            source,
        };
        let n = tokio::io::copy(&mut src, dest).await.map_err(sink_err)?;
        dest.flush().await.map_err(sink_err)?;
        Ok(n)
    }
}

fn internal(url: &str) -> SourceError {
    SourceError::InvalidResponse {
        url: url.to_owned(),
        reason: "internal error: wrong answer kind".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERIES: &[(&str, bool)] = &[
        ("v1.2.3", true),
        ("v1.2.3+incompatible", true),
        ("v0.0.0-20200102030405-abcdefabcdef", true),
        ("main", true),
        ("feature/x", true),
        ("release-1.0", true),
        ("abcdef1", true),
        ("HEAD", true),
        ("", false),
        ("-uhttps://x", false),
        ("--upload-pack=x", false),
        ("a..b", false),
        ("a b", false),
        ("a:b", false),
        ("x@{1}", false),
        ("refs/heads/x.lock", false),
        ("/abs", false),
        ("a\nb", false),
    ];

    #[test]
    fn check_query_rejects_option_like_and_non_ref_strings() {
        for &(q, ok) in QUERIES {
            assert_eq!(check_query("example.com/m", q).is_ok(), ok, "{q:?}");
        }
    }
}
