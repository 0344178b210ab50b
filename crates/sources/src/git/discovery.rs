//! Finding a module's repository without a configured rule: the hosting sites the go command
//! knows by name, and `?go-get=1` discovery of `<meta name="go-import">` tags.
//!
//! Go rules: `cmd/go/internal/vcs/vcs.go` (`vcsPaths`, `repoRootFromVCSPaths`, `noVCSSuffix`,
//! `repoRootForImportDynamic`, `urlForImportPath`, `metaImportsForPrefix`, `matchGoImport`,
//! `validateRepoRoot`, `validateRepoSubDir`) and `cmd/go/internal/vcs/discovery.go`
//! (`parseMetaGoImports`). `cmd/go/internal/modfetch/repo.go` `lookupDirect` turns every
//! failure to place a module into "not found". Restated:
//!
//! - Known sites: `github.com/OWNER/REPO`, `bitbucket.org/OWNER/REPO`,
//!   `hub.jazz.net/git/USER/REPO`, `git.apache.org/NAME.git`, `git.openstack.org/A/B` are git
//!   repositories at `https://ROOT`; a path with a known site's prefix that does not fit its
//!   shape is an error, not a reason to try discovery. On github.com, bitbucket.org and
//!   hub.jazz.net the repository name must not end in a version control suffix (`.git`, …).
//!   Any other path with an element ending in `.git` (`host/dir/repo.git/sub`) names a git
//!   repository whose root ends at that element. `chiselapp.com` (fossil) and `.hg`, `.svn`,
//!   `.fossil` paths are other version control systems, which are refused here.
//! - Otherwise the page `https://HOST/PATH?go-get=1` is read. Its `<meta name="go-import"
//!   content="PREFIX VCS REPO [SUBDIR]">` tags count up to the end of `<head>` or the start of
//!   `<body>`; attribute names match case-insensitively; contents with other than 3 or 4 fields
//!   are ignored. Entries with VCS `mod` come first and hide other entries of the same prefix
//!   (the go command's module mode).
//! - The entry whose PREFIX is a path prefix of the module (element-wise) is used; two matching
//!   entries are an error unless the first is a `mod` entry. When PREFIX is not the module path
//!   itself, the page of PREFIX must carry the same entry (so one page cannot claim a parent's
//!   repository).
//! - SUBDIR must not start with `/` or `-`; REPO must be a URL with a scheme other than `file`.
//!
//! Deviations, each stated where it applies:
//!
//! - Only git is served: a `mod` entry (a module proxy for the prefix) and other version control
//!   systems are refused with an error naming them (configure the proxy as an upstream instead).
//! - For `host/path/repo.git` paths the go command probes `https`, then `git+ssh`, then `ssh`
//!   with `git ls-remote`; this uses `https` without probing.
//! - An `http://` or `git://` repository URL from a meta tag is refused unless a discovery rule
//!   marks the prefix `insecure` (git would fetch it without TLS).
//! - Discovery pages are read through the standard `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`
//!   variables; a rule's `ca_file` adds trusted authorities, its `insecure` flag allows invalid
//!   certificates and a fall-back to `http` when `https` fails (Go's `GOINSECURE`).
//! - Successful lookups are remembered for a TTL (Go remembers them for one command's run).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use modferry_formats::module;
use tokio::sync::Mutex;

use super::coderepo::has_path_prefix;
use super::route::check_url;
use super::{GitRoute, GitRouter};
use crate::error::{ConfigError, SourceError};

/// The most bytes of a discovery page that are read; the meta tags are in its `<head>`.
const MAX_PAGE: usize = 1 << 20;

/// One `<meta name="go-import" content="prefix vcs repo [subdir]">` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaImport {
    /// The import path prefix the entry is for.
    pub prefix: String,
    /// The version control system (`git`, `hg`, `svn`, `bzr`, `fossil`) or `mod`.
    pub vcs: String,
    /// The repository URL (or, for `mod`, the module proxy URL).
    pub repo_root: String,
    /// The directory inside the repository holding the prefix's tree (go 1.25+); empty for
    /// the repository root.
    pub subdir: String,
}

