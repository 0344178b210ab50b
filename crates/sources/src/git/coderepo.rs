//! How a module maps onto a git repository: its versions, how a revision becomes a version,
//! its go.mod, its zip.
//!
//! Go rule: `cmd/go/internal/modfetch/coderepo.go` (`newCodeRepo`, `Versions`,
//! `appendIncompatibleVersions`, `Stat`, `Latest`, `convert`, `validatePseudoVersion`,
//! `revToRev`, `findDir`, `isMajor`, `GoMod`, `LegacyGoMod`, `retractedVersions`, `Zip`).
//! Restated:
//!
//! - A module `root/dir/vN` in the repository of module path `root` lives in directory `dir`
//!   (its *code dir*); its version tags are `dir/vX.Y.Z`. Its files are in `dir` or, for a
//!   `/vN` path, in `dir/vN` when that directory's go.mod declares a `/vN` path (not both).
//! - Listed versions are the canonical semver tags with the code-dir prefix, except tags that
//!   look like pseudo-versions, and only those whose major version suits the path. For a module
//!   at the repository root without a major suffix, tags of v2 and above become
//!   `+incompatible` versions — unless the latest v0/v1 version has a go.mod, and per major
//!   version only if that major's latest tag has no go.mod.
//! - A revision becomes a version: an exact canonical tag asked for is that version; else the
//!   highest canonical, non-retracted, suitable tag on the commit; else a pseudo-version whose
//!   base is the highest suitable, non-retracted tag reachable from the commit. Every answer is
//!   then checked: the go.mod must be where the module path says (a subdirectory module needs
//!   one), its major version must suit the path or be `+incompatible` where that is allowed,
//!   and a canonical version asked for must not resolve to another one.
//! - A pseudo-version asked for must name the commit's 12-digit short hash and its commit time,
//!   must be v0 when it has no base, and its base must be a tag that is an ancestor of the
//!   commit but not on the commit itself.
//! - Retractions come from the go.mod of the highest release (or, without releases, the highest
//!   pre-release) among the listed non-`+incompatible` versions.
//! - A module without a go.mod gets `module <path>\n`.
//!
//! Error messages follow the go command's wording.

use std::collections::HashMap;
use std::fmt::Write as _;

use bytes::Bytes;
use modferry_formats::{modfile, module, pseudo, semver};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::error::GitError;
use super::info::Origin;
use super::repo::{GitRepo, RevInfo};

/// A module version as resolved from git (Go's `modfetch.RevInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModRevInfo {
    /// The module version.
    pub(crate) version: String,
    /// The commit time (Unix seconds).
    pub(crate) time: i64,
    /// The full commit hash.
    pub(crate) name: String,
    /// Where it came from.
    pub(crate) origin: Origin,
}

/// Retracted version intervals (inclusive).
type Retractions = Vec<(String, String)>;

/// One module in one repository (Go's `codeRepo`), for the duration of a request.
pub(crate) struct CodeRepo<'a> {
    code: &'a GitRepo,
    url: String,
    mod_path: String,
    code_root: String,
    code_dir: String,
    path_prefix: String,
    path_major: String,
    pseudo_major: String,
    retractions: OnceCell<Retractions>,
}

