//! End-to-end: checksum-database data across the air gap, verified by the unmodified go
//! command (fresh GOPATH, empty go.sum, `GOSUMDB=<verifier key>`, never `off`).
//!
//! An in-memory database (`sumdb::testing::TestDb`) stands for sum.golang.org. `modferry sync`
//! stores the lookups and tiles an offline client needs; `bundle export` carries them;
//! `bundle import` checks them; `serve --offline` answers the go command from them.

mod sumdb_fixture;
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use modferry_service::sumdb::testing::TestDb;
use sumdb_fixture::*;
use util::*;

const DB_NAME: &str = "sum.airgap-e2e.test";

/// `go mod download all` and `go build` of the consumer through `mirror` with only
/// `GOSUMDB=<vkey>` (a fresh GOPATH each time); go.sum must come out with the database's lines.
fn build_verified(mirror: &str, vkey: &str, dir: &Path, sums: &[(String, String, String, String)]) {
    let mut env = GoEnv::new(mirror);
    env.vars.insert("GOSUMDB".into(), vkey.to_owned());
    let c = consumer(dir);
    let out = env.go(&c, &["mod", "download", "all"]);
    ok(&out, "go mod download all");
    build_and_check_sums(&env, &c, "lib+dep\n", sums);
}

/// The world: an upstream with DEP and LIB, and a database that recorded them at different
/// times (other records in between, so the two lookups carry different signed trees spanning
/// more than one tile).
struct World {
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    db: std::sync::Arc<TestDb>,
    upstream: Proc,
    sums: Vec<(String, String, String, String)>,
    config: PathBuf,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let upstream_dir = dir.path().join("upstream");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = TestDb::new(DB_NAME, 23);
    let mut sums = Vec::new();
    for m in [&DEP, &LIB] {
        let (h1, mod_h1) = publish(dir.path(), &upstream_dir, m);
        sums.push((m.path.to_owned(), m.version.to_owned(), h1, mod_h1));
    }
    for i in 0..40 {
        let h = format!("h1:{:0>43}=", i);
        db.add(&format!("example.com/filler{i}"), "v1.0.0", &h, &h);
    }
    db.add(DEP.path, DEP.version, &sums[0].2, &sums[0].3);
    let db_addr = rt.block_on(db.serve());
    let upstream = static_server(&upstream_dir, dir.path());
    let config = dir.path().join("modferry.toml");
    std::fs::write(
        &config,
        format!(
            "sumdb_proxy = [\"{} http://{db_addr}\"]\n",
            db.verifier_key()
        ),
    )
    .unwrap();
    World {
        dir,
        rt,
        db,
        upstream,
        sums,
        config,
    }
}

