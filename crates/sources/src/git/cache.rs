//! One bare mirror per repository URL, refreshed with `git fetch`, never cloned twice.
//!
//! Go rule: `cmd/go/internal/modfetch/codehost/codehost.go` `WorkDir` (a directory named by
//! the SHA-256 of the VCS type and URL, with a record of the URL beside it) and
//! `codehost/git.go` `newGitRepo` (`git init --bare`, a remote named `origin`,
//! `fetchRefsLocked`: `git fetch -f origin refs/heads/*:refs/heads/* refs/tags/*:refs/tags/*`),
//! and `ensureGitAttributes` (`* -export-subst -export-ignore` in `info/attributes`, so that
//! `git archive` gives the same files whatever the repository's `.gitattributes` says about
//! exporting).
//!
//! What this adds for a long-running server:
//!
//! - the directory is `<cache_dir>/<sha256("git:" + url) in hex>`, created in a temporary
//!   directory and renamed into place, holding a `modferry-url` file with the URL (checked on
//!   reuse, like Go's `.info` file);
//! - every fetch takes all branches and tags with their full history (pruning refs the remote
//!   deleted), and the remote's `HEAD` as `refs/modferry/HEAD`, in one `git fetch`;
//! - fetches are single-flight per mirror: a caller that waited for a fetch which started after
//!   it asked does not fetch again; [`Mirror::refresh`] skips the network when the last fetch is
//!   younger than the TTL. The time of the last fetch survives restarts (`FETCH_HEAD`'s mtime).
//! - `gc.autoDetach` and `maintenance.autoDetach` are off, so automatic repacking runs inside
//!   the fetch's process session and its timeout instead of as a detached daemon.
//!
//! One process is assumed per cache directory (several replicas each keep their own).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::GitRoute;
use super::command::{GitCommand, GitRunner, RunError};
use super::error::GitError;

/// The ref holding the remote's `HEAD` commit (the default branch), fetched with the rest.
pub(crate) const REMOTE_HEAD_REF: &str = "refs/modferry/HEAD";

/// The file in each mirror that records its URL.
const URL_FILE: &str = "modferry-url";

/// Go's `ensureGitAttributes` line: exports ignore `export-subst` and `export-ignore`.
const EXPORT_ATTRIBUTES: &str = "\n* -export-subst -export-ignore\n";

/// Counters of mirror activity, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct MirrorCounters {
    /// Bare mirrors created (`git init`).
    pub(crate) created: AtomicU64,
    /// `git fetch` runs.
    pub(crate) fetches: AtomicU64,
}

/// The set of mirrors under one cache directory.
#[derive(Debug)]
pub(crate) struct MirrorCache {
    dir: PathBuf,
    mirrors: StdMutex<HashMap<String, Arc<Mirror>>>,
    pub(crate) counters: Arc<MirrorCounters>,
}

impl MirrorCache {
    /// Mirrors kept under `dir`.
    pub(crate) fn new(dir: PathBuf) -> Self {
        MirrorCache {
            dir,
            mirrors: StdMutex::new(HashMap::new()),
            counters: Arc::new(MirrorCounters::default()),
        }
    }

    /// The mirror for `url` (nothing is created on disk yet).
    pub(crate) fn get(&self, url: &str) -> Arc<Mirror> {
        let mut map = self.mirrors.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(url.to_owned())
            .or_insert_with(|| {
                Arc::new(Mirror {
                    url: url.to_owned(),
                    dir: self.dir.join(mirror_dir_name(url)),
                    cache_dir: self.dir.clone(),
                    state: tokio::sync::Mutex::new(MirrorState::default()),
                    counters: self.counters.clone(),
                })
            })
            .clone()
    }
}

/// The directory name of the mirror of `url`.
pub(crate) fn mirror_dir_name(url: &str) -> String {
    hex::encode(Sha256::digest(format!("git:{url}").as_bytes()))
}

#[derive(Debug, Default)]
struct MirrorState {
    /// The directory exists and records the right URL.
    ready: bool,
    /// When the last successful fetch started.
    last_fetch: Option<Instant>,
}

/// A bare mirror of one repository.
#[derive(Debug)]
pub(crate) struct Mirror {
    url: String,
    dir: PathBuf,
    cache_dir: PathBuf,
    state: tokio::sync::Mutex<MirrorState>,
    counters: Arc<MirrorCounters>,
}

impl Mirror {
    /// The bare repository directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes sure the mirror exists on disk; fetches if it was just created.
    pub(crate) async fn open(&self, git: &GitRunner, route: &GitRoute) -> Result<(), GitError> {
        let mut st = self.state.lock().await;
        if st.ready {
            return Ok(());
        }
        if self.dir.join("objects").is_dir() {
            self.check_url()?;
            st.last_fetch =
                fetch_head_age(&self.dir).and_then(|age| Instant::now().checked_sub(age));
            st.ready = true;
            return Ok(());
        }
        self.create(git).await?;
        st.ready = true;
        self.fetch_locked(git, route, &mut st).await
    }

    /// Fetches unless a fetch started less than `ttl` ago, or started after this call began
    /// (then it covers this caller too). Concurrent callers share one fetch.
    pub(crate) async fn refresh(
        &self,
        git: &GitRunner,
        route: &GitRoute,
        ttl: Duration,
    ) -> Result<(), GitError> {
        let asked = Instant::now();
        self.open(git, route).await?;
        let mut st = self.state.lock().await;
        if let Some(last) = st.last_fetch
            && (last >= asked || last.elapsed() < ttl)
        {
            return Ok(());
        }
        self.fetch_locked(git, route, &mut st).await
    }