impl<'a> CodeRepo<'a> {
    /// The module `path` in the repository whose root has module path `code_root`, with that
    /// root's tree in directory `subdir` of the repository (a go-import meta tag's subdir; empty
    /// for the repository root); `url` is the (redacted) repository URL for `Origin` (Go's
    /// `newCodeRepo`).
    pub(crate) fn new(
        code: &'a GitRepo,
        url: &str,
        code_root: &str,
        subdir: &str,
        path: &str,
    ) -> Result<Self, GitError> {
        if !has_path_prefix(path, code_root) {
            return Err(GitError::not_found(format!(
                "mismatched repo: found {code_root} for {path}"
            )));
        }
        let Some((prefix, path_major)) = module::split_path_version(path) else {
            return Err(GitError::InvalidPath {
                path: path.to_owned(),
                reason: "invalid major version suffix".to_owned(),
            });
        };
        let path_prefix = if code_root == path { path } else { prefix };
        let mut code_dir = String::new();
        if code_root != path {
            if !has_path_prefix(path_prefix, code_root) {
                return Err(GitError::not_found(format!(
                    "repository rooted at {code_root} cannot contain module {path}"
                )));
            }
            code_dir = path_prefix[code_root.len()..].trim_matches('/').to_owned();
        }
        // Go joins in this order (the module's directory below the root, then the meta
        // tag's subdir), even though the subdir names where the root's tree is.
        if !subdir.is_empty() {
            code_dir = clean_join(&code_dir, subdir).ok_or_else(|| GitError::InvalidPath {
                path: path.to_owned(),
                reason: format!("repository subdirectory {subdir:?} leaves the repository"),
            })?;
        }
        Ok(CodeRepo {
            code,
            url: url.to_owned(),
            mod_path: path.to_owned(),
            code_root: code_root.to_owned(),
            code_dir,
            path_prefix: path_prefix.to_owned(),
            path_major: path_major.to_owned(),
            pseudo_major: module::path_major_prefix(path_major).to_owned(),
            retractions: OnceCell::new(),
        })
    }

    fn tag_prefix(&self) -> String {
        if self.code_dir.is_empty() {
            String::new()
        } else {
            format!("{}/", self.code_dir)
        }
    }

    fn version_error(&self, version: &str, pseudo: bool, reason: impl std::fmt::Display) -> String {
        let noun = if pseudo { "pseudo-version" } else { "version" };
        format!("{}@{version}: invalid {noun}: {reason}", self.mod_path)
    }

    // -----------------------------------------------------------------------------------------
    // Versions

    /// The module's versions from tags starting with `prefix` (Go's `Versions`), sorted.
    pub(crate) async fn versions(&self, prefix: &str) -> Result<Vec<String>, GitError> {
        if self.mod_path.starts_with("gopkg.in/") && self.mod_path.ends_with("-unstable") {
            return Ok(Vec::new());
        }
        let p = format!("{}{prefix}", self.tag_prefix());
        let tags = self
            .code
            .tags(&p)
            .await
            .map_err(|e| e.context(&format!("module {}", self.mod_path)))?;
        let mut list = Vec::new();
        let mut incompatible = Vec::new();
        for (name, _) in tags {
            let v = if self.code_dir.is_empty() {
                name.as_str()
            } else {
                name.get(self.code_dir.len() + 1..).unwrap_or("")
            };
            if v.is_empty() || semver::canonical(v).as_deref() != Some(v) {
                continue;
            }
            if pseudo::is_pseudo_version(v) {
                continue;
            }
            if module::check_path_major(v, &self.path_major).is_err() {
                if self.code_dir.is_empty()
                    && self.path_major.is_empty()
                    && semver::major(v).unwrap_or_default().as_str() > "v1"
                {
                    incompatible.push(v.to_owned());
                }
                continue;
            }
            list.push(v.to_owned());
        }
        semver::sort(&mut list);
        semver::sort(&mut incompatible);
        self.append_incompatible(list, incompatible).await
    }

    /// Whether the tag `v` (at the repository root) has a go.mod.
    async fn version_has_go_mod(&self, v: &str) -> Result<bool, GitError> {
        self.code
            .read_file(v, "go.mod")
            .await
            .map(|d| d.is_some())
            .map_err(|e| e.context(&format!("module {}", self.mod_path)))
    }

    /// Go's `appendIncompatibleVersions`.
    async fn append_incompatible(
        &self,
        mut list: Vec<String>,
        incompatible: Vec<String>,
    ) -> Result<Vec<String>, GitError> {
        if incompatible.is_empty() || !self.path_major.is_empty() {
            return Ok(list);
        }
        if let Some(last) = list.last()
            && self.version_has_go_mod(last).await?
        {
            // The author moved to modules on the v0/v1 line: no +incompatible versions.
            return Ok(list);
        }
        let mut last_major = String::new();
        let mut last_major_has_go_mod = false;
        for (i, v) in incompatible.iter().enumerate() {
            let major = semver::major(v).unwrap_or_default();
            if major != last_major {
                let latest_at_major = incompatible[i..]
                    .iter()
                    .take_while(|w| semver::major(w).unwrap_or_default() == major)
                    .last()
                    .unwrap_or(v);
                last_major_has_go_mod = self.version_has_go_mod(latest_at_major).await?;
                last_major = major;
            }
            if !last_major_has_go_mod {
                list.push(format!("{v}+incompatible"));
            }
        }
        Ok(list)
    }

