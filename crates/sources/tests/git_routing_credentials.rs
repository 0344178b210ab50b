//! Credentials the way git users expect: git's smart HTTP protocol (`git http-backend`, run as
//! CGI by a small bridge on 127.0.0.1) behind HTTP basic authentication, with the password in
//! a `.netrc` under the service's `HOME`.
//!
//! One test, because it sets `HOME` for the git processes the source starts.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use modferry_sources::{GitConfig, GitSource, Source, SourceError, StaticRouter, StaticRule};

#[path = "support/commands.rs"]
mod commands;
use commands::{RequestHead, clone_bare, git, http_backend};

/// `user:secret` in base64.
const AUTH: &str = "Basic dXNlcjpzZWNyZXQ=";

/// Serves `root` with `git http-backend`, requiring [`AUTH`]; counts refused requests.
struct CgiBridge {
    port: u16,
    refused: Arc<AtomicUsize>,
}

impl CgiBridge {
    fn start(root: PathBuf) -> CgiBridge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let refused = Arc::new(AtomicUsize::new(0));
        let count = refused.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (root, count) = (root.clone(), count.clone());
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &root, &count);
                });
            }
        });
        CgiBridge { port, refused }
    }
}

fn serve_one(conn: TcpStream, root: &Path, refused: &AtomicUsize) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let request = RequestHead::read(&mut reader)?;
    let header = |name: &str| request.header(name);
    let mut out = conn;
    if header("authorization").as_deref() != Some(AUTH) {
        refused.fetch_add(1, Ordering::Relaxed);
        out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let body = request.read_body(&mut reader)?;
    let target = &request.target;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (status, head, payload) = http_backend(
        root,
        Some("user"),
        &request.method,
        path,
        query,
        &header,
        body,
    )?;
    out.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    out.write_all(&payload)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_http_with_basic_auth_uses_the_netrc_of_home() {
    let base = tempfile::tempdir().expect("tempdir");
    let work = base.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("go.mod"),
        "module example.com/auth/lib\n\ngo 1.21\n",
    )
    .expect("w");
    std::fs::write(work.join("lib.go"), "package lib\n").expect("w");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1.0.0"]);
    let srv = base.path().join("srv");
    std::fs::create_dir_all(&srv).expect("mkdir");
    clone_bare(base.path(), &work, &srv.join("lib.git"));
    let bridge = CgiBridge::start(srv);
    let home = base.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    // SAFETY: this binary holds this single test; nothing else reads the environment.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
        std::env::remove_var("GIT_CONFIG_GLOBAL");
        std::env::remove_var("XDG_CONFIG_HOME");
        for k in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::remove_var(k);
        }
    }
    let source = |cache: &str| {
        let rule = StaticRule::new(
            "example.com/auth/lib",
            &format!("http://127.0.0.1:{}/lib.git", bridge.port),
        )
        .expect("rule");
        let mut cfg = GitConfig::new(base.path().join(cache));
        cfg.command_timeout = Duration::from_secs(30);
        GitSource::new(cfg, Arc::new(StaticRouter::new(vec![rule])))
    };

    // No credentials: git does not prompt; the failure is a transport error at once.
    let started = std::time::Instant::now();
    let err = source("cache-a")
        .list("example.com/auth/lib")
        .await
        .expect_err("unauthorized");
    assert!(started.elapsed() < Duration::from_secs(20), "git hung");
    assert!(
        !matches!(err, SourceError::Module { .. }) && !err.is_not_found(),
        "{err}"
    );
    assert!(bridge.refused.load(Ordering::Relaxed) >= 1);

    // With a .netrc in HOME, git authenticates.
    std::fs::write(
        home.join(".netrc"),
        "machine 127.0.0.1 login user password secret\n",
    )
    .expect("netrc");
    let src = source("cache-b");
    assert_eq!(
        src.list("example.com/auth/lib").await.expect("list"),
        "v1.0.0\n"
    );
    let mut zip = Vec::new();
    src.zip("example.com/auth/lib", "v1.0.0", &mut zip, 1 << 20)
        .await
        .expect("zip");
    assert!(!zip.is_empty());
    let info = src
        .info("example.com/auth/lib", "v1.0.0")
        .await
        .expect("info");
    assert!(
        !String::from_utf8_lossy(&info).contains("secret"),
        "credentials leaked into .info"
    );
}
