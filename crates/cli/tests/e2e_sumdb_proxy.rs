//! End-to-end: proxy mode of the checksum database with the unmodified go command (1.27).
//!
//! Clients keep a public-style database: `GOSUMDB="<name>+<key>"` (no URL, no GOSUMDB=off, no
//! GONOSUMDB) and `GOPROXY=<modferry>`. go then asks `<GOPROXY>/sumdb/<name>/supported` and,
//! on 200, reaches the database only through modferry (cmd/go `modfetch/sumdb.go`); the name
//! does not resolve, so a direct connection would fail. Each run has a fresh GOPATH and an
//! empty go.sum, so go verifies every module against the database. After the database stops,
//! `modferry serve --offline` on the same store still lets go verify everything it cached.
//!
//! Two databases stand for sum.golang.org: an in-memory one built in the test from our own
//! note/tlog formats (`sumdb::testing::TestDb`), and a first modferry serving its own database.

mod sumdb_fixture;
mod util;

use std::path::Path;
use std::process::Command;

use modferry_service::sumdb::testing::TestDb;
use sumdb_fixture::*;
use util::*;

/// A go environment with `GOSUMDB=<vkey>` only: the database is reached through GOPROXY.
fn go_env(mirror: &str, vkey: &str) -> GoEnv {
    let mut env = GoEnv::new(mirror);
    env.vars.insert("GOSUMDB".into(), vkey.to_owned());
    env
}

/// Downloads and builds the consumer; go.sum must come out with the database's lines.
fn build(env: &GoEnv, dir: &Path, want_sum: &[(String, String, String, String)]) {
    let c = consumer(dir);
    let out = env.go(&c, &["mod", "download", "-json", "all"]);
    ok(&out, "go mod download -json all");
    build_and_check_sums(env, &c, "lib+dep\n", want_sum);
}

#[test]
fn go_verifies_through_the_mirror_sumdb_proxy_then_offline_from_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let upstream_dir = dir.path().join("upstream");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = TestDb::new("sum.proxy-e2e.test", 11);
    let mut sums = Vec::new();
    for m in [&DEP, &LIB] {
        let (h1, mod_h1) = publish(dir.path(), &upstream_dir, m);
        db.add(m.path, m.version, &h1, &mod_h1);
        sums.push((m.path.to_owned(), m.version.to_owned(), h1, mod_h1));
    }
    let db_addr = rt.block_on(db.serve());
    let vkey = db.verifier_key().to_owned();
    let spec = format!("{vkey} http://{db_addr}");
    let upstream = static_server(&upstream_dir, dir.path());
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();

    {
        let mirror = modferry_serve(
            dir.path(),
            &[
                "--store",
                store_arg,
                "--upstream",
                &upstream.url,
                "--sumdb-proxy",
                &spec,
            ],
        );
        build(&go_env(&mirror.url, &vkey), dir.path(), &sums);
        let log = mirror.log_text();
        assert!(log.contains("/sumdb/sum.proxy-e2e.test/supported"), "{log}");
        assert!(log.contains("/sumdb/sum.proxy-e2e.test/lookup/"), "{log}");
        let reqs = db.requests();
        assert!(
            reqs.iter()
                .any(|p| p == "/lookup/example.com/!upper/lib/v2@v2.1.0"),
            "{reqs:?}"
        );
        // Each lookup reached the database once, though both the mirror (before storing)
        // and go (through the mirror) verified it.
        for p in &reqs {
            if p.starts_with("/lookup/") {
                assert_eq!(reqs.iter().filter(|q| *q == p).count(), 1, "{reqs:?}");
            }
        }
        assert!(
            store
                .join("sumdb/sum.proxy-e2e.test/tile/8/0/000.p/2")
                .exists()
        );
        assert!(
            store
                .join(".modferry/sumdb/sum.proxy-e2e.test/verified-head")
                .exists()
        );
    }

    // The database goes away; an offline mirror on the same store still satisfies go.
    rt.shutdown_background();
    drop(upstream);
    let before = db.requests().len();
    let mirror = modferry_serve(
        dir.path(),
        &["--store", store_arg, "--offline", "--sumdb-proxy", &spec],
    );
    build(&go_env(&mirror.url, &vkey), dir.path(), &sums);
    assert_eq!(db.requests().len(), before);

    // Something never cached is a clear 404, and go reports it.
    let env = go_env(&mirror.url, &vkey);
    let out = env.go(dir.path(), &["mod", "download", "example.com/never@v1.0.0"]);
    assert!(!out.status.success());
}

#[test]
fn go_verifies_through_a_mirror_proxying_another_modferry_own_database() {
    const NAME: &str = "sumdb.public-stand-in.test";
    let dir = tempfile::tempdir().unwrap();
    let upstream_dir = dir.path().join("upstream");
    let mut sums = Vec::new();
    for m in [&DEP, &LIB] {
        let (h1, mod_h1) = publish(dir.path(), &upstream_dir, m);
        sums.push((m.path.to_owned(), m.version.to_owned(), h1, mod_h1));
    }
    let upstream = static_server(&upstream_dir, dir.path());

    // The first modferry runs its own database: it stands for sum.golang.org.
    let key = dir.path().join("public.key");
    let public_store = dir.path().join("public-store");
    let out = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["sumdb", "init", "--name", NAME, "--key-file"])
        .arg(&key)
        .arg("--store")
        .arg(&public_store)
        .arg("--json")
        .output()
        .unwrap();
    ok(&out, "modferry sumdb init");
    let init: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vkey = init["verifier_key"].as_str().unwrap().to_owned();
    let public = modferry_serve(
        dir.path(),
        &[
            "--store",
            public_store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
            "--sumdb-key-file",
            key.to_str().unwrap(),
            "--sumdb-proxy",
            "off",
        ],
    );

    // The second relays modules from the first and proxies its database.
    let store = dir.path().join("store");
    let spec = format!("{vkey} {}/sumdb/{NAME}", public.url);
    {
        let mirror = modferry_serve(
            dir.path(),
            &[
                "--store",
                store.to_str().unwrap(),
                "--upstream",
                &public.url,
                "--sumdb-proxy",
                &spec,
            ],
        );
        build(&go_env(&mirror.url, &vkey), dir.path(), &sums);
    }
    drop(public);
    drop(upstream);
    let mirror = modferry_serve(
        dir.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--offline",
            "--sumdb-proxy",
            &spec,
        ],
    );
    build(&go_env(&mirror.url, &vkey), dir.path(), &sums);
}