    // -----------------------------------------------------------------------------------------
    // Stat and Latest

    /// Resolves a version or query to a module version (Go's `Stat`).
    pub(crate) async fn stat(&self, rev: &str) -> Result<ModRevInfo, GitError> {
        if rev == "latest" {
            return self.latest().await;
        }
        let code_rev = self.rev_to_rev(rev);
        let info = match self.code.stat(&code_rev).await {
            Ok(info) => info,
            Err(e @ (GitError::NotFound { .. } | GitError::Invalid { .. })) => {
                let not_found = e.is_not_found();
                let message = self.version_error(rev, false, e);
                return Err(if not_found {
                    GitError::not_found(message)
                } else {
                    GitError::invalid(message)
                });
            }
            Err(e) => return Err(e),
        };
        self.convert(&info, rev).await
    }

    /// The default branch's head as a module version (Go's `Latest`).
    pub(crate) async fn latest(&self) -> Result<ModRevInfo, GitError> {
        let info = self.code.latest().await?;
        self.convert(&info, "").await
    }

    fn origin(&self, info: &RevInfo) -> Origin {
        Origin {
            url: self.url.clone(),
            subdir: self.code_dir.clone(),
            hash: info.name.clone(),
            ref_name: info.origin_ref.clone(),
        }
    }

    /// Go's `convert`: the module version for commit `info`, asked for as `stat_vers` (empty
    /// for `Latest`).
    async fn convert(&self, info: &RevInfo, stat_vers: &str) -> Result<ModRevInfo, GitError> {
        let mut incompat = IncompatibleCheck::default();

        if pseudo::is_pseudo_version(stat_vers) {
            let r = self
                .check_canonical(info, stat_vers, stat_vers, &mut incompat)
                .await?;
            self.validate_pseudo_version(info, stat_vers).await?;
            return Ok(r);
        }

        let tag_prefix = self.tag_prefix();
        let tag_to_version = |tag: &str| -> (String, bool) {
            let Some(trimmed) = tag.strip_prefix(tag_prefix.as_str()) else {
                return (String::new(), false);
            };
            // Go checks the whole tag here, prefix included.
            if pseudo::is_pseudo_version(tag) {
                return (String::new(), false);
            }
            match semver::canonical(trimmed) {
                Some(v) if trimmed.starts_with(v.as_str()) => {
                    let exact = v == trimmed;
                    (v, exact)
                }
                _ => (String::new(), false),
            }
        };

        let (v, exact) = tag_to_version(&info.version);
        if exact
            && let Ok(r) = self
                .check_canonical(info, &v, stat_vers, &mut incompat)
                .await
        {
            return Ok(r);
        }

        let mut highest = String::new();
        let mut pseudo_base = String::new();
        for path_tag in &info.tags {
            let (v, exact) = tag_to_version(path_tag);
            if !stat_vers.is_empty() && semver::compare(&v, stat_vers).is_eq() {
                if exact {
                    return self
                        .check_canonical(info, &v, stat_vers, &mut incompat)
                        .await;
                }
                pseudo_base = v.clone();
            }
            if exact
                && semver::compare(&highest, &v).is_lt()
                && !self.is_retracted(&v).await
                && (module::match_path_major(&v, &self.path_major)
                    || self
                        .can_use_incompatible(info, &v, stat_vers, &mut incompat)
                        .await?)
            {
                highest = v;
            }
        }
        if !highest.is_empty() {
            return self
                .check_canonical(info, &highest, stat_vers, &mut incompat)
                .await;
        }

        if pseudo_base.is_empty() {
            // Go's RecentTag: the highest allowed tag reachable from the commit.
            let mut best = String::new();
            for tag in self.code.merged_tags(&info.name).await? {
                let Some(semtag) = tag.strip_prefix(tag_prefix.as_str()) else {
                    continue;
                };
                let (v, _) = tag_to_version(&tag);
                if v.is_empty() {
                    continue;
                }
                if !module::match_path_major(&v, &self.path_major)
                    && !self
                        .can_use_incompatible(info, &v, stat_vers, &mut incompat)
                        .await?
                {
                    continue;
                }
                if self.is_retracted(&v).await {
                    continue;
                }
                if semver::compare(semtag, &best).is_gt() {
                    best = semtag.to_owned();
                }
            }
            if !best.is_empty() {
                pseudo_base = tag_to_version(&format!("{tag_prefix}{best}")).0;
            }
        }

        let t = OffsetDateTime::from_unix_timestamp(info.time)
            .map_err(|e| GitError::invalid(format!("commit time {}: {e}", info.time)))?;
        let v = pseudo::pseudo_version(&self.pseudo_major, &pseudo_base, t, &info.short);
        self.check_canonical(info, &v, stat_vers, &mut incompat)
            .await
    }

