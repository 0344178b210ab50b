//! The go command's environment as doctor sees it, and Go toolchain version order.
//!
//! With a `go` binary on PATH we ask it (`go env -json <vars>`), which also honours the
//! `go env -w` file; it runs with `GOTOOLCHAIN=local` from a neutral directory, so a newer `go`
//! line in the project can never make it download or switch toolchains (cmd/go
//! internal/toolchain/select.go). Without one we read the process environment and apply the
//! defaults documented by `go help environment` (cmd/go internal/cfg/cfg.go): GOPROXY
//! `https://proxy.golang.org,direct`, GOSUMDB `sum.golang.org`, GOPATH `$HOME/go`,
//! GOMODCACHE `$GOPATH/pkg/mod`, and GONOPROXY/GONOSUMDB defaulting to GOPRIVATE.
//!
//! Version order follows cmd/go internal/gover: `1.21` (a language version) sorts before
//! `1.21rc1`, which sorts before `1.21.0`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use modferry_formats::module::match_prefix_patterns;

/// The variables doctor reads.
const VARS: &[&str] = &[
    "GOPROXY",
    "GOSUMDB",
    "GOMODCACHE",
    "GOPATH",
    "GOFLAGS",
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOINSECURE",
    "GO111MODULE",
    "GOTOOLCHAIN",
    "GOVERSION",
    "GOWORK",
];

/// The go environment relevant to module downloads.
#[derive(Debug, Clone, Default)]
pub struct GoEnv {
    /// Variable → value (unset variables are absent or empty).
    pub vars: BTreeMap<String, String>,
    /// The go binary found on PATH, if any.
    pub go_bin: Option<PathBuf>,
    /// Whether the values came from `go env` (else from the environment and defaults).
    pub from_go: bool,
}

impl GoEnv {
    /// Reads the environment: `go env -json` when go is on PATH, else variables + defaults.
    pub fn read() -> GoEnv {
        let go_bin = find_on_path("go");
        if let Some(go) = &go_bin
            && let Some(vars) = go_env_json(go)
        {
            let mut env = GoEnv {
                vars,
                go_bin: go_bin.clone(),
                from_go: true,
            };
            env.fill_defaults();
            return env;
        }
        let mut vars = BTreeMap::new();
        for v in VARS {
            if let Ok(val) = std::env::var(v) {
                vars.insert(v.to_string(), val);
            }
        }
        let mut env = GoEnv {
            vars,
            go_bin,
            from_go: false,
        };
        env.fill_defaults();
        env
    }

    /// An environment from explicit values (tests), with go's defaults filled in.
    #[cfg(test)]
    pub fn from_vars(vars: &[(&str, &str)]) -> GoEnv {
        let mut env = GoEnv {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..GoEnv::default()
        };
        env.fill_defaults();
        env
    }

    fn fill_defaults(&mut self) {
        let empty = |v: &BTreeMap<String, String>, k: &str| v.get(k).is_none_or(|s| s.is_empty());
        if empty(&self.vars, "GOPROXY") {
            self.set("GOPROXY", "https://proxy.golang.org,direct");
        }
        if empty(&self.vars, "GOSUMDB") {
            self.set("GOSUMDB", "sum.golang.org");
        }
        if empty(&self.vars, "GOPATH") {
            let home = std::env::var("HOME").unwrap_or_default();
            self.set("GOPATH", &format!("{home}/go"));
        }
        if empty(&self.vars, "GOMODCACHE") {
            let first = self
                .get("GOPATH")
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            self.set("GOMODCACHE", &format!("{first}/pkg/mod"));
        }
        let private = self.get("GOPRIVATE").to_string();
        if empty(&self.vars, "GONOPROXY") {
            self.set("GONOPROXY", &private);
        }
        if empty(&self.vars, "GONOSUMDB") {
            self.set("GONOSUMDB", &private);
        }
    }

    fn set(&mut self, k: &str, v: &str) {
        self.vars.insert(k.to_string(), v.to_string());
    }

    /// A variable's value, `""` when unset.
    pub fn get(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or("")
    }

    /// The module cache root.
    pub fn modcache(&self) -> PathBuf {
        PathBuf::from(self.get("GOMODCACHE"))
    }

    /// Whether the go command bypasses the proxy for `module` (GONOPROXY, defaulting to GOPRIVATE).
    pub fn is_noproxy(&self, module: &str) -> bool {
        match_prefix_patterns(self.get("GONOPROXY"), module)
    }

    /// Whether the go command skips the checksum database for `module`.
    pub fn is_nosumdb(&self, module: &str) -> bool {
        match_prefix_patterns(self.get("GONOSUMDB"), module)
    }

    /// Whether GOSUMDB is `off`.
    pub fn sumdb_off(&self) -> bool {
        self.get("GOSUMDB").trim() == "off"
    }

