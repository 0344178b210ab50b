//! End-to-end: the mirror's own checksum database against the unmodified go command (1.27).
//!
//! Clients set only `GOSUMDB="<vkey> <mirror>/sumdb/<name>"` (no GONOSUMDB, no GOSUMDB=off),
//! start with an empty go.sum and a fresh GOPATH, so go verifies every module — public ones
//! relayed from a static upstream and a private one built from git — against our log. Then a
//! tampered zip in the store is a go SECURITY ERROR; a crash in the middle of an append (a
//! failpoint aborts the real binary) leaves a log that reopens consistently; `sumdb audit`
//! passes a sound log and catches a flipped byte.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use modferry_formats::module::escape_path;
use util::*;

const NAME: &str = "sumdb.e2e.internal";

const DEP: Mod = Mod {
    path: "example.com/dep",
    version: "v1.0.0",
    go_mod: "module example.com/dep\n\ngo 1.21\n",
    files: &[("dep.go", "package dep\n\nconst Name = \"dep\"\n")],
};

const LIB: Mod = Mod {
    path: "example.com/lib/v2",
    version: "v2.1.0",
    go_mod: "module example.com/lib/v2\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n",
    files: &[(
        "lib.go",
        "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"lib+\" + dep.Name }\n",
    )],
};

const PRIVATE: &str = "corp.example/private/lib";

/// Publishes `m` into the proxy directory `upstream` with `files` (besides its go.mod) as the
/// content; returns the zip's path.
fn publish(dir: &Path, upstream: &Path, m: &Mod, files: &[(&str, &str)]) -> PathBuf {
    let mut tree = vec![("go.mod", m.go_mod)];
    tree.extend_from_slice(files);
    publish_tree(dir, upstream, m.path, m.version, m.go_mod, &tree).zip
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

struct World {
    dir: tempfile::TempDir,
    upstream: PathBuf,
    /// A `--vcs` rule for the private module's repository.
    vcs: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let upstream = dir.path().join("upstream");
        publish(dir.path(), &upstream, &DEP, DEP.files);
        publish(dir.path(), &upstream, &LIB, LIB.files);

        let repo = dir.path().join("git/private-lib");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(
            repo.join("go.mod"),
            format!("module {PRIVATE}\n\ngo 1.21\n"),
        )
        .unwrap();
        std::fs::write(
            repo.join("lib.go"),
            "package lib\n\nfunc Private() string { return \"private\" }\n",
        )
        .unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "v1"]);
        git(&repo, &["tag", "v1.0.0"]);
        let vcs = format!("{PRIVATE}=file://{}", repo.display());

        let consumer = dir.path().join("consumer");
        std::fs::create_dir_all(&consumer).unwrap();
        std::fs::write(
            consumer.join("main.go"),
            "package main\n\nimport (\n\t\"fmt\"\n\n\tprivate \"corp.example/private/lib\"\n\t\"example.com/lib/v2\"\n)\n\nfunc main() { fmt.Println(lib.Lib(), private.Private()) }\n",
        )
        .unwrap();
        World { dir, upstream, vcs }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The consumer with an empty go.sum: go must verify everything with the database.
    fn reset_consumer(&self) -> PathBuf {
        let c = self.path("consumer");
        std::fs::write(
            c.join("go.mod"),
            format!(
                "module example.com/consumer\n\ngo 1.21\n\nrequire (\n\t{} {}\n\t{} {} // indirect\n\t{PRIVATE} v1.0.0\n)\n",
                LIB.path, LIB.version, DEP.path, DEP.version
            ),
        )
        .unwrap();
        let _ = std::fs::remove_file(c.join("go.sum"));
        c
    }
}

fn modferry(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(args)
        .output()
        .unwrap()
}