    /// Go's `canUseIncompatible` inside `convert`: whether `v` may be served as
    /// `v+incompatible` at commit `info` (a root module, no go.mod at the root, and — unless
    /// `+incompatible` was asked for explicitly — no `vN/go.mod` for its major version).
    async fn can_use_incompatible(
        &self,
        info: &RevInfo,
        v: &str,
        stat_vers: &str,
        memo: &mut IncompatibleCheck,
    ) -> Result<bool, GitError> {
        if !self.code_dir.is_empty() || !self.path_major.is_empty() {
            return Ok(false);
        }
        let root_ok = match memo.root {
            Some(ok) => ok,
            None => {
                let ok = self.code.read_file(&info.name, "go.mod").await?.is_none();
                memo.root = Some(ok);
                ok
            }
        };
        if !root_ok {
            return Ok(false);
        }
        if !v.is_empty() && !stat_vers.ends_with("+incompatible") {
            let major = semver::major(v).unwrap_or_default();
            let ok = match memo.majors.get(&major) {
                Some(ok) => *ok,
                None => {
                    let ok = self
                        .code
                        .read_file(&info.name, &format!("{major}/go.mod"))
                        .await?
                        .is_none();
                    memo.majors.insert(major, ok);
                    ok
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Go's `checkCanonical` inside `convert`.
    async fn check_canonical(
        &self,
        info: &RevInfo,
        v: &str,
        stat_vers: &str,
        incompat: &mut IncompatibleCheck,
    ) -> Result<ModRevInfo, GitError> {
        if let Err(e) = self.find_dir(v).await {
            return Err(GitError::not_found(self.version_error(v, false, e)));
        }
        let mut v = v.to_owned();
        if v == stat_vers.strip_suffix("+incompatible").unwrap_or(stat_vers) {
            v = stat_vers.to_owned();
        }
        let base = v.strip_suffix("+incompatible").unwrap_or(&v).to_owned();
        let mut err_incompatible = None;
        if !module::match_path_major(&base, &self.path_major) {
            if self
                .can_use_incompatible(info, &base, stat_vers, incompat)
                .await?
            {
                v = format!("{base}+incompatible");
            } else if !self.path_major.is_empty() {
                err_incompatible = Some(self.version_error(
                    &v,
                    false,
                    "module path includes a major version suffix, so major version must match",
                ));
            } else {
                let want = path_join(&self.path_prefix, &semver::major(&v).unwrap_or_default());
                err_incompatible = Some(self.version_error(
                    &v,
                    false,
                    format!(
                        "module contains a go.mod file, so module path must match major version ({})",
                        go_quote(&want)
                    ),
                ));
            }
        } else if v.ends_with("+incompatible") {
            err_incompatible = Some(self.version_error(
                &v,
                false,
                format!(
                    "+incompatible suffix not allowed: major version {} is compatible",
                    semver::major(&v).unwrap_or_default()
                ),
            ));
        }

        if !stat_vers.is_empty()
            && module::canonical_version(stat_vers).as_deref() == Some(stat_vers)
        {
            let stat_base = stat_vers.strip_suffix("+incompatible").unwrap_or(stat_vers);
            if stat_base != base {
                return Err(GitError::not_found(self.version_error(
                    stat_vers,
                    false,
                    format!("resolves to version {v} ({stat_base} is not a tag)"),
                )));
            }
        }
        if let Some(message) = err_incompatible {
            return Err(GitError::invalid(message));
        }
        Ok(ModRevInfo {
            version: v,
            time: info.time,
            name: info.name.clone(),
            origin: self.origin(info),
        })
    }

    /// Go's `validatePseudoVersion`.
    async fn validate_pseudo_version(&self, info: &RevInfo, version: &str) -> Result<(), GitError> {
        let fail = |reason: String| GitError::invalid(self.version_error(version, true, reason));
        let rev = pseudo::pseudo_version_rev(version).map_err(|e| fail(e.to_string()))?;
        if rev != info.short {
            let reason = if rev.starts_with(&info.short) {
                format!(
                    "revision is longer than canonical (expected {})",
                    info.short
                )
            } else if info.short.starts_with(&rev) {
                format!(
                    "revision is shorter than canonical (expected {})",
                    info.short
                )
            } else {
                format!(
                    "does not match short name of revision (expected {})",
                    info.short
                )
            };
            return Err(fail(reason));
        }
        let t = pseudo::pseudo_version_time(version).map_err(|e| fail(e.to_string()))?;
        if t.unix_timestamp() != info.time {
            let want = OffsetDateTime::from_unix_timestamp(info.time)
                .map(pseudo::format_timestamp)
                .unwrap_or_default();
            return Err(fail(format!(
                "does not match version-control timestamp (expected {want})"
            )));
        }
        let tag_prefix = self.tag_prefix();
        let base =
            pseudo::pseudo_version_base(version.strip_suffix("+incompatible").unwrap_or(version))
                .map_err(|e| fail(e.to_string()))?;
        if base.is_empty() {
            if self.pseudo_major.is_empty() && semver::major(version).as_deref() == Some("v1") {
                return Err(fail(
                    "major version without preceding tag must be v0, not v1".to_owned(),
                ));
            }
            return Ok(());
        }
        for tag in &info.tags {
            let version_only = tag.strip_prefix(tag_prefix.as_str()).unwrap_or(tag);
            if version_only == base {
                return Err(fail(format!(
                    "tag ({tag}) found on revision {rev} is already canonical, so should not be replaced with a pseudo-version derived from that tag"
                )));
            }
        }
        let mut last_tag = String::new();
        let mut found = false;
        let mut last_err = None;
        for (name, _) in self.code.tags(&format!("{tag_prefix}{base}")).await? {
            let version_only = name.strip_prefix(tag_prefix.as_str()).unwrap_or(&name);
            if semver::compare(version_only, &base).is_eq() {
                last_tag = name.clone();
                match self.code.descends_from(&info.name, &name).await {
                    Ok(true) => {
                        found = true;
                        break;
                    }
                    Ok(false) => last_err = None,
                    Err(e) => last_err = Some(e),
                }
            }
        }
        if last_tag.is_empty() {
            return Err(fail(format!("preceding tag ({base}) not found")));
        }
        if !found {
            if let Some(e) = last_err {
                return Err(e);
            }
            return Err(fail(format!(
                "revision {rev} is not a descendent of preceding tag ({last_tag})"
            )));
        }
        Ok(())
    }

    /// Go's `revToRev`: the git revision for a version or query.
    fn rev_to_rev(&self, rev: &str) -> String {
        if !semver::is_valid(rev) {
            return rev.to_owned();
        }
        if pseudo::is_pseudo_version(rev) {
            return pseudo::pseudo_version_rev(rev).unwrap_or_else(|_| rev.to_owned());
        }
        let rev = if semver::build(rev).as_deref() == Some("+incompatible") {
            rev.strip_suffix("+incompatible").unwrap_or(rev)
        } else {
            rev
        };
        format!("{}{rev}", self.tag_prefix())
    }

    // -----------------------------------------------------------------------------------------
    // Retractions

    /// Whether `v` is retracted by the latest version's go.mod; any failure to find out means
    /// "not retracted", as in Go.
    async fn is_retracted(&self, v: &str) -> bool {
        let retractions = self
            .retractions
            .get_or_init(|| async { self.retracted_versions().await.unwrap_or_default() })
            .await;
        retractions
            .iter()
            .any(|(low, high)| semver::compare(low, v).is_le() && semver::compare(v, high).is_le())
    }

    /// Go's `retractedVersions`.
    async fn retracted_versions(&self) -> Result<Retractions, GitError> {
        let mut versions = self.versions("").await?;
        if let Some(i) = versions.iter().position(|v| v.ends_with("+incompatible")) {
            versions.truncate(i);
        }
        let Some(last) = versions.last() else {
            return Ok(Vec::new());
        };
        let highest = versions
            .iter()
            .rev()
            .find(|v| semver::prerelease(v).is_none())
            .unwrap_or(last)
            .clone();
        let data = Box::pin(self.go_mod(&highest)).await?;
        let Ok(f) = modfile::parse_lax("go.mod", &data) else {
            return Ok(Vec::new());
        };
        Ok(f.retract.into_iter().map(|r| (r.low, r.high)).collect())
    }

    // -----------------------------------------------------------------------------------------
    // go.mod and the module directory

    /// Go's `findDir`: the revision, the module's directory in it, and the go.mod found there.
    pub(crate) async fn find_dir(
        &self,
        version: &str,
    ) -> Result<(String, String, Option<Bytes>), GitError> {
        if !semver::is_valid(version) {
            return Err(GitError::invalid(self.version_error(
                version,
                false,
                "syntax error",
            )));
        }
        let rev = self.rev_to_rev(version);
        let file1 = path_join(&self.code_dir, "go.mod");
        let gomod1 = self.read_for_dir(&rev, &file1).await?;
        let mpath1 = gomod1.as_deref().and_then(modfile::module_path);
        let found1 = gomod1.is_some()
            && (is_major(mpath1.as_deref(), &self.path_major)
                || self.can_replace_mismatched_version_due_to_bug(mpath1.as_deref()));

        let mut file2 = None;
        if !self.path_major.is_empty()
            && self.code_root != self.mod_path
            && !self.path_major.starts_with('.')
        {
            let dir2 = path_join(&self.code_dir, &self.path_major[1..]);
            let f2 = path_join(&dir2, "go.mod");
            let gomod2 = self.read_for_dir(&rev, &f2).await?;
            let mpath2 = gomod2.as_deref().and_then(modfile::module_path);
            let found2 = gomod2.is_some() && is_major(mpath2.as_deref(), &self.path_major);
            if found1 && found2 {
                return Err(GitError::invalid(format!(
                    "{}/{file1} and ...{}/go.mod both have ...{} module paths at revision {rev}",
                    self.path_prefix, self.path_major, self.path_major
                )));
            }
            if found2 {
                return Ok((rev, dir2, gomod2));
            }
            if gomod2.is_some() {
                return Err(GitError::invalid(match mpath2 {
                    None => format!(
                        "{}/{f2} is missing module path at revision {rev}",
                        self.code_root
                    ),
                    Some(m) => format!(
                        "{}/{f2} has non-...{} module path {} at revision {rev}",
                        self.code_root,
                        self.path_major,
                        go_quote(&m)
                    ),
                }));
            }
            file2 = Some(f2);
        }

        if found1 {
            return Ok((rev, self.code_dir.clone(), gomod1));
        }
        if gomod1.is_some() {
            let suffix = if file2.is_some() {
                format!(" (and ...{}/go.mod does not exist)", self.path_major)
            } else {
                String::new()
            };
            let message = match mpath1 {
                None => format!("{file1} is missing module path{suffix} at revision {rev}"),
                Some(m) if !self.path_major.is_empty() => format!(
                    "{file1} has non-...{} module path {}{suffix} at revision {rev}",
                    self.path_major,
                    go_quote(&m)
                ),
                Some(m) if module::split_path_version(&m).is_none() => format!(
                    "{file1} has malformed module path {}{suffix} at revision {rev}",
                    go_quote(&m)
                ),
                Some(m) => format!(
                    "{file1} has post-{} module path {}{suffix} at revision {rev}",
                    semver::major(version).unwrap_or_default(),
                    go_quote(&m)
                ),
            };
            return Err(GitError::invalid(message));
        }

        if self.code_dir.is_empty()
            && (self.path_major.is_empty() || self.path_major.starts_with('.'))
        {
            return Ok((rev, String::new(), None));
        }
        Err(GitError::not_found(match file2 {
            Some(_) => format!(
                "missing {}/go.mod and ...{}/go.mod at revision {rev}",
                self.path_prefix, self.path_major
            ),
            None => format!("missing {}/go.mod at revision {rev}", self.path_prefix),
        }))
    }

    /// Reads `file` at `rev` for [`CodeRepo::find_dir`], naming both in errors.
    async fn read_for_dir(&self, rev: &str, file: &str) -> Result<Option<Bytes>, GitError> {
        self.code.read_file(rev, file).await.map_err(|e| match e {
            GitError::NotFound { message } | GitError::Invalid { message } => {
                GitError::invalid(format!(
                    "reading {}/{file} at revision {rev}: {message}",
                    self.code_root
                ))
            }
            other => other,
        })
    }

    /// Go's `canReplaceMismatchedVersionDueToBug` (golang.org/issue/34254).
    fn can_replace_mismatched_version_due_to_bug(&self, mpath: Option<&str>) -> bool {
        self.path_major.is_empty() && mpath.is_some_and(|m| m.starts_with("gopkg.in/"))
    }

    /// The go.mod of a canonical version (Go's `GoMod`).
    pub(crate) async fn go_mod(&self, version: &str) -> Result<Bytes, GitError> {
        if module::canonical_version(version).as_deref() != Some(version) {
            return Err(GitError::invalid(format!(
                "version {version} is not canonical"
            )));
        }
        if pseudo::is_pseudo_version(version) {
            Box::pin(self.stat(version)).await?;
        }
        let (rev, dir, gomod) = self.find_dir(version).await?;
        if let Some(g) = gomod {
            return Ok(g);
        }
        match self
            .code
            .read_file(&rev, &path_join(&dir, "go.mod"))
            .await?
        {
            Some(d) => Ok(d),
            None => Ok(Bytes::from(legacy_go_mod(&self.mod_path))),
        }
    }

    /// The commit and directory of a canonical version's files, and whether the repository
    /// root's LICENSE must be added (Go's `Zip` up to `ReadZip`).
    pub(crate) async fn zip_source(&self, version: &str) -> Result<ZipSource, GitError> {
        if module::canonical_version(version).as_deref() != Some(version) {
            return Err(GitError::invalid(format!(
                "version {version} is not canonical"
            )));
        }
        if pseudo::is_pseudo_version(version) {
            self.stat(version).await?;
        }
        let (rev, subdir, _) = self.find_dir(version).await?;
        let info = self.code.stat(&rev).await?;
        Ok(ZipSource {
            rev,
            hash: info.name,
            subdir,
        })
    }

    /// The repository-root LICENSE at `rev`, if any.
    pub(crate) async fn root_license(&self, rev: &str) -> Result<Option<Bytes>, GitError> {
        self.code.read_file(rev, "LICENSE").await
    }
}

/// What `git archive` must be run on for a module zip.
#[derive(Debug, Clone)]
pub(crate) struct ZipSource {
    /// The revision as looked up (a tag or hash).
    pub(crate) rev: String,
    /// The commit hash.
    pub(crate) hash: String,
    /// The module's directory in the repository.
    pub(crate) subdir: String,
}

/// Memo for `canUseIncompatible`: whether the root go.mod, and each `vN/go.mod`, is absent.
#[derive(Default)]
struct IncompatibleCheck {
    root: Option<bool>,
    majors: HashMap<String, bool>,
}

/// Go's `isMajor`: whether a go.mod declaring `mpath` fits the path major suffix `path_major`.
fn is_major(mpath: Option<&str>, path_major: &str) -> bool {
    let Some(mpath) = mpath else {
        return false;
    };
    let Some((_, mpath_major)) = module::split_path_version(mpath) else {
        return false;
    };
    if path_major.is_empty() {
        return matches!(module::path_major_prefix(mpath_major), "" | "v0" | "v1");
    }
    if mpath_major.is_empty() {
        return false;
    }
    path_major.get(1..) == mpath_major.get(1..)
}

/// Go's `LegacyGoMod`: the go.mod of a module that has none. (A checked module path never
/// needs the quoting of `modfile.AutoQuote`.)
pub(crate) fn legacy_go_mod(path: &str) -> Vec<u8> {
    let needs_quote = path.is_empty()
        || path.contains("//")
        || path.contains("/*")
        || path
            .chars()
            .any(|c| c.is_whitespace() || "\"'`(),[]{}".contains(c) || c.is_control());
    if needs_quote {
        format!("module {}\n", go_quote(path)).into_bytes()
    } else {
        format!("module {path}\n").into_bytes()
    }
}

/// Go's `hasPathPrefix`: `prefix` is `s` or a leading run of its slash-separated elements.
pub(crate) fn has_path_prefix(s: &str, prefix: &str) -> bool {
    if s.len() == prefix.len() {
        return s == prefix;
    }
    if s.len() < prefix.len() {
        return false;
    }
    if prefix.ends_with('/') {
        return s.starts_with(prefix);
    }
    s.as_bytes().get(prefix.len()) == Some(&b'/') && s.starts_with(prefix)
}

/// Go's `path.Join` for the relative, clean paths used here.
/// `dir/rest` with empty and `.` elements dropped and `..` applied, as Go's `filepath.Join`
/// cleans it; `None` when a `..` would leave the repository.
pub(crate) fn clean_join(dir: &str, rest: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for elem in dir.split('/').chain(rest.split('/')) {
        match elem {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            e => out.push(e),
        }
    }
    Some(out.join("/"))
}

fn path_join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (false, true) => a.to_owned(),
        (false, false) => format!("{a}/{b}"),
    }
}

/// Go's `%q` for the strings in these messages.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH_PREFIX: &[(&str, &str, bool)] = &[
        ("example.com/a/b", "example.com/a", true),
        ("example.com/a", "example.com/a", true),
        ("example.com/ab", "example.com/a", false),
        ("example.com/a", "example.com/a/b", false),
        ("example.com/a/b", "example.com/", true),
    ];

