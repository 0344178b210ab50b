//! A Go project as the go command loads it for a build: the main go.mod, go.sum, an enclosing
//! go.work with its `use` modules, and vendor/modules.txt.
//!
//! Rules followed (cmd/go internal/modload): go.work is found by walking up from the module
//! directory unless GOWORK says otherwise (`init.go` findWorkspaceFile); go.work `replace`
//! directives win over go.mod's (`modfile.go` Replacement); a version-specific replacement wins
//! over a wildcard one; vendor mode is the default when vendor/ exists and the go line is 1.14
//! or later, unless GOFLAGS sets `-mod` (`init.go` setDefaultBuildMod); vendor/modules.txt is
//! read as `vendor.go` readVendorList does (module lines `# path version [=> new [version]]`,
//! `## explicit; go X` annotations, package lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use modferry_formats::gosum::SumLine;
use modferry_formats::gowork::WorkFile;
use modferry_formats::modfile::{ModFile, Replace};
use modferry_formats::{gosum, gowork, modfile, semver};

use super::goenv::{GoEnv, compare_go};

/// Where a required module's code comes from after replacements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A module version fetched through GOPROXY (possibly a replacement's).
    Module { path: String, version: String },
    /// A local directory (`replace m => ../dir`), resolved against the file that says so.
    Dir {
        /// As written in the directive.
        written: String,
        /// Resolved absolute (or as-given absolute) path.
        resolved: PathBuf,
    },
}

/// One requirement of a main module, with its replacement applied.
#[derive(Debug, Clone)]
pub struct Need {
    /// Required module path.
    pub path: String,
    /// Required version.
    pub version: String,
    /// Whether the require line is `// indirect`.
    pub indirect: bool,
    /// What provides it.
    pub target: Target,
}

/// A module line of vendor/modules.txt with its annotations.
#[derive(Debug, Clone, Default)]
pub struct VendorMod {
    /// Module path.
    pub path: String,
    /// Version (`""` for a wildcard replacement line).
    pub version: String,
    /// `=> new [version]`.
    pub replacement: Option<(String, Option<String>)>,
    /// `## explicit`.
    pub explicit: bool,
    /// Packages vendored from it.
    pub packages: Vec<String>,
}

/// The project doctor inspects.
#[derive(Debug)]
pub struct Project {
    /// The module directory.
    pub dir: PathBuf,
    /// The main go.mod.
    pub go_mod: ModFile,
    /// go.sum lines; `None` when there is no go.sum.
    pub go_sum: Option<Vec<SumLine>>,
    /// The go.work in effect, with its path.
    pub work: Option<(PathBuf, WorkFile)>,
    /// Modules used by go.work: (directory, go.mod) — the main module's own entry included.
    pub work_modules: Vec<(PathBuf, Option<ModFile>)>,
    /// vendor/modules.txt entries, when the file exists.
    pub vendor: Option<Vec<VendorMod>>,
    /// Whether vendor/ exists.
    pub vendor_dir_exists: bool,
}

