//! The conformance suite every [`Store`](crate::Store) backend must pass, in the spirit of x/mod
//! `sumdb/storage/test.go` (`TestStorage`): one function that exercises the trait's contract, run
//! by each backend's own test with a fresh store.
//!
//! It panics (like `assert!`) on the first violation, with a message naming the check. All keys
//! it touches live under [`SUITE_PREFIX`]; the store may hold other data, which is left alone.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use crate::{DynStore, GetResult, Key, Payload, PutMode, PutOutcome, StoreError, SwapOutcome};

/// Every key the suite writes starts with this.
pub const SUITE_PREFIX: &str = "modferry-suite/";

/// Runs the whole suite against `store`. The store must not hold keys under [`SUITE_PREFIX`]
/// when it starts.
pub async fn suite(store: DynStore) {
    missing_objects(&store).await;
    roundtrip(&store).await;
    overwrite_replaces(&store).await;
    create_is_first_writer_wins(&store).await;
    payload_file_is_taken_over(&store).await;
    ranges(&store).await;
    large_object_streams_in_chunks(&store).await;
    get_bytes_limit(&store).await;
    list_by_prefix(&store).await;
    delete_removes(&store).await;
    invalid_keys(&store).await;
    concurrent_create(&store).await;
    concurrent_overwrite(&store).await;
    swap_is_compare_and_swap(&store).await;
    // Clean up so the suite can run again on the same store.
    for key in store.list(SUITE_PREFIX).await.expect("list suite keys") {
        store.delete(&key).await.expect("delete suite key");
    }
    assert!(
        store.list(SUITE_PREFIX).await.expect("list").is_empty(),
        "suite keys remain after deleting them all"
    );
}

fn key(rel: &str) -> Key {
    Key::new(format!("{SUITE_PREFIX}{rel}")).expect("suite keys are valid")
}

/// Deterministic, position-dependent content, so a misplaced range shows.
fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn collect(r: GetResult) -> Vec<u8> {
    let mut body = r.body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("body chunk"));
    }
    out
}

async fn read_all(store: &DynStore, k: &Key) -> Vec<u8> {
    let r = store
        .get(k, None)
        .await
        .unwrap_or_else(|e| panic!("get {k}: {e}"))
        .unwrap_or_else(|| panic!("get {k}: missing"));
    collect(r).await
}

async fn put(store: &DynStore, k: &Key, data: Bytes, mode: PutMode) -> PutOutcome {
    store
        .put(k, Payload::Bytes(data), mode)
        .await
        .unwrap_or_else(|e| panic!("put {k} ({mode:?}): {e}"))
}

async fn missing_objects(store: &DynStore) {
    let k = key("missing/nothing.info");
    assert!(
        store.head(&k).await.expect("head missing").is_none(),
        "head of a missing key"
    );
    assert!(
        store.get(&k, None).await.expect("get missing").is_none(),
        "get of a missing key"
    );
    assert!(
        store
            .get(&k, Some(0..1))
            .await
            .expect("ranged get missing")
            .is_none(),
        "ranged get of a missing key"
    );
    assert!(
        store
            .get_bytes(&k, 10)
            .await
            .expect("get_bytes missing")
            .is_none(),
        "get_bytes of a missing key"
    );
    store
        .delete(&k)
        .await
        .expect("deleting a missing key succeeds");
    // A "directory" (a prefix of existing keys) is not an object.
    put(
        store,
        &key("missing/dir/file"),
        Bytes::from_static(b"x"),
        PutMode::Overwrite,
    )
    .await;
    let dir = key("missing/dir");
    assert!(
        store.head(&dir).await.expect("head dir").is_none(),
        "a prefix is not an object"
    );
    assert!(
        store.get(&dir, None).await.expect("get dir").is_none(),
        "a prefix is not an object"
    );
}

