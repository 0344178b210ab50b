//! Proxy mode of the checksum database: relay and cache under `/sumdb/<name>/`, offline
//! answers, and verification of every module version before it is stored — against an
//! in-memory database on 127.0.0.1 (`sumdb::testing::TestDb`) standing for sum.golang.org.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Module, Upstream};
use modferry_formats::dirhash;
use modferry_formats::note::Verifier;
use modferry_service::sumdb::proxy::{ProxyDb, ProxyDbConfig};
use modferry_service::sumdb::testing::TestDb;
use modferry_service::sumdb::verify::SumdbVerifier;
use modferry_service::{Mirror, MirrorConfig, MirrorExtras, SumdbRegistry, router};
use modferry_sources::{ChainSource, HttpConfig, SumdbClient};
use modferry_store::{DynStore, FsStore};

fn http() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout_small: Duration::from_secs(2),
        idle_read_timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    }
}

struct Setup {
    upstream: Option<String>,
    db_url: Option<String>,
    key: String,
    offline: bool,
    ttl: Duration,
    nosum: &'static str,
    fail_open: bool,
}

impl Setup {
    fn new(upstream: &Upstream, db: &TestDb, db_url: &str) -> Setup {
        Setup {
            upstream: Some(upstream.url.clone()),
            db_url: Some(db_url.to_owned()),
            key: db.verifier_key().to_owned(),
            offline: false,
            ttl: Duration::from_secs(3600),
            nosum: "",
            fail_open: false,
        }
    }

    fn build(&self, dir: &std::path::Path) -> common::Harness {
        let store: DynStore = Arc::new(FsStore::open(dir).unwrap());
        let verifier = Verifier::parse(&self.key).unwrap();
        let client = match (&self.db_url, self.offline) {
            (Some(url), false) => Some(SumdbClient::new(url, &http()).unwrap()),
            _ => None,
        };
        let db = ProxyDb::new(
            ProxyDbConfig {
                verifier,
                latest_ttl: self.ttl,
                nosum: self.nosum.to_owned(),
            },
            client,
            Arc::clone(&store),
        );
        let mut sumdbs = SumdbRegistry::default();
        sumdbs.insert(db.name().to_owned(), Arc::new(db.clone()));
        let extras = MirrorExtras {
            checks: vec![Arc::new(SumdbVerifier::new(db, self.fail_open))],
            sumdbs,
            ..MirrorExtras::default()
        };
        let source = self.upstream.as_ref().map(|l| {
            Arc::new(ChainSource::from_proxy_list(l, &http(), None).unwrap())
                as modferry_sources::DynSource
        });
        let mirror = Mirror::with_extras(
            Arc::clone(&store),
            source,
            MirrorConfig {
                offline: self.offline,
                list_ttl: Duration::from_secs(300),
                negative_ttl: Duration::ZERO,
                ..MirrorConfig::default()
            },
            extras,
        );
        common::Harness {
            dir: tempfile::tempdir().unwrap(),
            store,
            app: router(mirror),
        }
    }
}

fn zip_h1(m: &Module) -> String {
    dirhash::hash_zip(std::io::Cursor::new(m.zip.to_vec())).unwrap()
}

fn record(db: &TestDb, m: &Module) {
    db.add(
        &m.path,
        &m.version,
        &zip_h1(m),
        &dirhash::hash_go_mod(&m.go_mod),
    );
}

fn hits(db: &TestDb, path: &str) -> usize {
    db.requests().iter().filter(|p| *p == path).count()
}

/// A fake upstream serving `mods`, a test database recording them, and its URL.
async fn world(mods: &[&Module]) -> (Upstream, Arc<TestDb>, String) {
    let upstream = Upstream::start().await;
    let db = TestDb::new("sum.example.test", 7);
    for m in mods {
        upstream.serve_module(m);
        record(&db, m);
    }
    let addr = db.serve().await;
    (upstream, db, format!("http://{addr}"))
}

fn module(path: &str) -> Module {
    Module::new(path, "v1.0.0", &[("a.go", b"package a\n")])
}

fn module_files_stored(dir: &std::path::Path, m: &Module) -> usize {
    ["info", "mod", "zip"]
        .iter()
        .filter(|ext| {
            dir.join(format!("{}/@v/{}.{ext}", m.escaped_path, m.escaped_version))
                .exists()
        })
        .count()
}

