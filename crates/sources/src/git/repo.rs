//! The go command's view of one git repository (its `codehost.Repo`), answered from a local
//! bare mirror: refs, revision lookup, files at a revision, tags reachable from a revision,
//! ancestry, and `git archive`.
//!
//! Go rule: `cmd/go/internal/modfetch/codehost/git.go` (`loadRefs`, `Tags`, `Latest`, `stat`,
//! `statLocal`, `ReadFile`, `RecentTag`, `DescendsFrom`, `ReadZip`) and `codehost.go`
//! (`RevInfo`, `UnknownRevisionError`, `ShortenSHA1`, `AllHex`). Restated:
//!
//! - The refs are `HEAD`, `refs/heads/*` and `refs/tags/*`, annotated tags peeled to the object
//!   they tag. Here they come from the mirror (`git show-ref -d`; the remote's `HEAD` is the
//!   mirror's `refs/modferry/HEAD`), where Go asks the remote with `git ls-remote`.
//! - A revision is looked up as a tag, then a branch, then `HEAD`, then as a hex prefix of at
//!   least 7 digits of a ref's commit (two different commits are "ambiguous"; ties between refs
//!   on one commit go to the smallest ref name), then as a prefix of any commit in the mirror.
//!   The result records the commit, its commit time (`%ct`), its 12-digit short hash, every tag
//!   pointing at it, and which ref resolved it (`Origin.Ref`): the tag or branch ref, or the
//!   ref a hash prefix matched; none for a bare hash, and none when the ref is `HEAD` (a fresh
//!   go command fetches `HEAD` by hash and so records no ref; only `Latest` names `HEAD`).
//!   Anything else is "unknown revision".
//! - Files are read with `git cat-file blob <commit>:<path>`, which for a symbolic link yields
//!   the link text, as in Go; any failure of that command means "does not exist".
//! - The pseudo-version base search lists tags merged into the revision
//!   (`git for-each-ref --merged`), ancestry uses `git merge-base --is-ancestor`.
//! - Zips come from `git -c core.autocrlf=input -c core.eol=lf archive --format=zip
//!   --prefix=prefix/ <commit> [<subdir>]`, so `.gitattributes` line-ending rules apply as they
//!   do for the go command.
//!
//! Only validated strings reach a command line: hex digits, ref names taken from the mirror's
//! own ref list (always as full `refs/...` names), and paths derived from a checked module path,
//! each after `--end-of-options`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{Mutex, OnceCell};

use super::cache::{Mirror, REMOTE_HEAD_REF};
use super::command::{GitCommand, GitRunner, RunError};
use super::error::GitError;

/// Go's `minHashDigits`: the shortest hex string taken as a commit hash prefix.
pub(crate) const MIN_HASH_DIGITS: usize = 7;

/// A revision as the code host describes it (Go's `codehost.RevInfo` plus `Origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevInfo {
    /// The full commit hash.
    pub(crate) name: String,
    /// The 12-digit short hash used in pseudo-versions.
    pub(crate) short: String,
    /// The commit time, in seconds since the Unix epoch.
    pub(crate) time: i64,
    /// The revision asked for when it is a tag on this commit, else the full hash.
    pub(crate) version: String,
    /// Every tag pointing at the commit, sorted.
    pub(crate) tags: Vec<String>,
    /// The ref the lookup went through (`Origin.Ref`), if any.
    pub(crate) origin_ref: Option<String>,
}

/// The refs of a repository: `HEAD`, `refs/heads/...`, `refs/tags/...` → commit (or other
/// object, for tags of non-commits) hash.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    map: BTreeMap<String, String>,
}