async fn roundtrip(store: &DynStore) {
    let k = key("roundtrip/example.com/m/@v/v1.0.0.mod");
    let data = Bytes::from_static(b"module example.com/m\n\ngo 1.21\n");
    assert_eq!(
        put(store, &k, data.clone(), PutMode::Overwrite).await,
        PutOutcome::Created
    );
    let meta = store.head(&k).await.expect("head").expect("head after put");
    assert_eq!(meta.size, data.len() as u64, "head size");
    assert!(
        meta.etag.len() >= 3 && meta.etag.starts_with('"') && meta.etag.ends_with('"'),
        "etag {:?} is not a quoted HTTP entity tag",
        meta.etag
    );
    let again = store.head(&k).await.expect("head").expect("head again");
    assert_eq!(meta, again, "head is stable while the object is unchanged");

    let r = store
        .get(&k, None)
        .await
        .expect("get")
        .expect("get after put");
    assert_eq!(r.meta, meta, "get meta equals head meta");
    assert_eq!(r.range, 0..data.len() as u64, "full read range");
    assert_eq!(collect(r).await, data, "get body");
    assert_eq!(
        store
            .get_bytes(&k, 1 << 20)
            .await
            .expect("get_bytes")
            .expect("present"),
        data,
        "get_bytes body"
    );

    // Empty objects are objects.
    let empty = key("roundtrip/empty");
    put(store, &empty, Bytes::new(), PutMode::Create).await;
    let m = store
        .head(&empty)
        .await
        .expect("head")
        .expect("empty object exists");
    assert_eq!(m.size, 0);
    assert!(read_all(store, &empty).await.is_empty());
}

async fn overwrite_replaces(store: &DynStore) {
    let k = key("overwrite/example.com/m/@v/list");
    put(
        store,
        &k,
        Bytes::from_static(b"v1.0.0\n"),
        PutMode::Overwrite,
    )
    .await;
    let first = store.head(&k).await.expect("head").expect("present");
    let out = put(
        store,
        &k,
        Bytes::from_static(b"v1.0.0\nv1.1.0\n"),
        PutMode::Overwrite,
    )
    .await;
    assert_eq!(
        out,
        PutOutcome::Created,
        "Overwrite of an existing key reports Created"
    );
    assert_eq!(
        read_all(store, &k).await,
        b"v1.0.0\nv1.1.0\n",
        "content after overwrite"
    );
    let second = store.head(&k).await.expect("head").expect("present");
    assert_eq!(second.size, 14);
    assert_ne!(
        first.etag, second.etag,
        "etag changes when the object changes"
    );
}