/// The go-import entries of an HTML page, `mod` entries first (Go's `parseMetaGoImports` in
/// module mode). Never fails: a page without usable tags gives an empty list.
pub fn parse_meta_go_imports(html: &str) -> Vec<MetaImport> {
    let mut all = Vec::new();
    for attrs in meta_tags(html) {
        let attr = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        if attr("name") != "go-import" {
            continue;
        }
        let fields: Vec<&str> = attr("content").split_whitespace().collect();
        if fields.len() != 3 && fields.len() != 4 {
            continue;
        }
        all.push(MetaImport {
            prefix: fields[0].to_owned(),
            vcs: fields[1].to_owned(),
            repo_root: fields[2].to_owned(),
            subdir: fields.get(3).map(|s| (*s).to_owned()).unwrap_or_default(),
        });
    }
    let mod_prefixes: Vec<String> = all
        .iter()
        .filter(|m| m.vcs == "mod")
        .map(|m| m.prefix.clone())
        .collect();
    let (mods, others): (Vec<_>, Vec<_>) = all.into_iter().partition(|m| m.vcs == "mod");
    mods.into_iter()
        .chain(
            others
                .into_iter()
                .filter(|m| !mod_prefixes.contains(&m.prefix)),
        )
        .collect()
}

/// The entry of `imports` whose prefix contains `module` (Go's `matchGoImport`).
pub fn match_go_import<'a>(
    imports: &'a [MetaImport],
    module: &str,
) -> Result<&'a MetaImport, String> {
    let mut found: Option<&MetaImport> = None;
    let mut mismatches = Vec::new();
    for im in imports {
        if !has_path_prefix(module, &im.prefix) {
            mismatches.push(format!(
                "meta tag {} did not match import path {module}",
                im.prefix
            ));
            continue;
        }
        if let Some(first) = found {
            if first.vcs == "mod" && im.vcs != "mod" {
                break;
            }
            return Err(format!("multiple meta tags match import path {module:?}"));
        }
        found = Some(im);
    }
    found.ok_or_else(|| {
        if mismatches.is_empty() {
            "no go-import meta tags".to_owned()
        } else {
            format!("no go-import meta tags ({})", mismatches.join(", "))
        }
    })
}

/// A repository placed by a known hosting site's path shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRoot {
    /// The module path of the repository root.
    pub root: String,
    /// The repository URL.
    pub url: String,
}

/// The repository of `module` by the hosting sites the go command knows (Go's `vcsPaths`):
/// `None` when no site applies (discovery decides), an error when the path has a site's prefix
/// but not its shape, or names another version control system.
pub fn known_host_root(module: &str) -> Option<Result<KnownRoot, String>> {
    let elems: Vec<&str> = module.split('/').collect();
    for site in SITES {
        let n = site.prefix.len();
        if elems.len() < n || elems[..n] != *site.prefix {
            continue;
        }
        let site_name = site.prefix.join("/");
        let bad = || Err(format!("invalid {site_name} import path {module:?}"));
        let root_len = n + site.checks.len();
        if elems.len() < root_len
            || !site
                .checks
                .iter()
                .zip(&elems[n..root_len])
                .all(|(check, e)| check(e))
            || !elems[root_len..].iter().all(|e| is_word(e))
        {
            return Some(bad());
        }
        let root = elems[..root_len].join("/");
        if site.no_vcs_suffix && VCS_SUFFIXES.iter().any(|s| root.ends_with(s)) {
            return Some(Err(format!(
                "invalid version control suffix in {site_name}/ path"
            )));
        }
        return Some(Ok(KnownRoot {
            url: format!("https://{root}"),
            root,
        }));
    }
    if elems.first() == Some(&"chiselapp.com") {
        return Some(Err(format!(
            "{module}: chiselapp.com hosts fossil repositories; only git is supported"
        )));
    }
    // The general `host/path/repo.VCS[/sub]` syntax.
    let host = elems.first()?;
    let host_ok = host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let elem_ok = |e: &str| is_word(e.strip_prefix('~').unwrap_or(e));
    if !host_ok || !elems[1..].iter().all(|e| elem_ok(e)) {
        return None;
    }
    for (i, e) in elems.iter().enumerate().skip(1) {
        for suffix in VCS_SUFFIXES {
            if let Some(stem) = e.strip_suffix(suffix)
                && !stem.trim_start_matches('~').is_empty()
            {
                let root = elems[..=i].join("/");
                if *suffix != ".git" {
                    return Some(Err(format!(
                        "{root}: version control system {:?} is not supported; only git is",
                        &suffix[1..]
                    )));
                }
                return Some(Ok(KnownRoot {
                    url: format!("https://{}", root.strip_suffix(".git").unwrap_or(&root)),
                    root,
                }));
            }
        }
    }
    None
}