impl Refs {
    /// Parses `git show-ref -d` output: `<hash> <ref>` lines, `<ref>^{}` giving the peeled
    /// hash of an annotated tag.
    pub(crate) fn parse(out: &str) -> Refs {
        let mut map = BTreeMap::new();
        let mut peeled = Vec::new();
        for line in out.lines() {
            let Some((hash, name)) = line.split_once(' ') else {
                continue;
            };
            if !is_hex(hash) {
                continue;
            }
            let key = if let Some(base) = name.strip_suffix("^{}") {
                peeled.push((base.to_owned(), hash.to_owned()));
                continue;
            } else if name == REMOTE_HEAD_REF {
                "HEAD".to_owned()
            } else if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
                name.to_owned()
            } else {
                continue;
            };
            map.insert(key, hash.to_owned());
        }
        for (name, hash) in peeled {
            if name.starts_with("refs/tags/") {
                map.insert(name, hash);
            }
        }
        Refs { map }
    }

    /// The hash a ref points at.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// Tags whose name starts with `prefix`, sorted by name, with their hashes (Go's `Tags`).
    pub(crate) fn tags(&self, prefix: &str) -> Vec<(String, String)> {
        let start = format!("refs/tags/{prefix}");
        self.map
            .range(start.clone()..)
            .take_while(|(k, _)| k.starts_with(&start))
            .filter_map(|(k, h)| Some((k.strip_prefix("refs/tags/")?.to_owned(), h.clone())))
            .collect()
    }

    /// Tags pointing at `hash`, sorted.
    fn tags_at(&self, hash: &str) -> Vec<String> {
        self.map
            .iter()
            .filter(|(k, h)| h.as_str() == hash && k.starts_with("refs/tags/"))
            .filter_map(|(k, _)| k.strip_prefix("refs/tags/").map(str::to_owned))
            .collect()
    }

    /// The length of this repository's hashes (40 for SHA-1, 64 for SHA-256).
    fn hash_len(&self) -> usize {
        self.map.values().next().map_or(40, String::len)
    }
}

/// Go's `AllHex`: only lower-case hexadecimal digits (and not empty).
pub(crate) fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A view of one mirror for the duration of a request: refs are read once, lookups and file
/// reads are memoized (Go's `statCache`).
pub(crate) struct GitRepo {
    git: Arc<GitRunner>,
    mirror: Arc<Mirror>,
    refs: OnceCell<Arc<Refs>>,
    stats: Mutex<HashMap<String, RevInfo>>,
    files: Mutex<HashMap<(String, String), Option<Bytes>>>,
}

impl GitRepo {
    /// A view of `mirror`.
    pub(crate) fn new(git: Arc<GitRunner>, mirror: Arc<Mirror>) -> Self {
        GitRepo {
            git,
            mirror,
            refs: OnceCell::new(),
            stats: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
        }
    }

    fn cmd(&self) -> GitCommand {
        GitCommand::new(self.mirror.dir())
    }

    /// The refs (read once per view).
    pub(crate) async fn refs(&self) -> Result<Arc<Refs>, GitError> {
        self.refs
            .get_or_try_init(|| async {
                match self.git.output(&self.cmd().args(["show-ref", "-d"])).await {
                    Ok(out) => Ok(Arc::new(Refs::parse(&String::from_utf8_lossy(&out)))),
                    // show-ref exits 1 when there are no refs at all.
                    Err(e) if e.exit_code() == Some(1) && e.stderr().trim().is_empty() => {
                        Ok(Arc::new(Refs::default()))
                    }
                    Err(e) => Err(GitError::Command(e)),
                }
            })
            .await
            .cloned()
    }

    /// Tags starting with `prefix`, sorted by name (Go's `Tags`).
    pub(crate) async fn tags(&self, prefix: &str) -> Result<Vec<(String, String)>, GitError> {
        Ok(self.refs().await?.tags(prefix))
    }

    /// The default branch's head (Go's `Latest`): "no commits" when the remote has no `HEAD`.
    pub(crate) async fn latest(&self) -> Result<RevInfo, GitError> {
        let refs = self.refs().await?;
        let Some(head) = refs.get("HEAD").map(str::to_owned) else {
            return Err(GitError::not_found("no commits"));
        };
        let mut info = self.stat(&head).await?;
        info.origin_ref = Some("HEAD".to_owned());
        Ok(info)
    }

    /// Resolves a revision (Go's `Stat`): a tag, branch, `HEAD`, or hash prefix.
    pub(crate) async fn stat(&self, rev: &str) -> Result<RevInfo, GitError> {
        if let Some(info) = self.stats.lock().await.get(rev) {
            return Ok(info.clone());
        }
        let info = self.stat_uncached(rev).await?;
        self.stats.lock().await.insert(rev.to_owned(), info.clone());
        Ok(info)
    }

