//! Static routing rules: `--vcs PREFIX=URL` maps a repository root path to a git URL.
//!
//! There is no Go counterpart for configured rules (the go command finds repositories with
//! `?go-get=1` discovery and its list of hosting sites, `cmd/go/internal/vcs/vcs.go`); the
//! checks on the URL follow that file's rules for what a repository URL may be: only the
//! `https`, `http`, `ssh`, `git` and `file` schemes and scp-like `user@host:path`.
//!
//! The rule syntax:
//!
//! - `PREFIX` is a module path prefix, element by element; an element `*` matches any one
//!   element. A module matches when `PREFIX` matches its leading elements; the matched
//!   elements are the repository root, the rest a subdirectory (or major version suffix).
//! - Each `*` in `URL` is replaced, in order, by the element the corresponding `*` of `PREFIX`
//!   matched (`git.corp.example/*=https://git.corp.example/*.git`). `URL` may use fewer `*`
//!   than `PREFIX`, not more.
//! - The rule with the most elements wins; among equally long ones, the first.

use std::path::PathBuf;

use modferry_formats::module;

use super::{GitRoute, GitRouter};
use crate::error::SourceError;

/// Why a routing rule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// `PREFIX=URL` lacks the `=`.
    #[error("invalid git rule {spec:?}: want PREFIX=URL")]
    Syntax {
        /// The rule as given.
        spec: String,
    },
    /// The prefix is not a module path pattern.
    #[error("invalid git rule prefix {prefix:?}: {reason}")]
    Prefix {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// The URL is not one git may be pointed at.
    #[error("invalid git URL {url:?}: {reason}")]
    Url {
        /// The URL (redacted).
        url: String,
        /// Why.
        reason: String,
    },
}

/// One `PREFIX=URL` rule with its transport settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRule {
    prefix: String,
    url: String,
    ca_file: Option<PathBuf>,
    insecure: bool,
}

impl StaticRule {
    /// A rule mapping `prefix` (a module path pattern) to `url` (a git URL template).
    pub fn new(prefix: &str, url: &str) -> Result<Self, RouteError> {
        let prefix = prefix.trim_end_matches('/');
        let bad_prefix = |reason: &str| RouteError::Prefix {
            prefix: prefix.to_owned(),
            reason: reason.to_owned(),
        };
        if prefix.is_empty() {
            return Err(bad_prefix("empty"));
        }
        let mut stars = 0;
        for elem in prefix.split('/') {
            if elem == "*" {
                stars += 1;
            } else if elem.contains('*') {
                return Err(bad_prefix("'*' must be a whole path element"));
            }
        }
        let sample = prefix
            .split('/')
            .map(|e| if e == "*" { "x" } else { e })
            .collect::<Vec<_>>()
            .join("/");
        module::check_path(&sample).map_err(|e| bad_prefix(&e.to_string()))?;
        if url.matches('*').count() > stars {
            return Err(RouteError::Url {
                url: crate::proxy_url::redact(url),
                reason: "more '*' than the prefix has".to_owned(),
            });
        }
        check_url(&url.replace('*', "x"))?;
        Ok(StaticRule {
            prefix: prefix.to_owned(),
            url: url.to_owned(),
            ca_file: None,
            insecure: false,
        })
    }

    /// Parses `PREFIX=URL`.
    pub fn parse(spec: &str) -> Result<Self, RouteError> {
        let Some((prefix, url)) = spec.split_once('=') else {
            return Err(RouteError::Syntax {
                spec: spec.to_owned(),
            });
        };
        StaticRule::new(prefix.trim(), url.trim())
    }

    /// Trusts the certificate authorities in `ca_file` for this rule's repositories.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// Skips TLS verification for this rule's repositories (logged as a warning).
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// The module path pattern.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL template.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The route for `module` when this rule matches it, and how many elements it matched.
    fn route(&self, module: &str) -> Option<(usize, GitRoute)> {
        let pattern: Vec<&str> = self.prefix.split('/').collect();
        let elems: Vec<&str> = module.split('/').collect();
        if elems.len() < pattern.len() {
            return None;
        }
        let mut matched = Vec::new();
        for (p, e) in pattern.iter().zip(&elems) {
            if *p == "*" {
                if e.is_empty() {
                    return None;
                }
                matched.push(*e);
            } else if p != e {
                return None;
            }
        }
        let mut url = String::with_capacity(self.url.len());
        let mut next = matched.iter();
        for c in self.url.chars() {
            if c == '*' {
                url.push_str(next.next().copied().unwrap_or("*"));
            } else {
                url.push(c);
            }
        }
        Some((
            pattern.len(),
            GitRoute {
                root: elems[..pattern.len()].join("/"),
                url,
                subdir: String::new(),
                ca_file: self.ca_file.clone(),
                insecure: self.insecure,
            },
        ))
    }
}

/// The configured rules, as a [`GitRouter`].
#[derive(Debug, Clone, Default)]
pub struct StaticRouter {
    rules: Vec<StaticRule>,
}