const VCS_SUFFIXES: &[&str] = &[".git", ".hg", ".svn", ".bzr", ".fossil"];

/// A hosting site of Go's `vcsPaths`: its leading path elements, one check per repository root
/// element after them, and whether the root must not end in a version control suffix.
struct Site {
    prefix: &'static [&'static str],
    checks: &'static [fn(&str) -> bool],
    no_vcs_suffix: bool,
}

const SITES: &[Site] = &[
    Site {
        prefix: &["github.com"],
        checks: &[is_word, is_word],
        no_vcs_suffix: true,
    },
    Site {
        prefix: &["bitbucket.org"],
        checks: &[is_word, is_word],
        no_vcs_suffix: true,
    },
    Site {
        prefix: &["hub.jazz.net", "git"],
        checks: &[is_lower_alnum, is_word],
        no_vcs_suffix: true,
    },
    Site {
        prefix: &["git.apache.org"],
        checks: &[is_apache_repo],
        no_vcs_suffix: false,
    },
    Site {
        prefix: &["git.openstack.org"],
        checks: &[is_word, is_word],
        no_vcs_suffix: false,
    },
];

/// One or more of `[A-Za-z0-9_.-]` (a regexp `[\w.\-]+` element).
fn is_word(e: &str) -> bool {
    !e.is_empty()
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// One or more of `[a-z0-9]`.
fn is_lower_alnum(e: &str) -> bool {
    !e.is_empty()
        && e.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `[a-z0-9_.-]+\.git`.
fn is_apache_repo(e: &str) -> bool {
    e.len() > 4
        && e.ends_with(".git")
        && e.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-'
        })
}

/// Discovered pages by import path: when each was read, and its go-import entries.
type PageCache = HashMap<String, (Instant, Arc<Vec<MetaImport>>)>;

/// Transport settings for discovery and git under a module path pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryRule {
    /// Module path patterns in GOPRIVATE/GOINSECURE syntax (comma-separated globs, each
    /// matching a path prefix).
    pub patterns: String,
    /// Certificate authorities to trust (PEM) for discovery pages and git.
    pub ca_file: Option<PathBuf>,
    /// Allow invalid certificates and plain `http` (Go's `GOINSECURE`); logged as a warning.
    pub insecure: bool,
}

/// Settings of a [`DiscoveryRouter`].
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Per-prefix transport rules; the first matching one applies.
    pub rules: Vec<DiscoveryRule>,
    /// How long a discovered page is reused.
    pub cache_ttl: Duration,
    /// Connect timeout for discovery requests.
    pub connect_timeout: Duration,
    /// Total timeout of one discovery request.
    pub request_timeout: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            rules: Vec::new(),
            cache_ttl: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Places modules with `?go-get=1` discovery (a [`GitRouter`]).
pub struct DiscoveryRouter {
    cfg: DiscoveryConfig,
    /// One client per rule (same index), then the default client.
    clients: Vec<reqwest::Client>,
    pages: Mutex<PageCache>,
}

impl DiscoveryRouter {
    /// A router reading discovery pages with `cfg`'s transport rules; fails when a CA file
    /// cannot be read or the HTTP client cannot be built.
    pub fn new(cfg: DiscoveryConfig) -> Result<Self, ConfigError> {
        let mut clients = Vec::new();
        for rule in &cfg.rules {
            clients.push(build_client(&cfg, Some(rule))?);
        }
        clients.push(build_client(&cfg, None)?);
        Ok(DiscoveryRouter {
            cfg,
            clients,
            pages: Mutex::new(HashMap::new()),
        })
    }

    fn rule_for(&self, module: &str) -> (Option<&DiscoveryRule>, &reqwest::Client) {
        for (i, rule) in self.cfg.rules.iter().enumerate() {
            if module::match_prefix_patterns(&rule.patterns, module) {
                return (Some(rule), &self.clients[i]);
            }
        }
        (None, &self.clients[self.cfg.rules.len()])
    }