    #[test]
    fn clean_join_cleans_like_filepath_join_and_refuses_escapes() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("", "sub", Some("sub")),
            ("a", "b/c", Some("a/b/c")),
            ("a", "./b//c/", Some("a/b/c")),
            ("a", "../b", Some("b")),
            ("", "../b", None),
            ("", "", Some("")),
        ];
        for &(dir, rest, want) in cases {
            assert_eq!(clean_join(dir, rest).as_deref(), want, "{dir} + {rest}");
        }
    }

    #[test]
    fn has_path_prefix_matches_whole_elements() {
        for &(s, prefix, want) in PATH_PREFIX {
            assert_eq!(has_path_prefix(s, prefix), want, "{s} {prefix}");
        }
    }

    const IS_MAJOR: &[(Option<&str>, &str, bool)] = &[
        (Some("example.com/m"), "", true),
        (Some("example.com/m/v2"), "", false),
        (Some("gopkg.in/yaml.v1"), "", true),
        (Some("example.com/m/v2"), "/v2", true),
        (Some("example.com/m/v3"), "/v2", false),
        (Some("example.com/m"), "/v2", false),
        (Some("gopkg.in/m.v2"), "/v2", true),
        (Some("gopkg.in/m.v2-unstable"), "/v2", false),
        (None, "", false),
        (Some("example.com/m/v1"), "", false),
    ];

    #[test]
    fn is_major_compares_major_suffixes_like_coderepo() {
        for &(mpath, major, want) in IS_MAJOR {
            assert_eq!(is_major(mpath, major), want, "{mpath:?} {major}");
        }
    }

    #[test]
    fn legacy_go_mod_is_a_bare_module_line() {
        assert_eq!(legacy_go_mod("example.com/m"), b"module example.com/m\n");
        assert_eq!(legacy_go_mod("a b"), b"module \"a b\"\n");
    }
}
