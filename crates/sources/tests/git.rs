//! `GitSource` against the real go command in direct mode (`GOPROXY=direct`), on git
//! repositories generated here with fixed dates.
//!
//! The go command reaches the same repositories through a VCS-qualified module path
//! (`example.com/NAME.git/...`) and a git configuration (`GIT_CONFIG_GLOBAL`) whose
//! `url."file:///…/repos/".insteadOf = https://example.com/` points `https://example.com/NAME`
//! at the local repository. Every query runs in a fresh module cache, so go answers as a fresh
//! client would. For each query the `.info` file go writes (bytes, with the repository URL
//! mapped), the `.mod` file (bytes), the go.mod hash and the zip hash must equal ours; where go
//! fails, ours must fail too. Lists come from `go list -m -json -versions`, `@latest` is
//! compared with go's `@HEAD` (the same code path as `codeRepo.Latest`).
//!
//! A missing go binary is a failure (run ./scripts/test.sh or set MODFERRY_TEST_GO).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use modferry_formats::dirhash;
use modferry_sources::{GitConfig, GitSource, Source, SourceError, StaticRouter, StaticRule};
use serde_json::Value;

#[path = "support/commands.rs"]
mod commands;
use commands::{git_at, go_bin};

// ---------------------------------------------------------------------------------------------
// The go command

