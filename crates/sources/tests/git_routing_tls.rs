//! Per-rule TLS settings for private git hosts: a repository served over git's smart HTTP
//! protocol (`git http-backend` behind a small CGI bridge) on 127.0.0.1, wrapped in TLS with a
//! certificate signed by a certificate authority made at test time (the `openssl` command).
//!
//! What the go command would need `GIT_SSL_CAINFO` or `GOINSECURE` for is here a setting of a
//! rule: `ca_file` becomes `git -c http.sslCAInfo=FILE` (and the trust store of `?go-get=1`
//! discovery), `insecure` becomes `git -c http.sslVerify=false` with a warning in the log. There
//! is no Go counterpart to compare with; the reference is the same repository read over
//! `file://`, whose list, `.info`, `go.mod` and zip hash (`h1:`) must be identical.
//!
//! Discovery over TLS is checked too: a loopback `CONNECT` proxy (reached through
//! `HTTPS_PROXY`, because a module path cannot carry a port) tunnels every connection to the
//! TLS server, whose certificate also names `example.com`.
//!
//! One test, because it sets the process environment (HOME, proxy variables) that git and
//! reqwest read, and installs a global log subscriber.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modferry_formats::dirhash;
use modferry_sources::{
    DiscoveryConfig, DiscoveryRouter, DiscoveryRule, GitConfig, GitRouter, GitSource, Source,
    StaticRouter, StaticRule,
};

#[path = "support/tls_git.rs"]
mod tls_git;
use tls_git::*;

