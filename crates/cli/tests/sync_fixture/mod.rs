//! A generated module world for sync/bundle tests: an upstream proxy directory (zips made by
//! Go's own x/mod code through tools/oracle, served by a plain static server) and consumer
//! projects with a realistic graph.
//!
//! The graph (every module at go 1.21 unless said otherwise):
//!
//! ```text
//! consumer (go 1.21)        requires a v1.1.0, c v1.0.0, lib/v2 v2.1.0, legacy v1.0.0,
//!                           Upper/Hello v1.0.0; indirect b v1.0.0, shared v1.2.0, dep v1.0.0
//!                           exclude shared v1.3.0; replace c v1.0.0 => c v1.0.1
//! a v1.1.0                  requires b v1.0.0, shared v1.2.0      (imports both)
//! b v1.0.0                  requires deep v1.0.0, shared v1.3.0   (imports neither)
//! deep v1.0.0               requires deeper v1.0.0                (pruned out below b)
//! lib/v2 v2.1.0             requires dep v1.0.0
//! legacy v1.0.0 (no go line: unpruned) requires shared v1.0.0   (a .mod-only version)
//!
//! consumer16 (go 1.16: unpruned) requires u1 v1.0.0; exclude u5 v1.0.0
//! u1 v1.0.0 (go 1.16)       requires u2 v1.0.0, u3 v1.0.0         (u3 v1.0.0: .mod only)
//! u2 v1.0.0 (go 1.16)       requires u3 v1.1.0, u4 v1.0.0
//! u3 v1.1.0 (go 1.16)       requires u5 v1.0.0                    (excluded)
//! ```
//!
//! `shared v1.3.0` and `u5 v1.0.0` are not published: fetching them would fail the test.
//! (The go 1.16 consumer has its own go 1.16 dependencies: a newer `go` line below it would
//! make the go command raise the consumer's.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::util::publish_tree;

pub struct Mod {
    pub path: &'static str,
    pub version: &'static str,
    pub go_mod: &'static str,
    pub files: Vec<(&'static str, &'static str)>,
}

pub fn modules() -> Vec<Mod> {
    vec![
        Mod {
            path: "example.com/a",
            version: "v1.1.0",
            go_mod: "module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.0.0\n\texample.com/shared v1.2.0\n)\n",
            files: vec![(
                "a.go",
                "package a\n\nimport (\n\t\"example.com/b\"\n\t\"example.com/shared\"\n)\n\nfunc A() string { return \"a+\" + b.B() + \"+\" + shared.S() }\n",
            )],
        },
        Mod {
            path: "example.com/b",
            version: "v1.0.0",
            go_mod: "module example.com/b\n\ngo 1.21\n\nrequire (\n\texample.com/deep v1.0.0\n\texample.com/shared v1.3.0\n)\n",
            files: vec![("b.go", "package b\n\nfunc B() string { return \"b\" }\n")],
        },
        Mod {
            path: "example.com/c",
            version: "v1.0.0",
            go_mod: "module example.com/c\n\ngo 1.21\n",
            files: vec![("c.go", "package c\n\nfunc C() string { return \"c100\" }\n")],
        },
        Mod {
            path: "example.com/c",
            version: "v1.0.1",
            go_mod: "module example.com/c\n\ngo 1.21\n",
            files: vec![("c.go", "package c\n\nfunc C() string { return \"c101\" }\n")],
        },
        Mod {
            path: "example.com/deep",
            version: "v1.0.0",
            go_mod: "module example.com/deep\n\ngo 1.21\n\nrequire example.com/deeper v1.0.0\n",
            files: vec![("deep.go", "package deep\n")],
        },
        Mod {
            path: "example.com/deeper",
            version: "v1.0.0",
            go_mod: "module example.com/deeper\n\ngo 1.21\n",
            files: vec![("deeper.go", "package deeper\n")],
        },
        Mod {
            path: "example.com/dep",
            version: "v1.0.0",
            go_mod: "module example.com/dep\n\ngo 1.21\n",
            files: vec![("dep.go", "package dep\n\nconst Name = \"dep\"\n")],
        },
        Mod {
            path: "example.com/lib/v2",
            version: "v2.1.0",
            go_mod: "module example.com/lib/v2\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n",
            files: vec![(
                "lib.go",
                "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"lib+\" + dep.Name }\n",
            )],
        },
        Mod {
            path: "example.com/legacy",
            version: "v1.0.0",
            go_mod: "module example.com/legacy\n\nrequire example.com/shared v1.0.0\n",
            files: vec![(
                "legacy.go",
                "package legacy\n\nfunc L() string { return \"legacy\" }\n",
            )],
        },
        Mod {
            path: "example.com/shared",
            version: "v1.0.0",
            go_mod: "module example.com/shared\n\ngo 1.21\n",
            files: vec![(
                "s.go",
                "package shared\n\nfunc S() string { return \"s100\" }\n",
            )],
        },
        Mod {
            path: "example.com/shared",
            version: "v1.2.0",
            go_mod: "module example.com/shared\n\ngo 1.21\n",
            files: vec![(
                "s.go",
                "package shared\n\nfunc S() string { return \"s120\" }\n",
            )],
        },
        Mod {
            path: "example.com/u1",
            version: "v1.0.0",
            go_mod: "module example.com/u1\n\ngo 1.16\n\nrequire (\n\texample.com/u2 v1.0.0\n\texample.com/u3 v1.0.0\n)\n",
            files: vec![(
                "u1.go",
                "package u1\n\nimport \"example.com/u2\"\n\nfunc U() string { return \"u1+\" + u2.U() }\n",
            )],
        },
        Mod {
            path: "example.com/u2",
            version: "v1.0.0",
            go_mod: "module example.com/u2\n\ngo 1.16\n\nrequire (\n\texample.com/u3 v1.1.0\n\texample.com/u4 v1.0.0\n)\n",
            files: vec![("u2.go", "package u2\n\nfunc U() string { return \"u2\" }\n")],
        },
        Mod {
            path: "example.com/u3",
            version: "v1.0.0",
            go_mod: "module example.com/u3\n\ngo 1.16\n",
            files: vec![("u3.go", "package u3\n")],
        },
        Mod {
            path: "example.com/u3",
            version: "v1.1.0",
            go_mod: "module example.com/u3\n\ngo 1.16\n\nrequire example.com/u5 v1.0.0\n",
            files: vec![("u3.go", "package u3\n")],
        },
        Mod {
            path: "example.com/u4",
            version: "v1.0.0",
            go_mod: "module example.com/u4\n\ngo 1.16\n",
            files: vec![("u4.go", "package u4\n")],
        },
        Mod {
            path: "example.com/Upper/Hello",
            version: "v1.0.0",
            go_mod: "module example.com/Upper/Hello\n\ngo 1.21\n",
            files: vec![(
                "hello.go",
                "package hello\n\nfunc Hello() string { return \"hello\" }\n",
            )],
        },
    ]
}

