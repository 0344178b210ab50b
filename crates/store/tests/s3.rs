//! The S3 backend against a real SeaweedFS (`weed mini` on loopback, credentials on, so every
//! request's SigV4 signature is checked): the shared conformance suite, keys with the characters
//! the go command's escaping produces (`@`, `!`, `+`), first-writer-wins under concurrency for
//! single and multipart uploads, upload claims (kept by a live slow upload, taken over from an
//! abandoned one), streaming of a large object, the startup checks, and an outage with recovery. No Go rule lives here beyond the key layout (`cmd/go/internal/modfetch/cache.go`
//! `CachePath`), which the keys follow.

#[path = "common/link.rs"]
mod link;
#[path = "common/seaweed.rs"]
mod seaweed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use link::Link;
use modferry_store::{
    DynStore, Key, Payload, PutMode, PutOutcome, S3Config, S3Store, Store, StoreError, layout,
};
use seaweed::{BUCKET, Seaweed, shared};

/// Deterministic, position-dependent content.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 13) as u8))
        .collect()
}

async fn open(sw: &Seaweed, prefix: &str) -> S3Store {
    S3Store::open(sw.config(prefix))
        .await
        .unwrap_or_else(|e| panic!("open {prefix}: {e}\n{}", sw.log()))
}

async fn read_all(store: &dyn Store, key: &Key) -> Vec<u8> {
    let got = store
        .get(key, None)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .unwrap_or_else(|| panic!("get {key}: missing"));
    let mut body = got.body;
    let mut out = Vec::with_capacity(got.meta.size as usize);
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("body chunk"));
    }
    out
}

