//! The two modules and the consumer shared by the checksum-database end-to-end tests
//! (e2e_sumdb_proxy.rs, bundle_sumdb.rs): a consumer of LIB, which depends on DEP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::util::Mod;

pub const DEP: Mod = Mod {
    path: "example.com/dep",
    version: "v1.0.0",
    go_mod: "module example.com/dep\n\ngo 1.21\n",
    files: &[("dep.go", "package dep\n\nconst Name = \"dep\"\n")],
};

pub const LIB: Mod = Mod {
    path: "example.com/Upper/lib/v2",
    version: "v2.1.0",
    go_mod: "module example.com/Upper/lib/v2\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n",
    files: &[(
        "lib.go",
        "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"lib+\" + dep.Name }\n",
    )],
};

/// A consumer of LIB (and DEP) with an empty go.sum: go must ask the database for everything.
pub fn consumer(dir: &Path) -> PathBuf {
    let c = dir.join("consumer");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join("go.mod"),
        format!(
            "module example.com/consumer\n\ngo 1.21\n\nrequire (\n\t{} {}\n\t{} {} // indirect\n)\n",
            LIB.path, LIB.version, DEP.path, DEP.version
        ),
    )
    .unwrap();
    std::fs::write(
        c.join("main.go"),
        format!(
            "package main\n\nimport (\n\t\"fmt\"\n\n\t\"{}\"\n)\n\nfunc main() {{ fmt.Println(lib.Lib()) }}\n",
            LIB.path
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(c.join("go.sum"));
    c
}