    /// The `-mod=` value in GOFLAGS, if any.
    pub fn mod_flag(&self) -> Option<String> {
        self.get("GOFLAGS").split_whitespace().find_map(|f| {
            f.trim_start_matches('-')
                .strip_prefix("mod=")
                .map(str::to_string)
        })
    }

    /// The local toolchain version without the `go` prefix (`1.27.3`), if known.
    pub fn local_go_version(&self) -> Option<String> {
        let v = self.get("GOVERSION");
        let v = v.strip_prefix("go")?;
        // Development builds look like `devel go1.x-...`; treat them as unknown.
        (!v.is_empty() && v.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .then(|| v.split_whitespace().next().unwrap_or(v).to_string())
    }
}

/// `go env -json VARS…`, run with GOTOOLCHAIN=local in the temp directory.
fn go_env_json(go: &Path) -> Option<BTreeMap<String, String>> {
    let out = Command::new(go)
        .arg("env")
        .arg("-json")
        .args(VARS)
        .current_dir(std::env::temp_dir())
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut vars: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).ok()?;
    // GOTOOLCHAIN/GOWORK were forced for the query itself; report the user's values.
    vars.insert(
        "GOTOOLCHAIN".into(),
        std::env::var("GOTOOLCHAIN").unwrap_or_default(),
    );
    vars.insert("GOWORK".into(), std::env::var("GOWORK").unwrap_or_default());
    Some(vars)
}

/// The first executable `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A parsed Go version (`1.21`, `1.21rc1`, `1.21.3`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gover {
    major: u64,
    minor: u64,
    /// 0 = language version (`1.21`), 1 = pre-release, 2 = release.
    kind: u8,
    /// Pre-release kind: `alpha` < `beta` < `rc` (as strings they already sort that way).
    pre: String,
    /// Pre-release number or patch number.
    num: u64,
}

fn parse_gover(v: &str) -> Option<Gover> {
    let v = v.strip_prefix("go").unwrap_or(v);
    let (major, rest) = v.split_once('.').unwrap_or((v, ""));
    let major = major.parse().ok()?;
    if rest.is_empty() {
        return Some(Gover {
            major,
            minor: 0,
            kind: 0,
            pre: String::new(),
            num: 0,
        });
    }
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let minor = rest[..digits].parse().ok()?;
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some(Gover {
            major,
            minor,
            kind: 0,
            pre: String::new(),
            num: 0,
        });
    }
    if let Some(patch) = tail.strip_prefix('.') {
        return Some(Gover {
            major,
            minor,
            kind: 2,
            pre: String::new(),
            num: patch.parse().ok()?,
        });
    }
    let letters = tail
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(tail.len());
    let (pre, n) = tail.split_at(letters);
    if !matches!(pre, "alpha" | "beta" | "rc") {
        return None;
    }
    Some(Gover {
        major,
        minor,
        kind: 1,
        pre: pre.to_string(),
        num: if n.is_empty() { 0 } else { n.parse().ok()? },
    })
}

/// Compares two Go versions (with or without the `go` prefix); `None` if either is malformed.
pub fn compare_go(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse_gover(a)?, parse_gover(b)?);
    Some((a.major, a.minor, a.kind, &a.pre, a.num).cmp(&(b.major, b.minor, b.kind, &b.pre, b.num)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &[(&str, &str, Ordering)] = &[
        ("1.21", "1.21rc1", Ordering::Less),
        ("1.21rc1", "1.21.0", Ordering::Less),
        ("1.21.0", "1.21.3", Ordering::Less),
        ("go1.27.3", "1.99.0", Ordering::Less),
        ("1.9", "1.10", Ordering::Less),
        ("1.21beta1", "1.21rc1", Ordering::Less),
        ("1.21.3", "go1.21.3", Ordering::Equal),
    ];

    #[test]
    fn gover_compare_orders_language_prerelease_release() {
        for (a, b, want) in ORDER {
            assert_eq!(compare_go(a, b), Some(*want), "{a} vs {b}");
            assert_eq!(compare_go(b, a), Some(want.reverse()), "{b} vs {a}");
        }
        assert_eq!(compare_go("1.x", "1.2"), None);
    }

    #[test]
    fn goenv_defaults_follow_go_help_environment() {
        let e = GoEnv::from_vars(&[("GOPATH", "/gp"), ("GOPRIVATE", "corp.example")]);
        assert_eq!(e.get("GOPROXY"), "https://proxy.golang.org,direct");
        assert_eq!(e.get("GOSUMDB"), "sum.golang.org");
        assert_eq!(e.get("GOMODCACHE"), "/gp/pkg/mod");
        assert!(e.is_noproxy("corp.example/x"));
        assert!(e.is_nosumdb("corp.example/x"));
        assert!(!e.is_nosumdb("example.com/x"));
    }

    #[test]
    fn goflags_mod_value_is_read() {
        let e = GoEnv::from_vars(&[("GOFLAGS", "-trimpath -mod=vendor")]);
        assert_eq!(e.mod_flag().as_deref(), Some("vendor"));
    }
}