#[tokio::test]
async fn supported_answers_200_for_a_configured_database_and_404_for_others() {
    let (up, db, url) = world(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    let (st, _, _) = h.get("/sumdb/sum.example.test/supported").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = h.get("/sumdb/sum.golang.org/supported").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lookups_and_tiles_are_relayed_once_and_latest_once_per_ttl() {
    let a = module("example.com/a");
    let b = module("example.com/b");
    let (up, db, url) = world(&[&a, &b]).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());

    for _ in 0..2 {
        let (st, _, body) = h
            .get("/sumdb/sum.example.test/lookup/example.com/a@v1.0.0")
            .await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("example.com/a v1.0.0 h1:"));
    }
    assert_eq!(hits(&db, "/lookup/example.com/a@v1.0.0"), 1);
    // Verifying the lookup fetched (and stored) the tile that proves it.
    let tile_hits = hits(&db, "/tile/8/0/000.p/2");
    assert_eq!(tile_hits, 1);
    let (st, _, body) = h.get("/sumdb/sum.example.test/tile/8/0/000.p/2").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body.len(), 2 * 32);
    let (st, _, _) = h.get("/sumdb/sum.example.test/tile/8/0/000.p/1").await;
    assert_eq!(
        st,
        StatusCode::OK,
        "a narrower partial tile is cut from a stored one"
    );
    assert_eq!(hits(&db, "/tile/8/0/000.p/2"), 1);
    assert_eq!(hits(&db, "/tile/8/0/000.p/1"), 0);
    let (st, _, _) = h.get("/sumdb/sum.example.test/tile/8/data/000.p/2").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = h.get("/sumdb/sum.example.test/tile/8/data/000.p/2").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hits(&db, "/tile/8/data/000.p/2"), 1);

    for _ in 0..3 {
        let (st, _, body) = h.get("/sumdb/sum.example.test/latest").await;
        assert_eq!(st, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).starts_with("go.sum database tree\n2\n"));
    }
    assert_eq!(hits(&db, "/latest"), 1);
    assert!(dir.path().join("sumdb/sum.example.test/latest").exists());
    assert!(
        dir.path()
            .join(".modferry/sumdb/sum.example.test/verified-head")
            .exists()
    );
}

#[tokio::test]
async fn latest_is_fetched_again_after_its_ttl_and_served_stale_on_error() {
    let (up, db, url) = world(&[&module("example.com/a")]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Setup::new(&up, &db, &url);
    s.ttl = Duration::ZERO;
    let h = s.build(dir.path());
    h.get("/sumdb/sum.example.test/latest").await;
    h.get("/sumdb/sum.example.test/latest").await;
    assert_eq!(hits(&db, "/latest"), 2);

    // Upstream gone: the last verified answer is served.
    s.db_url = Some("http://127.0.0.1:9".into());
    let h = s.build(dir.path());
    let (st, _, body) = h.get("/sumdb/sum.example.test/latest").await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn offline_answers_from_the_cache_and_misses_are_404_with_a_reason() {
    let a = module("example.com/a");
    let (up, db, url) = world(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Setup::new(&up, &db, &url);
    let h = s.build(dir.path());
    let (st, _, _) = h.get(&a.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    let (_, _, latest) = h.get("/sumdb/sum.example.test/latest").await;
    let before = db.requests().len();

    s.offline = true;
    s.upstream = None;
    let h = s.build(dir.path());
    let (st, _, body) = h
        .get("/sumdb/sum.example.test/lookup/example.com/a@v1.0.0")
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("example.com/a v1.0.0/go.mod h1:"));
    let (st, _, _) = h.get("/sumdb/sum.example.test/tile/8/0/000.p/1").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, body) = h.get("/sumdb/sum.example.test/latest").await;
    assert_eq!((st, body), (StatusCode::OK, latest));
    let (st, _, body) = h
        .get("/sumdb/sum.example.test/lookup/example.com/zzz@v1.0.0")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        String::from_utf8_lossy(&body).contains("offline"),
        "{body:?}"
    );
    let (st, _, _) = h.get("/sumdb/sum.example.test/tile/8/1/000.p/1").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(
        db.requests().len(),
        before,
        "offline never asks the database"
    );
}

#[tokio::test]
async fn paths_that_do_not_parse_are_400_and_never_relayed() {
    let (up, db, url) = world(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    for bad in [
        "/sumdb/sum.example.test/tile/8/0/00",
        "/sumdb/sum.example.test/tile/8/0/000.p/256",
        "/sumdb/sum.example.test/tile/8/0/000.p/0",
        "/sumdb/sum.example.test/tile/4/0/000",
        "/sumdb/sum.example.test/tile/8/x/000",
        "/sumdb/sum.example.test/lookup/example.com/a",
        "/sumdb/sum.example.test/lookup/example.com/A@v1.0.0",
        "/sumdb/sum.example.test/lookup/example.com/a@master",
        "/sumdb/sum.example.test/other",
    ] {
        let (st, _, body) = h.get(bad).await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(db.requests().is_empty(), "{:?}", db.requests());
}

#[tokio::test]
async fn a_module_matching_the_database_is_stored_after_verification() {
    let a = module("example.com/a");
    let (up, db, url) = world(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    let (st, _, body) = h.get(&a.url("zip")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(module_files_stored(dir.path(), &a), 3);
    assert_eq!(hits(&db, "/lookup/example.com/a@v1.0.0"), 1);
    assert!(
        dir.path()
            .join("sumdb/sum.example.test/lookup/example.com/a@v1.0.0")
            .exists()
    );
}

#[tokio::test]
async fn a_mismatching_module_is_refused_with_security_error_and_nothing_stored() {
    let a = module("example.com/a");
    let tampered = Module::new("example.com/a", "v1.0.0", &[("a.go", b"package evil\n")]);
    let (up, db, url) = world(&[&a]).await;
    up.serve_module(&tampered);
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    let (st, _, body) = h.get(&tampered.url("zip")).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{text}");
    assert!(text.contains("checksum mismatch"), "{text}");
    assert!(text.contains("SECURITY ERROR"), "{text}");
    assert_eq!(text.lines().count(), 1);
    assert!(!dir.path().join(&tampered.url("zip")[1..]).exists());

    // A go.mod that differs is refused before anything of the version is stored.
    let b = module("example.com/b");
    let (up2, db2, url2) = world(&[&b]).await;
    let other = Module::raw(
        "example.com/b",
        "v1.0.0",
        b"module example.com/b\n\ngo 1.22\n".to_vec(),
        b.zip.to_vec(),
    );
    up2.serve_module(&other);
    let dir2 = tempfile::tempdir().unwrap();
    let h2 = Setup::new(&up2, &db2, &url2).build(dir2.path());
    let (st, _, body) = h2.get(&other.url("mod")).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&body).contains("checksum mismatch"));
    assert_eq!(module_files_stored(dir2.path(), &other), 0);
}

#[tokio::test]
async fn nosum_modules_are_never_sent_to_the_database() {
    let private = module("corp.example/secret");
    let (up, db, url) = world(&[]).await;
    up.serve_module(&private);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Setup::new(&up, &db, &url);
    s.nosum = "corp.example,other.example/x";
    let h = s.build(dir.path());
    let (st, _, body) = h.get(&private.url("zip")).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    // A client that asks the database for it directly is refused, without a request.
    let (st, _, body) = h
        .get("/sumdb/sum.example.test/lookup/corp.example/secret@v1.0.0")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("GONOSUMDB"));
    assert!(
        db.requests().iter().all(|p| !p.contains("corp.example")),
        "{:?}",
        db.requests()
    );
    assert!(db.requests().is_empty());
}

#[tokio::test]
async fn a_module_unknown_to_the_database_is_refused() {
    let a = module("example.com/unknown");
    let (up, db, url) = world(&[]).await;
    up.serve_module(&a);
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    let (st, _, body) = h.get(&a.url("mod")).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&body).contains("nosum"));
    assert_eq!(module_files_stored(dir.path(), &a), 0);
}