/// A directory of generated repositories, plus what the go command needs to reach them.
struct World {
    dir: tempfile::TempDir,
    runs: AtomicUsize,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("repos")).expect("mkdir repos");
        std::fs::create_dir_all(dir.path().join("home")).expect("mkdir home");
        let cfg = format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://example.com/\n",
            dir.path().join("repos").display()
        );
        std::fs::write(dir.path().join("gitconfig"), cfg).expect("write gitconfig");
        World {
            dir,
            runs: AtomicUsize::new(0),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self, name: &str) -> Repo {
        Repo::init(&self.path().join("repos").join(format!("{name}.git")))
    }

    /// A source whose single rule maps `example.com/*` to the repositories here.
    fn source(&self, ttl: Duration) -> GitSource {
        let rule = StaticRule::new(
            "example.com/*",
            &format!("file://{}/repos/*", self.path().display()),
        )
        .expect("rule");
        let mut cfg = GitConfig::new(self.path().join("cache"));
        cfg.refresh_ttl = ttl;
        GitSource::new(cfg, Arc::new(StaticRouter::new(vec![rule])))
    }

    /// Runs go with a fresh module cache; returns stdout, the module cache and success.
    fn go(&self, args: &[&str]) -> (String, PathBuf, bool) {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let run = self.path().join(format!("go-{n}"));
        std::fs::create_dir_all(&run).expect("mkdir run");
        let gocache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("git-gocache");
        std::fs::create_dir_all(&gocache).expect("mkdir gocache");
        let go = go_bin();
        let path = format!("{}:/usr/bin:/bin", go.parent().expect("go dir").display());
        let out = Command::new(&go)
            .args(args)
            .current_dir(&run)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path().join("home"))
            .env("GOPATH", run.join("gopath"))
            .env("GOMODCACHE", run.join("modcache"))
            .env("GOCACHE", &gocache)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "direct")
            .env("GOSUMDB", "off")
            .env("GOENV", "off")
            .env("CGO_ENABLED", "0")
            .env("GIT_CONFIG_GLOBAL", self.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("run go");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            run.join("modcache"),
            out.status.success(),
        )
    }

    /// The URL go records for a module's repository, and the one our route uses.
    fn urls(&self, module: &str) -> (String, String) {
        let name = module
            .strip_prefix("example.com/")
            .and_then(|r| r.split('/').next())
            .expect("example.com module");
        let base = name.strip_suffix(".git").expect(".git module");
        (
            format!("https://example.com/{base}"),
            format!("file://{}/repos/{name}", self.path().display()),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Generated repositories

/// A work-tree repository with a controllable clock.
struct Repo {
    dir: PathBuf,
    clock: i64,
}

impl Repo {
    fn init(dir: &Path) -> Repo {
        std::fs::create_dir_all(dir).expect("mkdir repo");
        let r = Repo {
            dir: dir.to_owned(),
            clock: 1_577_934_245, // 2020-01-02T03:04:05Z
        };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    fn git(&self, args: &[&str]) -> String {
        git_at(&self.dir, self.clock, args)
    }

    fn write(&self, path: &str, content: &str) -> &Self {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    fn rm(&self, path: &str) -> &Self {
        self.git(&["rm", "-q", "-r", path]);
        self
    }

    fn symlink(&self, target: &str, path: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.dir.join(path)).expect("symlink");
        self
    }

    fn commit(&mut self, msg: &str) -> String {
        self.clock += 86_400;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn tag(&self, name: &str) -> &Self {
        self.git(&["tag", name]);
        self
    }

    fn annotated_tag(&self, name: &str) -> &Self {
        self.git(&["tag", "-a", "-m", name, name]);
        self
    }

    fn checkout(&self, args: &[&str]) -> &Self {
        let mut a = vec!["checkout", "-q"];
        a.extend_from_slice(args);
        self.git(&a);
        self
    }
}

fn go_mod(path: &str, go: &str) -> String {
    format!("module {path}\n\ngo {go}\n")
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// Outcome of one comparison, for the report printed by each test.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn ok(&mut self, s: String) {
        self.lines.push(format!("  ok   {s}"));
    }
    fn fail(&mut self, s: String) {
        self.lines.push(format!("  FAIL {s}"));
        self.failures.push(s);
    }
    fn finish(self, name: &str) {
        println!("{name}:\n{}", self.lines.join("\n"));
        assert!(
            self.failures.is_empty(),
            "{name}: {} mismatches with the go command:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Compares `module@query` between go and `src`; returns the version go resolved.
fn compare_query(
    w: &World,
    src: &GitSource,
    rt: &tokio::runtime::Runtime,
    module: &str,
    query: &str,
    report: &mut Report,
) -> Option<String> {
    let (go_url, our_url) = w.urls(module);
    let arg = format!("{module}@{query}");
    let (stdout, _, _) = w.go(&["mod", "download", "-json", &arg]);
    let go: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("go mod download -json {arg}: {e}: {stdout}"));
    let ours = rt.block_on(src.info(module, query));
    if let Some(err) = go.get("Error").and_then(Value::as_str) {
        match ours {
            Err(e) => report.ok(format!(
                "{arg}: both fail\n         go:   {err}\n         ours: {e}"
            )),
            Ok(info) => report.fail(format!(
                "{arg}: go fails ({err}) but ours answers {}",
                String::from_utf8_lossy(&info)
            )),
        }
        return None;
    }
    let version = go["Version"].as_str().expect("Version").to_owned();
    let info = match ours {
        Ok(info) => info,
        Err(e) => {
            report.fail(format!("{arg}: go resolves {version} but ours fails: {e}"));
            return Some(version);
        }
    };
    let want_info = std::fs::read(go["Info"].as_str().expect("Info")).expect("read go .info");
    let got_info = String::from_utf8_lossy(&info).replace(&our_url, &go_url);
    if got_info.as_bytes() == want_info.as_slice() {
        report.ok(format!("{arg}: .info {got_info}"));
    } else {
        report.fail(format!(
            "{arg}: .info differs\n         go:   {}\n         ours: {got_info}",
            String::from_utf8_lossy(&want_info)
        ));
    }

    let want_mod = std::fs::read(go["GoMod"].as_str().expect("GoMod")).expect("read go .mod");
    match rt.block_on(src.go_mod(module, &version)) {
        Ok(m) if m.as_ref() == want_mod.as_slice() => {
            let h = dirhash::hash_go_mod(&m);
            if Some(h.as_str()) == go["GoModSum"].as_str() {
                report.ok(format!("{module}@{version}: .mod {h}"));
            } else {
                report.fail(format!(
                    "{module}@{version}: go.mod hash {h} vs {}",
                    go["GoModSum"]
                ));
            }
        }
        Ok(m) => report.fail(format!(
            "{module}@{version}: .mod differs\n         go:   {:?}\n         ours: {:?}",
            String::from_utf8_lossy(&want_mod),
            String::from_utf8_lossy(&m)
        )),
        Err(e) => report.fail(format!("{module}@{version}: .mod fails: {e}")),
    }

    let mut zip = Vec::new();
    match rt.block_on(src.zip(module, &version, &mut zip, 500 << 20)) {
        Ok(_) => {
            let h = dirhash::hash_zip(std::io::Cursor::new(&zip)).expect("hash zip");
            if Some(h.as_str()) == go["Sum"].as_str() {
                report.ok(format!("{module}@{version}: zip {h}"));
            } else {
                report.fail(format!(
                    "{module}@{version}: zip hash {h}, go {}; ours has {:?}",
                    go["Sum"],
                    zip_names(&zip)
                ));
            }
        }
        Err(e) => report.fail(format!("{module}@{version}: .zip fails: {e}")),
    }
    Some(version)
}

fn zip_names(data: &[u8]) -> Vec<String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(data)).expect("zip");
    (0..z.len())
        .map(|i| z.by_index(i).expect("entry").name().to_owned())
        .collect()
}

/// Compares `@v/list` with `go list -m -versions`.
fn compare_list(
    w: &World,
    src: &GitSource,
    rt: &tokio::runtime::Runtime,
    module: &str,
    report: &mut Report,
) {
    let (stdout, _, ok) = w.go(&["list", "-m", "-json", "-versions", "-retracted", module]);
    let ours = rt.block_on(src.list(module));
    if !ok {
        match ours {
            Err(e) => report.ok(format!("list {module}: both fail ({e})")),
            Ok(l) => report.fail(format!("list {module}: go fails, ours lists {l:?}")),
        }
        return;
    }
    let go: Value = serde_json::from_str(&stdout).expect("go list json");
    let want: Vec<String> = go
        .get("Versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match ours {
        Ok(l) => {
            let got: Vec<String> = l.lines().map(str::to_owned).collect();
            if got == want {
                report.ok(format!("list {module}: {got:?}"));
            } else {
                report.fail(format!("list {module}: go {want:?}, ours {got:?}"));
            }
        }
        Err(e) => report.fail(format!("list {module}: ours fails: {e}")),
    }
}

/// Compares `@latest` with go's `@HEAD` (`codeRepo.Latest` and `Stat("HEAD")` resolve alike,
/// except that `Latest` records `"Ref":"HEAD"` where a fresh `Stat("HEAD")` records no Ref).
fn compare_latest(
    w: &World,
    src: &GitSource,
    rt: &tokio::runtime::Runtime,
    module: &str,
    report: &mut Report,
) {
    let (go_url, our_url) = w.urls(module);
    let arg = format!("{module}@HEAD");
    let (stdout, _, _) = w.go(&["mod", "download", "-json", &arg]);
    let go: Value = serde_json::from_str(&stdout).expect("go json");
    let ours = rt.block_on(src.latest(module));
    match (go.get("Error").and_then(Value::as_str), ours) {
        (Some(_), Err(e)) => report.ok(format!("latest {module}: both fail ({e})")),
        (Some(err), Ok(b)) => report.fail(format!(
            "latest {module}: go fails ({err}), ours {}",
            String::from_utf8_lossy(&b)
        )),
        (None, Err(e)) => report.fail(format!("latest {module}: ours fails: {e}")),
        (None, Ok(b)) => {
            let want = std::fs::read(go["Info"].as_str().expect("Info")).expect("read .info");
            let got = String::from_utf8_lossy(&b)
                .replace(&our_url, &go_url)
                .replace(",\"Ref\":\"HEAD\"", "");
            if got.as_bytes() == want.as_slice() {
                report.ok(format!("latest {module}: {got}"));
            } else {
                report.fail(format!(
                    "latest {module}:\n         go:   {}\n         ours: {got}",
                    String::from_utf8_lossy(&want)
                ));
            }
        }
    }
}

/// Runs the list, latest and every query for each module, and returns go's resolved versions.
fn compare_all(
    w: &World,
    src: &GitSource,
    cases: &[(&str, &[&str])],
    report: &mut Report,
) -> BTreeMap<String, String> {
    let rt = rt();
    let mut resolved = BTreeMap::new();
    for (module, queries) in cases {
        compare_list(w, src, &rt, module, report);
        compare_latest(w, src, &rt, module, report);
        for q in *queries {
            if let Some(v) = compare_query(w, src, &rt, module, q, report) {
                resolved.insert(format!("{module}@{q}"), v);
            }
        }
    }
    resolved
}

// ---------------------------------------------------------------------------------------------
// Cases

#[test]
fn root_module_tags_branches_hashes_and_pseudo_versions_match_go() {
    let w = World::new();
    let mut r = w.repo("root");
    let m = "example.com/root.git";
    r.write("go.mod", &go_mod(m, "1.20"))
        .write("a.go", "package root\n")
        .write("LICENSE", "license text\n")
        .write(
            ".gitattributes",
            "*.bat text eol=crlf\nign.txt export-ignore\nsubst.txt export-subst\n",
        )
        .write("a.bat", "x\ny\n")
        .write("ign.txt", "exported anyway\n")
        .write("subst.txt", "$Format:%H$\n");
    r.commit("one");
    r.tag("v1.0.0");
    r.write("a.go", "package root // two\n");
    let two = r.commit("two");
    r.annotated_tag("v1.1.0");
    r.write("b.go", "package root\n");
    r.commit("three");
    r.tag("v1.2.0-rc.1").tag("v1.2.0+meta").tag("not-semver");
    r.checkout(&["-b", "feature", &two]);
    r.write("f.go", "package root\n");
    let feature = r.commit("feature");
    r.checkout(&["main"]);
    r.write("c.go", "package root\n");
    let head = r.commit("four");

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    let feature12 = &feature[..12];
    let head7 = &head[..7];
    let resolved = compare_all(
        &w,
        &src,
        &[(
            m,
            &[
                "v1.0.0",
                "v1.1.0",
                "v1.2.0-rc.1",
                "v1.2.0",
                "v1.0.0+incompatible",
                "v9.9.9",
                "main",
                "feature",
                "HEAD",
                "not-semver",
                &two,
                feature12,
                head7,
                "nosuchbranch",
            ],
        )],
        &mut report,
    );
    // Pseudo-versions that go computed, asked for directly, and broken ones.
    let main_pseudo = resolved[&format!("{m}@main")].clone();
    let rt = rt();
    compare_query(&w, &src, &rt, m, &main_pseudo, &mut report);
    let wrong_time = main_pseudo.replacen("2020", "2019", 1);
    compare_query(&w, &src, &rt, m, &wrong_time, &mut report);
    let rest = &main_pseudo[main_pseudo.find("-0.").expect("pseudo with base")..];
    // Any ancestor tag may be the base (go does not insist on the highest), ...
    compare_query(&w, &src, &rt, m, &format!("v1.0.1{rest}"), &mut report);
    // ... but it must exist.
    compare_query(&w, &src, &rt, m, &format!("v9.9.9{rest}"), &mut report);
    report.finish("root module");
}

#[test]
fn subdirectory_modules_prefixed_tags_root_license_and_v2_match_go() {
    let w = World::new();
    let mut r = w.repo("multi");
    let root = "example.com/multi.git";
    let sub = "example.com/multi.git/sub";
    let sub2 = "example.com/multi.git/sub2";
    let subv2 = "example.com/multi.git/sub/v2";
    r.write("go.mod", &go_mod(root, "1.21"))
        .write("LICENSE", "root license\n")
        .write("root.go", "package multi\n")
        .write("sub/go.mod", &go_mod(sub, "1.21"))
        .write("sub/s.go", "package sub\n")
        .write("sub2/go.mod", &go_mod(sub2, "1.21"))
        .write("sub2/LICENSE", "sub2 license\n")
        .write("sub2/s.go", "package sub2\n");
    r.commit("one");
    r.tag("v0.1.0").tag("sub/v1.0.0").tag("sub2/v0.1.0");
    r.write("sub/t.go", "package sub\n");
    r.commit("two");
    r.tag("sub/v1.1.0");
    r.write("sub/go.mod", &go_mod(subv2, "1.21"));
    r.commit("sub v2");
    r.tag("sub/v2.0.0");
    r.write("sub/u.go", "package sub\n");
    r.commit("after sub v2");

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    compare_all(
        &w,
        &src,
        &[
            (root, &["v0.1.0", "main"]),
            (sub, &["v1.0.0", "v1.1.0", "v2.0.0", "main"]),
            (sub2, &["v0.1.0", "main"]),
            (subv2, &["v2.0.0", "v1.0.0", "main"]),
        ],
        &mut report,
    );
    report.finish("subdirectory modules");
}

#[test]
fn major_versions_in_subdirectory_and_on_root_match_go() {
    let w = World::new();
    // /v2 as a subdirectory (v2/go.mod), the root staying v1.
    let mut a = w.repo("majorsub");
    let ma = "example.com/majorsub.git";
    a.write("go.mod", &go_mod(ma, "1.21"))
        .write("a.go", "package a\n");
    a.commit("v1");
    a.tag("v1.0.0");
    a.write("v2/go.mod", &go_mod(&format!("{ma}/v2"), "1.21"))
        .write("v2/a.go", "package a\n");
    a.commit("v2 dir");
    a.tag("v2.0.0");
    // /v2 only in the module line of the root go.mod.
    let mut b = w.repo("rootv2");
    let mb = "example.com/rootv2.git";
    b.write("go.mod", &go_mod(mb, "1.21"))
        .write("b.go", "package b\n");
    b.commit("v1");
    b.tag("v1.0.0");
    b.write("go.mod", &go_mod(&format!("{mb}/v2"), "1.21"));
    b.commit("v2");
    b.tag("v2.0.0");
    b.write("c.go", "package b\n");
    b.commit("v2.1");
    b.tag("v2.1.0");
    b.write("d.go", "package b\n");
    b.commit("after");

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    let v2a = format!("{ma}/v2");
    let v2b = format!("{mb}/v2");
    compare_all(
        &w,
        &src,
        &[
            (ma, &["v1.0.0", "v2.0.0", "main"]),
            (&v2a, &["v2.0.0", "main"]),
            (mb, &["v1.0.0", "v2.0.0", "v2.0.0+incompatible"]),
            (&v2b, &["v2.0.0", "v2.1.0", "main", "v1.0.0"]),
        ],
        &mut report,
    );
    report.finish("major versions");
}

#[test]
fn incompatible_versions_match_go() {
    let w = World::new();
    // No go.mod until v3: v2 tags are +incompatible, v3 (with go.mod) is not listed.
    let mut a = w.repo("incompat");
    let ma = "example.com/incompat.git";
    a.write("a.go", "package a\n");
    a.commit("v1");
    a.tag("v1.0.0");
    a.write("b.go", "package a\n");
    a.commit("v2");
    a.tag("v2.0.0");
    a.write("c.go", "package a\n");
    a.commit("v2.1");
    a.tag("v2.1.0");
    a.write("go.mod", &go_mod(ma, "1.21"));
    a.commit("v3");
    a.tag("v3.0.0");
    // go.mod at v1, none at v2: +incompatible is not listed but can be asked for.
    let mut b = w.repo("incompatmod");
    let mb = "example.com/incompatmod.git";
    b.write("go.mod", &go_mod(mb, "1.21"))
        .write("a.go", "package a\n");
    b.commit("v1");
    b.tag("v1.0.0");
    b.rm("go.mod");
    b.commit("v2 without go.mod");
    b.tag("v2.0.0");

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    compare_all(
        &w,
        &src,
        &[
            (
                ma,
                &[
                    "v1.0.0",
                    "v2.0.0+incompatible",
                    "v2.1.0+incompatible",
                    "v2.0.0",
                    "v3.0.0",
                    "v3.0.0+incompatible",
                    "main",
                ],
            ),
            (mb, &["v1.0.0", "v2.0.0+incompatible", "v2.0.0", "main"]),
        ],
        &mut report,
    );
    report.finish("+incompatible");
}

#[test]
fn no_go_mod_untagged_prerelease_and_retractions_match_go() {
    let w = World::new();
    let mut a = w.repo("nogomod");
    let ma = "example.com/nogomod.git";
    a.write("a.go", "package a\n");
    a.commit("one");
    a.tag("v1.0.0");
    a.write("b.go", "package a\n");
    a.commit("two");

    let mut b = w.repo("untagged");
    let mb = "example.com/untagged.git";
    b.write("go.mod", &go_mod(mb, "1.21"))
        .write("a.go", "package a\n");
    b.commit("one");
    b.checkout(&["-b", "dev"]);
    b.write("d.go", "package a\n");
    let dev = b.commit("dev");
    b.checkout(&["main"]);
    b.write("b.go", "package a\n");
    b.commit("two");

    let mut c = w.repo("pre");
    let mc = "example.com/pre.git";
    c.write("go.mod", &go_mod(mc, "1.21"))
        .write("a.go", "package a\n");
    c.commit("alpha");
    c.tag("v0.1.0-alpha");
    c.write("b.go", "package a\n");
    c.commit("beta");
    c.tag("v0.1.0-beta.1");
    c.write("c.go", "package a\n");
    c.commit("after");

    let mut d = w.repo("retract");
    let md = "example.com/retract.git";
    d.write("go.mod", &go_mod(md, "1.21"))
        .write("a.go", "package a\n");
    d.commit("v1.0.0");
    d.tag("v1.0.0");
    d.write("b.go", "package a\n");
    let v101 = d.commit("v1.0.1");
    d.tag("v1.0.1");
    d.write(
        "go.mod",
        &format!("{}\n// Broken.\nretract v1.0.1\n", go_mod(md, "1.21")),
    );
    d.commit("v1.1.0");
    d.tag("v1.1.0");
    d.checkout(&["-b", "fix", &v101]);
    d.write("fix.go", "package a\n");
    d.commit("fix on v1.0.1");
    d.checkout(&["main"]);

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    let dev7 = &dev[..7];
    compare_all(
        &w,
        &src,
        &[
            (ma, &["v1.0.0", "main"]),
            (mb, &["main", "dev", dev7, "v0.0.1"]),
            (mc, &["v0.1.0-alpha", "v0.1.0-beta.1", "main"]),
            (md, &["v1.0.1", "v1.1.0", "fix"]),
        ],
        &mut report,
    );
    report.finish("no go.mod, untagged, pre-releases, retractions");
}

#[test]
fn nested_modules_vendor_symlinks_and_uppercase_paths_match_go() {
    let w = World::new();
    let mut a = w.repo("tree");
    let ma = "example.com/tree.git";
    a.write("go.mod", &go_mod(ma, "1.24"))
        .write("a.go", "package a\n")
        .write("empty.txt", "")
        .write("nested/go.mod", &go_mod(&format!("{ma}/nested"), "1.24"))
        .write("nested/n.go", "package nested\n")
        .write("deep/er/go.mod", "module other.example/x\n")
        .write("deep/er/x.go", "package x\n")
        .write("deep/keep.go", "package deep\n")
        .write("vendor/modules.txt", "# example.com/dep v1.0.0\n")
        .write("vendor/example.com/dep/d.go", "package dep\n")
        .write("vendor/top.go", "package vendor\n")
        .write("a/vendor/b.go", "package vendor\n")
        .write("a/vendor/c/c.go", "package c\n")
        .write("x/.hidden", "hidden\n")
        .write("script.sh", "#!/bin/sh\n")
        .symlink("a.go", "link.go")
        .symlink("a", "dirlink");
    std::fs::set_permissions(
        a.dir.join("script.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    a.commit("go 1.24");
    a.tag("v1.0.0");
    a.write("go.mod", &go_mod(ma, "1.20"));
    a.commit("go 1.20 vendor rules");
    a.tag("v1.1.0");

    let mut b = w.repo("Upper");
    let mb = "example.com/Upper.git";
    b.write("go.mod", &go_mod(mb, "1.21"))
        .write("Upper.go", "package upper\n");
    b.commit("one");
    b.tag("v1.0.0");
    b.write("Mixed/Case.go", "package mixed\n");
    b.commit("two");

    let src = w.source(Duration::from_secs(60));
    let mut report = Report::default();
    compare_all(
        &w,
        &src,
        &[(ma, &["v1.0.0", "v1.1.0"]), (mb, &["v1.0.0", "main"])],
        &mut report,
    );
    report.finish("nested modules, vendor, symlinks, upper case");
}

// ---------------------------------------------------------------------------------------------
// Mirror behaviour

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mirror_per_repository_and_pinned_versions_never_fetch() {
    let w = World::new();
    let mut r = w.repo("pinned");
    let m = "example.com/pinned.git";
    r.write("go.mod", &go_mod(m, "1.21"))
        .write("sub/go.mod", &go_mod(&format!("{m}/sub"), "1.21"));
    for i in 0..5 {
        r.write("a.go", &format!("package a // {i}\n"));
        r.commit(&format!("c{i}"));
        r.tag(&format!("v1.{i}.0"));
        r.tag(&format!("sub/v0.{i}.0"));
    }
    let src = w.source(Duration::from_secs(3600));
    let start = Instant::now();
    // Many versions of two modules of one repository, concurrently.
    let mut tasks = Vec::new();
    for i in 0..5 {
        for (module, v) in [
            (m.to_owned(), format!("v1.{i}.0")),
            (format!("{m}/sub"), format!("v0.{i}.0")),
        ] {
            let src = src.clone();
            tasks.push(tokio::spawn(async move {
                src.info(&module, &v).await.expect("info");
                src.go_mod(&module, &v).await.expect("mod");
                let mut z = Vec::new();
                src.zip(&module, &v, &mut z, 1 << 30).await.expect("zip");
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(src.list(m).await.expect("list").lines().count(), 5);
    let stats = src.stats();
    assert_eq!(stats.mirrors_created, 1, "{stats:?}");
    assert_eq!(stats.fetches, 1, "one fetch serves everything: {stats:?}");
    let dirs = std::fs::read_dir(w.path().join("cache"))
        .expect("cache dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    assert_eq!(dirs, 1, "one bare mirror on disk");

    // A new source over the same cache (a restart): pinned versions need no fetch at all.
    let again = w.source(Duration::ZERO);
    again.info(m, "v1.3.0").await.expect("info");
    again
        .zip(m, "v1.3.0", &mut Vec::new(), 1 << 30)
        .await
        .expect("zip");
    assert_eq!(again.stats().fetches, 0, "{:?}", again.stats());
    assert_eq!(again.stats().mirrors_created, 0);
    println!(
        "20 module versions from one repository in {:?}, {} git processes",
        start.elapsed(),
        stats.commands
    );
}

#[tokio::test]
async fn list_refreshes_only_after_the_ttl_and_unknown_versions_fetch_once() {
    let w = World::new();
    let mut r = w.repo("ttl");
    let m = "example.com/ttl.git";
    r.write("go.mod", &go_mod(m, "1.21"));
    r.commit("one");
    r.tag("v1.0.0");
    let slow = w.source(Duration::from_secs(3600));
    assert_eq!(slow.list(m).await.expect("list"), "v1.0.0\n");
    r.write("a.go", "package a\n");
    r.commit("two");
    r.tag("v1.1.0");
    // Within the TTL: the list is not refreshed, and an unknown version does not fetch either.
    assert_eq!(slow.list(m).await.expect("list"), "v1.0.0\n");
    assert!(
        slow.info(m, "v1.1.0")
            .await
            .expect_err("stale")
            .is_not_found()
    );
    assert_eq!(slow.stats().fetches, 1);
    // Past the TTL an unknown version fetches once, then resolves.
    let fast = w.source(Duration::ZERO);
    let info = fast.info(m, "v1.1.0").await.expect("fetched");
    assert!(String::from_utf8_lossy(&info).contains("\"Version\":\"v1.1.0\""));
    assert_eq!(fast.stats().fetches, 1);
    assert_eq!(fast.list(m).await.expect("list"), "v1.0.0\nv1.1.0\n");
}

#[tokio::test]
async fn oversized_zip_and_bad_input_are_refused_before_or_while_building() {
    let w = World::new();
    let mut r = w.repo("big");
    let m = "example.com/big.git";
    r.write("go.mod", &go_mod(m, "1.21")).write(
        "data.txt",
        &(0..20_000u64)
            .map(|i| format!("{:x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect::<String>(),
    );
    r.commit("one");
    r.tag("v1.0.0");
    let src = w.source(Duration::from_secs(60));
    let err = src
        .zip(m, "v1.0.0", &mut Vec::new(), 1000)
        .await
        .expect_err("too large");
    assert!(
        matches!(err, SourceError::TooLarge { limit: 1000, .. }),
        "{err}"
    );

    for bad in ["--upload-pack=touch /tmp/x", "-x", "a..b", "x y"] {
        let err = src.info(m, bad).await.expect_err("bad query");
        assert!(
            matches!(err, SourceError::InvalidVersion { .. }),
            "{bad}: {err}"
        );
    }
    let err = src
        .info("Example.com/-bad", "v1.0.0")
        .await
        .expect_err("bad path");
    assert!(matches!(err, SourceError::InvalidPath { .. }), "{err}");
    let err = src.list("other.example/x").await.expect_err("no route");
    assert!(err.is_not_found(), "{err}");
    let err = src
        .info(m, "v1.0.0+incompatible")
        .await
        .expect_err("incompatible");
    assert!(err.is_not_found(), "{err}");
}

/// A cold fetch of one module version (`.info`, `.mod`, `.zip` from an empty cache) by
/// modferry and by `go mod download` with `GOPROXY=direct`, on a repository holding a copy of
/// the Go standard library's `net` tree. Run with `--ignored --nocapture`; prints the ratio.
#[test]
#[ignore = "timing, not a check; run explicitly"]
fn cold_fetch_timing_against_go() {
    let w = World::new();
    let mut r = w.repo("bench");
    let m = "example.com/bench.git";
    let goroot = go_bin()
        .parent()
        .and_then(Path::parent)
        .expect("GOROOT")
        .to_owned();
    let status = Command::new("cp")
        .arg("-r")
        .arg(goroot.join("src/net"))
        .arg(r.dir.join("net"))
        .status()
        .expect("cp");
    assert!(status.success());
    r.write("go.mod", &go_mod(m, "1.21"));
    r.commit("import");
    r.tag("v1.0.0");

    let rounds = 3;
    let mut ours = Duration::ZERO;
    let mut theirs = Duration::ZERO;
    let rt = rt();
    for i in 0..rounds {
        let src = w.source(Duration::from_secs(60));
        // A fresh cache directory each round: the cold path.
        let mut cfg = src.config().clone();
        cfg.cache_dir = w.path().join(format!("cold-{i}"));
        let rule = StaticRule::new(
            "example.com/*",
            &format!("file://{}/repos/*", w.path().display()),
        )
        .expect("rule");
        let src = GitSource::new(cfg, Arc::new(StaticRouter::new(vec![rule])));
        let t = Instant::now();
        rt.block_on(async {
            src.info(m, "v1.0.0").await.expect("info");
            src.go_mod(m, "v1.0.0").await.expect("mod");
            src.zip(m, "v1.0.0", &mut Vec::new(), 500 << 20)
                .await
                .expect("zip");
        });
        ours += t.elapsed();
        let t = Instant::now();
        let (_, _, ok) = w.go(&["mod", "download", "-json", &format!("{m}@v1.0.0")]);
        theirs += t.elapsed();
        assert!(ok);
    }
    println!(
        "cold fetch of {m}@v1.0.0 (GOROOT/src/net): modferry {:?}, go {:?} per run, ratio {:.2}",
        ours / rounds,
        theirs / rounds,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
