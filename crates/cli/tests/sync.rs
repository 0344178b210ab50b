//! `modferry sync` against the real go command: the files sync stores for a project are
//! exactly those `go mod download all` followed by `go build ./...` fetch through a
//! request-counting proxy (a modferry relay with a fresh store, whose store then holds exactly
//! what go asked for).

mod sync_fixture;
mod util;

use std::path::Path;

use sync_fixture::*;
use util::*;

/// What go fetches for `project`: its store after `go mod download all` and `go build ./...`
/// through a fresh relay. The project's go.mod must not change (it is tidy as written).
fn go_fetches(world: &World, project: &Path, upstream: &str, name: &str) -> Vec<String> {
    let store = world.path().join(format!("go-store-{name}"));
    let relay = modferry_serve(
        world.path(),
        &["--store", store.to_str().unwrap(), "--upstream", upstream],
    );
    let env = GoEnv::new(&relay.url);
    let before = std::fs::read_to_string(project.join("go.mod")).unwrap();
    env.go_ok(project, &["mod", "download", "all"]);
    let bin = env.home.path().join("bin");
    env.go_ok(project, &["build", "-o", bin.to_str().unwrap(), "./..."]);
    let after = std::fs::read_to_string(project.join("go.mod")).unwrap();
    assert_eq!(before, after, "go rewrote {}/go.mod", project.display());
    drop(relay);
    module_files(&store)
}

fn sync_files(
    world: &World,
    project: &Path,
    upstream: &str,
    name: &str,
) -> (Vec<String>, serde_json::Value) {
    let store = world.path().join(format!("sync-store-{name}"));
    let out = modferry(&[
        "sync",
        "--store",
        store.to_str().unwrap(),
        "--upstream",
        upstream,
        "--json",
        project.join("go.mod").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sync failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    (module_files(&store), report)
}

#[test]
fn sync_stores_exactly_what_go_fetches_for_pruned_and_unpruned_graphs() {
    let world = build();
    let upstream = static_server(&world.upstream(), world.path());
    for (name, project) in [
        ("pruned", world.consumer()),
        ("unpruned", world.consumer16()),
    ] {
        let want = go_fetches(&world, &project, &upstream.url, name);
        let (got, report) = sync_files(&world, &project, &upstream.url, name);
        assert_eq!(got, want, "{name}: sync's files vs go's");
        assert_eq!(report["summary"]["failed"], 0, "{name}: {report}");
    }
    // Sanity: the rules this fixture exercises show up in the pruned store.
    let (pruned, _) = sync_files(&world, &world.consumer(), &upstream.url, "pruned");
    let has = |f: &str| pruned.iter().any(|p| p == f);
    assert!(
        has("example.com/c/@v/v1.0.1.zip") && !has("example.com/c/@v/v1.0.0.mod"),
        "replace"
    );
    assert!(
        has("example.com/shared/@v/v1.0.0.mod") && !has("example.com/shared/@v/v1.0.0.zip"),
        ".mod-only"
    );
    assert!(
        has("example.com/deep/@v/v1.0.0.zip") && !has("example.com/deeper/@v/v1.0.0.mod"),
        "pruning"
    );
    assert!(
        has("example.com/!upper/!hello/@v/v1.0.0.zip"),
        "case-encoding"
    );
    let (unpruned, _) = sync_files(&world, &world.consumer16(), &upstream.url, "unpruned");
    let has = |f: &str| unpruned.iter().any(|p| p == f);
    assert!(
        has("example.com/u3/@v/v1.0.0.mod") && !has("example.com/u3/@v/v1.0.0.zip"),
        ".mod-only"
    );
    assert!(
        has("example.com/u4/@v/v1.0.0.zip"),
        "unpruned: transitive zips"
    );
}

#[test]
fn sync_is_resumable_and_reports_per_module_failures() {
    let world = build();
    let upstream = static_server(&world.upstream(), world.path());
    let store = world.path().join("store");
    let s = store.to_str().unwrap();
    // A go.sum input: zip lines fetch zips, /go.mod lines only .info and .mod.
    let sum = world.path().join("go.sum");
    std::fs::write(
        &sum,
        "example.com/dep v1.0.0 h1:x\nexample.com/dep v1.0.0/go.mod h1:y\nexample.com/shared v1.0.0/go.mod h1:z\n",
    )
    .unwrap();
    let out = modferry(&[
        "sync",
        "--store",
        s,
        "--upstream",
        &upstream.url,
        "--json",
        sum.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = module_files(&store);
    assert!(
        files.contains(&"example.com/dep/@v/v1.0.0.zip".to_string()),
        "{files:?}"
    );
    assert!(files.contains(&"example.com/shared/@v/v1.0.0.mod".to_string()));
    assert!(!files.contains(&"example.com/shared/@v/v1.0.0.zip".to_string()));

    // Rerun with more inputs: what is stored is reported present; a missing version fails by
    // name; a query resolves through the upstream; exit code 1.
    let out = modferry(&[
        "sync",
        "--store",
        s,
        "--upstream",
        &upstream.url,
        "--json",
        sum.to_str().unwrap(),
        "example.com/missing@v1.0.0",
        "example.com/c@latest",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mods = report["modules"].as_array().unwrap();
    let find = |m: &str, v: &str| {
        mods.iter()
            .find(|x| x["module"] == m && x["version"] == v)
            .unwrap_or_else(|| panic!("{m}@{v} in {report}"))
    };
    assert_eq!(find("example.com/dep", "v1.0.0")["status"], "present");
    assert_eq!(find("example.com/c", "v1.0.1")["status"], "fetched");
    let missing = find("example.com/missing", "v1.0.0");
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["error"].as_str().unwrap().contains("not found"),
        "{missing}"
    );
    assert_eq!(report["summary"]["failed"], 1);

    // --list: one input per line, comments skipped.
    let list = world.path().join("list.txt");
    std::fs::write(&list, "# wanted\nexample.com/u4@v1.0.0\n\n").unwrap();
    let out = modferry(&[
        "sync",
        "--store",
        s,
        "--upstream",
        &upstream.url,
        "--list",
        list.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(module_files(&store).contains(&"example.com/u4/@v/v1.0.0.zip".to_string()));

    // Usage errors exit 2.
    let out = modferry(&["sync", "--store", s]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sync_of_a_workspace_stores_what_go_fetches_in_workspace_mode() {
    let world = build();
    let upstream = static_server(&world.upstream(), world.path());
    let ws = world.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    copy_project(&world.consumer(), &ws.join("consumer"));
    copy_project(&world.consumer16(), &ws.join("consumer16"));
    std::fs::write(
        ws.join("go.work"),
        "go 1.21\n\nuse (\n\t./consumer\n\t./consumer16\n)\n",
    )
    .unwrap();

    let store = world.path().join("go-store-ws");
    let relay = modferry_serve(
        world.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &upstream.url,
        ],
    );
    let mut env = GoEnv::new(&relay.url);
    // Workspace mode refuses -mod=mod.
    env.vars.insert("GOFLAGS".into(), String::new());
    env.go_ok(&ws, &["mod", "download", "all"]);
    env.go_ok(
        &ws,
        &[
            "build",
            "example.com/consumer/...",
            "example.com/consumer16/...",
        ],
    );
    drop(relay);
    let want = module_files(&store);

    let sync_store = world.path().join("sync-store-ws");
    let out = modferry(&[
        "sync",
        "--store",
        sync_store.to_str().unwrap(),
        "--upstream",
        &upstream.url,
        ws.join("go.work").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(module_files(&sync_store), want);
}
