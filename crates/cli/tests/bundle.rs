//! `modferry bundle export/import/verify`: determinism, tampering, conflicts, incremental
//! bundles, and the whole air-gap journey with the real go command.

mod sync_fixture;
mod util;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;
use sync_fixture::*;
use util::*;

fn modferry(args: &[&str], epoch: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_modferry"));
    c.args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("MODFERRY_STORE")
        .env_remove("MODFERRY_UPSTREAM")
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(e) = epoch {
        c.env("SOURCE_DATE_EPOCH", e);
    }
    c.output().expect("run modferry")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {}:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A world, its upstream, and a store synced for the consumer.
struct Synced {
    world: World,
    upstream: Option<Proc>,
    store: PathBuf,
}

fn synced() -> Synced {
    let world = build();
    let upstream = static_server(&world.upstream(), world.path());
    let store = world.path().join("store");
    ok(&modferry(
        &[
            "sync",
            "--store",
            s(&store),
            "--upstream",
            &upstream.url,
            s(&world.consumer().join("go.mod")),
        ],
        None,
    ));
    Synced {
        world,
        upstream: Some(upstream),
        store,
    }
}

/// The (name, bytes) entries of a bundle, in order.
fn unpack(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(bundle).unwrap();
    let mut ar = tar::Archive::new(zstd::Decoder::new(f).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// Writes entries as a bundle, names taken verbatim (even `../`).
fn pack(entries: &[(String, Vec<u8>)], out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(zstd::Encoder::new(f, 3).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn manifest_of(entries: &[(String, Vec<u8>)]) -> serde_json::Value {
    assert_eq!(entries[0].0, "manifest.json", "manifest first");
    serde_json::from_slice(&entries[0].1).unwrap()
}

fn set_manifest(entries: &mut [(String, Vec<u8>)], m: &serde_json::Value) {
    entries[0].1 = serde_json::to_vec_pretty(m).unwrap();
}

fn sha(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn export_is_deterministic_and_carries_a_checked_manifest() {
    let fx = synced();
    let a = fx.world.path().join("a.tar.zst");
    let b = fx.world.path().join("b.tar.zst");
    let go_mod = fx.world.consumer().join("go.mod");
    for out in [&a, &b] {
        ok(&modferry(
            &[
                "bundle",
                "export",
                "--store",
                s(&fx.store),
                "--out",
                s(out),
                s(&go_mod),
            ],
            Some("1700000000"),
        ));
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "byte-identical"
    );
    let entries = unpack(&a);
    let m = manifest_of(&entries);
    assert_eq!(m["format"], "modferry-bundle");
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["created"], "2023-11-14T22:13:20Z");
    let mods = m["modules"].as_array().unwrap();
    // Every module file of the store is in the bundle (the consumer is all it holds).
    let mut names: Vec<String> = entries[1..].iter().map(|e| e.0.clone()).collect();
    let mut want: Vec<String> = module_files(&fx.store)
        .into_iter()
        .filter(|f| !f.ends_with(".ziphash"))
        .map(|f| format!("files/{f}"))
        .collect();
    names.sort();
    want.sort();
    assert_eq!(names, want);
    let shared100 = mods
        .iter()
        .find(|e| e["module"] == "example.com/shared" && e["version"] == "v1.0.0")
        .unwrap();
    assert!(shared100.get("zip").is_none(), ".mod-only entry has no zip");
    // --all exports the same set here.
    let c = fx.world.path().join("c.tar.zst");
    ok(&modferry(
        &[
            "bundle",
            "export",
            "--store",
            s(&fx.store),
            "--out",
            s(&c),
            "--all",
        ],
        Some("1700000000"),
    ));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    let v = modferry(&["bundle", "verify", s(&a)], None);
    assert!(ok(&v).contains("0 rejected"));
}

#[test]
fn import_rejects_tampering_by_name_and_keeps_the_store_unchanged() {
    let fx = synced();
    let bundle = fx.world.path().join("good.tar.zst");
    ok(&modferry(
        &[
            "bundle",
            "export",
            "--store",
            s(&fx.store),
            "--out",
            s(&bundle),
            "--all",
        ],
        None,
    ));
    let good = unpack(&bundle);
    let dir = fx.world.path();
    let import =
        |b: &Path, store: &Path| modferry(&["bundle", "import", s(b), "--store", s(store)], None);
    let zip_name = "files/example.com/dep/@v/v1.0.0.zip";

    // 1. One byte of a zip flipped: that entry is rejected by name, the rest import.
    let mut e = good.clone();
    let z = e.iter_mut().find(|x| x.0 == zip_name).unwrap();
    let mid = z.1.len() / 2;
    z.1[mid] ^= 0x01;
    let flipped = dir.join("flipped.tar.zst");
    pack(&e, &flipped);
    let store = dir.join("s1");
    let out = import(&flipped, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rejected: example.com/dep@v1.0.0: .zip: SHA-256")
            && err.contains("does not match the manifest"),
        "{err}"
    );
    let files = module_files(&store);
    assert!(
        !files.iter().any(|f| f.starts_with("example.com/dep/")),
        "{files:?}"
    );
    assert!(files.contains(&"example.com/a/@v/v1.1.0.zip".to_string()));

    // 2. A manifest that lies about an h1 (sizes and SHA-256s consistent).
    let mut e = good.clone();
    let mut m = manifest_of(&e);
    for x in m["modules"].as_array_mut().unwrap() {
        if x["module"] == "example.com/dep" {
            x["zip_h1"] = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        }
    }
    set_manifest(&mut e, &m);
    let lying = dir.join("lying.tar.zst");
    pack(&e, &lying);
    let out = modferry(&["bundle", "verify", s(&lying)], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("rejected: example.com/dep@v1.0.0: zip has h1:")
            && err.contains("the manifest says h1:AAAA"),
        "{err}"
    );

    // 3. Truncated archive: refused whole, nothing imported.
    let data = std::fs::read(&bundle).unwrap();
    let cut = dir.join("cut.tar.zst");
    std::fs::write(&cut, &data[..data.len() * 2 / 3]).unwrap();
    let store = dir.join("s3");
    let out = import(&cut, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("refused: the archive is truncated or corrupt"),
        "{err}"
    );
    assert!(module_files(&store).is_empty());

    // 4. A ../ entry: refused whole.
    let mut e = good.clone();
    e.push(("../evil".into(), b"x".to_vec()));
    let evil = dir.join("evil.tar.zst");
    pack(&e, &evil);
    let store = dir.join("s4");
    let out = import(&evil, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("\"../evil\"") && err.contains("path traversal"),
        "{err}"
    );
    assert!(module_files(&store).is_empty());
    assert!(!dir.join("evil").exists() && !store.join("../evil").exists());

    // 5. An unexpected name: refused whole.
    let mut e = good.clone();
    e.push(("files/extra".into(), b"x".to_vec()));
    let extra = dir.join("extra.tar.zst");
    pack(&e, &extra);
    let out = modferry(&["bundle", "verify", s(&extra)], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected entry \"files/extra\""));

    // 6. A zip bomb (declares 600 MiB of content) under a consistent manifest entry.
    let mut e = good.clone();
    let bomb = bomb_zip("example.com/bomb", "v1.0.0");
    let info = b"{\"Version\":\"v1.0.0\"}".to_vec();
    let gomod = b"module example.com/bomb\n".to_vec();
    let mut m = manifest_of(&e);
    m["modules"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "module": "example.com/bomb", "version": "v1.0.0",
            "info": {"size": info.len(), "sha256": sha(&info)},
            "mod": {"size": gomod.len(), "sha256": sha(&gomod)},
            "zip": {"size": bomb.len(), "sha256": sha(&bomb)},
            "go_mod_h1": "h1:x", "zip_h1": "h1:y", "source": "test"
        }));
    set_manifest(&mut e, &m);
    e.push(("files/example.com/bomb/@v/v1.0.0.info".into(), info));
    e.push(("files/example.com/bomb/@v/v1.0.0.mod".into(), gomod.clone()));
    e.push(("files/example.com/bomb/@v/v1.0.0.zip".into(), bomb));
    let bombed = dir.join("bomb.tar.zst");
    pack(&e, &bombed);
    let store = dir.join("s6");
    let out = import(&bombed, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    // go_mod_h1 is checked first; fix it so the zip rule is what rejects it.
    assert!(err.contains("rejected: example.com/bomb@v1.0.0"), "{err}");
    for x in m["modules"].as_array_mut().unwrap() {
        if x["module"] == "example.com/bomb" {
            x["go_mod_h1"] = oracle_hash_mod(&gomod).into();
        }
    }
    set_manifest(&mut e, &m);
    pack(&e, &bombed);
    let out = import(&bombed, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rejected: example.com/bomb@v1.0.0: zip rejected:")
            && err.contains("too large"),
        "{err}"
    );
    assert!(!module_files(&store).iter().any(|f| f.contains("bomb")));

    // 7. Re-import is a no-op; a different existing file is a conflict naming both hashes.
    let store = dir.join("s7");
    ok(&import(&bundle, &store));
    let again = ok(&import(&bundle, &store));
    assert!(again.contains(" 0 imported,"), "{again}");
    let info = store.join("example.com/dep/@v/v1.0.0.info");
    let orig = std::fs::read(&info).unwrap();
    std::fs::write(
        &info,
        b"{\"Version\":\"v1.0.0\",\"Time\":\"2000-01-01T00:00:00Z\"}",
    )
    .unwrap();
    let out = import(&bundle, &store);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("rejected: example.com/dep@v1.0.0: conflict: the store's .info has SHA-256")
            && err.contains(&sha(&orig)),
        "{err}"
    );
}

/// The go.mod hash from Go's own code.
fn oracle_hash_mod(data: &[u8]) -> String {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), data).unwrap();
    oracle(&["hashmod", s(f.path())])
}

