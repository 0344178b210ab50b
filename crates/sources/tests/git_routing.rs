//! Routing modules to git without configured URLs (`?go-get=1` discovery, reached through
//! `HTTP_PROXY` because module paths cannot carry ports), and private routing.
//!
//! A loopback server plays `example.com`: it answers `?go-get=1` with go-import meta tags
//! (one plain, one with a go 1.25+ subdirectory), refuses `CONNECT` (so `https` fails and the
//! `insecure` rule falls back to `http`, like `GOINSECURE`), and serves a bare repository over
//! git's dumb HTTP protocol. The real go command in direct mode goes through the same server;
//! its `.info`, go.mod hash and zip hash must equal ours.
//!
//! One test, because it sets the process environment (proxy variables) that reqwest and git
//! read.

#[path = "support/commands.rs"]
mod commands;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use commands::{clone_bare, git_at, go_bin};
use common::{Reply, Upstream};
use modferry_formats::dirhash;
use modferry_sources::{
    ChainRouter, DiscoveryConfig, DiscoveryRouter, DiscoveryRule, DynSource, GitConfig, GitRouter,
    GitSource, KnownHostRouter, RoutedSource, Source, SourceError, StaticRouter, StaticRule,
    ZipSink,
};
use serde_json::Value;

/// A work tree with a root module `example.com/private/lib` (v1.0.0, v1.1.0) and, in `inner/`,
/// the tree a go-import subdir points at for `example.com/private/sub` (tag `inner/v0.1.0`);
/// returns the bare copy served over dumb HTTP.
fn make_repo(base: &Path) -> PathBuf {
    let work = base.join("work");
    std::fs::create_dir_all(work.join("inner")).expect("mkdir");
    let mut clock = 1_600_000_000;
    git_at(&work, clock, &["init", "-q", "-b", "main"]);
    let write = |p: &str, s: &str| std::fs::write(work.join(p), s).expect("write");
    write("go.mod", "module example.com/private/lib\n\ngo 1.21\n");
    write("lib.go", "package lib\n\nfunc Answer() int { return 42 }\n");
    write("LICENSE", "root license\n");
    write(
        "inner/go.mod",
        "module example.com/private/sub\n\ngo 1.21\n",
    );
    write("inner/sub.go", "package sub\n\nconst Name = \"sub\"\n");
    git_at(&work, clock, &["add", "-A"]);
    git_at(&work, clock, &["commit", "-q", "-m", "one"]);
    git_at(&work, clock, &["tag", "v1.0.0"]);
    git_at(&work, clock, &["tag", "inner/v0.1.0"]);
    clock += 86_400;
    write("lib.go", "package lib\n\nfunc Answer() int { return 43 }\n");
    git_at(&work, clock, &["commit", "-q", "-am", "two"]);
    git_at(&work, clock, &["tag", "v1.1.0"]);
    let bare = base.join("srv/private/lib.git");
    std::fs::create_dir_all(bare.parent().expect("parent")).expect("mkdir");
    clone_bare(base, &work, &bare);
    git_at(&bare, clock, &["update-server-info"]);
    bare
}

const META: &str = "<html><head>\
<meta name=\"go-import\" content=\"example.com/private/lib git http://example.com/private/lib.git\">\
<meta name=\"go-import\" content=\"example.com/private/sub git http://example.com/private/lib.git inner\">\
</head><body>private</body></html>";

/// The `example.com` stand-in: discovery pages, dumb-HTTP git, no `CONNECT`.
async fn example_com(srv_root: PathBuf) -> Upstream {
    Upstream::start(move |target: &str| {
        if !target.starts_with("http://") {
            return Reply::status("405 Method Not Allowed", None, "");
        }
        let rest = target.trim_start_matches("http://example.com/");
        if rest.ends_with("?go-get=1") {
            return Reply::status("200 OK", Some("text/html; charset=utf-8"), META);
        }
        let rel = rest.split('?').next().unwrap_or("");
        if rel.split('/').any(|e| e == "..") {
            return Reply::not_found("no");
        }
        match std::fs::read(srv_root.join(rel)) {
            Ok(data) => Reply::ok(data),
            Err(_) => Reply::not_found("no such file"),
        }
    })
    .await
}