    /// The go-import entries of `path`'s discovery page (cached for the TTL).
    async fn meta_imports(
        &self,
        path: &str,
        client: &reqwest::Client,
        insecure: bool,
    ) -> Result<Arc<Vec<MetaImport>>, String> {
        if let Some((at, imports)) = self.pages.lock().await.get(path)
            && at.elapsed() < self.cfg.cache_ttl
        {
            return Ok(imports.clone());
        }
        let (host, rest) = path.split_once('/').unwrap_or((path, ""));
        if !host.contains('.') {
            return Err("import path does not begin with hostname".to_owned());
        }
        let target = format!("{host}/{rest}?go-get=1");
        let page = match get_page(client, &format!("https://{target}")).await {
            Ok(p) => p,
            Err(e) if insecure => {
                tracing::warn!(path, error = %e, "https discovery failed; trying http (insecure rule)");
                get_page(client, &format!("http://{target}"))
                    .await
                    .map_err(|e| format!("http/https fetch: {e}"))?
            }
            Err(e) => return Err(format!("https fetch: {e}")),
        };
        let imports = parse_meta_go_imports(&page.body);
        if imports.is_empty() {
            if page.status != 200 {
                return Err(format!("reading {}: {}", page.url, page.status));
            }
            return Err(format!("no go-import meta tag found in {}", page.url));
        }
        let imports = Arc::new(imports);
        self.pages
            .lock()
            .await
            .insert(path.to_owned(), (Instant::now(), imports.clone()));
        Ok(imports)
    }

    /// Go's `repoRootForImportDynamic`, restricted to git.
    async fn discover(&self, module: &str) -> Result<GitRoute, String> {
        let (rule, client) = self.rule_for(module);
        let insecure = rule.is_some_and(|r| r.insecure);
        let page_url = format!("https://{module}?go-get=1");
        let imports = self.meta_imports(module, client, insecure).await?;
        let found = match_go_import(&imports, module)
            .map_err(|e| format!("parse {page_url}: {e}"))?
            .clone();
        if found.prefix != module {
            let prefix_imports = self
                .meta_imports(&found.prefix, client, insecure)
                .await
                .map_err(|e| format!("fetching {}: {e}", found.prefix))?;
            if match_go_import(&prefix_imports, module).ok() != Some(&found) {
                return Err(format!(
                    "{page_url} and https://{}?go-get=1 disagree about go-import for {}",
                    found.prefix, found.prefix
                ));
            }
        }
        if found.subdir.starts_with('/') || found.subdir.starts_with('-') {
            return Err(format!(
                "{page_url}: invalid subdirectory {:?}: leading slash or hyphen",
                found.subdir
            ));
        }
        let scheme = found
            .repo_root
            .split_once("://")
            .map(|(s, _)| s)
            .filter(|s| !s.is_empty());
        match scheme {
            None => {
                return Err(format!(
                    "{page_url}: invalid repo root {:?}: no scheme",
                    found.repo_root
                ));
            }
            Some("file") => {
                return Err(format!(
                    "{page_url}: invalid repo root {:?}: file scheme disallowed",
                    found.repo_root
                ));
            }
            Some("http" | "git") if !insecure => {
                return Err(format!(
                    "{page_url}: repo root {:?} is not secure; mark the prefix insecure in a [[vcs]] rule to allow it",
                    found.repo_root
                ));
            }
            Some(_) => {}
        }
        match found.vcs.as_str() {
            "git" => {}
            "mod" => {
                return Err(format!(
                    "{page_url}: {} is served by the module proxy {}; add it to the upstream list instead",
                    found.prefix, found.repo_root
                ));
            }
            "hg" | "svn" | "bzr" | "fossil" => {
                return Err(format!(
                    "{page_url}: version control system {:?} is not supported; only git is",
                    found.vcs
                ));
            }
            other => return Err(format!("{page_url}: unknown vcs {other:?}")),
        }
        module::check_path(&found.prefix)
            .map_err(|e| format!("{page_url}: invalid go-import prefix: {e}"))?;
        check_url(&found.repo_root).map_err(|e| format!("{page_url}: {e}"))?;
        Ok(GitRoute {
            root: found.prefix,
            url: found.repo_root,
            subdir: found.subdir,
            ca_file: rule.and_then(|r| r.ca_file.clone()),
            insecure,
        })
    }
}