/// A small zip whose one entry declares 600 MiB uncompressed (local and central headers).
fn bomb_zip(module: &str, version: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file(format!("{module}@{version}/big.txt"), opts)
            .unwrap();
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        z.finish().unwrap();
    }
    let mut data = buf.into_inner();
    let big = (600u32 << 20).to_le_bytes();
    for i in 0..data.len().saturating_sub(4) {
        if data[i..i + 4] == [0x50, 0x4b, 0x03, 0x04] {
            data[i + 22..i + 26].copy_from_slice(&big);
        } else if data[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
            data[i + 24..i + 28].copy_from_slice(&big);
        }
    }
    data
}

#[test]
fn incremental_bundle_carries_exactly_the_difference() {
    let fx = synced();
    let dir = fx.world.path();
    let first = dir.join("first.tar.zst");
    ok(&modferry(
        &[
            "bundle",
            "export",
            "--store",
            s(&fx.store),
            "--out",
            s(&first),
            "--all",
        ],
        None,
    ));
    let upstream = fx.upstream.as_ref().unwrap();
    ok(&modferry(
        &[
            "sync",
            "--store",
            s(&fx.store),
            "--upstream",
            &upstream.url,
            s(&fx.world.consumer16().join("go.mod")),
        ],
        None,
    ));
    let second = dir.join("second.tar.zst");
    ok(&modferry(
        &[
            "bundle",
            "export",
            "--store",
            s(&fx.store),
            "--out",
            s(&second),
            "--all",
            "--since",
            s(&first),
        ],
        None,
    ));
    let key = |e: &serde_json::Value| {
        format!(
            "{}@{}",
            e["module"].as_str().unwrap(),
            e["version"].as_str().unwrap()
        )
    };
    let old: Vec<String> = manifest_of(&unpack(&first))["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let m2 = manifest_of(&unpack(&second));
    let new: Vec<String> = m2["modules"].as_array().unwrap().iter().map(key).collect();
    assert_eq!(
        new,
        [
            "example.com/u1@v1.0.0",
            "example.com/u2@v1.0.0",
            "example.com/u3@v1.0.0",
            "example.com/u3@v1.1.0",
            "example.com/u4@v1.0.0"
        ]
    );
    assert!(new.iter().all(|n| !old.contains(n)));
    assert_eq!(m2["since"]["modules"], old.len());
    // Importing both, in order, gives the full store.
    let store = dir.join("other");
    for b in [&first, &second] {
        ok(&modferry(
            &["bundle", "import", s(b), "--store", s(&store)],
            None,
        ));
    }
    assert_eq!(module_files(&store), module_files(&fx.store));
}

#[test]
fn air_gap_journey_sync_export_import_serve_offline_go_build() {
    let mut fx = synced();
    let dir = fx.world.path().to_path_buf();
    let bundle = dir.join("journey.tar.zst");
    ok(&modferry(
        &[
            "bundle",
            "export",
            "--store",
            s(&fx.store),
            "--out",
            s(&bundle),
            s(&fx.world.consumer().join("go.mod")),
        ],
        None,
    ));
    // The internet goes away.
    drop(fx.upstream.take());
    // go.sum pre-filled from Go's own hashes of the upstream files.
    let mut go_sum = String::new();
    for m in modules() {
        let base = fx
            .world
            .upstream()
            .join(modferry_formats::module::escape_path(m.path).unwrap())
            .join("@v")
            .join(modferry_formats::module::escape_version(m.version).unwrap());
        let zip = format!("{}.zip", base.display());
        let h1 = oracle(&["hashzip", &zip]);
        let mod_h1 = oracle(&["hashmod", &format!("{}.mod", base.display())]);
        go_sum.push_str(&format!(
            "{} {} {h1}\n{} {}/go.mod {mod_h1}\n",
            m.path, m.version, m.path, m.version
        ));
    }
    let project = dir.join("offline-consumer");
    copy_project(&fx.world.consumer(), &project);
    std::fs::write(project.join("go.sum"), &go_sum).unwrap();
    let store = dir.join("airgapped-store");
    let out = ok(&modferry(
        &[
            "bundle",
            "import",
            s(&bundle),
            "--store",
            s(&store),
            "--go-sum",
            s(&project.join("go.sum")),
        ],
        None,
    ));
    assert!(out.contains("0 rejected"), "{out}");
    let offline = modferry_serve(&dir, &["--store", s(&store), "--offline"]);
    let env = GoEnv::new(&offline.url);
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(&project, &["build", "-o", s(&bin), "./..."]);
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), CONSUMER_OUTPUT);
    env.go_ok(&project, &["mod", "download", "all"]);
    assert_eq!(
        std::fs::read_to_string(project.join("go.sum")).unwrap(),
        go_sum,
        "go.sum unchanged: every download verified"
    );
}