/// A log subscriber that keeps the warnings (and errors), one line per event.
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields(String::new());
        event.record(&mut f);
        self.0.lock().expect("lock").push(f.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A work tree with `example.com/tls/lib` at v1.0.0 and v1.1.0, cloned bare to
/// `srv/tls/lib.git`; returns the bare repository.
fn make_repo(base: &Path) -> PathBuf {
    let work = base.join("work");
    std::fs::create_dir_all(work.join("internal")).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    let write = |p: &str, s: &str| std::fs::write(work.join(p), s).expect("write");
    write("go.mod", &format!("module {MODULE}\n\ngo 1.21\n"));
    write("lib.go", "package lib\n\nfunc Answer() int { return 42 }\n");
    write("LICENSE", "test license\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1.0.0"]);
    write("internal/x.go", "package internal\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "two"]);
    git(&work, &["tag", "v1.1.0"]);
    let bare = base.join("srv/tls/lib.git");
    std::fs::create_dir_all(base.join("srv/tls")).expect("mkdir");
    clone_bare(base, &work, &bare);
    bare
}

fn source(cache: PathBuf, router: Arc<dyn GitRouter>) -> GitSource {
    let mut cfg = GitConfig::new(cache);
    cfg.command_timeout = Duration::from_secs(30);
    GitSource::new(cfg, router)
}

fn static_source(base: &Path, cache: &str, rule: StaticRule) -> GitSource {
    source(base.join(cache), Arc::new(StaticRouter::new(vec![rule])))
}

/// What a source serves for [`MODULE`]: the list, and per version the `.info` (whose
/// `Origin.URL` must be `url`; it is left out of the result), the go.mod hash and the zip hash.
async fn served(src: &GitSource, url: &str) -> Vec<String> {
    let mut got = vec![src.list(MODULE).await.expect("list")];
    for version in ["v1.0.0", "v1.1.0"] {
        let info = src.info(MODULE, version).await.expect("info");
        let mut info: serde_json::Value = serde_json::from_slice(&info).expect("info JSON");
        let origin = info["Origin"].as_object_mut().expect("Origin");
        assert_eq!(
            origin.remove("URL").as_ref().and_then(|u| u.as_str()),
            Some(url),
            "{version} Origin.URL"
        );
        got.push(info.to_string());
        let m = src.go_mod(MODULE, version).await.expect("go.mod");
        got.push(dirhash::hash_go_mod(&m));
        let mut zip = Vec::new();
        src.zip(MODULE, version, &mut zip, 1 << 20)
            .await
            .expect("zip");
        got.push(dirhash::hash_zip(std::io::Cursor::new(&zip)).expect("zip hash"));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_file_and_insecure_rules_reach_a_self_signed_git_host() {
    let base = tempfile::tempdir().expect("tempdir");
    let certs = base.path().join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    make_certificates(&certs);
    let ca = certs.join("ca.pem");
    let bare = make_repo(base.path());
    let server = TlsGitServer::start(&certs, base.path().join("srv"));
    let home = base.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let warnings = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(Warnings(warnings.clone())).expect("subscriber");
    // SAFETY: this binary holds this single test; no other thread reads the environment while
    // it changes (git reads it when started, reqwest when a client is built).
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
        std::env::set_var("GIT_CONFIG_GLOBAL", "/dev/null");
        for k in [
            "XDG_CONFIG_HOME",
            "GIT_SSL_CAINFO",
            "GIT_SSL_CAPATH",
            "GIT_SSL_NO_VERIFY",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "CURL_CA_BUNDLE",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            std::env::remove_var(k);
        }
    }
    let url = format!("https://127.0.0.1:{}/tls/lib.git", server.port);
    let rule = || StaticRule::new(MODULE, &url).expect("rule");

    // The reference: the same repository over file://.
    let file_url = format!("file://{}", bare.display());
    let file_rule = StaticRule::new(MODULE, &file_url).expect("file rule");
    let want = served(
        &static_source(base.path(), "cache-file", file_rule),
        &file_url,
    )
    .await;
    assert_eq!(want[0], "v1.0.0\nv1.1.0\n");

    // (1) No CA file: the certificate is not trusted; git fails at once (it cannot prompt)
    // and the error says why.
    let started = Instant::now();
    let err = static_source(base.path(), "cache-none", rule())
        .list(MODULE)
        .await
        .expect_err("untrusted certificate");
    assert!(started.elapsed() < Duration::from_secs(20), "git hung");
    assert!(!err.is_not_found(), "{err}");
    assert!(
        err.to_string().to_ascii_lowercase().contains("certificate"),
        "the error should name the certificate problem: {err}"
    );

    // (2) The rule's CA file: git trusts the test CA, and serves what file:// serves.
    let got = served(
        &static_source(base.path(), "cache-ca", rule().with_ca_file(&ca)),
        &url,
    )
    .await;
    assert_eq!(got, want, "https with ca_file vs file://");
    assert!(
        warnings.lock().expect("lock").is_empty(),
        "{:?}",
        warnings.lock()
    );

    // (2b) The rule's CA file wins over a GIT_SSL_CAINFO in the service's environment (which
    // git would otherwise let override `-c http.sslCAInfo`), e.g. a machine-wide CA bundle.
    // SAFETY: this test binary holds a single test; nothing else reads the environment now.
    unsafe { std::env::set_var("GIT_SSL_CAINFO", base.path().join("no-such-bundle.pem")) };
    let got = served(
        &static_source(base.path(), "cache-ca-env", rule().with_ca_file(&ca)),
        &url,
    )
    .await;
    unsafe { std::env::remove_var("GIT_SSL_CAINFO") };
    assert_eq!(got, want, "ca_file must override GIT_SSL_CAINFO");

    // (3) insecure: no verification, a warning in the log, the same module.
    let got = served(
        &static_source(base.path(), "cache-insecure", rule().with_insecure(true)),
        &url,
    )
    .await;
    assert_eq!(got, want, "https with insecure vs file://");
    assert!(
        warnings
            .lock()
            .expect("lock")
            .iter()
            .any(|w| w.contains("TLS certificate verification disabled")),
        "no warning about the insecure fetch: {:?}",
        warnings.lock()
    );

    // Discovery: `https://example.com/tls/lib?go-get=1` through a CONNECT proxy to the same
    // server; the go-import URL `https://example.com/tls/lib.git` goes the same way for git.
    let proxy = ConnectProxy::start(server.port);
    // SAFETY: as above.
    unsafe {
        for k in ["HTTPS_PROXY", "https_proxy"] {
            std::env::set_var(k, format!("http://127.0.0.1:{}", proxy.port));
        }
    }
    let discovery = |ca_file: Option<PathBuf>| {
        DiscoveryRouter::new(DiscoveryConfig {
            rules: vec![DiscoveryRule {
                patterns: "example.com/tls".into(),
                ca_file,
                insecure: false,
            }],
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            ..DiscoveryConfig::default()
        })
        .expect("discovery")
    };
    let err = discovery(None)
        .route(MODULE)
        .await
        .expect_err("untrusted certificate");
    assert!(
        err.to_string().to_ascii_lowercase().contains("certificate"),
        "discovery error should name the certificate problem: {err}"
    );
    let router = discovery(Some(ca.clone()));
    let route = router.route(MODULE).await.expect("route").expect("found");
    assert_eq!(
        (route.root.as_str(), route.url.as_str()),
        (MODULE, "https://example.com/tls/lib.git")
    );
    assert_eq!(route.ca_file.as_deref(), Some(ca.as_path()));
    let got = served(
        &source(base.path().join("cache-discovered"), Arc::new(router)),
        "https://example.com/tls/lib.git",
    )
    .await;
    assert_eq!(got, want, "discovered https with ca_file vs file://");
    let targets = proxy.targets.lock().expect("lock").clone();
    assert!(
        targets.iter().all(|t| t == "CONNECT example.com:443"),
        "{targets:?}"
    );
    assert!(
        targets.len() >= 2,
        "discovery and git both tunnelled: {targets:?}"
    );
}