pub const CONSUMER_GO_MOD: &str = "module example.com/consumer

go 1.21

require (
	example.com/Upper/Hello v1.0.0
	example.com/a v1.1.0
	example.com/c v1.0.0
	example.com/legacy v1.0.0
	example.com/lib/v2 v2.1.0
)

require (
	example.com/b v1.0.0 // indirect
	example.com/dep v1.0.0 // indirect
	example.com/shared v1.2.0 // indirect
)

exclude example.com/shared v1.3.0

replace example.com/c v1.0.0 => example.com/c v1.0.1
";

pub const CONSUMER_MAIN: &str = r#"package main

import (
	"fmt"

	hello "example.com/Upper/Hello"
	"example.com/a"
	"example.com/c"
	"example.com/legacy"
	"example.com/lib/v2"
)

func main() {
	fmt.Println(hello.Hello(), a.A(), c.C(), legacy.L(), lib.Lib())
}
"#;

pub const CONSUMER_OUTPUT: &str = "hello a+b+s120 c101 legacy lib+dep\n";

pub const CONSUMER16_GO_MOD: &str = "module example.com/consumer16

go 1.16

require example.com/u1 v1.0.0

exclude example.com/u5 v1.0.0
";

pub const CONSUMER16_MAIN: &str = r#"package main

import (
	"fmt"

	"example.com/u1"
)

func main() {
	fmt.Println(u1.U())
}
"#;

pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn upstream(&self) -> PathBuf {
        self.dir.path().join("upstream")
    }
    pub fn consumer(&self) -> PathBuf {
        self.dir.path().join("consumer")
    }
    pub fn consumer16(&self) -> PathBuf {
        self.dir.path().join("consumer16")
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn build() -> World {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    let mut lists: std::collections::BTreeMap<String, String> = Default::default();
    for m in modules() {
        let mut files = vec![("go.mod", m.go_mod)];
        files.extend_from_slice(&m.files);
        let published = publish_tree(dir.path(), &upstream, m.path, m.version, m.go_mod, &files);
        // Several versions of one module share its list.
        lists
            .entry(published.list.display().to_string())
            .or_default()
            .push_str(&format!("{}\n", m.version));
    }
    for (path, body) in lists {
        std::fs::write(path, body).unwrap();
    }
    for (name, go_mod, main) in [
        ("consumer", CONSUMER_GO_MOD, CONSUMER_MAIN),
        ("consumer16", CONSUMER16_GO_MOD, CONSUMER16_MAIN),
    ] {
        let c = dir.path().join(name);
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("go.mod"), go_mod).unwrap();
        std::fs::write(c.join("main.go"), main).unwrap();
    }
    World { dir }
}

/// The module files in a store (or a module cache's cache/download), as sorted relative
/// paths: `.info`, `.mod`, `.zip`, `.ziphash`; not `list`, locks or side data.
pub fn module_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel.starts_with(".modferry") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if [".info", ".mod", ".zip", ".ziphash"]
                .iter()
                .any(|x| rel.ends_with(x))
            {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Copies a consumer project (go.mod, go.sum, main.go) to a new directory.
pub fn copy_project(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["go.mod", "go.sum", "main.go"] {
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}