/// `modferry sumdb init --json`; returns the verifier key.
fn init(key: &Path, store: &Path, url: Option<&str>) -> serde_json::Value {
    let mut args = vec![
        "sumdb",
        "init",
        "--name",
        NAME,
        "--key-file",
        key.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--json",
    ];
    if let Some(u) = url {
        args.extend(["--url", u]);
    }
    let out = modferry(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A go environment that trusts only our database.
fn go_env(mirror: &str, vkey: &str) -> GoEnv {
    let mut env = GoEnv::new(mirror);
    env.vars
        .insert("GOSUMDB".into(), format!("{vkey} {mirror}/sumdb/{NAME}"));
    env
}

fn audit(store: &Path, key: &Path) -> (i32, String) {
    let out = modferry(&[
        "sumdb",
        "audit",
        "--store",
        store.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn sumdb_init_writes_a_private_key_file_once_and_prints_the_gosumdb_value() {
    let w = World::new();
    let key = w.path("db.key");
    let v = init(&key, &w.path("store"), Some("http://mirror.example:3000/"));
    let vkey = v["verifier_key"].as_str().unwrap();
    assert!(vkey.starts_with(&format!("{NAME}+")), "{vkey}");
    assert_eq!(
        v["gosumdb"].as_str().unwrap(),
        format!("{vkey} http://mirror.example:3000/sumdb/{NAME}")
    );
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let secret = std::fs::read_to_string(&key).unwrap();
    assert!(secret.starts_with(&format!("PRIVATE+KEY+{NAME}+")));
    assert!(
        !v.to_string().contains(secret.trim()),
        "the secret was printed"
    );

    // A second init must not replace the key.
    let out = modferry(&[
        "sumdb",
        "init",
        "--name",
        NAME,
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), secret);
    // Text output explains the placeholder.
    let out = modferry(&[
        "sumdb",
        "init",
        "--name",
        NAME,
        "--key-file",
        w.path("db2.key").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("GOSUMDB=\""), "{text}");
    assert!(text.contains("<mirror url>"), "{text}");
}

#[test]
fn go_verifies_public_and_private_modules_with_only_our_gosumdb_and_refuses_a_tampered_zip() {
    let w = World::new();
    let upstream = static_server(&w.upstream, w.dir.path());
    let store = w.path("store");
    let key = w.path("db.key");
    let vkey = init(&key, &store, None)["verifier_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--store".to_owned(),
            store.to_str().unwrap().to_owned(),
            "--sumdb-key-file".to_owned(),
            key.to_str().unwrap().to_owned(),
            "--vcs".to_owned(),
            w.vcs.clone(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let a = args(&["--upstream", &upstream.url]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mirror = modferry_serve(w.dir.path(), &a);

    let consumer = w.reset_consumer();
    let env = go_env(&mirror.url, &vkey);
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(&consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "lib+dep private\n");
    // go wrote go.sum from the verified database answers; they match x/mod's hashes.
    let sum = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    let lib_zip = w
        .upstream
        .join(escape_path(LIB.path).unwrap())
        .join("@v/v2.1.0.zip");
    let lib_h1 = oracle(&["hashzip", lib_zip.to_str().unwrap()]);
    assert!(
        sum.contains(&format!("{} {} {lib_h1}\n", LIB.path, LIB.version)),
        "{sum}"
    );
    assert!(sum.contains(&format!("{PRIVATE} v1.0.0 h1:")), "{sum}");
    assert!(
        sum.contains(&format!("{PRIVATE} v1.0.0/go.mod h1:")),
        "{sum}"
    );
    let (code, out) = audit(&store, &key);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 records"), "{out}");
    drop(mirror);

    // Tamper with a stored zip: a valid zip of different content under the same version.
    let evil = w.path("evil");
    let evil_zip = publish(
        w.dir.path(),
        &evil,
        &LIB,
        &[(
            "lib.go",
            "package lib\n\nimport \"example.com/dep\"\n\nfunc Lib() string { return \"evil+\" + dep.Name }\n",
        )],
    );
    let stored = store
        .join(escape_path(LIB.path).unwrap())
        .join("@v/v2.1.0.zip");
    std::fs::remove_file(&stored).unwrap();
    std::fs::copy(&evil_zip, &stored).unwrap();
    let a = args(&["--offline"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mirror = modferry_serve(w.dir.path(), &a);
    let consumer = w.reset_consumer();
    let env = go_env(&mirror.url, &vkey);
    let out = env.go(&consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered zip was accepted");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains("SECURITY ERROR"), "{stderr}");
    assert!(stderr.contains(LIB.path), "{stderr}");
}

/// Runs one append that aborts at `failpoint`, then restarts and checks the log.
fn crash_and_recover(failpoint: &str) {
    let w = World::new();
    let upstream = static_server(&w.upstream, w.dir.path());
    let store = w.path("store");
    let key = w.path("db.key");
    init(&key, &store, None);
    let serve = |env: Option<&str>| {
        let port = free_port();
        let log = w.path(&format!("crash-{port}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_modferry"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
            "--sumdb-key-file",
            key.to_str().unwrap(),
        ])
        .env_remove("MODFERRY_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        match env {
            Some(fp) => cmd.env("MODFERRY_FAILPOINT", fp),
            None => cmd.env_remove("MODFERRY_FAILPOINT"),
        };
        let child = cmd.spawn().unwrap();
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..400 {
            if http_get(&addr, "/healthz").is_ok_and(|r| r.starts_with("HTTP/1.")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        (child, addr, log)
    };
    let lookup = |addr: &str, m: &Mod| {
        http_get(
            addr,
            &format!("/sumdb/{NAME}/lookup/{}@{}", m.path, m.version),
        )
        .unwrap_or_default()
    };

    // The first append (DEP's, made by its lookup) aborts at the failpoint.
    let (mut child, addr, log) = serve(Some(failpoint));
    let answer = lookup(&addr, &DEP);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the failpoint did not abort; lookup answered {answer}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        !status.success(),
        "the failpoint did not abort: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("failpoint {failpoint} reached"))
    );

    // Restart: the interrupted record is completed (its record object was written), lookups
    // work, more appends follow, and the audit passes.
    let (mut child, addr, log) = serve(None);
    let latest = http_get(&addr, &format!("/sumdb/{NAME}/latest")).unwrap();
    assert!(latest.contains("go.sum database tree\n1\n"), "{latest}");
    let r = lookup(&addr, &DEP);
    assert!(
        r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"),
        "{r}"
    );
    assert!(
        r.contains(&format!("\r\n\r\n0\n{} {} h1:", DEP.path, DEP.version)),
        "{r}"
    );
    let r = lookup(&addr, &LIB);
    assert!(
        r.contains(&format!("1\n{} {} h1:", LIB.path, LIB.version)),
        "{r}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("completing a record"), "{text}");
    let (code, out) = audit(&store, &key);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 records"), "{out}");
}

#[test]
fn crash_after_writing_the_record_reopens_with_the_record_completed() {
    crash_and_recover("sumdb-append-after-record");
}

#[test]
fn crash_before_the_head_commit_reopens_with_the_record_completed() {
    crash_and_recover("sumdb-append-after-index");
}

#[test]
fn audit_catches_a_flipped_byte_in_a_stored_record_and_serve_refuses_the_log() {
    let w = World::new();
    let upstream = static_server(&w.upstream, w.dir.path());
    let store = w.path("store");
    let key = w.path("db.key");
    let vkey = init(&key, &store, None)["verifier_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mirror = modferry_serve(
        w.dir.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
            "--sumdb-key-file",
            key.to_str().unwrap(),
        ],
    );
    let addr = mirror.url.trim_start_matches("http://").to_owned();
    for m in [&DEP, &LIB] {
        let r = http_get(
            &addr,
            &format!("/sumdb/{NAME}/lookup/{}@{}", m.path, m.version),
        )
        .unwrap();
        assert!(r.contains(" 200 "), "{r}");
    }
    drop(mirror);
    let (code, out) = audit(&store, &key);
    assert_eq!(code, 0, "{out}");
    // --vkey works as well as --key-file.
    let out = modferry(&[
        "sumdb",
        "audit",
        "--store",
        store.to_str().unwrap(),
        "--vkey",
        &vkey,
    ]);
    assert_eq!(out.status.code(), Some(0));

    let rec = store.join(format!(".modferry/sumdb-own/{NAME}/records/1"));
    let mut bytes = std::fs::read(&rec).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    std::fs::remove_file(&rec).unwrap();
    std::fs::write(&rec, &bytes).unwrap();
    let (code, out) = audit(&store, &key);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM: record 1"), "{out}");
    assert!(out.contains("audit FAILED"), "{out}");

    // The server will not serve a log whose records no longer hash to the signed head.
    let out = modferry(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--store",
        store.to_str().unwrap(),
        "--offline",
        "--sumdb-key-file",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("do not hash to the signed head"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No store at all: the audit cannot run.
    let (code, _) = audit(&w.path("empty"), &key);
    assert_eq!(code, 2);
}