async fn create_is_first_writer_wins(store: &DynStore) {
    let k = key("create/example.com/m/@v/v1.0.0.info");
    let a = Bytes::from_static(br#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#);
    assert_eq!(
        put(store, &k, a.clone(), PutMode::Create).await,
        PutOutcome::Created
    );
    let meta = store.head(&k).await.expect("head").expect("present");
    let out = put(store, &k, Bytes::from_static(b"other"), PutMode::Create).await;
    assert_eq!(out, PutOutcome::AlreadyExists, "second Create");
    assert_eq!(
        read_all(store, &k).await,
        a,
        "Create must not replace existing content"
    );
    assert_eq!(
        store.head(&k).await.expect("head").expect("present"),
        meta,
        "a refused Create leaves the object untouched"
    );
    // Overwrite still replaces an object that was created.
    put(
        store,
        &k,
        Bytes::from_static(b"replaced"),
        PutMode::Overwrite,
    )
    .await;
    assert_eq!(read_all(store, &k).await, b"replaced");
}

async fn payload_file_is_taken_over(store: &DynStore) {
    let staging = store.staging_dir().to_owned();
    let data = pattern(300_000, 7);
    for (name, mode) in [
        ("file-create", PutMode::Create),
        ("file-overwrite", PutMode::Overwrite),
    ] {
        let src = staging.join(format!("suite-{name}"));
        tokio::fs::write(&src, &data)
            .await
            .expect("write staging file");
        let k = key(&format!("payload/{name}.zip"));
        let out = store
            .put(&k, Payload::File(src.clone()), mode)
            .await
            .unwrap_or_else(|e| panic!("put Payload::File ({mode:?}): {e}"));
        assert_eq!(out, PutOutcome::Created);
        assert!(
            !src.exists(),
            "the staged file is taken over by put ({mode:?})"
        );
        assert_eq!(
            read_all(store, &k).await,
            data,
            "Payload::File content ({mode:?})"
        );
    }
    // A refused Create consumes the staged file too.
    let src = staging.join("suite-file-again");
    tokio::fs::write(&src, b"late")
        .await
        .expect("write staging file");
    let k = key("payload/file-create.zip");
    let out = store
        .put(&k, Payload::File(src.clone()), PutMode::Create)
        .await
        .expect("put");
    assert_eq!(out, PutOutcome::AlreadyExists);
    assert!(
        !src.exists(),
        "the staged file is removed when the key already exists"
    );
    assert_eq!(read_all(store, &k).await, data);

    // A staged file that does not exist is an error and creates nothing.
    let k = key("payload/ghost.zip");
    let err = store
        .put(
            &k,
            Payload::File(staging.join("suite-no-such-file")),
            PutMode::Create,
        )
        .await
        .expect_err("put of a missing Payload::File");
    assert!(
        matches!(err, StoreError::Io { .. }),
        "missing payload file: {err}"
    );
    assert!(
        store.head(&k).await.expect("head").is_none(),
        "failed put left an object"
    );
}

async fn ranges(store: &DynStore) {
    let k = key("ranges/blob.zip");
    let data = pattern(1000, 3);
    put(store, &k, data.clone(), PutMode::Create).await;
    let ok: &[(Range<u64>, Range<u64>)] = &[
        (0..10, 0..10),           // start
        (100..200, 100..200),     // middle
        (990..1000, 990..1000),   // end
        (990..5000, 990..1000),   // end clamped to the size
        (0..1000, 0..1000),       // everything
        (5..5, 5..5),             // empty
        (1000..1000, 1000..1000), // empty, at the end
    ];
    for (asked, served) in ok {
        let r = store
            .get(&k, Some(asked.clone()))
            .await
            .unwrap_or_else(|e| panic!("range {asked:?}: {e}"))
            .expect("present");
        assert_eq!(
            r.meta.size, 1000,
            "range {asked:?}: meta.size is the whole object"
        );
        assert_eq!(&r.range, served, "range {asked:?}: served range");
        let body = collect(r).await;
        let want = &data[served.start as usize..served.end as usize];
        assert_eq!(body, want, "range {asked:?}: body");
    }
    // (start, end): past the end, or start after end.
    let bad: &[(u64, u64)] = &[(1000, 1001), (2000, 3000), (1001, 1001), (10, 5)];
    for &(start, end) in bad {
        let asked = Range { start, end };
        match store.get(&k, Some(asked.clone())).await {
            Err(StoreError::RangeNotSatisfiable {
                size, start, end, ..
            }) => {
                assert_eq!(
                    (size, start, end),
                    (1000, asked.start, asked.end),
                    "range {asked:?}"
                );
            }
            Err(e) => panic!("range {asked:?}: want RangeNotSatisfiable, got {e}"),
            Ok(r) => panic!("range {asked:?}: want RangeNotSatisfiable, got {r:?}"),
        }
    }
}

async fn large_object_streams_in_chunks(store: &DynStore) {
    let k = key("large/big.zip");
    let data = pattern(3 * 1024 * 1024 + 17, 11);
    put(store, &k, data.clone(), PutMode::Create).await;
    let r = store.get(&k, None).await.expect("get").expect("present");
    let mut body = r.body;
    let mut got = Vec::with_capacity(data.len());
    let mut chunks = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("chunk");
        assert!(
            chunk.len() <= crate::READ_CHUNK,
            "chunk of {} bytes",
            chunk.len()
        );
        got.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert!(chunks > 1, "a 3 MiB object must stream in several chunks");
    assert!(got == data, "large object content differs");
    // A range in the middle of a large object.
    let r = store
        .get(&k, Some(1_000_000..2_500_000))
        .await
        .expect("get")
        .expect("present");
    assert!(
        collect(r).await == data[1_000_000..2_500_000],
        "large ranged read differs"
    );
}

async fn get_bytes_limit(store: &DynStore) {
    let k = key("limit/example.com/m/@v/v1.0.0.mod");
    put(store, &k, pattern(100, 1), PutMode::Create).await;
    assert_eq!(
        store
            .get_bytes(&k, 100)
            .await
            .expect("at the limit")
            .expect("present")
            .len(),
        100
    );
    match store.get_bytes(&k, 99).await {
        Err(StoreError::TooLarge { key, limit }) => {
            assert_eq!((key.as_str(), limit), (k.as_str(), 99));
        }
        other => panic!("get_bytes over the limit: want TooLarge, got {other:?}"),
    }
}

async fn list_by_prefix(store: &DynStore) {
    let names = ["a/b/c", "a/b/d", "a/e", "ab/f", "x", "a/.hidden"];
    for n in names {
        put(
            store,
            &key(&format!("list/{n}")),
            Bytes::from_static(b"1"),
            PutMode::Overwrite,
        )
        .await;
    }
    let want = |rels: &[&str]| -> Vec<Key> {
        let mut v: Vec<Key> = rels.iter().map(|r| key(&format!("list/{r}"))).collect();
        v.sort();
        v
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "list/",
            &["a/.hidden", "a/b/c", "a/b/d", "a/e", "ab/f", "x"],
        ),
        ("list/a/", &["a/.hidden", "a/b/c", "a/b/d", "a/e"]),
        ("list/a", &["a/.hidden", "a/b/c", "a/b/d", "a/e", "ab/f"]),
        ("list/a/b/", &["a/b/c", "a/b/d"]),
        ("list/a/b/c", &["a/b/c"]),
        ("list/a/.", &["a/.hidden"]),
        ("list/zzz/", &[]),
        ("list/x/", &[]),
        ("list/nothing", &[]),
    ];
    for (prefix, rels) in cases {
        let got = store
            .list(&format!("{SUITE_PREFIX}{prefix}"))
            .await
            .unwrap_or_else(|e| panic!("list {prefix:?}: {e}"));
        assert_eq!(got, want(rels), "list {prefix:?}");
    }
    let all = store.list("").await.expect("list everything");
    for n in names {
        assert!(
            all.contains(&key(&format!("list/{n}"))),
            "list(\"\") lacks {n}"
        );
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "list results are sorted");
    for bad in ["/x", "a//", "../", "a/../b", "a\\b"] {
        match store.list(bad).await {
            Err(StoreError::InvalidKey { .. }) => {}
            other => panic!("list {bad:?}: want InvalidKey, got {other:?}"),
        }
    }
}