impl World {
    fn more_records(&self) {
        for i in 40..300 {
            let h = format!("h1:{:0>43}=", i);
            self.db
                .add(&format!("example.com/filler{i}"), "v1.0.0", &h, &h);
        }
        self.db
            .add(LIB.path, LIB.version, &self.sums[1].2, &self.sums[1].3);
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

#[test]
fn sync_stores_what_an_offline_go_client_needs_to_verify() {
    let w = world();
    let store = w.path("store");
    let (s, u, c) = (
        store.to_str().unwrap(),
        w.upstream.url.as_str(),
        w.config.to_str().unwrap(),
    );
    // DEP first (the database is small), then LIB after the log has grown: two trees.
    let dep = format!("{}@{}", DEP.path, DEP.version);
    ok(
        &modferry(&["sync", "--store", s, "--upstream", u, "--config", c, &dep]),
        "sync dep",
    );
    w.more_records();
    let project = consumer(w.dir.path());
    let gomod = project.join("go.mod");
    ok(
        &modferry(&[
            "sync",
            "--store",
            s,
            "--upstream",
            u,
            "--config",
            c,
            gomod.to_str().unwrap(),
        ]),
        "sync consumer",
    );
    assert!(store.join(format!("sumdb/{DB_NAME}/latest")).exists());
    assert!(
        store
            .join(format!("sumdb/{DB_NAME}/lookup/example.com/dep@v1.0.0"))
            .exists()
    );

    // The database and the upstream go away; an offline mirror satisfies go.
    let vkey = w.db.verifier_key().to_owned();
    let sums = w.sums.clone();
    let requests = w.db.requests();
    let World {
        rt, upstream, dir, ..
    } = w;
    rt.shutdown_background();
    drop(upstream);
    let spec = format!("{vkey} http://127.0.0.1:9");
    let mirror = modferry_serve(
        dir.path(),
        &["--store", s, "--offline", "--sumdb-proxy", &spec],
    );
    build_verified(&mirror.url, &vkey, dir.path(), &sums);
    assert!(
        requests
            .iter()
            .any(|p| p == "/lookup/example.com/!upper/lib/v2@v2.1.0"),
        "{requests:?}"
    );
}

/// Rewrites the bundle at `path`, changing the file `name` with `edit` and its manifest sum.
fn tamper(path: &Path, out: &Path, name: &str, edit: impl Fn(&mut Vec<u8>)) {
    use sha2::Digest;
    use std::io::Read;
    let data = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(zstd::Decoder::new(&data[..]).unwrap());
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        files.push((n, b));
    }
    let mut changed = None;
    for (n, b) in &mut files {
        if n == name {
            edit(b);
            changed = Some((b.len(), hex::encode(sha2::Sha256::digest(&b[..]))));
        }
    }
    let (size, sha) = changed.expect("file in bundle");
    let mut manifest: serde_json::Value = serde_json::from_slice(&files[0].1).unwrap();
    for db in manifest["sumdb"].as_object_mut().unwrap().values_mut() {
        if let Some(f) = db["files"].get_mut(name) {
            *f = serde_json::json!({"size": size, "sha256": sha});
        }
    }
    files[0].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    let enc = zstd::Encoder::new(std::fs::File::create(out).unwrap(), 3).unwrap();
    let mut tb = tar::Builder::new(enc);
    for (n, b) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        tb.append_data(&mut h, n, &b[..]).unwrap();
    }
    tb.into_inner().unwrap().finish().unwrap();
}

