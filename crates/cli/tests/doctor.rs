//! `modferry doctor`, `rehearse` and `verify` against the real go command.
//!
//! Every world is built at test time under a temp dir: an upstream proxy directory (zips made
//! by Go's own x/mod code through tools/oracle) served by a static file server, a relaying
//! modferry in front of it, and consumer projects. For each error code the test shows that
//! doctor reports it, that the go command really fails the way the message says, and that
//! applying the suggested fix makes doctor clear it. Nothing leaves 127.0.0.1: the checksum
//! database is always pointed at a closed loopback port.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use modferry_formats::module::{escape_path, escape_version};
use modferry_service::sumdb::testing::TestDb;
use util::*;

struct World {
    dir: tempfile::TempDir,
    upstream: Proc,
    mirror: Proc,
    /// (path, version) → (zip h1, go.mod h1)
    sums: Vec<(String, String, String, String)>,
    /// A closed loopback port: "unreachable".
    closed: String,
}

const DEP_GO: &str = "package dep\n\nconst Name = \"dep\"\n";

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().join("upstream");
        std::fs::create_dir_all(&up).unwrap();
        let mut sums = Vec::new();
        for (path, version, decl, file, body) in [
            (
                "example.com/dep",
                "v1.0.0",
                "example.com/dep",
                "dep.go",
                DEP_GO,
            ),
            (
                "example.com/lib",
                "v1.0.0",
                "example.com/lib",
                "lib.go",
                "package lib\n\nfunc Lib() string { return \"lib\" }\n",
            ),
            // A fork that still declares the upstream path.
            (
                "example.com/fork",
                "v1.0.0",
                "example.com/dep",
                "dep.go",
                DEP_GO,
            ),
            (
                "corp.example/private",
                "v1.0.0",
                "corp.example/private",
                "p.go",
                "package private\n\nconst P = \"p\"\n",
            ),
        ] {
            sums.push(publish(dir.path(), &up, path, version, decl, file, body));
        }
        let upstream = static_server(&up, dir.path());
        let store = dir.path().join("store");
        let mirror = modferry_serve(
            dir.path(),
            &[
                "--store",
                store.to_str().unwrap(),
                "--upstream",
                &upstream.url,
                "--sumdb-proxy",
                "off",
            ],
        );
        let closed = format!("http://127.0.0.1:{}", free_port());
        World {
            dir,
            upstream,
            mirror,
            sums,
            closed,
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn sum_lines(&self, path: &str) -> String {
        let (p, v, h, m) = self.sums.iter().find(|s| s.0 == path).unwrap();
        format!("{p} {v} {h}\n{p} {v}/go.mod {m}\n")
    }

    /// A consumer requiring `reqs`, importing `imports`, with go.sum lines for `summed`.
    fn consumer(&self, name: &str, reqs: &[&str], summed: &[&str], imports: &[&str]) -> PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let mut gm = format!("module example.com/{name}\n\ngo 1.21\n\nrequire (\n");
        for r in reqs {
            gm.push_str(&format!("\t{r} v1.0.0\n"));
        }
        gm.push_str(")\n");
        std::fs::write(d.join("go.mod"), gm).unwrap();
        let sum: String = summed.iter().map(|p| self.sum_lines(p)).collect();
        std::fs::write(d.join("go.sum"), sum).unwrap();
        let mut main = String::from("package main\n\n");
        for (i, imp) in imports.iter().enumerate() {
            main.push_str(&format!("import m{i} \"{imp}\"\n"));
        }
        main.push_str("\nfunc main() {\n");
        for (i, imp) in imports.iter().enumerate() {
            let sym = match *imp {
                "example.com/lib" => "Lib()",
                "corp.example/private" => "P",
                _ => "Name",
            };
            main.push_str(&format!("\tprintln(m{i}.{sym})\n"));
        }
        main.push_str("}\n");
        std::fs::write(d.join("main.go"), main).unwrap();
        d
    }

    /// The healthy project: go.mod and go.sum consistent, everything in the mirror.
    fn healthy(&self, name: &str) -> PathBuf {
        let all = ["example.com/dep", "example.com/lib"];
        self.consumer(name, &all, &all, &all)
    }

    /// A hermetic go environment using the mirror; the checksum database is unreachable.
    fn env(&self) -> GoEnv {
        let mut e = GoEnv::new(&self.mirror.url);
        e.vars
            .insert("GOSUMDB".into(), format!("sum.golang.org {}", self.closed));
        e.vars.insert("GOFLAGS".into(), String::new());
        e
    }
}