#[tokio::test]
async fn a_forked_log_is_refused_and_the_verified_head_kept() {
    let a = module("example.com/a");
    let c = module("example.com/c");
    let (up, db, url) = world(&[&a]).await;
    up.serve_module(&c);
    let dir = tempfile::tempdir().unwrap();
    let h = Setup::new(&up, &db, &url).build(dir.path());
    let (st, _, _) = h.get(&a.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    let head_key = dir
        .path()
        .join(".modferry/sumdb/sum.example.test/verified-head");
    let head = std::fs::read(&head_key).unwrap();

    // The server rewrites history, then grows: its new heads contradict the verified one.
    db.rewrite(
        0,
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    record(&db, &c);
    let (st, _, body) = h.get(&c.url("mod")).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{text}");
    assert!(text.contains("forked"), "{text}");
    assert!(text.contains("SECURITY ERROR"), "{text}");
    assert_eq!(module_files_stored(dir.path(), &c), 0);
    let (st, _, _) = h.get("/sumdb/sum.example.test/latest").await;
    assert_eq!(
        st,
        StatusCode::BAD_GATEWAY,
        "a forked latest is not relayed"
    );
    assert_eq!(std::fs::read(&head_key).unwrap(), head, "head unchanged");
}

#[tokio::test]
async fn an_unreachable_database_fails_closed_unless_fail_open() {
    let a = module("example.com/a");
    let (up, db, _) = world(&[&a]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Setup::new(&up, &db, "http://127.0.0.1:9");
    let h = s.build(dir.path());
    let (st, _, body) = h.get(&a.url("mod")).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&body).contains("fail_open"));
    assert_eq!(module_files_stored(dir.path(), &a), 0);

    s.fail_open = true;
    let h = s.build(dir.path());
    let (st, _, _) = h.get(&a.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(module_files_stored(dir.path(), &a), 3);
}