#[test]
fn sumdb_proofs_cross_the_air_gap_in_the_bundle_and_go_verifies_offline() {
    let w = world();
    w.more_records();
    let store = w.path("store");
    let (s, u, c) = (
        store.to_str().unwrap(),
        w.upstream.url.as_str(),
        w.config.to_str().unwrap(),
    );
    let project = consumer(w.dir.path());
    let gomod = project.join("go.mod");
    ok(
        &modferry(&[
            "sync",
            "--store",
            s,
            "--upstream",
            u,
            "--config",
            c,
            gomod.to_str().unwrap(),
        ]),
        "sync",
    );
    let bundle = w.path("b.tar.zst");
    let export = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_modferry"))
            .args(["bundle", "export", "--store", s, "--config", c, "--out"])
            .arg(out)
            .arg(&gomod)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env_remove("MODFERRY_CONFIG")
            .output()
            .unwrap()
    };
    ok(&export(&bundle), "bundle export");
    let again = w.path("again.tar.zst");
    ok(&export(&again), "bundle export again");
    assert_eq!(
        std::fs::read(&bundle).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let vkey = w.db.verifier_key().to_owned();
    let sums = w.sums.clone();
    let World {
        rt, upstream, dir, ..
    } = w;
    rt.shutdown_background();
    drop(upstream);

    // Without trusting the key, the import is refused; with it, it passes.
    let fresh = dir.path().join("fresh");
    let f = fresh.to_str().unwrap();
    let b = bundle.to_str().unwrap();
    let out = modferry(&["bundle", "import", "--store", f, b]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--sumdb-key"),
        "{out:?}"
    );
    assert!(!fresh.join("example.com/dep").exists());

    // A tampered lookup (a record that is not in the log) is refused whole.
    let lookup = format!("sumdb/{DB_NAME}/lookup/example.com/dep@v1.0.0");
    let bad = dir.path().join("bad.tar.zst");
    tamper(&bundle, &bad, &lookup, |b| {
        let t = String::from_utf8(b.clone()).unwrap();
        let i = t.find("h1:").unwrap();
        let mut t = t.into_bytes();
        t[i + 3] = if t[i + 3] == b'A' { b'B' } else { b'A' };
        *b = t;
    });
    let out = modferry(&[
        "bundle",
        "import",
        "--store",
        f,
        "--sumdb-key",
        &vkey,
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SECURITY ERROR") && err.contains("tampered"),
        "{err}"
    );
    assert!(!fresh.join("example.com/dep").exists());

    ok(
        &modferry(&["bundle", "verify", "--sumdb-key", &vkey, b]),
        "bundle verify",
    );
    ok(
        &modferry(&["bundle", "import", "--store", f, "--sumdb-key", &vkey, b]),
        "bundle import",
    );
    ok(
        &modferry(&["bundle", "import", "--store", f, "--sumdb-key", &vkey, b]),
        "bundle re-import",
    );

    let spec = format!("{vkey} http://127.0.0.1:9");
    let mirror = modferry_serve(
        dir.path(),
        &["--store", f, "--offline", "--sumdb-proxy", &spec],
    );
    build_verified(&mirror.url, &vkey, dir.path(), &sums);
}

#[test]
fn own_database_log_crosses_the_air_gap_and_go_verifies_against_it_offline() {
    const OWN: &str = "sumdb.airgap-own.test";
    let w = world();
    let store = w.path("store");
    let key = w.path("own.key");
    let out = modferry(&[
        "sumdb",
        "init",
        "--name",
        OWN,
        "--key-file",
        key.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    ok(&out, "sumdb init");
    let init: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vkey = init["verifier_key"].as_str().unwrap().to_owned();
    let config = w.path("own.toml");
    std::fs::write(
        &config,
        format!("sumdb_key_file = {:?}\n", key.to_str().unwrap()),
    )
    .unwrap();
    let (s, u, c) = (
        store.to_str().unwrap(),
        w.upstream.url.as_str(),
        config.to_str().unwrap(),
    );
    // LIB is recorded first here; a second store with the same key records DEP first: two
    // different logs of one database.
    let lib = format!("{}@{}", LIB.path, LIB.version);
    let dep = format!("{}@{}", DEP.path, DEP.version);
    ok(
        &modferry(&["sync", "--store", s, "--upstream", u, "--config", c, &lib]),
        "sync lib",
    );
    let project = consumer(w.dir.path());
    let gomod = project.join("go.mod");
    ok(
        &modferry(&[
            "sync",
            "--store",
            s,
            "--upstream",
            u,
            "--config",
            c,
            gomod.to_str().unwrap(),
        ]),
        "sync",
    );
    let other = w.path("other-store");
    let o = other.to_str().unwrap();
    for m in [&dep, &lib] {
        ok(
            &modferry(&["sync", "--store", o, "--upstream", u, "--config", c, m]),
            "sync other",
        );
    }
    let other_bundle = w.path("other.tar.zst");
    ok(
        &modferry(&[
            "bundle",
            "export",
            "--store",
            o,
            "--config",
            c,
            "--out",
            other_bundle.to_str().unwrap(),
            &dep,
        ]),
        "bundle export other",
    );
    let bundle = w.path("own.tar.zst");
    ok(
        &modferry(&[
            "bundle",
            "export",
            "--store",
            s,
            "--config",
            c,
            "--out",
            bundle.to_str().unwrap(),
            gomod.to_str().unwrap(),
        ]),
        "bundle export",
    );
    let sums = w.sums.clone();
    let World {
        rt, upstream, dir, ..
    } = w;
    rt.shutdown_background();
    drop(upstream);

    // The isolated side has the same key (copied out of band); its configuration trusts it.
    let fresh = dir.path().join("fresh");
    let f = fresh.to_str().unwrap();
    ok(
        &modferry(&[
            "bundle",
            "import",
            "--store",
            f,
            "--config",
            c,
            bundle.to_str().unwrap(),
        ]),
        "bundle import",
    );
    assert!(
        fresh
            .join(format!(".modferry/sumdb-own/{OWN}/head"))
            .exists()
    );
    let mirror = modferry_serve(
        dir.path(),
        &[
            "--store",
            f,
            "--offline",
            "--sumdb-key-file",
            key.to_str().unwrap(),
        ],
    );
    let gosumdb = format!("{vkey} {}/sumdb/{OWN}", mirror.url);
    build_verified(&mirror.url, &gosumdb, dir.path(), &sums);

    drop(mirror);

    // A second, different log for the same database is refused, and nothing of it is stored.
    let out = modferry(&[
        "bundle",
        "import",
        "--store",
        f,
        "--config",
        c,
        other_bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("logs conflict"), "{err}");
}
