//! End-to-end: modules built straight from git by `modferry serve`, with no go binary on its
//! PATH, next to a relayed public upstream; the unmodified go command builds a consumer that
//! needs both.
//!
//! The private module lives in a local bare repository reached through a `--vcs` rule with a
//! `*` (`example.com/private/*=file:///…/repos/*.git`); the upstream list has no `direct`, so
//! the rule alone sends it to git, and the public upstream (a plain static file server over a
//! proxy directory made by Go's x/mod code) must never be asked about it. The consumer's
//! go.sum is pre-filled with `h1:` hashes from the x/mod oracle (the private module's over the
//! tree `git archive` exports at the tag), so go verifies every download.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::*;

#[path = "../../sources/tests/support/commands.rs"]
mod commands;
use commands::{clone_bare, git};

const LIB_GO_MOD: &str =
    "module example.com/private/lib\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n";
const DEP_GO_MOD: &str = "module example.com/dep\n\ngo 1.21\n";

/// The private repository (bare, at `repos/lib.git`) and the oracle's hashes of `v1.0.0`.
fn private_repo(base: &Path) -> (String, String) {
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("go.mod"), LIB_GO_MOD).unwrap();
    std::fs::write(
        work.join("lib.go"),
        "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"private+\" + dep.Name }\n",
    )
    .unwrap();
    std::fs::write(work.join("LICENSE"), "private license\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    git(&work, &["tag", "v1.0.0"]);
    let repos = base.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    clone_bare(base, &work, &repos.join("lib.git"));

    // The tree git exports at the tag, zipped and hashed by Go's x/mod code.
    let tree = base.join("lib-tree");
    std::fs::create_dir_all(&tree).unwrap();
    let tar = base.join("lib.tar");
    git(
        &work,
        &[
            "archive",
            "--format=tar",
            "-o",
            tar.to_str().unwrap(),
            "v1.0.0",
        ],
    );
    let st = Command::new("tar")
        .args(["-xf", tar.to_str().unwrap(), "-C", tree.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let zip = base.join("lib.zip");
    oracle(&[
        "create",
        "example.com/private/lib",
        "v1.0.0",
        tree.to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    let mod_file = base.join("lib.mod");
    std::fs::write(&mod_file, LIB_GO_MOD).unwrap();
    (
        oracle(&["hashzip", zip.to_str().unwrap()]),
        oracle(&["hashmod", mod_file.to_str().unwrap()]),
    )
}

/// A public proxy directory with `example.com/dep@v1.0.0`; returns its hashes.
fn public_upstream(base: &Path) -> (String, String) {
    let tree = base.join("dep-tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("go.mod"), DEP_GO_MOD).unwrap();
    std::fs::write(tree.join("dep.go"), "package dep\n\nconst Name = \"dep\"\n").unwrap();
    let vdir = base.join("upstream/example.com/dep/@v");
    std::fs::create_dir_all(&vdir).unwrap();
    let zip = vdir.join("v1.0.0.zip");
    oracle(&[
        "create",
        "example.com/dep",
        "v1.0.0",
        tree.to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    std::fs::write(vdir.join("v1.0.0.mod"), DEP_GO_MOD).unwrap();
    std::fs::write(
        vdir.join("v1.0.0.info"),
        "{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-02T03:04:05Z\"}\n",
    )
    .unwrap();
    std::fs::write(vdir.join("list"), "v1.0.0\n").unwrap();
    (
        oracle(&["hashzip", zip.to_str().unwrap()]),
        oracle(&["hashmod", vdir.join("v1.0.0.mod").to_str().unwrap()]),
    )
}

/// `modferry serve` with a PATH holding git but no go binary, and a scrubbed environment.
fn serve_without_go(base: &Path, args: &[&str]) -> Proc {
    let path = "/usr/bin:/bin";
    for dir in path.split(':') {
        assert!(
            !Path::new(dir).join("go").exists(),
            "{dir}/go exists: the test needs a PATH without go"
        );
    }
    let home = base.join("serve-home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = base.join(format!("modferry-git-{port}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("MODFERRY_LOG", "info,modferry_sources=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn modferry");
    let mut proc = Proc {
        child,
        url: url.clone(),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = proc.child.try_wait().unwrap() {
            panic!("modferry exited early ({st}): {}", proc.log_text());
        }
        if http_get(&format!("127.0.0.1:{port}"), "/healthz")
            .is_ok_and(|r| r.starts_with("HTTP/1."))
        {
            return proc;
        }
        assert!(
            Instant::now() < deadline,
            "modferry not ready: {}",
            proc.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn go_builds_a_consumer_of_a_git_module_and_a_relayed_one_through_modferry() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let (lib_h1, lib_mod_h1) = private_repo(base);
    let (dep_h1, dep_mod_h1) = public_upstream(base);
    let upstream = static_server(&base.join("upstream"), base);
    let store: PathBuf = base.join("store");
    let rule = format!(
        "example.com/private/*=file://{}/*.git",
        base.join("repos").display()
    );
    let mirror = serve_without_go(
        base,
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
            "--vcs",
            &rule,
            // No checksum database is reachable here; go.sum carries the hashes.
            "--sumdb-proxy",
            "off",
        ],
    );

    let consumer = base.join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    std::fs::write(
        consumer.join("go.mod"),
        "module example.com/consumer\n\ngo 1.21\n\nrequire (\n\texample.com/dep v1.0.0 // indirect\n\texample.com/private/lib v1.0.0\n)\n",
    )
    .unwrap();
    let go_sum = format!(
        "example.com/dep v1.0.0 {dep_h1}\nexample.com/dep v1.0.0/go.mod {dep_mod_h1}\n\
         example.com/private/lib v1.0.0 {lib_h1}\nexample.com/private/lib v1.0.0/go.mod {lib_mod_h1}\n"
    );
    std::fs::write(consumer.join("go.sum"), &go_sum).unwrap();
    std::fs::write(
        consumer.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/private/lib\"\n)\n\nfunc main() { fmt.Println(lib.Lib()) }\n",
    )
    .unwrap();

    let env = GoEnv::new(&mirror.url);
    env.go_ok(&consumer, &["mod", "download", "all"]);
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(&consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "private+dep\n");
    assert_eq!(
        std::fs::read_to_string(consumer.join("go.sum")).unwrap(),
        go_sum,
        "go.sum changed: a download was not covered by a pre-filled hash"
    );

    // Built files entered the store; the git mirror sits outside the store layout.
    assert!(store.join("example.com/private/lib/@v/v1.0.0.zip").exists());
    assert!(store.join(".modferry/git").is_dir());

    // The public upstream never heard of the private module.
    let upstream_log = upstream.log_text();
    assert!(
        upstream_log.contains("example.com/dep") && !upstream_log.contains("private"),
        "upstream log:\n{upstream_log}"
    );

    // An unknown version is a one-line 404 that names neither the local path nor the URL.
    let addr = mirror.url.trim_start_matches("http://");
    let resp = http_get(addr, "/example.com/private/lib/@v/v1.9.9.info").unwrap();
    assert!(
        resp.lines().next().is_some_and(|l| l.contains(" 404 ")),
        "{resp}"
    );
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(
        body.starts_with("not found: example.com/private/lib@v1.9.9: invalid version: "),
        "{body}"
    );
    assert!(
        !body.contains("file://") && !body.contains(base.to_str().unwrap()),
        "{body}"
    );
}
