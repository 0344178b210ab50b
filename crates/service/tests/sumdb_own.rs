//! The mirror's own checksum database (x/mod `sumdb/server.go` protocol), driven through the
//! router without a socket. Served tiles are checked with formats' tlog proofs
//! (`TileHashReader`, `check_record`, `check_tree`) exactly as the go command's client checks
//! them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use bytes::Bytes;
use common::{Module, Upstream};
use http_body_util::BodyExt;
use modferry_formats::dirhash;
use modferry_formats::note::{self, Signer, Verifier};
use modferry_formats::tlog::{self, Tile, TileHashReader, TileReader, TlogError, Tree};
use modferry_service::sumdb::own::{self, OwnError, OwnSumdb};
use modferry_service::{Mirror, MirrorConfig, MirrorExtras, ModuleCheck, SumdbRegistry, router};
use modferry_sources::{ChainSource, HttpConfig};
use modferry_store::{DynStore, FsStore, Key, Payload, PutMode};
use tower::ServiceExt;

const NAME: &str = "sumdb.test.internal";

fn signer(seed: u8) -> Signer {
    let (skey, _) = note::generate_key(NAME, [seed; 32]).unwrap();
    Signer::parse(&skey).unwrap()
}

struct Db {
    _dir: Option<tempfile::TempDir>,
    store: DynStore,
    db: Arc<OwnSumdb>,
    app: axum::Router,
}

/// A mirror over a store in `dir`, relaying `upstream`, with our database registered and
/// attached.
async fn db_in(dir: &std::path::Path, upstream: Option<&str>, seed: u8) -> Db {
    let store: DynStore = Arc::new(FsStore::open(dir).unwrap());
    let db = OwnSumdb::open(Arc::clone(&store), signer(seed))
        .await
        .unwrap();
    let http = HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout_small: Duration::from_secs(2),
        idle_read_timeout: Duration::from_secs(2),
        ..HttpConfig::default()
    };
    let source = upstream.map(|l| {
        Arc::new(ChainSource::from_proxy_list(l, &http, None).unwrap())
            as modferry_sources::DynSource
    });
    let mut sumdbs = SumdbRegistry::default();
    sumdbs.insert(
        NAME,
        Arc::clone(&db) as Arc<dyn modferry_service::SumdbService>,
    );
    let mirror = Mirror::with_extras(
        Arc::clone(&store),
        source,
        MirrorConfig {
            negative_ttl: Duration::ZERO,
            ..MirrorConfig::default()
        },
        MirrorExtras {
            checks: vec![Arc::clone(&db) as Arc<dyn ModuleCheck>],
            sumdbs,
            ..MirrorExtras::default()
        },
    );
    db.attach_mirror(&mirror);
    Db {
        _dir: None,
        store,
        db,
        app: router(mirror),
    }
}

async fn fresh(upstream: Option<&str>) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let mut d = db_in(dir.path(), upstream, 1).await;
    d._dir = Some(dir);
    d
}

impl Db {
    async fn get(&self, path: &str) -> (StatusCode, Bytes) {
        let resp = self
            .app
            .clone()
            .oneshot(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let st = resp.status();
        (st, resp.into_body().collect().await.unwrap().to_bytes())
    }

    async fn db_get(&self, path: &str) -> (StatusCode, Bytes) {
        self.get(&format!("/sumdb/{NAME}/{path}")).await
    }

    fn verifier(&self) -> Verifier {
        Verifier::parse(&self.db.verifier_key()).unwrap()
    }

    /// The served latest head, verified.
    async fn latest(&self) -> Tree {
        let (st, body) = self.db_get("latest").await;
        assert_eq!(st, StatusCode::OK);
        let n = note::open(&body, &[self.verifier()]).unwrap();
        tlog::parse_tree(n.text.as_bytes()).unwrap()
    }

    /// Proves that record `id` with `text` is in `tree`, reading only served tiles.
    async fn prove(&self, tree: Tree, id: i64, text: &[u8]) {
        let reader = HttpTiles { db: self };
        let hr = TileHashReader::new(tree, &reader);
        let proof = tokio::task::block_in_place(|| tlog::prove_record(tree.n, id, &hr)).unwrap();
        tlog::check_record(&proof, tree.n, tree.hash, id, tlog::record_hash(text)).unwrap();
    }
}

/// Reads tiles through the router (the go client's view).
struct HttpTiles<'a> {
    db: &'a Db,
}