    /// Whether the last fetch is younger than `ttl`.
    pub(crate) async fn is_fresh(&self, ttl: Duration) -> bool {
        let st = self.state.lock().await;
        st.last_fetch.is_some_and(|t| t.elapsed() < ttl)
    }

    fn check_url(&self) -> Result<(), GitError> {
        let p = self.dir.join(URL_FILE);
        let have = std::fs::read_to_string(&p)
            .map_err(|e| GitError::io(format!("reading {}", p.display()), e))?;
        if have != self.url {
            return Err(GitError::io(
                format!("git mirror {}", self.dir.display()),
                std::io::Error::other(format!("records URL {have:?}, want {:?}", self.url)),
            ));
        }
        Ok(())
    }

    async fn create(&self, git: &GitRunner) -> Result<(), GitError> {
        let io = |what: &str, p: &Path, e| GitError::io(format!("{what} {}", p.display()), e);
        tokio::fs::create_dir_all(&self.cache_dir)
            .await
            .map_err(|e| io("creating", &self.cache_dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".init-")
            .tempdir_in(&self.cache_dir)
            .map_err(|e| io("creating a directory in", &self.cache_dir, e))?;
        let t = tmp.path();
        git.output(&GitCommand::new(t).args(["init", "--bare", "--quiet", "--template="]))
            .await?;
        for (key, value) in [
            ("remote.origin.url", self.url.as_str()),
            ("gc.autoDetach", "false"),
            ("maintenance.autoDetach", "false"),
            ("core.logAllRefUpdates", "false"),
        ] {
            git.output(&GitCommand::new(t).args(["config", "--end-of-options", key, value]))
                .await?;
        }
        let info = t.join("info");
        tokio::fs::create_dir_all(&info)
            .await
            .map_err(|e| io("creating", &info, e))?;
        let attrs = info.join("attributes");
        tokio::fs::write(&attrs, EXPORT_ATTRIBUTES)
            .await
            .map_err(|e| io("writing", &attrs, e))?;
        let url_file = t.join(URL_FILE);
        tokio::fs::write(&url_file, &self.url)
            .await
            .map_err(|e| io("writing", &url_file, e))?;
        let tmp_path = tmp.keep();
        match tokio::fs::rename(&tmp_path, &self.dir).await {
            Ok(()) => {
                self.counters.created.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(url = %crate::proxy_url::redact(&self.url), dir = %self.dir.display(), "created git mirror");
                Ok(())
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&tmp_path).await;
                if self.dir.join("objects").is_dir() {
                    // Someone else created it first.
                    self.check_url()
                } else {
                    Err(io("renaming a new mirror to", &self.dir, e))
                }
            }
        }
    }

    async fn fetch_locked(
        &self,
        git: &GitRunner,
        route: &GitRoute,
        st: &mut MirrorState,
    ) -> Result<(), GitError> {
        let started = Instant::now();
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        if route.insecure {
            tracing::warn!(
                url = %crate::proxy_url::redact(&self.url),
                "fetching with TLS certificate verification disabled (insecure route)"
            );
        }
        let base = GitCommand::new(&self.dir)
            .config("protocol.version=2")
            .configs(transport_config(route))
            .args([
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "--no-tags",
                "--end-of-options",
                "origin",
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            ]);
        let with_head = base.clone().arg(format!("+HEAD:{REMOTE_HEAD_REF}"));
        let result = match git.output(&with_head).await {
            Ok(_) => Ok(()),
            Err(e) if e.stderr().contains("couldn't find remote ref HEAD") => {
                // An empty repository, or one whose HEAD names an unborn branch: no default
                // branch, so no latest version; tags and branches may still exist.
                git.output(&base).await?;
                git.output(&GitCommand::new(&self.dir).args([
                    "update-ref",
                    "-d",
                    "--end-of-options",
                    REMOTE_HEAD_REF,
                ]))
                .await?;
                Ok(())
            }
            Err(e) => Err(e),
        };
        result.map_err(|e: RunError| GitError::Command(e))?;
        st.last_fetch = Some(started);
        tracing::debug!(
            url = %crate::proxy_url::redact(&self.url),
            elapsed = ?started.elapsed(),
            "fetched git mirror"
        );
        Ok(())
    }
}

/// The `-c` options for talking to the route's remote.
pub(crate) fn transport_config(route: &GitRoute) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(ca) = &route.ca_file {
        v.push(format!("http.sslCAInfo={}", ca.display()));
    }
    if route.insecure {
        v.push("http.sslVerify=false".to_owned());
    }
    v
}

/// How long ago the last fetch wrote `FETCH_HEAD`, if it ever did.
fn fetch_head_age(dir: &Path) -> Option<Duration> {
    let m = std::fs::metadata(dir.join("FETCH_HEAD"))
        .ok()?
        .modified()
        .ok()?;
    SystemTime::now().duration_since(m).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_dir_is_sha256_of_url_like_codehost_workdir() {
        let a = mirror_dir_name("https://example.com/a.git");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, mirror_dir_name("https://example.com/b.git"));
        assert_eq!(a, mirror_dir_name("https://example.com/a.git"));
    }

    #[test]
    fn transport_config_sets_ca_file_and_insecure() {
        let route = GitRoute {
            root: "example.com/r".into(),
            url: "https://example.com/r".into(),
            subdir: String::new(),
            ca_file: Some(PathBuf::from("/etc/ca.pem")),
            insecure: true,
        };
        assert_eq!(
            transport_config(&route),
            vec![
                "http.sslCAInfo=/etc/ca.pem".to_owned(),
                "http.sslVerify=false".to_owned()
            ]
        );
    }
}