/// `go mod download -json module@version` in direct mode through the proxy at `proxy`.
fn go_download(base: &Path, proxy: &str, arg: &str) -> Value {
    // Kept until `base` goes: the caller reads the files go wrote.
    let run_dir = base.join(format!("go-{}", arg.replace(['/', '@'], "_")));
    std::fs::create_dir_all(&run_dir).expect("mkdir run");
    let run = &run_dir;
    let go = go_bin();
    let gocache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("git-gocache");
    std::fs::create_dir_all(&gocache).expect("mkdir gocache");
    let out = Command::new(&go)
        .args(["mod", "download", "-json", arg])
        .current_dir(run)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", go.parent().expect("dir").display()),
        )
        .env("HOME", run)
        .env("GOPATH", run.join("gopath"))
        .env("GOCACHE", &gocache)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "direct")
        .env("GOSUMDB", "off")
        .env("GOINSECURE", "example.com/private")
        .env("GOENV", "off")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HTTP_PROXY", proxy)
        .env("HTTPS_PROXY", proxy)
        .env("http_proxy", proxy)
        .env("https_proxy", proxy)
        .output()
        .expect("run go");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "go mod download {arg}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(v.get("Error").is_none(), "go mod download {arg}: {v}");
    v
}

/// A public upstream that records every module name it is asked about.
#[derive(Default)]
struct Counting {
    asked: Mutex<Vec<String>>,
}

impl Counting {
    fn note(&self, module: &str) -> SourceError {
        self.asked.lock().expect("lock").push(module.to_owned());
        SourceError::NotFound {
            url: format!("counting/{module}"),
            status: 404,
            reason: String::new(),
        }
    }
}

#[async_trait::async_trait]
impl Source for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    async fn list(&self, module: &str) -> Result<String, SourceError> {
        Err(self.note(module))
    }
    async fn latest(&self, module: &str) -> Result<Bytes, SourceError> {
        Err(self.note(module))
    }
    async fn info(&self, module: &str, _: &str) -> Result<Bytes, SourceError> {
        Err(self.note(module))
    }
    async fn go_mod(&self, module: &str, _: &str) -> Result<Bytes, SourceError> {
        Err(self.note(module))
    }
    async fn zip(
        &self,
        module: &str,
        _: &str,
        _: &mut dyn ZipSink,
        _: u64,
    ) -> Result<u64, SourceError> {
        Err(self.note(module))
    }
}