async fn delete_removes(store: &DynStore) {
    let k = key("delete/v1.0.0.zip");
    let keep = key("delete/v1.0.0.zipx");
    put(store, &k, Bytes::from_static(b"zip"), PutMode::Create).await;
    put(store, &keep, Bytes::from_static(b"keep"), PutMode::Create).await;
    store.delete(&k).await.expect("delete");
    assert!(
        store.head(&k).await.expect("head").is_none(),
        "deleted object still there"
    );
    assert!(
        store.get(&k, None).await.expect("get").is_none(),
        "deleted object readable"
    );
    assert_eq!(
        store
            .list(&format!("{SUITE_PREFIX}delete/"))
            .await
            .expect("list"),
        vec![keep.clone()]
    );
    store.delete(&k).await.expect("deleting twice succeeds");
    // Create works again after a delete.
    assert_eq!(
        put(store, &k, Bytes::from_static(b"new"), PutMode::Create).await,
        PutOutcome::Created
    );
    assert_eq!(read_all(store, &k).await, b"new");
}

async fn invalid_keys(store: &DynStore) {
    for bad in [
        "", "/abs", "a/", "a//b", "./a", "a/./b", "a/../b", "..", "a\\b", "a\0b",
    ] {
        match Key::new(bad) {
            Err(StoreError::InvalidKey { key, .. }) => assert_eq!(key, bad),
            other => panic!("Key::new({bad:?}): want InvalidKey, got {other:?}"),
        }
    }
    // Nothing the suite did escaped its prefix.
    for k in store.list(SUITE_PREFIX).await.expect("list") {
        assert!(
            k.as_str().starts_with(SUITE_PREFIX),
            "{k} escaped the prefix"
        );
    }
}

async fn concurrent_create(store: &DynStore) {
    const WRITERS: u8 = 16;
    let k = key("race/create.zip");
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(store);
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            let data = Bytes::from(vec![w; 256 * 1024]);
            (
                w,
                store.put(&k, Payload::Bytes(data), PutMode::Create).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (w, out) = t.await.expect("writer task");
        match out.unwrap_or_else(|e| panic!("concurrent Create writer {w}: {e}")) {
            PutOutcome::Created => winners.push(w),
            PutOutcome::AlreadyExists => {}
        }
    }
    assert_eq!(winners.len(), 1, "exactly one Create wins, got {winners:?}");
    let body = read_all(store, &k).await;
    assert_eq!(body.len(), 256 * 1024, "winner's content is complete");
    assert!(
        body.iter().all(|b| *b == winners[0]),
        "content is the winner's, unmixed"
    );
}

