//! `modferry import-cache` of a module cache that the real go command filled: everything is
//! verified on the way in, and an offline mirror over the result builds the project.

mod sync_fixture;
mod util;

use std::path::Path;
use std::process::{Command, Output};

use sync_fixture::*;
use util::*;

fn modferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("MODFERRY_STORE")
        .output()
        .expect("run modferry")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn import_cache_of_a_go_filled_cache_serves_an_offline_build() {
    let world = build();
    let upstream = static_server(&world.upstream(), world.path());
    // go fills its module cache straight from the upstream.
    let filler = GoEnv::new(&upstream.url);
    let project = world.consumer();
    filler.go_ok(&project, &["mod", "download", "all"]);
    filler.go_ok(&project, &["build", "./..."]);
    drop(upstream);
    let cache = filler.modcache();

    let store = world.path().join("store");
    let out = modferry(&["import-cache", "--store", s(&store), s(&cache)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 rejected"), "{stdout}");
    // Every module file of the cache is in the store (plus synthesized .info files).
    let in_cache = module_files(&cache.join("cache/download"));
    let in_store = module_files(&store);
    for f in &in_cache {
        assert!(in_store.contains(f), "{f} not imported");
    }
    // Re-import is a no-op.
    let again = modferry(&["import-cache", "--store", s(&store), s(&cache)]);
    assert!(String::from_utf8_lossy(&again.stdout).contains(" 0 module versions imported"));

    let offline = modferry_serve(world.path(), &["--store", s(&store), "--offline"]);
    let env = GoEnv::new(&offline.url);
    let copy = world.path().join("offline-project");
    copy_project(&project, &copy);
    let bin = env.home.path().join("bin");
    env.go_ok(&copy, &["build", "-o", s(&bin), "./..."]);
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), CONSUMER_OUTPUT);

    // A corrupted zip, and a zip without .ziphash, are rejected by name.
    let bad = world.path().join("badcache");
    let st = Command::new("cp")
        .arg("-r")
        .arg(&cache)
        .arg(&bad)
        .status()
        .unwrap();
    assert!(st.success());
    Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&bad)
        .status()
        .unwrap();
    let dl = bad.join("cache/download");
    let zip = dl.join("example.com/dep/@v/v1.0.0.zip");
    let mut data = std::fs::read(&zip).unwrap();
    // Flip a byte in the middle of the first entry's compressed data (not in metadata that
    // neither the CRC nor the h1: covers).
    let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]) as usize;
    let start = 30 + u16_at(26) + u16_at(28);
    let comp = u32::from_le_bytes([data[18], data[19], data[20], data[21]]) as usize;
    data[start + comp / 2] ^= 0xff;
    std::fs::write(&zip, data).unwrap();
    std::fs::remove_file(dl.join("example.com/a/@v/v1.1.0.ziphash")).unwrap();
    let store2 = world.path().join("store2");
    let out = modferry(&["import-cache", "--store", s(&store2), s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected: example.com/dep@v1.0.0: "), "{err}");
    assert!(
        err.contains("rejected: example.com/a@v1.1.0: the zip has no .ziphash"),
        "{err}"
    );
    let files = module_files(&store2);
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("example.com/dep/") || f.starts_with("example.com/a/"))
    );
    assert!(files.contains(&"example.com/b/@v/v1.0.0.zip".to_string()));
}