/// Writes `data` to a new file in the store's staging directory.
fn stage(store: &dyn Store, name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = store.staging_dir().join(name);
    std::fs::write(&path, data).expect("write staging file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_passes_conformance_suite_under_a_prefix_with_at_bang_plus() {
    let sw = shared();
    let store: DynStore = Arc::new(open(sw, "suite/example.com/!org/@v/v1.0.0+incompatible").await);
    modferry_store::testing::suite(store.clone()).await;
    assert!(
        store.describe().starts_with(&format!(
            "s3://{BUCKET}/suite/example.com/!org/@v/v1.0.0+incompatible ({}",
            sw.endpoint()
        )),
        "{}",
        store.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_passes_conformance_suite_at_the_bucket_root() {
    let store: DynStore = Arc::new(open(shared(), "").await);
    modferry_store::testing::suite(store).await;
}

#[tokio::test]
async fn layout_keys_with_at_bang_plus_are_stored_under_their_literal_names() {
    let sw = shared();
    let store = open(sw, "literal").await;
    let key = layout::zip("example.com/Org/Mod", "v2.0.0+incompatible").unwrap();
    assert_eq!(
        key.as_str(),
        "example.com/!org/!mod/@v/v2.0.0+incompatible.zip"
    );
    let data = Bytes::from_static(b"PK\x05\x06 not really a zip");
    let out = store
        .put(&key, Payload::Bytes(data.clone()), PutMode::Create)
        .await
        .unwrap();
    assert_eq!(out, PutOutcome::Created);
    assert_eq!(read_all(&store, &key).await, data);
    assert_eq!(
        store.head(&key).await.unwrap().unwrap().size,
        data.len() as u64
    );
    assert_eq!(store.list("example.com/").await.unwrap(), vec![key.clone()]);
    // The object's name in the bucket is the key itself, not an encoded form, so a static file
    // server on the bucket serves the go command's URLs.
    let literal = format!("/buckets/{BUCKET}/literal/{}", key.as_str());
    assert_eq!(sw.filer_status(&literal), Some(200), "{literal}");
    store.delete(&key).await.unwrap();
    assert_eq!(sw.filer_status(&literal), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_of_one_key_has_exactly_one_winner() {
    const WRITERS: u8 = 20;
    let store: DynStore = Arc::new(open(shared(), "race-small").await);
    let key = layout::info("example.com/m", "v1.0.0").unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let data = Bytes::from(vec![w; 64 * 1024]);
            (
                w,
                store.put(&key, Payload::Bytes(data), PutMode::Create).await,
            )
        }));
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (w, out) = t.await.unwrap();
        match out.unwrap_or_else(|e| panic!("writer {w}: {e}")) {
            PutOutcome::Created => winners.push(w),
            PutOutcome::AlreadyExists => refused += 1,
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(refused, WRITERS as usize - 1);
    let body = read_all(store.as_ref(), &key).await;
    assert_eq!(body.len(), 64 * 1024);
    assert!(
        body.iter().all(|b| *b == winners[0]),
        "content is the winner's, unmixed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_multipart_create_of_one_key_has_exactly_one_winner() {
    const WRITERS: u8 = 20;
    const SIZE: usize = 5 * 1024 * 1024 + 4096;
    let sw = shared();
    let mut cfg = sw.config("race-large");
    cfg.part_size = 5 * 1024 * 1024;
    let store: DynStore = Arc::new(S3Store::open(cfg).await.unwrap());
    let key = layout::zip("example.com/m", "v1.0.0").unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        let key = key.clone();
        let src = stage(store.as_ref(), &format!("writer-{w}"), &pattern(SIZE, w));
        tasks.push(tokio::spawn(async move {
            (
                w,
                store.put(&key, Payload::File(src), PutMode::Create).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (w, out) = t.await.unwrap();
        if out.unwrap_or_else(|e| panic!("writer {w}: {e}")) == PutOutcome::Created {
            winners.push(w);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert!(
        read_all(store.as_ref(), &key).await == pattern(SIZE, winners[0]),
        "content is the winner's file"
    );
    let staged: Vec<_> = std::fs::read_dir(store.staging_dir()).unwrap().collect();
    assert!(
        staged.is_empty(),
        "payload files are taken over: {staged:?}"
    );
    assert_no_temp_objects(sw, "race-large").await;
}

/// Nothing is left in the backend's temporary area under `prefix`.
async fn assert_no_temp_objects(sw: &Seaweed, prefix: &str) {
    // A store rooted at `<prefix>/.modferry` sees the temporary area as ordinary keys.
    let side = open(sw, &format!("{prefix}/.modferry")).await;
    assert_eq!(side.list("tmp/").await.unwrap(), Vec::<Key>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_is_uploaded_in_parts_and_streams_back_identical() {
    const SIZE: usize = 40 * 1024 * 1024 + 123;
    let sw = shared();
    let store = open(sw, "large").await;
    let data = pattern(SIZE, 42);
    for (name, mode) in [
        ("create", PutMode::Create),
        ("overwrite", PutMode::Overwrite),
    ] {
        let key = Key::new(format!("example.com/big/@v/v1.0.0-{name}.zip")).unwrap();
        let src = stage(&store, name, &data);
        let started = Instant::now();
        let out = store
            .put(&key, Payload::File(src.clone()), mode)
            .await
            .unwrap();
        eprintln!("put 40 MiB ({mode:?}): {:?}", started.elapsed());
        assert_eq!(out, PutOutcome::Created);
        assert!(!src.exists(), "payload file taken over");
        let meta = store.head(&key).await.unwrap().expect("stored");
        assert_eq!(meta.size, SIZE as u64);
        // S3 marks an object assembled from parts with "-<parts>" in its ETag.
        assert!(
            meta.etag.contains('-'),
            "{mode:?}: not multipart: {}",
            meta.etag
        );

        let got = store.get(&key, None).await.unwrap().unwrap();
        assert_eq!(got.range, 0..SIZE as u64);
        let mut body = got.body;
        let mut offset = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= modferry_store::READ_CHUNK);
            assert!(
                chunk[..] == data[offset..offset + chunk.len()],
                "{mode:?}: content differs at {offset}"
            );
            offset += chunk.len();
        }
        assert_eq!(offset, SIZE, "{mode:?}: length");

        // A range at the end, and one running past it (clamped).
        for (asked, served) in [
            (
                SIZE as u64 - 1000..SIZE as u64,
                SIZE as u64 - 1000..SIZE as u64,
            ),
            (
                SIZE as u64 - 10..SIZE as u64 + 100,
                SIZE as u64 - 10..SIZE as u64,
            ),
        ] {
            let got = store.get(&key, Some(asked.clone())).await.unwrap().unwrap();
            assert_eq!(got.range, served);
            assert_eq!(got.meta.size, SIZE as u64);
            let mut body = got.body;
            let mut out = Vec::new();
            while let Some(chunk) = body.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            assert!(
                out[..] == data[served.start as usize..],
                "{mode:?}: range {asked:?}"
            );
        }
    }
    // A large create-only write to an existing key uploads nothing and keeps the object.
    let key = Key::new("example.com/big/@v/v1.0.0-create.zip").unwrap();
    let before = store.head(&key).await.unwrap().unwrap();
    let src = stage(&store, "again", &pattern(SIZE, 1));
    let out = store
        .put(&key, Payload::File(src.clone()), PutMode::Create)
        .await
        .unwrap();
    assert_eq!(out, PutOutcome::AlreadyExists);
    assert!(!src.exists());
    assert_eq!(store.head(&key).await.unwrap().unwrap(), before);
    assert_no_temp_objects(sw, "large").await;
}

#[tokio::test]
async fn open_with_wrong_credentials_fails_naming_endpoint_and_bucket() {
    let sw = shared();
    for (id, secret) in [
        (seaweed::ACCESS_KEY, "wrong-secret"),
        ("unknown-key", seaweed::SECRET_KEY),
    ] {
        let cfg = S3Config::new(BUCKET, "creds")
            .with_endpoint(sw.endpoint())
            .with_credentials(id, secret);
        let err = S3Store::open(cfg).await.expect_err("wrong credentials");
        let msg = err.to_string();
        assert!(msg.contains(&sw.endpoint()), "{msg}");
        assert!(msg.contains(BUCKET), "{msg}");
        assert!(msg.contains("access denied"), "{msg}");
    }
    // Anonymous requests are refused too.
    let cfg = S3Config::new(BUCKET, "creds").with_endpoint(sw.endpoint());
    let err = S3Store::open(cfg).await.expect_err("anonymous");
    assert!(err.to_string().contains("access denied"), "{err}");
}

#[tokio::test]
async fn open_of_a_missing_bucket_fails_naming_endpoint_and_bucket() {
    let sw = shared();
    let mut cfg = sw.config("");
    cfg.bucket = "no-such-bucket".to_owned();
    let err = S3Store::open(cfg).await.expect_err("missing bucket");
    let msg = err.to_string();
    assert!(msg.contains(&sw.endpoint()), "{msg}");
    assert!(msg.contains("no-such-bucket"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
}

/// How long a failing call may take while the store is down.
const FAIL_FAST: Duration = Duration::from_secs(5);

async fn expect_unavailable<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) {
    let started = Instant::now();
    let res = call.await;
    let took = started.elapsed();
    match res {
        Err(StoreError::Unavailable { reason }) => {
            assert!(!reason.contains('\n'), "{what}: one-line reason: {reason}");
            assert!(took < FAIL_FAST, "{what}: took {took:?}");
        }
        other => panic!("{what}: want Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_gives_unavailable_quickly_and_recovery_shows_nothing_partial() {
    const BIG: usize = 24 * 1024 * 1024;
    let mut sw = Seaweed::start();
    let store = open(&sw, "outage").await;
    let small = layout::info("example.com/m", "v1.0.0").unwrap();
    let big = layout::zip("example.com/m", "v1.0.0").unwrap();
    let info = Bytes::from_static(br#"{"Version":"v1.0.0"}"#);
    store
        .put(&small, Payload::Bytes(info.clone()), PutMode::Create)
        .await
        .unwrap();
    let big_data = pattern(BIG, 9);
    let src = stage(&store, "big", &big_data);
    store
        .put(&big, Payload::File(src), PutMode::Create)
        .await
        .unwrap();

    // A download in progress when the store goes away fails instead of hanging or ending short.
    let got = store.get(&big, None).await.unwrap().unwrap();
    let mut body = got.body;
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());

    // A fill in progress when the store goes away: a large create-only upload.
    let filling = layout::zip("example.com/m", "v1.1.0").unwrap();
    let fill_data = pattern(BIG, 11);
    let fill_src = stage(&store, "fill", &fill_data);
    let fill = {
        let store = store.clone();
        let filling = filling.clone();
        tokio::spawn(async move {
            store
                .put(&filling, Payload::File(fill_src), PutMode::Create)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = Instant::now();
    tokio::task::block_in_place(|| sw.stop());
    eprintln!("SeaweedFS stopped in {:?}", stopping.elapsed());

    let fill_result = fill.await.unwrap();
    eprintln!("fill during the outage: {fill_result:?}");
    if let Err(e) = &fill_result {
        assert!(e.is_backend_failure(), "{e}");
    }

    let started = Instant::now();
    let mut streamed = first.len();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => streamed += c.len(),
            Err(e) => {
                eprintln!("download during the outage: {e}");
                failed = true;
                break;
            }
        }
    }
    // Bytes already in flight may complete the download; it never ends short without an error.
    assert!(
        failed || streamed == BIG,
        "download ended short at {streamed} without an error"
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "download took {:?}",
        started.elapsed()
    );

    expect_unavailable("head", store.head(&small)).await;
    expect_unavailable("get", store.get(&small, None)).await;
    expect_unavailable("get_bytes", store.get_bytes(&small, 1024)).await;
    expect_unavailable("list", store.list("")).await;
    expect_unavailable("delete", store.delete(&small)).await;
    let late = layout::go_mod("example.com/m", "v1.2.0").unwrap();
    expect_unavailable(
        "put",
        store.put(
            &late,
            Payload::Bytes(Bytes::from_static(b"module m\n")),
            PutMode::Create,
        ),
    )
    .await;
    let late_zip = layout::zip("example.com/m", "v1.2.0").unwrap();
    let src = stage(&store, "late", &pattern(BIG, 3));
    expect_unavailable(
        "put file",
        store.put(&late_zip, Payload::File(src), PutMode::Create),
    )
    .await;
    // A new store cannot open either, and says why.
    match S3Store::open(sw.config("outage")).await {
        Err(StoreError::Unavailable { reason }) => {
            assert!(reason.contains(&sw.endpoint()), "{reason}")
        }
        other => panic!("open while down: {other:?}"),
    }

    tokio::task::block_in_place(|| sw.restart());

    // The same store instance recovers by itself once SeaweedFS has loaded its volumes (until
    // then reads fail as backend failures, never with a wrong answer).
    let restarted = Instant::now();
    loop {
        match store.get_bytes(&small, 1024).await {
            Ok(got) => {
                assert_eq!(got, Some(info.clone()));
                break;
            }
            Err(e) if e.is_backend_failure() && restarted.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("no recovery after the restart: {e}\n{}", sw.log()),
        }
    }
    eprintln!("readable again {:?} after the restart", restarted.elapsed());
    // Nothing partial is visible.
    assert!(
        read_all(&store, &big).await == big_data,
        "earlier object intact"
    );
    assert_eq!(store.head(&late).await.unwrap(), None);
    assert_eq!(store.head(&late_zip).await.unwrap(), None);
    match store.head(&filling).await.unwrap() {
        None => assert!(
            fill_result.is_err(),
            "a fill that succeeded must be visible"
        ),
        Some(meta) => {
            assert_eq!(meta.size, BIG as u64);
            assert!(
                read_all(&store, &filling).await == fill_data,
                "filled object intact"
            );
        }
    }
    let mut want = vec![big.clone(), small.clone()];
    if store.head(&filling).await.unwrap().is_some() {
        want.push(filling.clone());
    }
    want.sort();
    assert_eq!(store.list("").await.unwrap(), want);
    // And writes work again.
    let out = store
        .put(
            &late,
            Payload::Bytes(Bytes::from_static(b"module m\n")),
            PutMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(out, PutOutcome::Created);
    // A store opened now works too (fresh connections).
    let again = open(&sw, "outage").await;
    assert_eq!(
        again.get_bytes(&late, 100).await.unwrap().unwrap(),
        &b"module m\n"[..]
    );
}

/// A store on `prefix` with 5 MiB parts and a short upload-claim TTL, reached at `endpoint`
/// (the SeaweedFS itself when `None`).
async fn open_claiming(sw: &Seaweed, prefix: &str, endpoint: Option<&str>) -> S3Store {
    let mut cfg = sw.config(prefix);
    if let Some(endpoint) = endpoint {
        cfg = cfg.with_endpoint(endpoint);
    }
    cfg.part_size = 5 * 1024 * 1024;
    cfg.claim_ttl = CLAIM_TTL;
    S3Store::open(cfg).await.unwrap()
}

const CLAIM_TTL: Duration = Duration::from_secs(2);

/// Waits until an upload claim exists under `prefix`.
async fn wait_for_claim(sw: &Seaweed, prefix: &str) {
    let side = open(sw, &format!("{prefix}/.modferry")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while side.list("tmp/claim/").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no upload claim appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_upload_longer_than_the_claim_ttl_keeps_its_claim() {
    const SIZE: usize = 5 * 1024 * 1024 + 4096;
    let sw = shared();
    // About 5 s for the 5 MiB part: longer than twice the claim TTL.
    let link = Link::throttled(&sw.endpoint(), 1024 * 1024);
    let slow = open_claiming(sw, "claim-live", Some(&link.url)).await;
    let fast = open_claiming(sw, "claim-live", None).await;
    let key = layout::zip("example.com/m", "v1.0.0").unwrap();
    let first = {
        let (store, key) = (slow.clone(), key.clone());
        let src = stage(&store, "first", &pattern(SIZE, 1));
        tokio::spawn(async move {
            let started = Instant::now();
            let out = store.put(&key, Payload::File(src), PutMode::Create).await;
            (out, started.elapsed())
        })
    };
    wait_for_claim(sw, "claim-live").await;
    let src = stage(&fast, "second", &pattern(SIZE, 2));
    let second = fast.put(&key, Payload::File(src), PutMode::Create).await;
    let (first, took) = first.await.unwrap();
    eprintln!("slow upload took {took:?}");
    assert!(took > CLAIM_TTL * 2, "the upload was not slow: {took:?}");
    assert_eq!(
        first.unwrap(),
        PutOutcome::Created,
        "the live writer keeps its claim"
    );
    assert_eq!(second.unwrap(), PutOutcome::AlreadyExists);
    assert!(
        read_all(&fast, &key).await == pattern(SIZE, 1),
        "content is the first writer's"
    );
    drop(link);
    assert_no_temp_objects(sw, "claim-live").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_of_an_abandoned_upload_is_taken_over_after_the_claim_ttl() {
    const SIZE: usize = 5 * 1024 * 1024 + 4096;
    let sw = shared();
    let link = Link::throttled(&sw.endpoint(), 1024 * 1024);
    let slow = open_claiming(sw, "claim-dead", Some(&link.url)).await;
    let fast = open_claiming(sw, "claim-dead", None).await;
    let key = layout::zip("example.com/m", "v1.0.0").unwrap();
    let first = {
        let (store, key) = (slow.clone(), key.clone());
        let src = stage(&store, "first", &pattern(SIZE, 1));
        tokio::spawn(async move { store.put(&key, Payload::File(src), PutMode::Create).await })
    };
    wait_for_claim(sw, "claim-dead").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The writer dies mid-upload: neither a refresh nor a release of its claim follows.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let started = Instant::now();
    let src = stage(&fast, "second", &pattern(SIZE, 2));
    let out = fast.put(&key, Payload::File(src), PutMode::Create).await;
    let took = started.elapsed();
    eprintln!("second writer took {took:?}");
    assert_eq!(out.unwrap(), PutOutcome::Created);
    assert!(
        took < CLAIM_TTL + Duration::from_secs(4),
        "the dead writer's claim held too long: {took:?}"
    );
    assert!(
        read_all(&fast, &key).await == pattern(SIZE, 2),
        "content is the second writer's"
    );
    drop(link);
    assert_no_temp_objects(sw, "claim-dead").await;
}