impl Project {
    /// Loads the project in `dir`; fails when there is no go.mod or it cannot be parsed.
    pub fn load(dir: &Path, env: &GoEnv) -> Result<Project> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let gm = dir.join("go.mod");
        let data = std::fs::read(&gm).with_context(|| format!("reading {}", gm.display()))?;
        let go_mod =
            modfile::parse(&gm.display().to_string(), &data).map_err(|e| anyhow::anyhow!("{e}"))?;
        let gs = dir.join("go.sum");
        let go_sum = match std::fs::read(&gs) {
            Ok(d) => Some(
                gosum::parse(&gs.display().to_string(), &d).map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            Err(_) => None,
        };
        let work = find_work(&dir, env)?;
        let mut work_modules = Vec::new();
        if let Some((wpath, wf)) = &work {
            let base = wpath.parent().unwrap_or(Path::new("/"));
            for u in &wf.use_ {
                let d = base.join(&u.path);
                let m = std::fs::read(d.join("go.mod"))
                    .ok()
                    .and_then(|b| modfile::parse(&d.join("go.mod").display().to_string(), &b).ok());
                work_modules.push((d, m));
            }
        }
        // In workspace mode the go command reads go.work.sum and every used module's go.sum.
        let mut go_sum = go_sum;
        if let Some((wpath, _)) = &work {
            let mut extra = vec![wpath.with_extension("work.sum")];
            extra.extend(work_modules.iter().map(|(d, _)| d.join("go.sum")));
            for f in extra {
                if f == gs {
                    continue;
                }
                if let Ok(d) = std::fs::read(&f)
                    && let Ok(lines) = gosum::parse(&f.display().to_string(), &d)
                {
                    go_sum.get_or_insert_with(Vec::new).extend(lines);
                }
            }
        }
        let vdir = dir.join("vendor");
        let vendor = std::fs::read_to_string(vdir.join("modules.txt"))
            .ok()
            .map(|t| parse_modules_txt(&t));
        Ok(Project {
            vendor_dir_exists: vdir.is_dir(),
            dir,
            go_mod,
            go_sum,
            work,
            work_modules,
            vendor,
        })
    }

    /// The main module path.
    pub fn module_path(&self) -> &str {
        self.go_mod
            .module
            .as_ref()
            .map(|m| m.path.as_str())
            .unwrap_or("")
    }

    /// Paths of all main modules (the workspace's, or just this one).
    pub fn main_modules(&self) -> BTreeSet<String> {
        let mut s = BTreeSet::new();
        s.insert(self.module_path().to_string());
        for (_, m) in &self.work_modules {
            if let Some(p) = m.as_ref().and_then(|m| m.module.as_ref()) {
                s.insert(p.path.clone());
            }
        }
        s
    }

    /// The go.mod files of the main modules with their directories.
    pub fn main_mod_files(&self) -> Vec<(PathBuf, &ModFile)> {
        if self.work.is_some() {
            self.work_modules
                .iter()
                .filter_map(|(d, m)| m.as_ref().map(|m| (d.clone(), m)))
                .collect()
        } else {
            vec![(self.dir.clone(), &self.go_mod)]
        }
    }

    /// Every replace directive in effect, with the directory relative paths resolve against.
    /// go.work's come first (they win).
    pub fn replaces(&self) -> Vec<(PathBuf, Replace)> {
        let mut out = Vec::new();
        if let Some((wpath, wf)) = &self.work {
            let base = wpath.parent().unwrap_or(Path::new("/")).to_path_buf();
            out.extend(wf.replace.iter().map(|r| (base.clone(), r.clone())));
        }
        for (d, m) in self.main_mod_files() {
            out.extend(m.replace.iter().map(|r| (d.clone(), r.clone())));
        }
        out
    }

    /// The replacement for `path@version`, if any.
    fn replacement(&self, path: &str, version: &str) -> Option<(PathBuf, Replace)> {
        let all = self.replaces();
        let exact = all
            .iter()
            .find(|(_, r)| r.old_path == path && r.old_version.as_deref() == Some(version));
        let wild = all
            .iter()
            .find(|(_, r)| r.old_path == path && r.old_version.is_none());
        exact.or(wild).cloned()
    }

    /// The requirements of the main modules (highest version per path, as MVS would pick
    /// among them), main modules themselves excluded, replacements applied.
    pub fn needs(&self) -> Vec<Need> {
        let mains = self.main_modules();
        let mut best: BTreeMap<String, (String, bool)> = BTreeMap::new();
        for (_, m) in self.main_mod_files() {
            for r in &m.require {
                if mains.contains(&r.path) {
                    continue;
                }
                match best.get(&r.path) {
                    Some((v, _)) if semver::compare(v, &r.version).is_ge() => {}
                    _ => {
                        best.insert(r.path.clone(), (r.version.clone(), r.indirect));
                    }
                }
            }
        }
        best.into_iter()
            .map(|(path, (version, indirect))| {
                let target = match self.replacement(&path, &version) {
                    Some((base, r)) => match &r.new_version {
                        Some(v) => Target::Module {
                            path: r.new_path.clone(),
                            version: v.clone(),
                        },
                        None => Target::Dir {
                            resolved: resolve_dir(&base, &r.new_path),
                            written: r.new_path.clone(),
                        },
                    },
                    None => Target::Module {
                        path: path.clone(),
                        version: version.clone(),
                    },
                };
                Need {
                    path,
                    version,
                    indirect,
                    target,
                }
            })
            .collect()
    }