async fn compare_with_go(src: &GitSource, base: &Path, proxy: &str, module: &str, version: &str) {
    let go = tokio::task::spawn_blocking({
        let (base, proxy, arg) = (
            base.to_owned(),
            proxy.to_owned(),
            format!("{module}@{version}"),
        );
        move || go_download(&base, &proxy, &arg)
    })
    .await
    .expect("join");
    let info = src.info(module, version).await.expect("our info");
    let want_info = std::fs::read(go["Info"].as_str().expect("Info")).expect("go info");
    assert_eq!(
        String::from_utf8_lossy(&info),
        String::from_utf8_lossy(&want_info),
        "{module}@{version} .info"
    );
    let m = src.go_mod(module, version).await.expect("our mod");
    assert_eq!(
        Some(dirhash::hash_go_mod(&m).as_str()),
        go["GoModSum"].as_str(),
        "{module}@{version} go.mod hash"
    );
    let mut zip = Vec::new();
    src.zip(module, version, &mut zip, 500 << 20)
        .await
        .expect("our zip");
    let h = dirhash::hash_zip(std::io::Cursor::new(&zip)).expect("hash");
    assert_eq!(
        Some(h.as_str()),
        go["Sum"].as_str(),
        "{module}@{version} zip hash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_through_http_proxy_and_private_routing_match_go() {
    let base = tempfile::tempdir().expect("tempdir");
    let bare = make_repo(base.path());
    let server = example_com(base.path().join("srv")).await;
    let proxy = server.url("");
    // SAFETY: this binary holds this single test, and no other thread reads the environment
    // while it is changed (reqwest reads it when the discovery client is built, git when run).
    unsafe {
        for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            std::env::set_var(k, &proxy);
        }
        for k in ["NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::remove_var(k);
        }
        std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
        std::env::set_var("GIT_CONFIG_GLOBAL", "/dev/null");
    }

    let discovery = DiscoveryRouter::new(DiscoveryConfig {
        rules: vec![DiscoveryRule {
            patterns: "example.com/private".into(),
            ca_file: None,
            insecure: true,
        }],
        connect_timeout: Duration::from_secs(5),
        ..DiscoveryConfig::default()
    })
    .expect("discovery");
    let router = ChainRouter::new(vec![
        Arc::new(StaticRouter::default()),
        Arc::new(KnownHostRouter),
        Arc::new(discovery),
    ]);
    let route = router
        .route("example.com/private/sub")
        .await
        .expect("route")
        .expect("found");
    assert_eq!(
        (
            route.root.as_str(),
            route.url.as_str(),
            route.subdir.as_str()
        ),
        (
            "example.com/private/sub",
            "http://example.com/private/lib.git",
            "inner"
        )
    );
    // A path below a meta tag's prefix: the prefix's own page must carry the same entry.
    let before = server.count();
    let deep = router
        .route("example.com/private/lib/internal/x")
        .await
        .expect("route")
        .expect("found");
    assert_eq!(deep.root, "example.com/private/lib");
    let asked: Vec<String> = server.targets()[before..].to_vec();
    assert!(
        asked
            .iter()
            .any(|t| t == "http://example.com/private/lib?go-get=1"),
        "{asked:?}"
    );
    // Known hosts are placed without any request.
    let before = server.count();
    let gh = router
        .route("github.com/owner/repo/sub")
        .await
        .expect("route")
        .expect("known");
    assert_eq!(gh.url, "https://github.com/owner/repo");
    assert_eq!(server.count(), before);

    let mut cfg = GitConfig::new(base.path().join("cache"));
    cfg.refresh_ttl = Duration::from_secs(60);
    let git = GitSource::new(cfg, Arc::new(router));
    assert_eq!(
        git.list("example.com/private/lib").await.expect("list"),
        "v1.0.0\nv1.1.0\n"
    );
    assert_eq!(
        git.list("example.com/private/sub").await.expect("list"),
        "v0.1.0\n"
    );
    compare_with_go(
        &git,
        base.path(),
        &proxy,
        "example.com/private/lib",
        "v1.1.0",
    )
    .await;
    compare_with_go(
        &git,
        base.path(),
        &proxy,
        "example.com/private/sub",
        "v0.1.0",
    )
    .await;
    assert_eq!(
        git.stats().mirrors_created,
        1,
        "one mirror for both modules"
    );

    // An unknown version is a module error (404 class) that names neither URL nor path.
    let err = git
        .info("example.com/private/lib", "v9.9.9")
        .await
        .expect_err("unknown");
    assert!(matches!(err, SourceError::Module { .. }), "{err}");
    assert!(err.is_not_found());
    assert!(!err.to_string().contains("http://"), "{err}");

    // Private routing: the public upstream never hears of a private module, but still
    // answers public ones.
    let counting = Arc::new(Counting::default());
    let git_dyn: DynSource = Arc::new(git.clone());
    let routed = RoutedSource::new(
        "example.com/private,*.corp.example",
        StaticRouter::default(),
        git_dyn.clone(),
        counting.clone(),
    );
    assert_eq!(
        routed.list("example.com/private/lib").await.expect("git"),
        "v1.0.0\nv1.1.0\n"
    );
    routed
        .info("example.com/private/lib", "v1.0.0")
        .await
        .expect("git");
    routed
        .go_mod("example.com/private/sub", "v0.1.0")
        .await
        .expect("git");
    let mut sink = Vec::new();
    routed
        .zip("example.com/private/lib", "v1.0.0", &mut sink, 1 << 20)
        .await
        .expect("git");
    routed
        .info("git.corp.example/team/x", "v1.0.0")
        .await
        .expect_err("no such repository");
    assert!(counting.asked.lock().expect("lock").is_empty());
    routed
        .list("example.org/public")
        .await
        .expect_err("counting answers 404");
    assert_eq!(
        *counting.asked.lock().expect("lock"),
        ["example.org/public"]
    );

    // An explicit rule sends its modules to git too, even without a private pattern.
    let rule = StaticRule::new(
        "example.com/mirrored",
        &format!("file://{}", bare.display()),
    )
    .expect("rule");
    let explicit = StaticRouter::new(vec![rule.clone()]);
    let git2 = GitSource::new(
        GitConfig::new(base.path().join("cache2")),
        Arc::new(explicit.clone()),
    );
    let routed = RoutedSource::new("", explicit, Arc::new(git2), counting.clone());
    routed
        .info("example.com/mirrored", "v1.0.0")
        .await
        .expect("from git");
    let err = routed
        .info("example.com/mirrored", "v0.0.9")
        .await
        .expect_err("no such version");
    assert!(err.is_not_found(), "{err}");
    assert!(
        !err.to_string()
            .contains(base.path().to_str().expect("utf8")),
        "local path leaked: {err}"
    );
    assert_eq!(counting.asked.lock().expect("lock").len(), 1);
}