#[async_trait::async_trait]
impl GitRouter for DiscoveryRouter {
    async fn route(&self, module: &str) -> Result<Option<GitRoute>, SourceError> {
        self.discover(module)
            .await
            .map(Some)
            .map_err(|reason| SourceError::Module {
                module: module.to_owned(),
                version: String::new(),
                reason: format!("unrecognized import path {module:?}: {reason}"),
            })
    }
}

/// Places modules on the hosting sites the go command knows (a [`GitRouter`]); other paths
/// are left to the next router.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownHostRouter;

#[async_trait::async_trait]
impl GitRouter for KnownHostRouter {
    async fn route(&self, module: &str) -> Result<Option<GitRoute>, SourceError> {
        match known_host_root(module) {
            None => Ok(None),
            Some(Ok(k)) => Ok(Some(GitRoute {
                root: k.root,
                url: k.url,
                subdir: String::new(),
                ca_file: None,
                insecure: false,
            })),
            Some(Err(reason)) => Err(SourceError::Module {
                module: module.to_owned(),
                version: String::new(),
                reason,
            }),
        }
    }
}

/// Asks routers in order; the first that places the module (or fails) answers. The usual
/// order: explicit rules ([`StaticRouter`](super::StaticRouter)), [`KnownHostRouter`],
/// [`DiscoveryRouter`].
#[derive(Clone, Default)]
pub struct ChainRouter {
    routers: Vec<Arc<dyn GitRouter>>,
}

impl ChainRouter {
    /// A chain over `routers`.
    pub fn new(routers: Vec<Arc<dyn GitRouter>>) -> Self {
        ChainRouter { routers }
    }
}

#[async_trait::async_trait]
impl GitRouter for ChainRouter {
    async fn route(&self, module: &str) -> Result<Option<GitRoute>, SourceError> {
        for r in &self.routers {
            if let Some(route) = r.route(module).await? {
                return Ok(Some(route));
            }
        }
        Ok(None)
    }
}

struct Page {
    url: String,
    status: u16,
    body: String,
}

async fn get_page(client: &reqwest::Client, url: &str) -> Result<Page, String> {
    let mut resp = client.get(url).send().await.map_err(|e| error_chain(&e))?;
    let status = resp.status().as_u16();
    let final_url = crate::proxy_url::redact(resp.url().as_str());
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        let room = MAX_PAGE - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_PAGE {
            break;
        }
    }
    Ok(Page {
        url: final_url,
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn build_client(
    cfg: &DiscoveryConfig,
    rule: Option<&DiscoveryRule>,
) -> Result<reqwest::Client, ConfigError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .user_agent(concat!("modferry/", env!("CARGO_PKG_VERSION")));
    if let Some(rule) = rule {
        if let Some(ca) = &rule.ca_file {
            let pem = std::fs::read(ca).map_err(|e| ConfigError::HttpClient {
                reason: format!("reading CA file {}: {e}", ca.display()),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ConfigError::HttpClient {
                    reason: format!("CA file {}: {e}", ca.display()),
                }
            })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if rule.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
    }
    b.build().map_err(|e| ConfigError::HttpClient {
        reason: error_chain(&e),
    })
}

/// The attribute lists of the `<meta>` tags before `</head>` or `<body>`, read leniently
/// (like Go's non-strict XML decoder): comments and declarations are skipped, attribute values
/// may be unquoted, a valueless attribute's value is its name, and character references are
/// decoded.
fn meta_tags(html: &str) -> Vec<Vec<(String, String)>> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let find =
        |from: usize, pat: &str| html.get(from..).and_then(|s| s.find(pat)).map(|p| p + from);
    while let Some(lt) = find(i, "<") {
        let rest = &html[lt + 1..];
        if rest.starts_with("!--") {
            match find(lt + 4, "-->") {
                Some(end) => i = end + 3,
                None => break,
            }
            continue;
        }
        if rest.starts_with('!') || rest.starts_with('?') {
            match find(lt + 1, ">") {
                Some(end) => i = end + 1,
                None => break,
            }
            continue;
        }
        let closing = rest.starts_with('/');
        let mut j = lt + 1 + usize::from(closing);
        let name_start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b"-_:.".contains(&b[j])) {
            j += 1;
        }
        let name = &html[name_start..j];
        let local = name.rsplit(':').next().unwrap_or(name);
        if name.is_empty() {
            i = lt + 1;
            continue;
        }
        if closing {
            if local.eq_ignore_ascii_case("head") {
                break;
            }
            i = j;
            continue;
        }
        if local.eq_ignore_ascii_case("body") {
            break;
        }
        let (attrs, end) = read_attrs(html, j);
        if local.eq_ignore_ascii_case("meta") {
            out.push(attrs);
        }
        i = end;
    }
    out
}