    /// Whether the go command builds from vendor/ (see the module docs).
    pub fn vendor_mode(&self, env: &GoEnv) -> bool {
        match env.mod_flag().as_deref() {
            Some("vendor") => true,
            Some(_) => false,
            None => {
                self.work.is_none()
                    && self.vendor_dir_exists
                    && self
                        .go_mod
                        .go
                        .as_deref()
                        .and_then(|g| compare_go(g, "1.14"))
                        .is_some_and(|o| o.is_ge())
            }
        }
    }

    /// The go.sum hash recorded for `path version` (`go_mod`: the `/go.mod` line).
    pub fn sum_for(&self, path: &str, version: &str, go_mod: bool) -> Vec<&str> {
        self.go_sum
            .iter()
            .flatten()
            .filter(|l| l.path == path && l.version == version && l.go_mod == go_mod)
            .map(|l| l.hash.as_str())
            .collect()
    }
}

/// Resolves a replacement directory as the go command does: relative to the directory of the
/// file holding the directive.
pub fn resolve_dir(base: &Path, written: &str) -> PathBuf {
    let p = Path::new(written);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn find_work(dir: &Path, env: &GoEnv) -> Result<Option<(PathBuf, WorkFile)>> {
    let gowork = env.get("GOWORK");
    let path = match gowork {
        "off" => return Ok(None),
        "" => dir
            .ancestors()
            .map(|d| d.join("go.work"))
            .find(|p| p.is_file()),
        p => Some(PathBuf::from(p)),
    };
    let Some(path) = path else { return Ok(None) };
    let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let wf =
        gowork::parse(&path.display().to_string(), &data).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some((path, wf)))
}

/// Parses vendor/modules.txt (see the module docs).
pub fn parse_modules_txt(text: &str) -> Vec<VendorMod> {
    let mut out: Vec<VendorMod> = Vec::new();
    let mut cur: Option<usize> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let (path, version, tail) = match f.as_slice() {
                [p, v, tail @ ..] if semver::is_valid(v) => (*p, *v, tail),
                [p, tail @ ..] if tail.first() == Some(&"=>") => (*p, "", tail),
                _ => {
                    cur = None;
                    continue;
                }
            };
            let replacement = match tail {
                ["=>", new] => Some((new.to_string(), None)),
                ["=>", new, v] => Some((new.to_string(), Some(v.to_string()))),
                _ => None,
            };
            out.push(VendorMod {
                path: path.to_string(),
                version: version.to_string(),
                replacement,
                ..VendorMod::default()
            });
            cur = Some(out.len() - 1);
            continue;
        }
        let Some(i) = cur else { continue };
        if let Some(ann) = line.strip_prefix("## ") {
            if ann.split(';').any(|e| e.trim() == "explicit") {
                out[i].explicit = true;
            }
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            out[i].packages.push(line.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_txt_reads_module_lines_explicit_and_replacements() {
        let t = "# example.com/a v1.0.0\n## explicit; go 1.21\nexample.com/a\nexample.com/a/sub\n\
                 # example.com/b v1.2.0 => ../b\n## explicit\nexample.com/b\n# example.com/c => example.com/d v1.0.0\n";
        let m = parse_modules_txt(t);
        assert_eq!(m.len(), 3);
        assert!(m[0].explicit);
        assert_eq!(m[0].packages, ["example.com/a", "example.com/a/sub"]);
        assert_eq!(m[1].replacement, Some(("../b".into(), None)));
        assert_eq!(m[2].version, "");
        assert_eq!(
            m[2].replacement,
            Some(("example.com/d".into(), Some("v1.0.0".into())))
        );
    }
}