    async fn stat_uncached(&self, rev: &str) -> Result<RevInfo, GitError> {
        let refs = self.refs().await?;
        let tag_ref = format!("refs/tags/{rev}");
        if refs.get(&tag_ref).is_some() {
            // Tags are assumed never to move: keep the name so the tag shows as the version.
            return self
                .stat_local(&refs, rev, &tag_ref, Some(tag_ref.clone()))
                .await;
        }
        let branch_ref = format!("refs/heads/{rev}");
        if let Some(hash) = refs.get(&branch_ref) {
            let hash = hash.to_owned();
            return self.stat_local(&refs, &hash, &hash, Some(branch_ref)).await;
        }
        if rev == "HEAD"
            && let Some(hash) = refs.get("HEAD")
        {
            // A fresh go command fetches HEAD by hash and so records no Ref for it (only
            // `Latest` names HEAD); answer as it does.
            let hash = hash.to_owned();
            return self.stat_local(&refs, &hash, &hash, None).await;
        }
        if rev.len() >= MIN_HASH_DIGITS && rev.len() <= refs.hash_len() && is_hex(rev) {
            let mut found: Option<(String, String)> = None; // (ref, hash)
            for (name, hash) in &refs.map {
                if !hash.starts_with(rev) {
                    continue;
                }
                match &mut found {
                    Some((_, h)) if h != hash => {
                        return Err(GitError::invalid(format!("ambiguous revision {rev}")));
                    }
                    Some((r, _)) => {
                        if name < r {
                            *r = name.clone();
                        }
                    }
                    None => found = Some((name.clone(), hash.clone())),
                }
            }
            return match found {
                Some((name, hash)) => {
                    // As for `HEAD` above: go fetches a HEAD match by hash, without a Ref.
                    let origin_ref = (name != "HEAD").then_some(name);
                    self.stat_local(&refs, &hash, &hash, origin_ref).await
                }
                None => self.stat_local(&refs, rev, rev, None).await,
            };
        }
        Err(GitError::not_found(format!("unknown revision {rev}")))
    }

    /// Go's `statLocal`: describes `spec` (a hex string or full ref name) in the mirror.
    async fn stat_local(
        &self,
        refs: &Refs,
        version: &str,
        spec: &str,
        origin_ref: Option<String>,
    ) -> Result<RevInfo, GitError> {
        let cmd = self.cmd().config("log.showsignature=false").args([
            "log",
            "--no-decorate",
            "-n1",
            "--format=format:%H %ct",
            "--end-of-options",
            spec,
            "--",
        ]);
        let out = match self.git.output(&cmd).await {
            Ok(out) => out,
            Err(RunError::Failed { .. }) => {
                return Err(GitError::not_found(format!("unknown revision {spec}")));
            }
            Err(e) => return Err(e.into()),
        };
        let text = String::from_utf8_lossy(&out);
        let mut fields = text.split_whitespace();
        let (Some(hash), Some(time)) = (fields.next(), fields.next()) else {
            return Err(GitError::invalid(format!(
                "unexpected response from git log: {text:?}"
            )));
        };
        if !is_hex(hash) {
            return Err(GitError::invalid(format!(
                "unexpected response from git log: {text:?}"
            )));
        }
        let time: i64 = time
            .parse()
            .map_err(|_| GitError::invalid(format!("invalid time from git log: {text:?}")))?;
        let tags = refs.tags_at(hash);
        let version = if tags.iter().any(|t| t == version) {
            version.to_owned()
        } else {
            hash.to_owned()
        };
        Ok(RevInfo {
            name: hash.to_owned(),
            short: hash.get(..12).unwrap_or(hash).to_owned(),
            time,
            version,
            tags,
            origin_ref,
        })
    }