async fn concurrent_overwrite(store: &DynStore) {
    const WRITERS: u8 = 8;
    const ROUNDS: usize = 3;
    const SIZE: usize = 512 * 1024;
    let k = key("race/overwrite.list");
    put(
        store,
        &k,
        Bytes::from(vec![255u8; SIZE]),
        PutMode::Overwrite,
    )
    .await;
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = Arc::clone(store);
            let k = k.clone();
            tasks.push(tokio::spawn(async move {
                let data = Bytes::from(vec![w; SIZE]);
                store
                    .put(&k, Payload::Bytes(data), PutMode::Overwrite)
                    .await
            }));
        }
        // Readers racing the writers always see one complete version.
        let mut readers = Vec::new();
        for _ in 0..4 {
            let store = Arc::clone(store);
            let k = k.clone();
            readers.push(tokio::spawn(async move {
                let mut seen = HashSet::new();
                for _ in 0..5 {
                    let r = store
                        .get(&k, None)
                        .await
                        .expect("get")
                        .expect("never missing");
                    let size = r.meta.size;
                    let body = collect(r).await;
                    assert_eq!(body.len() as u64, size, "read returned a partial object");
                    assert_eq!(body.len(), SIZE, "read returned a partial object");
                    let first = body[0];
                    assert!(
                        body.iter().all(|b| *b == first),
                        "read returned mixed content"
                    );
                    seen.insert(first);
                }
                seen
            }));
        }
        for t in tasks {
            let out = t.await.expect("writer task").expect("concurrent Overwrite");
            assert_eq!(out, PutOutcome::Created);
        }
        for r in readers {
            r.await.expect("reader task");
        }
        let body = read_all(store, &k).await;
        assert_eq!(body.len(), SIZE, "round {round}: final object is complete");
        assert!(
            body[0] < WRITERS && body.iter().all(|b| *b == body[0]),
            "round {round}: final object is one writer's content"
        );
    }
}

/// `put_if_match`: a swap from the current entity tag wins once; a stale or made-up tag, or a
/// missing object, is a mismatch that writes nothing; of concurrent swaps from one version
/// exactly one wins.
async fn swap_is_compare_and_swap(store: &DynStore) {
    const WRITERS: u8 = 8;
    let k = key("swap/head");
    let missing = store
        .put_if_match(&k, Bytes::from_static(b"x"), "\"nothing\"")
        .await
        .expect("swap on a missing object");
    assert_eq!(
        missing,
        SwapOutcome::Mismatch,
        "a missing object never matches"
    );
    assert!(
        store.head(&k).await.expect("head").is_none(),
        "a mismatch writes nothing"
    );
    put(store, &k, Bytes::from_static(b"v0"), PutMode::Create).await;
    let v0 = store.head(&k).await.expect("head").expect("v0 stored").etag;
    let SwapOutcome::Swapped { etag: v1 } = store
        .put_if_match(&k, Bytes::from_static(b"v1-longer"), &v0)
        .await
        .expect("swap from the current tag")
    else {
        panic!("a swap from the current tag must win");
    };
    assert_eq!(read_all(store, &k).await, b"v1-longer");
    let head = store.head(&k).await.expect("head").expect("v1 stored");
    assert_eq!(head.etag, v1, "the returned tag is the object's");
    let stale = store
        .put_if_match(&k, Bytes::from_static(b"v2"), &v0)
        .await
        .expect("swap from a stale tag");
    assert_eq!(stale, SwapOutcome::Mismatch, "a stale tag loses");
    assert_eq!(
        read_all(store, &k).await,
        b"v1-longer",
        "a mismatch writes nothing"
    );
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(store);
        let (k, v1) = (k.clone(), v1.clone());
        tasks.push(tokio::spawn(async move {
            let data = Bytes::from(vec![w; 1000 + usize::from(w)]);
            (w, store.put_if_match(&k, data, &v1).await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (w, out) = t.await.expect("swap task");
        match out.unwrap_or_else(|e| panic!("concurrent swap {w}: {e}")) {
            SwapOutcome::Swapped { .. } => winners.push(w),
            SwapOutcome::Mismatch => {}
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent swap wins, got {winners:?}"
    );
    let body = read_all(store, &k).await;
    assert_eq!(body.len(), 1000 + usize::from(winners[0]));
    assert!(
        body.iter().all(|b| *b == winners[0]),
        "the winner's content"
    );
}
