//! End-to-end: the unmodified go command (1.27) against the modferry binary.
//!
//! The upstream is a plain static file server over a proxy directory whose zips were made by
//! Go's own x/mod zip code (tools/oracle), holding a module whose path needs case-encoding, a
//! `/v2` module with a dependency, a `+incompatible` version and a pseudo-version. The consumer's
//! go.sum is pre-filled with the oracle's `h1:` hashes, so go verifies every download.

mod util;

use std::path::{Path, PathBuf};

use util::*;

struct FixtureModule {
    path: &'static str,
    version: &'static str,
    /// None: the version has no go.mod (the .mod is synthesized).
    go_mod: Option<String>,
    files: Vec<(&'static str, String)>,
}

fn fixture_modules() -> Vec<FixtureModule> {
    vec![
        FixtureModule {
            path: "example.com/Upper/Hello",
            version: "v1.0.0",
            go_mod: Some("module example.com/Upper/Hello\n\ngo 1.21\n".into()),
            files: vec![("hello.go", "package hello\n\nfunc Hello() string { return \"hello\" }\n".into())],
        },
        FixtureModule {
            path: "example.com/dep",
            version: "v1.0.0",
            go_mod: Some("module example.com/dep\n\ngo 1.21\n".into()),
            files: vec![("dep.go", "package dep\n\nconst Name = \"dep\"\n".into())],
        },
        FixtureModule {
            path: "example.com/lib/v2",
            version: "v2.1.0",
            go_mod: Some("module example.com/lib/v2\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n".into()),
            files: vec![(
                "lib.go",
                "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"lib+\" + dep.Name }\n".into(),
            )],
        },
        FixtureModule {
            path: "example.com/old",
            version: "v2.0.0+incompatible",
            go_mod: None,
            files: vec![("old.go", "package old\n\nfunc Old() string { return \"old\" }\n".into())],
        },
        FixtureModule {
            path: "example.com/pseudo",
            version: "v0.0.0-20240102030405-abcdefabcdef",
            go_mod: Some("module example.com/pseudo\n\ngo 1.21\n".into()),
            files: vec![("pseudo.go", "package pseudo\n\nfunc Pseudo() string { return \"pseudo\" }\n".into())],
        },
    ]
}

/// The generated world: an upstream proxy directory and a consumer module with its go.sum.
struct Fixture {
    dir: tempfile::TempDir,
    /// `(module, version, zip h1, go.mod h1)`
    sums: Vec<(String, String, String, String)>,
}

impl Fixture {
    fn upstream_dir(&self) -> PathBuf {
        self.dir.path().join("upstream")
    }
    fn consumer_dir(&self) -> PathBuf {
        self.dir.path().join("consumer")
    }
    fn logs(&self) -> &Path {
        self.dir.path()
    }
}

fn build_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    let mut sums = Vec::new();
    for m in fixture_modules() {
        let mut files: Vec<(&str, &str)> = Vec::new();
        if let Some(gm) = &m.go_mod {
            files.push(("go.mod", gm));
        }
        files.extend(
            m.files
                .iter()
                .map(|(name, content)| (*name, content.as_str())),
        );
        let go_mod = m
            .go_mod
            .clone()
            .unwrap_or_else(|| format!("module {}\n", m.path));
        let (h1, mod_h1) =
            publish_tree(dir.path(), &upstream, m.path, m.version, &go_mod, &files).hashes();
        sums.push((m.path.to_string(), m.version.to_string(), h1, mod_h1));
    }

    let consumer = dir.path().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    let mut require = String::new();
    let mut go_sum = String::new();
    for (p, v, h1, mod_h1) in &sums {
        let indirect = if p == "example.com/dep" {
            " // indirect"
        } else {
            ""
        };
        require.push_str(&format!("\t{p} {v}{indirect}\n"));
        go_sum.push_str(&format!("{p} {v} {h1}\n{p} {v}/go.mod {mod_h1}\n"));
    }
    std::fs::write(
        consumer.join("go.mod"),
        format!("module example.com/consumer\n\ngo 1.21\n\nrequire (\n{require})\n"),
    )
    .unwrap();
    std::fs::write(consumer.join("go.sum"), go_sum).unwrap();
    std::fs::write(
        consumer.join("main.go"),
        r#"package main

import (
	"fmt"

	hello "example.com/Upper/Hello"
	"example.com/lib/v2"
	"example.com/old"
	"example.com/pseudo"
)

func main() {
	fmt.Println(hello.Hello(), lib.Lib(), old.Old(), pseudo.Pseudo())
}
"#,
    )
    .unwrap();
    Fixture { dir, sums }
}