/// Reads attributes from `at` to the end of the tag; returns them and the index after `>`.
fn read_attrs(html: &str, mut at: usize) -> (Vec<(String, String)>, usize) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while at < b.len() && b[at].is_ascii_whitespace() {
            at += 1;
        }
        if at >= b.len() {
            return (attrs, at);
        }
        match b[at] {
            b'>' => return (attrs, at + 1),
            b'/' => {
                at += 1;
                continue;
            }
            _ => {}
        }
        let start = at;
        while at < b.len() && !b[at].is_ascii_whitespace() && !b"=>/".contains(&b[at]) {
            at += 1;
        }
        let name = html[start..at].to_owned();
        while at < b.len() && b[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < b.len() && b[at] == b'=' {
            at += 1;
            while at < b.len() && b[at].is_ascii_whitespace() {
                at += 1;
            }
            let value = if at < b.len() && (b[at] == b'"' || b[at] == b'\'') {
                let q = b[at];
                let vstart = at + 1;
                let vend = b[vstart..]
                    .iter()
                    .position(|&c| c == q)
                    .map_or(b.len(), |p| vstart + p);
                at = (vend + 1).min(b.len());
                &html[vstart..vend]
            } else {
                let vstart = at;
                while at < b.len() && !b[at].is_ascii_whitespace() && b[at] != b'>' {
                    at += 1;
                }
                &html[vstart..at]
            };
            attrs.push((name, decode_entities(value)));
        } else if !name.is_empty() {
            attrs.push((name.clone(), name));
        } else {
            at += 1;
        }
    }
}