/// Publishes a module version into a GOPROXY directory; returns (path, version, h1, go.mod h1).
fn publish(
    work: &Path,
    up: &Path,
    path: &str,
    version: &str,
    declared: &str,
    file: &str,
    body: &str,
) -> (String, String, String, String) {
    let tree = work.join("trees").join(path).join(version);
    std::fs::create_dir_all(&tree).unwrap();
    let go_mod = format!("module {declared}\n\ngo 1.21\n");
    std::fs::write(tree.join("go.mod"), &go_mod).unwrap();
    std::fs::write(tree.join(file), body).unwrap();
    let vdir = up.join(escape_path(path).unwrap()).join("@v");
    std::fs::create_dir_all(&vdir).unwrap();
    let base = vdir.join(escape_version(version).unwrap());
    let zip = PathBuf::from(format!("{}.zip", base.display()));
    oracle(&[
        "create",
        path,
        version,
        tree.to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    let modf = PathBuf::from(format!("{}.mod", base.display()));
    std::fs::write(&modf, &go_mod).unwrap();
    std::fs::write(
        format!("{}.info", base.display()),
        format!("{{\"Version\":\"{version}\",\"Time\":\"2024-01-02T03:04:05Z\"}}\n"),
    )
    .unwrap();
    std::fs::write(vdir.join("list"), format!("{version}\n")).unwrap();
    let h1 = oracle(&["hashzip", zip.to_str().unwrap()]);
    let mh = oracle(&["hashmod", modf.to_str().unwrap()]);
    (path.into(), version.into(), h1, mh)
}

struct Doc {
    code: i32,
    json: serde_json::Value,
}

impl Doc {
    fn codes(&self) -> Vec<String> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    }
    fn has(&self, code: &str) -> bool {
        self.codes().iter().any(|c| c == code)
    }
    fn finding(&self, code: &str) -> &serde_json::Value {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {:#}", self.json))
    }
}

fn modferry(env: &GoEnv, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(args)
        .env_clear()
        .envs(&env.vars)
        .output()
        .unwrap()
}

fn doctor(env: &GoEnv, dir: &Path, extra: &[&str]) -> Doc {
    let mut args = vec!["doctor", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = modferry(env, &args);
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}, exit {code}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Doc { code, json }
}

/// Runs go, expecting failure; returns stderr.
fn go_fails(env: &GoEnv, dir: &Path, args: &[&str]) -> String {
    let out = env.go(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "go {args:?} unexpectedly succeeded");
    stderr
}

fn build(env: &GoEnv, dir: &Path) -> std::process::Output {
    let bin = env.home.path().join("bin/");
    env.go(dir, &["build", "-o", bin.to_str().unwrap(), "./..."])
}

#[test]
fn doctor_healthy_project_has_zero_findings_and_rehearse_passes() {
    let w = World::new();
    let dir = w.healthy("healthy");
    let env = w.env();
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    assert_eq!(d.codes(), Vec::<String>::new(), "{:#}", d.json);
    assert_eq!(d.code, 0);
    // The human report says so too.
    let out = modferry(&env, &["doctor", dir.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no problems found"));

    // rehearse builds it from the mirror alone, without touching the project.
    let before = std::fs::read_dir(&dir).unwrap().count();
    let mut renv = w.env();
    let gocache = renv.vars["GOCACHE"].clone();
    renv.vars
        .insert("MODFERRY_REHEARSE_GOCACHE".into(), gocache);
    let out = modferry(
        &renv,
        &["rehearse", dir.to_str().unwrap(), "--mirror", &w.mirror.url],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        before,
        "rehearse wrote to DIR"
    );

    // ... and fails with module-not-in-mirror when a required module is missing there.
    let missing = w.consumer(
        "missing",
        &["example.com/dep", "example.com/absent"],
        &["example.com/dep"],
        &["example.com/dep"],
    );
    let out = modferry(
        &renv,
        &[
            "rehearse",
            missing.to_str().unwrap(),
            "--mirror",
            &w.mirror.url,
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "module-not-in-mirror"
                && f["subject"] == "example.com/absent@v1.0.0"),
        "{v:#}"
    );
}

#[test]
fn doctor_proxy_codes_goproxy_off_unreachable_and_module_not_in_mirror() {
    let w = World::new();
    let dir = w.healthy("proxy");

    // goproxy-off
    let mut env = w.env();
    env.vars.insert("GOPROXY".into(), "off".into());
    let d = doctor(&env, &dir, &[]);
    assert!(d.has("goproxy-off"), "{:#}", d.json);
    assert_eq!(d.code, 1);
    let err = go_fails(&env, &dir, &["mod", "download"]);
    assert!(err.contains("GOPROXY=off"), "{err}");
    env.vars.insert("GOPROXY".into(), w.mirror.url.clone());
    assert!(!doctor(&env, &dir, &[]).has("goproxy-off"));

    // goproxy-unreachable
    let mut env = w.env();
    env.vars.insert("GOPROXY".into(), w.closed.clone());
    let d = doctor(&env, &dir, &[]);
    assert!(d.has("goproxy-unreachable"), "{:#}", d.json);
    let err = go_fails(&env, &dir, &["mod", "download"]);
    assert!(err.contains("connection refused"), "{err}");
    env.vars.insert("GOPROXY".into(), w.mirror.url.clone());
    assert!(!doctor(&env, &dir, &[]).has("goproxy-unreachable"));

    // module-not-in-mirror: the upstream does not have it either.
    let env = w.env();
    let dir = w.consumer(
        "absent",
        &["example.com/dep", "example.com/late"],
        &["example.com/dep"],
        &["example.com/dep"],
    );
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    let f = d.finding("module-not-in-mirror");
    assert_eq!(f["subject"], "example.com/late@v1.0.0");
    let err = go_fails(&env, &dir, &["mod", "download", "example.com/late"]);
    assert!(err.contains("404 Not Found"), "{err}");
    // Fix: add it on the connected side (here: publish it upstream); the relay fetches it.
    let (p, v, h, m) = publish(
        w.dir.path(),
        &w.dir.path().join("upstream"),
        "example.com/late",
        "v1.0.0",
        "example.com/late",
        "late.go",
        "package late\n",
    );
    std::fs::write(
        dir.join("go.sum"),
        format!(
            "{}{p} {v} {h}\n{p} {v}/go.mod {m}\n",
            w.sum_lines("example.com/dep")
        ),
    )
    .unwrap();
    // The mirror remembers a miss for a while (negative cache): use a fresh relay.
    let store2 = w.dir.path().join("store2");
    let mirror2 = modferry_serve(
        w.dir.path(),
        &[
            "--store",
            store2.to_str().unwrap(),
            "--upstream",
            &w.upstream.url,
            "--sumdb-proxy",
            "off",
        ],
    );
    let mut env2 = w.env();
    env2.vars.insert("GOPROXY".into(), mirror2.url.clone());
    let d = doctor(&env2, &dir, &["--mirror", &mirror2.url]);
    assert!(!d.has("module-not-in-mirror"), "{:#}", d.json);
    env2.go_ok(&dir, &["mod", "download", "example.com/late"]);
}

#[test]
fn doctor_checksum_codes_gosum_missing_mismatch_sumdb_off_and_unreachable() {
    let w = World::new();

    // gosum-missing + gosumdb-unreachable: go.sum lacks lib, the database is a closed port.
    let dir = w.consumer(
        "sums",
        &["example.com/dep", "example.com/lib"],
        &["example.com/dep"],
        &["example.com/dep", "example.com/lib"],
    );
    let env = w.env();
    let d = doctor(&env, &dir, &[]);
    assert_eq!(
        d.finding("gosum-missing")["subject"],
        "example.com/lib@v1.0.0"
    );
    assert!(d.has("gosumdb-unreachable"), "{:#}", d.json);
    let err = String::from_utf8_lossy(&build(&env, &dir).stderr).into_owned();
    assert!(err.contains("missing go.sum entry"), "{err}");
    // go cannot add the lines either: verifying them needs the database.
    let err = go_fails(&env, &dir, &["mod", "download", "example.com/lib"]);
    assert!(
        err.contains("verifying") && err.contains("connection refused"),
        "{err}"
    );
    // Fix (gosumdb-unreachable): complete go.sum on a connected machine — here, the known lines.
    let full = format!(
        "{}{}",
        w.sum_lines("example.com/dep"),
        w.sum_lines("example.com/lib")
    );
    std::fs::write(dir.join("go.sum"), &full).unwrap();
    let d = doctor(&env, &dir, &[]);
    assert!(
        !d.has("gosum-missing") && !d.has("gosumdb-unreachable"),
        "{:#}",
        d.json
    );
    assert!(build(&env, &dir).status.success());
    // Fix (gosum-missing) with a reachable verification path: go mod download adds the lines.
    std::fs::write(dir.join("go.sum"), w.sum_lines("example.com/dep")).unwrap();
    let mut fixenv = w.env();
    fixenv
        .vars
        .insert("GONOSUMDB".into(), "example.com/lib".into());
    fixenv.go_ok(&dir, &["mod", "download", "example.com/lib"]);
    assert!(!doctor(&env, &dir, &[]).has("gosum-missing"));

    // checksum-mismatch: one character of the zip hash changed in go.sum.
    let (_, _, h1, _) = w
        .sums
        .iter()
        .find(|s| s.0 == "example.com/dep")
        .unwrap()
        .clone();
    let flip = if h1.as_bytes()[3] == b'A' { "B" } else { "A" };
    let bad = format!("h1:{flip}{}", &h1[4..]);
    std::fs::write(dir.join("go.sum"), full.replace(&h1, &bad)).unwrap();
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    let f = d.finding("checksum-mismatch");
    assert_eq!(f["subject"], "example.com/dep@v1.0.0");
    assert!(f["message"].as_str().unwrap().contains(&h1), "{f:#}");
    let err = go_fails(&env, &dir, &["mod", "download", "example.com/dep"]);
    assert!(err.contains("SECURITY ERROR"), "{err}");
    // The module cache now holds the real hash: doctor without --mirror sees it too.
    assert!(doctor(&env, &dir, &[]).has("checksum-mismatch"));
    // Fix: delete the module's lines and download it again (verified: GONOSUMDB for the test).
    std::fs::write(dir.join("go.sum"), w.sum_lines("example.com/lib")).unwrap();
    let mut fixenv = w.env();
    fixenv
        .vars
        .insert("GONOSUMDB".into(), "example.com/dep".into());
    fixenv.go_ok(&dir, &["mod", "download", "example.com/dep"]);
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    assert!(!d.has("checksum-mismatch"), "{:#}", d.json);

    // gosumdb-off is a warning (exit 0), and clears when GOSUMDB is set again.
    let mut env = w.env();
    env.vars.insert("GOSUMDB".into(), "off".into());
    let d = doctor(&env, &dir, &[]);
    assert_eq!(d.finding("gosumdb-off")["severity"], "warning");
    assert_eq!(d.code, 0, "{:#}", d.json);
    env.vars.insert("GOSUMDB".into(), "sum.golang.org".into());
    assert!(!doctor(&env, &dir, &[]).has("gosumdb-off"));
}

#[test]
fn doctor_private_codes_sumdb_direct_and_insecure_tls() {
    let w = World::new();
    // A mirror that describes corp.example as private (a static server with the description).
    let up = w.dir.path().join("upstream");
    std::fs::create_dir_all(up.join(".well-known")).unwrap();
    std::fs::write(
        up.join(".well-known/modferry"),
        r#"{"version":"test","offline":true,"private":["corp.example"],"sumdbs":[]}"#,
    )
    .unwrap();
    let mirror = &w.upstream.url;
    let reqs = ["example.com/dep", "corp.example/private"];
    let dir = w.consumer("private", &reqs, &["example.com/dep"], &reqs);

    // private-module-sumdb: GONOSUMDB does not cover it, the public database is asked.
    let mut env = w.env();
    env.vars.insert("GOPROXY".into(), mirror.clone());
    let d = doctor(&env, &dir, &["--mirror", mirror]);
    let f = d.finding("private-module-sumdb");
    assert_eq!(f["subject"], "corp.example/private@v1.0.0");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("GONOSUMDB=corp.example"),
        "{f:#}"
    );
    let err = go_fails(&env, &dir, &["mod", "download", "corp.example/private"]);
    assert!(
        err.contains("verifying") && err.contains("corp.example/private"),
        "{err}"
    );
    env.vars.insert("GONOSUMDB".into(), "corp.example".into());
    assert!(!doctor(&env, &dir, &["--mirror", mirror]).has("private-module-sumdb"));
    env.go_ok(&dir, &["mod", "download", "corp.example/private"]);

    // private-module-direct + insecure-tls-workaround: GOPRIVATE sends go to the VCS host,
    // with GOINSECURE as the usual workaround for its self-signed certificate.
    let dir = w.consumer("direct", &reqs, &reqs, &reqs);
    let mut env = w.env();
    env.vars.insert("GOPRIVATE".into(), "corp.example".into());
    env.vars.insert("GOINSECURE".into(), "corp.example".into());
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    assert!(
        d.finding("private-module-direct")["subject"]
            .as_str()
            .unwrap()
            .contains("corp.example/private@v1.0.0")
    );
    assert_eq!(d.finding("insecure-tls-workaround")["severity"], "warning");
    let err = go_fails(&env, &dir, &["mod", "download", "corp.example/private"]);
    assert!(err.contains("corp.example"), "{err}");
    assert!(
        !err.contains(&w.mirror.url),
        "go should not have asked the proxy: {err}"
    );
    // Fix: serve it through the mirror; GONOSUMDB alone keeps it away from the database.
    env.vars.insert("GOPRIVATE".into(), String::new());
    env.vars.insert("GONOPROXY".into(), String::new());
    env.vars.insert("GONOSUMDB".into(), "corp.example".into());
    env.vars.remove("GOINSECURE");
    let d = doctor(&env, &dir, &["--mirror", &w.mirror.url]);
    assert!(
        !d.has("private-module-direct") && !d.has("insecure-tls-workaround"),
        "{:#}",
        d.json
    );
    env.go_ok(&dir, &["mod", "download", "corp.example/private"]);
}

#[test]
fn doctor_project_codes_path_mismatch_replace_toolchain_gopath() {
    let w = World::new();
    let env = w.env();

    // module-path-mismatch: a fork required by its own path still declares the upstream path.
    // (modferry refuses such a .mod, so the project reads the plain upstream directly.)
    let dir = w.consumer("forked", &["example.com/fork"], &["example.com/fork"], &[]);
    let mut fenv = w.env();
    fenv.vars.insert("GOPROXY".into(), w.upstream.url.clone());
    let d = doctor(&fenv, &dir, &["--mirror", &w.upstream.url]);
    let f = d.finding("module-path-mismatch");
    assert_eq!(f["subject"], "example.com/fork@v1.0.0");
    let err = go_fails(&fenv, &dir, &["mod", "download"]);
    let err = format!(
        "{err}{}",
        String::from_utf8_lossy(&build(&fenv, &dir).stderr)
    );
    assert!(
        err.contains("module declares its path as: example.com/dep"),
        "{err}"
    );
    // Fix, as suggested: require the declared path, replace it with the fork.
    fenv.go_ok(
        &dir,
        &[
            "mod",
            "edit",
            "-droprequire=example.com/fork",
            "-require=example.com/dep@v1.0.0",
            "-replace=example.com/dep=example.com/fork@v1.0.0",
        ],
    );
    let d = doctor(&fenv, &dir, &["--mirror", &w.upstream.url]);
    assert!(!d.has("module-path-mismatch"), "{:#}", d.json);
    assert!(build(&fenv, &dir).status.success());

    // module-path-mismatch in a workspace: two `use` directories declare the same path.
    let ws = w.dir.path().join("ws");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(ws.join(sub)).unwrap();
        std::fs::write(
            ws.join(sub).join("go.mod"),
            "module example.com/same\n\ngo 1.21\n",
        )
        .unwrap();
        std::fs::write(ws.join(sub).join("x.go"), "package same\n").unwrap();
    }
    std::fs::write(ws.join("go.work"), "go 1.21\n\nuse (\n\t./a\n\t./b\n)\n").unwrap();
    let mut wenv = w.env();
    wenv.vars.remove("GOWORK");
    let d = doctor(&wenv, &ws.join("a"), &[]);
    assert!(d.has("module-path-mismatch"), "{:#}", d.json);
    let err = String::from_utf8_lossy(&build(&wenv, &ws.join("a")).stderr).into_owned();
    assert!(err.contains("appears multiple times in workspace"), "{err}");
    wenv.go_ok(&ws, &["work", "edit", "-dropuse=./b"]);
    assert!(!doctor(&wenv, &ws.join("a"), &[]).has("module-path-mismatch"));

    // replace-target-missing (the project builds only where ../dep-src exists) and
    // replace-absolute-path (a warning).
    let dir = w.consumer(
        "replaced",
        &["example.com/dep", "example.com/lib"],
        &[],
        &["example.com/dep", "example.com/lib"],
    );
    let lib_src = w.dir.path().join("trees/example.com/lib/v1.0.0");
    std::fs::write(
        dir.join("go.mod"),
        format!(
            "module example.com/replaced\n\ngo 1.21\n\nrequire (\n\texample.com/dep v1.0.0\n\texample.com/lib v1.0.0\n)\n\n\
             replace example.com/dep => ../dep-src\n\nreplace example.com/lib => {}\n",
            lib_src.display()
        ),
    )
    .unwrap();
    let d = doctor(&env, &dir, &[]);
    assert_eq!(
        d.finding("replace-target-missing")["subject"],
        "replace example.com/dep => ../dep-src"
    );
    assert_eq!(d.finding("replace-absolute-path")["severity"], "warning");
    let err = String::from_utf8_lossy(&build(&env, &dir).stderr).into_owned();
    assert!(
        err.contains("replacement directory ../dep-src does not exist"),
        "{err}"
    );
    // Fix: check the directory out where go.mod expects it.
    let src = w.dir.path().join("dep-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("go.mod"), "module example.com/dep\n\ngo 1.21\n").unwrap();
    std::fs::write(src.join("dep.go"), DEP_GO).unwrap();
    let d = doctor(&env, &dir, &[]);
    assert!(!d.has("replace-target-missing"), "{:#}", d.json);
    assert!(build(&env, &dir).status.success());
    // rehearse keeps relative replacements outside the project working in its copy.
    let mut renv = w.env();
    let gocache = renv.vars["GOCACHE"].clone();
    renv.vars
        .insert("MODFERRY_REHEARSE_GOCACHE".into(), gocache);
    let before = std::fs::read_to_string(dir.join("go.mod")).unwrap();
    let out = modferry(
        &renv,
        &["rehearse", dir.to_str().unwrap(), "--mirror", &w.mirror.url],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read_to_string(dir.join("go.mod")).unwrap(), before);

    // toolchain-download: a go line newer than the local toolchain, GOTOOLCHAIN=auto.
    let dir = w.healthy("newgo");
    let gm = std::fs::read_to_string(dir.join("go.mod")).unwrap();
    std::fs::write(dir.join("go.mod"), gm.replace("go 1.21", "go 1.99.0")).unwrap();
    let mut tenv = w.env();
    tenv.vars.insert("GOTOOLCHAIN".into(), "auto".into());
    let d = doctor(&tenv, &dir, &[]);
    let f = d.finding("toolchain-download");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("golang.org/toolchain"),
        "{f:#}"
    );
    let err = String::from_utf8_lossy(&build(&tenv, &dir).stderr).into_owned();
    assert!(
        err.contains("go1.99.0") && err.contains("toolchain"),
        "{err}"
    );
    // Fix: lower the go line to the local toolchain (the suggested go mod edit).
    std::fs::write(dir.join("go.mod"), &gm).unwrap();
    assert!(!doctor(&tenv, &dir, &[]).has("toolchain-download"));

    // gopath-mode
    let dir = w.healthy("gopath");
    let mut genv = w.env();
    genv.vars.insert("GO111MODULE".into(), "off".into());
    assert!(doctor(&genv, &dir, &[]).has("gopath-mode"));
    let err = String::from_utf8_lossy(&build(&genv, &dir).stderr).into_owned();
    assert!(err.contains("cannot find package"), "{err}");
    genv.vars.remove("GO111MODULE");
    assert!(!doctor(&genv, &dir, &[]).has("gopath-mode"));
}

#[test]
fn doctor_vendor_inconsistent_and_verify_catches_one_byte_changes() {
    let w = World::new();
    let env = w.env();
    let dir = w.healthy("vendored");
    env.go_ok(&dir, &["mod", "vendor"]);
    assert_eq!(doctor(&env, &dir, &[]).codes(), Vec::<String>::new());
    assert!(build(&env, &dir).status.success());

    // vendor-inconsistent: go.mod gains a requirement after `go mod vendor`.
    let gm = std::fs::read_to_string(dir.join("go.mod")).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        gm.replace(")\n", "\tcorp.example/private v1.0.0\n)\n"),
    )
    .unwrap();
    let d = doctor(&env, &dir, &[]);
    assert!(
        d.finding("vendor-inconsistent")["message"]
            .as_str()
            .unwrap()
            .contains("corp.example/private")
    );
    let err = String::from_utf8_lossy(&build(&env, &dir).stderr).into_owned();
    assert!(err.contains("inconsistent vendoring"), "{err}");
    std::fs::write(
        dir.join("go.sum"),
        format!(
            "{}{}{}",
            w.sum_lines("example.com/dep"),
            w.sum_lines("example.com/lib"),
            w.sum_lines("corp.example/private")
        ),
    )
    .unwrap();
    env.go_ok(&dir, &["mod", "vendor"]);
    assert!(!doctor(&env, &dir, &[]).has("vendor-inconsistent"));

    // GOFLAGS=-mod=vendor without vendor/.
    let plain = w.healthy("novendor");
    let mut venv = w.env();
    venv.vars.insert("GOFLAGS".into(), "-mod=vendor".into());
    assert!(doctor(&venv, &plain, &[]).has("vendor-inconsistent"));

    // verify: the mirror's store (filled by the healthy builds), the module cache, vendor/.
    let store = w.store();
    let modcache = env.modcache();
    let go_sum = dir.join("go.sum");
    let ok = |args: &[&str]| {
        let out = modferry(&env, args);
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = ok(&[
        "verify",
        "--store",
        store.to_str().unwrap(),
        "--go-sum",
        go_sum.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = ok(&[
        "verify",
        "--modcache",
        modcache.to_str().unwrap(),
        "--go-sum",
        go_sum.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = ok(&[
        "verify",
        "--vendor",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");

    // One byte changed in a vendored file.
    let vf = dir.join("vendor/example.com/lib/lib.go");
    let orig = std::fs::read(&vf).unwrap();
    let mut bad = orig.clone();
    bad[0] ^= 1;
    std::fs::write(&vf, &bad).unwrap();
    let (code, out) = ok(&[
        "verify",
        "--vendor",
        dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("MISMATCH example.com/lib@v1.0.0") && out.contains("lib.go"),
        "{out}"
    );
    std::fs::write(&vf, &orig).unwrap();

    // One byte changed in an extracted module cache file.
    let cf = modcache.join("example.com/dep@v1.0.0/dep.go");
    flip_byte(&cf);
    let (code, out) = ok(&["verify", "--modcache", modcache.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MISMATCH example.com/dep@v1.0.0"), "{out}");

    // One byte changed in a stored zip (in its last entry's data, keeping the zip readable
    // is not required: either the hash or the zip itself fails).
    let zip = store.join("example.com/lib/@v/v1.0.0.zip");
    flip_byte(&zip);
    let (code, out) = ok(&[
        "verify",
        "--store",
        store.to_str().unwrap(),
        "--go-sum",
        go_sum.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MISMATCH example.com/lib@v1.0.0"), "{out}");
}

/// Flips one bit of the byte in the middle of a (possibly read-only) file.
fn flip_byte(p: &Path) {
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(p.parent().unwrap())
        .status();
    let mut data = std::fs::read(p).unwrap();
    let i = data.len() / 2;
    data[i] ^= 1;
    std::fs::write(p, data).unwrap();
}

#[test]
fn mirror_describes_itself_and_doctor_uses_its_private_patterns() {
    let w = World::new();
    let store = w.dir.path().join("store-priv");
    let mirror = modferry_serve(
        w.dir.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &w.upstream.url,
            "--sumdb-proxy",
            "off",
            "--private",
            "corp.example",
        ],
    );
    let resp = http_get(
        mirror.url.trim_start_matches("http://"),
        "/.well-known/modferry",
    )
    .unwrap();
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["private"], serde_json::json!(["corp.example"]), "{v:#}");
    assert_eq!(v["offline"], false);
    assert!(v["sumdbs"].as_array().unwrap().is_empty());
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()));

    // The private list reaches doctor's finding without any GONOPROXY on the client.
    let reqs = ["corp.example/private"];
    let dir = w.consumer("privmirror", &reqs, &[], &reqs);
    let env = w.env();
    let d = doctor(&env, &dir, &["--mirror", &mirror.url]);
    assert!(d.has("private-module-sumdb"), "{:#}", d.json);

    // Human output: grouped, with the fix and the documentation link; exit 1.
    let out = modferry(
        &env,
        &["doctor", dir.to_str().unwrap(), "--mirror", &mirror.url],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("errors (the go command will fail)"), "{text}");
    assert!(
        text.contains("see:  docs/troubleshooting.md#private-module-sumdb"),
        "{text}"
    );
    // Exit 2 when doctor cannot run (no go.mod).
    let out = modferry(
        &env,
        &["doctor", w.dir.path().join("nowhere").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A CA and a leaf certificate for 127.0.0.1 (openssl), and an HTTPS static server using it.
fn tls_static_server(root: &Path, work: &Path) -> (Proc, PathBuf) {
    let sh = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=modferry test CA",
    ]);
    sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        work.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    let port = free_port();
    let script = "import functools,http.server,ssl,sys\n\
        h=functools.partial(http.server.SimpleHTTPRequestHandler,directory=sys.argv[2])\n\
        s=http.server.ThreadingHTTPServer(('127.0.0.1',int(sys.argv[1])),h)\n\
        c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        c.load_cert_chain(sys.argv[3],sys.argv[4])\n\
        s.socket=c.wrap_socket(s.socket,server_side=True)\n\
        s.serve_forever()\n";
    let log = work.join("tls.log");
    let child = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .arg(root)
        .arg(work.join("leaf.pem"))
        .arg(work.join("leaf.key"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "TLS server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("https://127.0.0.1:{port}");
    (Proc { child, url, log }, work.join("ca.pem"))
}

#[test]
fn doctor_goproxy_with_a_self_signed_certificate_needs_its_ca() {
    let w = World::new();
    let tls_dir = w.dir.path().join("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let (server, ca) = tls_static_server(&w.dir.path().join("upstream"), &tls_dir);
    let dir = w.healthy("tls");
    let mut env = w.env();
    env.vars.insert("GOPROXY".into(), server.url.clone());
    let d = doctor(&env, &dir, &[]);
    let f = d.finding("goproxy-unreachable");
    assert!(
        f["fix"].as_str().unwrap().contains("SSL_CERT_FILE"),
        "{f:#}"
    );
    let err = go_fails(&env, &dir, &["mod", "download"]);
    assert!(err.contains("x509"), "{err}");
    // Fix: trust the CA (both the go command and doctor read SSL_CERT_FILE).
    env.vars
        .insert("SSL_CERT_FILE".into(), ca.to_str().unwrap().into());
    let d = doctor(&env, &dir, &[]);
    assert!(!d.has("goproxy-unreachable"), "{:#}", d.json);
    env.go_ok(&dir, &["mod", "download"]);
}

#[test]
fn doctor_compares_go_sum_with_the_checksum_database_and_never_sends_private_names() {
    let w = World::new();
    // A signed checksum database on 127.0.0.1 with the real hashes of the public modules.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = TestDb::new("sum.doctor.test", 21);
    for (p, v, h, m) in &w.sums {
        if p != "corp.example/private" {
            db.add(p, v, h, m);
        }
    }
    let addr = rt.block_on(db.serve());
    let reqs = ["example.com/dep", "example.com/lib", "corp.example/private"];
    let dir = w.consumer("sumdbcmp", &reqs, &reqs, &reqs);
    let mut env = w.env();
    env.vars.insert(
        "GOSUMDB".into(),
        format!("{} http://{addr}", db.verifier_key()),
    );
    env.vars.insert("GONOSUMDB".into(), "corp.example".into());

    // Healthy: go.sum agrees with the database; the private module is never looked up.
    let d = doctor(&env, &dir, &[]);
    assert_eq!(d.codes(), Vec::<String>::new(), "{:#}", d.json);
    let asked = db.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.contains("/lookup/example.com/dep@v1.0.0")),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|r| r.contains("corp.example")),
        "{asked:?}"
    );

    // One character of dep's zip hash changed in go.sum: the database's record disagrees.
    let (_, _, h1, _) = w
        .sums
        .iter()
        .find(|s| s.0 == "example.com/dep")
        .unwrap()
        .clone();
    let flip = if h1.as_bytes()[3] == b'A' { "B" } else { "A" };
    let bad = format!("h1:{flip}{}", &h1[4..]);
    let good_sum = std::fs::read_to_string(dir.join("go.sum")).unwrap();
    std::fs::write(dir.join("go.sum"), good_sum.replace(&h1, &bad)).unwrap();
    let d = doctor(&env, &dir, &[]);
    assert_eq!(d.code, 1);
    let f = d.finding("checksum-mismatch");
    assert_eq!(f["subject"], "example.com/dep@v1.0.0");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&h1) && msg.contains(&bad) && msg.contains("sum.doctor.test"),
        "{f:#}"
    );
    assert!(
        !db.requests().iter().any(|r| r.contains("corp.example")),
        "a private module name was sent to the checksum database"
    );
    // The go command really stops on it.
    let err = go_fails(&env, &dir, &["mod", "download", "example.com/dep"]);
    assert!(err.contains("SECURITY ERROR"), "{err}");

    // Fix: delete the module's lines and download it again, verified by the database.
    let without: String = good_sum
        .lines()
        .filter(|l| !l.starts_with("example.com/dep "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("go.sum"), without).unwrap();
    env.go_ok(&dir, &["mod", "download", "example.com/dep"]);
    let d = doctor(&env, &dir, &[]);
    assert!(!d.has("checksum-mismatch"), "{:#}", d.json);
    assert_eq!(d.code, 0, "{:#}", d.json);
}