/// Parses the stream of JSON objects `go mod download -json` prints.
fn parse_download_json(out: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(out)
        .into_iter::<serde_json::Value>()
        .map(|v| v.unwrap())
        .collect()
}

/// Downloads and builds the consumer through `goproxy`; checks every hash against the oracle
/// and that go.sum was not extended (every download was verified against a pre-filled line).
fn download_and_build(fx: &Fixture, goproxy: &str) {
    let env = GoEnv::new(goproxy);
    let consumer = fx.consumer_dir();
    let before = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    let out = env.go_ok(&consumer, &["mod", "download", "-json", "all"]);
    let mods = parse_download_json(&out);
    for (p, v, h1, mod_h1) in &fx.sums {
        let m = mods
            .iter()
            .find(|m| m["Path"] == p.as_str() && m["Version"] == v.as_str())
            .unwrap_or_else(|| panic!("{p}@{v} missing from go mod download output:\n{out}"));
        assert!(m.get("Error").is_none(), "{p}@{v}: {}", m["Error"]);
        assert_eq!(m["Sum"], h1.as_str(), "{p}@{v} zip hash");
        assert_eq!(m["GoModSum"], mod_h1.as_str(), "{p}@{v} go.mod hash");
    }
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(&consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let run = std::process::Command::new(&bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello lib+dep old pseudo\n"
    );
    let after = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    assert_eq!(
        before, after,
        "go.sum changed: a download was not covered by a pre-filled hash"
    );
}

#[test]
fn go_downloads_and_builds_through_modferry_relay_then_offline_and_file_url() {
    let fx = build_fixture();
    let upstream = static_server(&fx.upstream_dir(), fx.logs());
    let store = fx.dir.path().join("store");
    let mirror = modferry_serve(
        fx.logs(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
        ],
    );
    download_and_build(&fx, &mirror.url);
    let log = mirror.log_text();
    assert!(log.contains("stored zip"), "relay stored zips:\n{log}");
    drop(mirror);

    // The upstream is gone; an offline mirror over the same store serves everything.
    drop(upstream);
    let offline = modferry_serve(
        fx.logs(),
        &["--store", store.to_str().unwrap(), "--offline"],
    );
    download_and_build(&fx, &offline.url);
    drop(offline);

    // The store is a valid GOPROXY=file:// tree for the go command.
    download_and_build(&fx, &format!("file://{}", store.display()));
}

#[test]
fn go_verifies_hashes_a_tampered_go_sum_is_a_security_error() {
    let fx = build_fixture();
    let upstream = static_server(&fx.upstream_dir(), fx.logs());
    let store = fx.dir.path().join("store");
    let mirror = modferry_serve(
        fx.logs(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
        ],
    );
    let consumer = fx.consumer_dir();
    let sum = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    let (p, v, h1, _) = &fx.sums[0];
    // Same length and alphabet, one character changed.
    let flip = if h1.as_bytes()[3] == b'A' { "B" } else { "A" };
    let bad = format!("h1:{flip}{}", &h1[4..]);
    std::fs::write(consumer.join("go.sum"), sum.replace(h1.as_str(), &bad)).unwrap();
    let env = GoEnv::new(&mirror.url);
    let out = env.go(&consumer, &["mod", "download", &format!("{p}@{v}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("SECURITY ERROR"), "{stderr}");
}

#[test]
fn go_prints_modferry_reason_for_a_missing_module() {
    let fx = build_fixture();
    let store = fx.dir.path().join("store");
    let offline = modferry_serve(
        fx.logs(),
        &["--store", store.to_str().unwrap(), "--offline"],
    );
    let env = GoEnv::new(&offline.url);
    let out = env.go(
        &fx.consumer_dir(),
        &["mod", "download", "example.com/missing@v1.0.0"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(
        stderr.contains("server response: example.com/missing@v1.0.0 is not in the mirror"),
        "{stderr}"
    );
}

#[test]
fn go_comma_list_falls_through_modferry_404_to_the_next_proxy() {
    let fx = build_fixture();
    let upstream = static_server(&fx.upstream_dir(), fx.logs());
    let empty = fx.dir.path().join("empty-store");
    let offline = modferry_serve(
        fx.logs(),
        &["--store", empty.to_str().unwrap(), "--offline"],
    );
    // go asks modferry (404), then falls through to the static upstream.
    download_and_build(&fx, &format!("{},{}", offline.url, upstream.url));
}