/// Decodes the XML character references `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#N;`
/// `&#xN;`; anything else stays as written.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').and_then(|semi| {
            let name = &after[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            }?;
            Some((c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (prefix, vcs, repo, subdir)
    type Meta = (&'static str, &'static str, &'static str, &'static str);
    /// None: not a known site; Some(Err): a known site's malformed path; Some(Ok((root, url))).
    type Known = Option<Result<(&'static str, &'static str), ()>>;

    fn mi(prefix: &str, vcs: &str, repo: &str, subdir: &str) -> MetaImport {
        MetaImport {
            prefix: prefix.into(),
            vcs: vcs.into(),
            repo_root: repo.into(),
            subdir: subdir.into(),
        }
    }

    #[test]
    fn parse_meta_go_imports_reads_head_metas_case_insensitively_until_body() {
        let cases: &[(&str, &[Meta])] = &[
            (
                r#"<meta name="go-import" content="foo/bar git https://github.com/rsc/pdf">"#,
                &[("foo/bar", "git", "https://github.com/rsc/pdf", "")],
            ),
            (
                r#"<META NAME="go-import" CONTENT="foo/bar git https://r sub/dir">"#,
                &[("foo/bar", "git", "https://r", "sub/dir")],
            ),
            (
                "<html><head><!-- <meta name=\"go-import\" content=\"a git https://c\"> -->\n\
                 <meta name=go-import content='x/y git https://a&amp;b'/>\
                 <meta name=\"go-import\" content=\"too few\">\
                 <meta name=\"go-import\" content=\"a b c d e\">\
                 <meta name=\"Go-Import\" content=\"case git https://n\">\
                 </head><meta name=\"go-import\" content=\"late git https://l\">",
                &[("x/y", "git", "https://a&b", "")],
            ),
            (
                "<head><meta name=\"go-import\" content=\"p git https://a\"><body>\
                 <meta name=\"go-import\" content=\"q git https://b\">",
                &[("p", "git", "https://a", "")],
            ),
            (
                "<meta name=\"go-import\" content=\"p git https://a\">\
                 <meta name=\"go-import\" content=\"p mod https://proxy\">\
                 <meta name=\"go-import\" content=\"q git https://b\">",
                &[
                    ("p", "mod", "https://proxy", ""),
                    ("q", "git", "https://b", ""),
                ],
            ),
            ("<p>no tags</p>", &[]),
        ];
        for &(html, want) in cases {
            let want: Vec<MetaImport> = want.iter().map(|&(p, v, r, s)| mi(p, v, r, s)).collect();
            assert_eq!(parse_meta_go_imports(html), want, "{html}");
        }
    }

    #[test]
    fn match_go_import_takes_the_one_prefix_match_and_prefers_mod() {
        let imports = vec![
            mi("example.com/a", "git", "https://a", ""),
            mi("example.com/b", "git", "https://b", ""),
        ];
        assert_eq!(
            match_go_import(&imports, "example.com/a/sub").map(|m| m.repo_root.as_str()),
            Ok("https://a")
        );
        let err = match_go_import(&imports, "example.com/c").expect_err("no match");
        assert!(
            err.contains("meta tag example.com/a did not match import path example.com/c"),
            "{err}"
        );
        assert!(match_go_import(&imports, "example.com/ab").is_err());
        let dup = vec![
            mi("example.com/a", "git", "https://a", ""),
            mi("example.com", "git", "https://b", ""),
        ];
        assert!(
            match_go_import(&dup, "example.com/a")
                .expect_err("two")
                .contains("multiple meta tags")
        );
        let with_mod = parse_meta_go_imports(
            "<meta name=go-import content=\"example.com/a git https://a\">\
             <meta name=go-import content=\"example.com mod https://p\">",
        );
        assert_eq!(
            match_go_import(&with_mod, "example.com/a").map(|m| m.vcs.as_str()),
            Ok("mod")
        );
    }

    #[test]
    fn known_hosts_follow_vcs_paths() {
        let cases: &[(&str, Known)] = &[
            (
                "github.com/owner/repo/sub/v2",
                Some(Ok((
                    "github.com/owner/repo",
                    "https://github.com/owner/repo",
                ))),
            ),
            ("github.com/owner", Some(Err(()))),
            ("github.com/owner/repo.git", Some(Err(()))),
            (
                "bitbucket.org/o/r",
                Some(Ok(("bitbucket.org/o/r", "https://bitbucket.org/o/r"))),
            ),
            (
                "hub.jazz.net/git/user1/proj",
                Some(Ok((
                    "hub.jazz.net/git/user1/proj",
                    "https://hub.jazz.net/git/user1/proj",
                ))),
            ),
            (
                "git.apache.org/thrift.git/lib/go",
                Some(Ok((
                    "git.apache.org/thrift.git",
                    "https://git.apache.org/thrift.git",
                ))),
            ),
            ("git.apache.org/thrift", Some(Err(()))),
            (
                "example.com/team/repo.git/sub",
                Some(Ok((
                    "example.com/team/repo.git",
                    "https://example.com/team/repo",
                ))),
            ),
            ("example.com/repo.hg", Some(Err(()))),
            ("chiselapp.com/user/x/repository/y", Some(Err(()))),
            ("example.com/team/repo", None),
            ("golang.org/x/mod", None),
        ];
        for &(module, want) in cases {
            let got = known_host_root(module).map(|r| r.map(|k| (k.root, k.url)).map_err(|_| ()));
            let want = want.map(|r| r.map(|(a, b)| (a.to_owned(), b.to_owned())));
            assert_eq!(got, want, "{module}");
        }
    }

    #[test]
    fn unreadable_ca_file_is_a_config_error_naming_the_file() {
        let cfg = DiscoveryConfig {
            rules: vec![DiscoveryRule {
                patterns: "corp.example".into(),
                ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
                insecure: false,
            }],
            ..DiscoveryConfig::default()
        };
        let err = DiscoveryRouter::new(cfg).err().expect("config error");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn decode_entities_handles_xml_references_and_leaves_others() {
        for (input, want) in [
            ("a&amp;b", "a&b"),
            ("&#65;&#x42;", "AB"),
            ("&unknown; & x", "&unknown; & x"),
        ] {
            assert_eq!(decode_entities(input), want);
        }
    }
}
