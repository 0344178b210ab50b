//! Credentials the way git users expect: git's smart HTTP protocol (`git http-backend`, run as
//! CGI by a small bridge on 127.0.0.1) behind HTTP basic authentication, with the password in
//! a `.netrc` under the service's `HOME`.
//!
//! One test, because it sets `HOME` for the git processes the source starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use modferry_sources::{GitConfig, GitSource, Source, SourceError, StaticRouter, StaticRule};

/// `user:secret` in base64.
const AUTH: &str = "Basic dXNlcjpzZWNyZXQ=";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Gopher")
        .env("GIT_AUTHOR_EMAIL", "gopher@example.com")
        .env("GIT_COMMITTER_NAME", "Gopher")
        .env("GIT_COMMITTER_EMAIL", "gopher@example.com")
        .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "@1700000000 +0000")
        .env_remove("GIT_DIR")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut out = conn;
    if header("authorization").as_deref() != Some(AUTH) {
        refused.fetch_add(1, Ordering::Relaxed);
        out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let mut body = Vec::new();
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", "user")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = header(name) {
            cgi.env(var, v);
        }
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut stdout)?;
    let _ = writer.join();
    let _ = child.wait();
    // CGI output: headers (with an optional Status), a blank line, the body.
    let split = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| stdout.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let Some((at, sep)) = split else {
        out.write_all(b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    };
    let head = String::from_utf8_lossy(&stdout[..at]).into_owned();
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            _ => {
                response.push_str(h.trim_end());
                response.push_str("\r\n");
            }
        }
    }
    let payload = &stdout[at + sep..];
    out.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    out.write_all(payload)?;
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
    git(
        base.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf8"),
            srv.join("lib.git").to_str().expect("utf8"),
        ],
    );
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