    /// The content of `file` at revision `rev` (Go's `ReadFile`); `None` when it does not exist.
    pub(crate) async fn read_file(&self, rev: &str, file: &str) -> Result<Option<Bytes>, GitError> {
        let info = self.stat(rev).await?;
        let key = (info.name.clone(), file.to_owned());
        if let Some(v) = self.files.lock().await.get(&key) {
            return Ok(v.clone());
        }
        let spec = format!("{}:{file}", info.name);
        let cmd = self
            .cmd()
            .args(["cat-file", "--end-of-options", "blob", spec.as_str()]);
        let data = match self.git.output(&cmd).await {
            Ok(out) => Some(Bytes::from(out)),
            Err(RunError::Failed { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        self.files.lock().await.insert(key, data.clone());
        Ok(data)
    }

    /// Names of the tags whose commits are reachable from `hash` (the candidates of Go's
    /// `RecentTag`).
    pub(crate) async fn merged_tags(&self, hash: &str) -> Result<Vec<String>, GitError> {
        let merged = format!("--merged={hash}");
        let cmd = self.cmd().args([
            "for-each-ref",
            "--format=%(refname)",
            merged.as_str(),
            "--end-of-options",
            "refs/tags/",
        ]);
        let out = self.git.output(&cmd).await?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("refs/tags/").map(str::to_owned))
            .collect())
    }

    /// Whether commit `hash` is `tag`'s commit or a descendant of it (Go's `DescendsFrom`).
    pub(crate) async fn descends_from(&self, hash: &str, tag: &str) -> Result<bool, GitError> {
        let tag_ref = format!("refs/tags/{tag}");
        let cmd = self.cmd().args([
            "merge-base",
            "--is-ancestor",
            "--end-of-options",
            tag_ref.as_str(),
            hash,
        ]);
        match self.git.output(&cmd).await {
            Ok(_) => Ok(true),
            Err(e) if e.exit_code() == Some(1) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `git archive` of `hash` (limited to `subdir` when not empty) into `dest`, at most
    /// `limit` bytes (Go's `ReadZip`). A `subdir` matching nothing is "does not exist".
    pub(crate) async fn archive(
        &self,
        hash: &str,
        subdir: &str,
        dest: &mut tokio::fs::File,
        limit: u64,
    ) -> Result<u64, GitError> {
        let mut cmd = self
            .cmd()
            .config("core.autocrlf=input")
            .config("core.eol=lf")
            .args([
                "archive",
                "--format=zip",
                "--prefix=prefix/",
                "--end-of-options",
                hash,
            ]);
        if !subdir.is_empty() {
            cmd = cmd.arg(subdir);
        }
        match self.git.output_to(&cmd, dest, limit).await {
            Ok(n) => Ok(n),
            Err(e) if e.stderr().contains("did not match any files") => Err(GitError::not_found(
                format!("{subdir}: no files at revision {hash}"),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW_REF: &str = "\
1111111111111111111111111111111111111111 refs/heads/main
2222222222222222222222222222222222222222 refs/modferry/HEAD
3333333333333333333333333333333333333333 refs/tags/v1.0.0
4444444444444444444444444444444444444444 refs/tags/v1.1.0
1111111111111111111111111111111111111111 refs/tags/v1.1.0^{}
5555555555555555555555555555555555555555 refs/remotes/origin/x
";

    #[test]
    fn refs_peel_annotated_tags_like_ls_remote() {
        let refs = Refs::parse(SHOW_REF);
        assert_eq!(
            refs.get("HEAD"),
            Some("2222222222222222222222222222222222222222")
        );
        assert_eq!(
            refs.get("refs/tags/v1.1.0"),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(refs.get("refs/remotes/origin/x"), None);
        assert_eq!(
            refs.tags_at("1111111111111111111111111111111111111111"),
            vec!["v1.1.0".to_owned()]
        );
    }

    #[test]
    fn tags_lists_by_prefix_in_name_order() {
        let refs = Refs::parse(SHOW_REF);
        let names: Vec<_> = refs.tags("v1.").into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["v1.0.0", "v1.1.0"]);
        assert!(refs.tags("sub/").is_empty());
    }

    const HEX: &[(&str, bool)] = &[
        ("abc123", true),
        ("0123456789abcdef", true),
        ("ABC123", false),
        ("", false),
        ("g123", false),
        ("-abc", false),
    ];

    #[test]
    fn all_hex_accepts_only_lower_case_digits() {
        for &(s, want) in HEX {
            assert_eq!(is_hex(s), want, "{s:?}");
        }
    }
}