impl StaticRouter {
    /// A router over `rules` (earlier rules win ties).
    pub fn new(rules: Vec<StaticRule>) -> Self {
        StaticRouter { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[StaticRule] {
        &self.rules
    }

    /// The route for `module`: the longest matching rule's, if any.
    pub fn resolve(&self, module: &str) -> Option<GitRoute> {
        let mut best: Option<(usize, GitRoute)> = None;
        for rule in &self.rules {
            if let Some((n, route)) = rule.route(module)
                && best.as_ref().is_none_or(|(m, _)| n > *m)
            {
                best = Some((n, route));
            }
        }
        best.map(|(_, r)| r)
    }
}

#[async_trait::async_trait]
impl GitRouter for StaticRouter {
    async fn route(&self, module: &str) -> Result<Option<GitRoute>, SourceError> {
        Ok(self.resolve(module))
    }
}

/// Checks that `url` is a git URL this crate will hand to git: an allowed scheme or scp-like
/// syntax, no leading `-`, no white space or control characters.
pub(crate) fn check_url(url: &str) -> Result<(), RouteError> {
    let bad = |reason: &str| RouteError::Url {
        url: crate::proxy_url::redact(url),
        reason: reason.to_owned(),
    };
    if url.is_empty() {
        return Err(bad("empty"));
    }
    if url.starts_with('-') {
        return Err(bad("starts with '-'"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains white space or control characters"));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "file") {
            return Err(bad("scheme must be https, http, ssh, git or file"));
        }
        if rest.is_empty() {
            return Err(bad("no host or path"));
        }
        return Ok(());
    }
    // scp-like: [user@]host:path, with the colon before any slash.
    match url.split_once(':') {
        Some((host, path))
            if !host.is_empty()
                && !host.contains('/')
                && !path.is_empty()
                && !path.starts_with(':') =>
        {
            Ok(())
        }
        _ => Err(bad(
            "want a URL with scheme https, http, ssh, git or file, or user@host:path",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (rule prefix, module, expected (root, URL)).
    type RouteCase = (
        &'static str,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    const ROUTES: &[RouteCase] = &[
        (
            "example.com/repo",
            "example.com/repo",
            Some(("example.com/repo", "https://git.example/repo.git")),
        ),
        (
            "example.com/repo",
            "example.com/repo/sub/v2",
            Some(("example.com/repo", "https://git.example/repo.git")),
        ),
        ("example.com/repo", "example.com/repository", None),
        (
            "git.corp.example/*",
            "git.corp.example/team/lib",
            Some(("git.corp.example/team", "https://git.corp.example/team.git")),
        ),
        (
            "git.corp.example/*/*",
            "git.corp.example/team/lib/sub",
            Some((
                "git.corp.example/team/lib",
                "ssh://git@git.corp.example/team/lib.git",
            )),
        ),
        ("git.corp.example/*", "git.corp.example", None),
    ];

    fn url_for(prefix: &str) -> &'static str {
        match prefix {
            "example.com/repo" => "https://git.example/repo.git",
            "git.corp.example/*" => "https://git.corp.example/*.git",
            _ => "ssh://git@git.corp.example/*/*.git",
        }
    }

    #[test]
    fn static_rules_match_whole_elements_and_fill_stars_in_order() {
        for &(prefix, module, want) in ROUTES {
            let r = StaticRouter::new(vec![
                StaticRule::new(prefix, url_for(prefix)).expect("rule"),
            ]);
            let got = r.resolve(module);
            assert_eq!(
                got.as_ref().map(|g| (g.root.as_str(), g.url.as_str())),
                want,
                "{prefix} {module}"
            );
        }
    }

    #[test]
    fn longest_rule_wins() {
        let r = StaticRouter::new(vec![
            StaticRule::parse("example.com/*=https://a/*").expect("rule"),
            StaticRule::parse("example.com/x/y=https://b/xy").expect("rule"),
        ]);
        assert_eq!(
            r.resolve("example.com/x/y/z").map(|g| g.url),
            Some("https://b/xy".to_owned())
        );
        assert_eq!(
            r.resolve("example.com/x/z").map(|g| g.url),
            Some("https://a/x".to_owned())
        );
    }

    const BAD_RULES: &[&str] = &[
        "example.com/repo",
        "=https://a/b",
        "example.com/re*=https://a/*",
        "example.com/*=https://a/*/*",
        "example.com/r=ext::sh -c x",
        "example.com/r=-uhttps://x",
        "example.com/r=/local/path",
        "example.com/r=ftp://host/x",
        "nodot/r=https://a/b",
    ];

    #[test]
    fn bad_rules_are_rejected() {
        for spec in BAD_RULES {
            assert!(StaticRule::parse(spec).is_err(), "{spec}");
        }
    }

    const URLS: &[(&str, bool)] = &[
        ("https://example.com/r.git", true),
        ("http://example.com/r", true),
        ("ssh://git@example.com/r.git", true),
        ("git://example.com/r", true),
        ("file:///srv/git/r.git", true),
        ("git@example.com:team/r.git", true),
        ("example.com:r.git", true),
        ("ext::sh", false),
        ("/srv/git/r", false),
        ("", false),
        ("https://", false),
        ("https://a b", false),
    ];

    #[test]
    fn check_url_allows_go_vcs_schemes_and_scp_syntax() {
        for &(url, ok) in URLS {
            assert_eq!(check_url(url).is_ok(), ok, "{url}");
        }
    }
}
