//! The inputs `sync` and `bundle export` accept, and how each becomes a set of module versions.
//!
//! - a `go.mod` file: its module graph ([`super::graph`]);
//! - a `go.sum` file: every line (cmd/go `modfetch/fetch.go` `readGoSum`); a `/go.mod` line needs
//!   only `.info` and `.mod`, any other line the zip too;
//! - a `go.work` file: the workspace's graph (x/mod `modfile.ParseWork`; each `use` directory's
//!   go.mod is a main module);
//! - a directory: every go.mod below it, skipping `vendor/`, `testdata/` and directories whose
//!   name starts with `.` or `_` (the directories the go command ignores for `./...`);
//! - `module@version` (a canonical version: x/mod `module.Check`) or `module@query` (anything
//!   else, e.g. `latest`, `v1.2`, a branch; resolved by the upstream);
//! - `--list FILE`: one input per line; blank lines and lines starting with `#` are skipped.

use std::path::{Path, PathBuf};

use modferry_formats::module;

/// One input, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A go.mod file.
    GoMod(PathBuf),
    /// A go.sum file.
    GoSum(PathBuf),
    /// A go.work file.
    GoWork(PathBuf),
    /// A directory to search for go.mod files.
    Dir(PathBuf),
    /// `module@version` with a canonical version.
    Module { path: String, version: String },
    /// `module@query`, to be resolved by the upstream.
    Query { path: String, query: String },
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::GoMod(p) | Input::GoSum(p) | Input::GoWork(p) | Input::Dir(p) => {
                write!(f, "{}", p.display())
            }
            Input::Module { path, version } => write!(f, "{path}@{version}"),
            Input::Query { path, query } => write!(f, "{path}@{query}"),
        }
    }
}

/// Classifies one argument: an existing path by its kind and name, else `module@version` or
/// `module@query`.
pub fn classify(arg: &str) -> Result<Input, String> {
    let p = Path::new(arg);
    if p.is_dir() {
        return Ok(Input::Dir(p.to_path_buf()));
    }
    if p.is_file() {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        return Ok(if name == "go.sum" || name.ends_with(".sum") {
            Input::GoSum(p.to_path_buf())
        } else if name == "go.work" || name.ends_with(".work") {
            Input::GoWork(p.to_path_buf())
        } else {
            Input::GoMod(p.to_path_buf())
        });
    }
    let Some((path, rest)) = arg.split_once('@') else {
        return Err(format!(
            "{arg:?}: no such file or directory, and not module@version"
        ));
    };
    module::check_path(path).map_err(|e| format!("{arg:?}: invalid module path: {e}"))?;
    if rest.is_empty() {
        return Err(format!("{arg:?}: empty version after '@'"));
    }
    if module::check(path, rest).is_ok() && module::canonical_version(rest).as_deref() == Some(rest)
    {
        Ok(Input::Module {
            path: path.to_string(),
            version: rest.to_string(),
        })
    } else {
        Ok(Input::Query {
            path: path.to_string(),
            query: rest.to_string(),
        })
    }
}

/// The inputs listed in a `--list` file.
pub fn read_list(file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read list file {}: {e}", file.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Every go.mod below `dir`, sorted, skipping the directories the go command skips.
pub fn find_go_mods(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in rd {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", d.display()))?;
            let ft = entry
                .file_type()
                .map_err(|e| format!("cannot stat {}: {e}", entry.path().display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() {
                if !skip_dir(&name) {
                    stack.push(entry.path());
                }
            } else if ft.is_file() && name == "go.mod" {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn skip_dir(name: &str) -> bool {
    name == "vendor" || name == "testdata" || name.starts_with('.') || name.starts_with('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_arguments_split_into_versions_and_queries() {
        let cases: &[(&str, Option<Input>)] = &[
            (
                "example.com/m@v1.2.3",
                Some(Input::Module {
                    path: "example.com/m".into(),
                    version: "v1.2.3".into(),
                }),
            ),
            (
                "example.com/m@latest",
                Some(Input::Query {
                    path: "example.com/m".into(),
                    query: "latest".into(),
                }),
            ),
            (
                "example.com/m@v1.2",
                Some(Input::Query {
                    path: "example.com/m".into(),
                    query: "v1.2".into(),
                }),
            ),
            (
                "example.com/m/v2@v1.0.0",
                Some(Input::Query {
                    path: "example.com/m/v2".into(),
                    query: "v1.0.0".into(),
                }),
            ),
            ("example.com/m", None),
            ("example.com/m@", None),
            ("-bad@v1.0.0", None),
        ];
        for (arg, want) in cases {
            assert_eq!(classify(arg).ok(), *want, "{arg}");
        }
    }

    #[test]
    fn directory_walk_skips_vendor_testdata_dot_and_underscore() {
        let d = tempfile::tempdir().unwrap();
        for sub in [
            "",
            "a",
            "a/vendor/x",
            "testdata/t",
            ".git/g",
            "_old/o",
            "b/c",
        ] {
            std::fs::create_dir_all(d.path().join(sub)).unwrap();
            std::fs::write(d.path().join(sub).join("go.mod"), "module x\n").unwrap();
        }
        let got: Vec<String> = find_go_mods(d.path())
            .unwrap()
            .iter()
            .map(|p| {
                p.strip_prefix(d.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(got, ["a/go.mod", "b/c/go.mod", "go.mod"]);
    }
}