impl TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        let handle = tokio::runtime::Handle::current();
        tiles
            .iter()
            .map(|t| {
                let (st, body) = handle.block_on(self.db.db_get(&t.path()));
                if st != StatusCode::OK {
                    return Err(TlogError::BadTileRead {
                        detail: format!("{} -> {st}", t.path()),
                    });
                }
                Ok(body.to_vec())
            })
            .collect()
    }
}

fn zip_h1(m: &Module) -> String {
    dirhash::hash_zip(std::io::Cursor::new(m.zip.to_vec())).unwrap()
}

fn hello(version: &str) -> Module {
    Module::new(
        "example.com/hello",
        version,
        &[("hello.go", b"package hello\n")],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_records_a_served_version_and_proves_it_in_the_signed_tree() {
    let up = Upstream::start().await;
    let m = hello("v1.0.0");
    up.serve_module(&m);
    let d = fresh(Some(&up.url)).await;
    assert_eq!(d.latest().await.n, 0, "a new log is the signed empty tree");

    let (st, body) = d
        .db_get(&format!("lookup/{}@{}", m.escaped_path, m.escaped_version))
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let lk = tlog::parse_lookup(&body).unwrap();
    let want = tlog::format_gosum_record(
        &m.path,
        &m.version,
        &zip_h1(&m),
        &dirhash::hash_go_mod(&m.go_mod),
    );
    assert_eq!(lk.text, want);
    let n = note::open(lk.signed_tree, &[d.verifier()]).unwrap();
    let tree = tlog::parse_tree(n.text.as_bytes()).unwrap();
    assert_eq!(tree.n, 1);
    d.prove(tree, lk.id, lk.text.as_bytes()).await;

    // The lookup made the mirror store the version, so the mirror serves what it recorded.
    let (st, zip) = d.get(&m.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(zip, m.zip);
    // A second lookup answers the same record without appending.
    let (_, again) = d
        .db_get(&format!("lookup/{}@{}", m.escaped_path, m.escaped_version))
        .await;
    assert_eq!(again, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn zip_relayed_through_the_mirror_is_recorded_by_the_module_check() {
    let up = Upstream::start().await;
    let m = hello("v1.1.0");
    up.serve_module(&m);
    let d = fresh(Some(&up.url)).await;
    let (st, _) = d.get(&m.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    let (id, text) = d.db.log().lookup(&m.path, &m.version).unwrap();
    assert_eq!(id, 0);
    assert!(text.starts_with(&format!("{} {} {}\n", m.path, m.version, zip_h1(&m))));
    assert_eq!(d.latest().await.n, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_version_lookup_is_404_and_bad_syntax_is_400() {
    let up = Upstream::start().await;
    let d = fresh(Some(&up.url)).await;
    let (st, _) = d.db_get("lookup/example.com/nothere@v1.0.0").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = d.db_get("lookup/example.com/nothere@latest").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = d.db_get("tile/8/0/000.p/1").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "no tiles in the empty tree");
    assert_eq!(d.latest().await.n, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tiles_cover_exactly_the_committed_tree_and_prove_every_record() {
    let d = fresh(None).await;
    const N: i64 = 260;
    let mut texts = Vec::new();
    for i in 0..N {
        let v = format!("v0.0.{i}");
        d.db.record("example.com/many", &v, "h1:zip=", "h1:mod=")
            .await
            .unwrap();
        texts.push(tlog::format_gosum_record(
            "example.com/many",
            &v,
            "h1:zip=",
            "h1:mod=",
        ));
    }
    let tree = d.latest().await;
    assert_eq!(tree.n, N);
    // (path, served?) for a tree of 260 records: level 0 has 260 hashes, level 1 has 1.
    const TILES: &[(&str, bool)] = &[
        ("tile/8/0/000", true),
        ("tile/8/0/001.p/4", true),
        ("tile/8/0/001.p/3", true),
        ("tile/8/0/001.p/5", false),
        ("tile/8/0/001", false),
        ("tile/8/0/002.p/1", false),
        ("tile/8/1/000.p/1", true),
        ("tile/8/1/000.p/2", false),
        ("tile/8/2/000.p/1", false),
        ("tile/8/data/000", true),
        ("tile/8/data/001.p/4", true),
        ("tile/8/data/001.p/5", false),
        ("tile/8/data/001", false),
    ];
    for (path, served) in TILES {
        let (st, _) = d.db_get(path).await;
        assert_eq!(st == StatusCode::OK, *served, "{path}: {st}");
    }
    let (st, _) = d.db_get("tile/8/0/x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // The data tile holds the records as the go client parses them.
    let (_, data) = d.db_get("tile/8/data/001.p/4").await;
    let recs = tlog::parse_data_tile(&data).unwrap();
    assert_eq!(
        recs,
        texts[256..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    for id in [0, 1, 127, 255, 256, N - 1] {
        d.prove(tree, id, texts[id as usize].as_bytes()).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn later_trees_are_consistent_with_earlier_ones() {
    let d = fresh(None).await;
    for i in 0..5 {
        d.db.record("example.com/c", &format!("v1.0.{i}"), "h1:a=", "h1:b=")
            .await
            .unwrap();
    }
    let old = d.latest().await;
    for i in 5..20 {
        d.db.record("example.com/c", &format!("v1.0.{i}"), "h1:a=", "h1:b=")
            .await
            .unwrap();
    }
    let new = d.latest().await;
    let reader = HttpTiles { db: &d };
    let hr = TileHashReader::new(new, &reader);
    let proof = tokio::task::block_in_place(|| tlog::prove_tree(new.n, old.n, &hr)).unwrap();
    tlog::check_tree(&proof, new.n, new.hash, old.n, old.hash).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_hash_for_a_recorded_version_is_refused_and_not_stored() {
    let up = Upstream::start().await;
    let m = hello("v1.2.0");
    let d = fresh(Some(&up.url)).await;
    // Recorded earlier with other content (say, before the upstream was compromised).
    d.db.record(
        &m.path,
        &m.version,
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &dirhash::hash_go_mod(&m.go_mod),
    )
    .await
    .unwrap();
    up.serve_module(&m);
    let (st, body) = d.get(&m.url("zip")).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("SECURITY ERROR"), "{body}");
    let zip_key = modferry_store::layout::zip(&m.path, &m.version).unwrap();
    assert!(
        d.store.head(&zip_key).await.unwrap().is_none(),
        "refused zip was stored"
    );
    assert_eq!(d.latest().await.n, 1, "nothing appended");

    let err =
        d.db.record(&m.path, &m.version, "h1:other=", "h1:other=")
            .await
            .unwrap_err();
    assert!(matches!(err, OwnError::Conflict { id: 0, .. }), "{err}");
    // The same hashes again are fine (idempotent).
    assert_eq!(
        d.db.record(
            &m.path,
            &m.version,
            "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            &dirhash::hash_go_mod(&m.go_mod)
        )
        .await
        .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_reads_the_log_back_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let d = db_in(dir.path(), None, 1).await;
        for i in 0..3 {
            d.db.record("example.com/r", &format!("v1.{i}.0"), "h1:z=", "h1:m=")
                .await
                .unwrap();
        }
        d.latest().await
    };
    let d = db_in(dir.path(), None, 1).await;
    assert_eq!(d.latest().await, before);
    let (st, body) = d.db_get("lookup/example.com/r@v1.1.0").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(tlog::parse_lookup(&body).unwrap().id, 1);

    // Another key cannot take over the log.
    let store: DynStore = Arc::new(FsStore::open(dir.path()).unwrap());
    let err = OwnSumdb::open(store, signer(2)).await.err().unwrap();
    assert!(matches!(err, OwnError::WrongKey { .. }), "{err}");
}

/// The crash states an interrupted append can leave (provisional objects beyond the head) are
/// settled on open: a valid record is completed, anything else removed.
#[tokio::test(flavor = "multi_thread")]
async fn open_completes_or_removes_what_an_interrupted_append_left() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(FsStore::open(dir.path()).unwrap());
    {
        let d = db_in(dir.path(), None, 1).await;
        d.db.record("example.com/x", "v1.0.0", "h1:z=", "h1:m=")
            .await
            .unwrap();
    }
    let keys = own::LogKeys::new(NAME).unwrap();
    let put = |key: Key, body: &str| {
        let store = Arc::clone(&store);
        let body = body.to_owned();
        async move {
            store
                .put(&key, Payload::Bytes(Bytes::from(body)), PutMode::Overwrite)
                .await
                .unwrap();
        }
    };
    // Record 1 written (as after the failpoint sumdb-append-after-record), plus a stale
    // index entry.
    let text = tlog::format_gosum_record("example.com/y", "v1.0.0", "h1:z=", "h1:m=");
    put(keys.record(1).unwrap(), &text).await;
    put(keys.index("example.com/y", "v1.0.0").unwrap(), "7").await;
    // Record 3 after a gap, and 2 a duplicate of a committed version.
    put(
        keys.record(2).unwrap(),
        &tlog::format_gosum_record("example.com/x", "v1.0.0", "h1:q=", "h1:m="),
    )
    .await;
    put(
        keys.record(3).unwrap(),
        &tlog::format_gosum_record("example.com/w", "v1.0.0", "h1:z=", "h1:m="),
    )
    .await;

    let d = db_in(dir.path(), None, 1).await;
    let tree = d.latest().await;
    assert_eq!(tree.n, 2, "record 1 completed, 2 and 3 dropped");
    let (st, body) = d.db_get("lookup/example.com/y@v1.0.0").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(tlog::parse_lookup(&body).unwrap().id, 1);
    assert!(
        store
            .head(&keys.record(2).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .head(&keys.record(3).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let report = own::audit(&store, &d.verifier(), false).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    // And appends continue after it.
    d.db.record("example.com/w", "v1.0.0", "h1:z=", "h1:m=")
        .await
        .unwrap();
    assert_eq!(d.latest().await.n, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_passes_a_sound_log_and_catches_a_flipped_byte_and_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = db_in(dir.path(), None, 1).await;
    for i in 0..4 {
        d.db.record("example.com/a", &format!("v1.0.{i}"), "h1:z=", "h1:m=")
            .await
            .unwrap();
    }
    let v = d.verifier();
    let r = own::audit(&d.store, &v, true).await.unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.size, 4);

    // Flip one byte of a stored record.
    let keys = own::LogKeys::new(NAME).unwrap();
    let path = dir.path().join(keys.record(2).unwrap().as_str());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let r = own::audit(&d.store, &v, true).await.unwrap();
    assert!(!r.ok());
    assert!(
        r.problems.iter().any(|p| p.contains("record 2")),
        "{:?}",
        r.problems
    );
    bytes[0] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    // A log rewritten from scratch with a valid signature still fails against the audited
    // head: the signer (someone holding the key) replaced history.
    let other = tempfile::tempdir().unwrap();
    let e = db_in(other.path(), None, 1).await;
    for i in 0..5 {
        e.db.record("example.com/b", &format!("v1.0.{i}"), "h1:z=", "h1:m=")
            .await
            .unwrap();
    }
    let audit_key = keys.audit_head().unwrap();
    let prev = d
        .store
        .get_bytes(&audit_key, 1 << 20)
        .await
        .unwrap()
        .unwrap();
    e.store
        .put(&audit_key, Payload::Bytes(prev), PutMode::Overwrite)
        .await
        .unwrap();
    let r = own::audit(&e.store, &v, true).await.unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("not an extension")),
        "{:?}",
        r.problems
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_against_a_public_database_flags_different_hashes_and_skips_nosum_modules() {
    use modferry_service::sumdb::proxy::{ProxyDb, ProxyDbConfig};
    // The "public" database: another log, served on a socket.
    let public = fresh(None).await;
    public
        .db
        .record("example.com/same", "v1.0.0", "h1:a=", "h1:b=")
        .await
        .unwrap();
    public
        .db
        .record("example.com/differs", "v1.0.0", "h1:public=", "h1:b=")
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = public.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let ours = fresh(None).await;
    for (m, zip) in [
        ("example.com/same", "h1:a="),
        ("example.com/differs", "h1:ours="),
        ("example.com/unpublished", "h1:a="),
        ("corp.example/secret", "h1:a="),
    ] {
        ours.db.record(m, "v1.0.0", zip, "h1:b=").await.unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let client = modferry_sources::SumdbClient::new(
        &format!("http://{addr}/sumdb/{NAME}"),
        &HttpConfig::default(),
    )
    .unwrap();
    let db = ProxyDb::new(
        ProxyDbConfig {
            verifier: public.verifier(),
            latest_ttl: Duration::from_secs(60),
            nosum: "corp.example".into(),
        },
        Some(client),
        Arc::new(FsStore::open(cache.path()).unwrap()),
    );
    let v = ours.verifier();
    let mut report = own::audit(&ours.store, &v, false).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    own::check_against(&ours.store, &v, &db, &mut report)
        .await
        .unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("example.com/differs@v1.0.0 is h1:ours="),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("1 record(s) match, 1 unknown there") && n.contains("1 not asked")),
        "{:?}",
        report.notes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_go_mod_for_a_recorded_version_is_refused_and_not_stored() {
    let up = Upstream::start().await;
    let m = hello("v1.3.0");
    let d = fresh(Some(&up.url)).await;
    d.db.record(&m.path, &m.version, &zip_h1(&m), "h1:recordedgomod=")
        .await
        .unwrap();
    up.serve_module(&m);
    let (st, body) = d.get(&m.url("mod")).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("SECURITY ERROR"), "{body}");
    let mod_key = modferry_store::layout::go_mod(&m.path, &m.version).unwrap();
    assert!(d.store.head(&mod_key).await.unwrap().is_none());
}
