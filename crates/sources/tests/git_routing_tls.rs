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
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modferry_formats::dirhash;
use modferry_sources::{
    DiscoveryConfig, DiscoveryRouter, DiscoveryRule, GitConfig, GitRouter, GitSource, Source,
    StaticRouter, StaticRule,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const MODULE: &str = "example.com/tls/lib";

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

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (the openssl command is needed for this test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `ca.pem` (a test CA) and `server.pem`/`server.key` (for `127.0.0.1` and `example.com`,
/// signed by it) in `dir`.
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=modferry test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-nodes"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:example.com\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// A TLS server on 127.0.0.1 that answers `?go-get=1` for [`MODULE`] and serves the bare
/// repositories under its root with `git http-backend`.
struct TlsGitServer {
    port: u16,
}

impl TlsGitServer {
    fn start(certs: &Path, root: PathBuf) -> TlsGitServer {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(certs.join("server.pem"))
                .expect("read server.pem")
                .collect::<Result<_, _>>()
                .expect("parse server.pem");
        let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("server.key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, root) = (config.clone(), root.clone());
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    // The handshake runs on first read; a client that rejects the certificate
                    // ends it there.
                    let _ = serve_one(rustls::StreamOwned::new(conn, tcp), &root);
                });
            }
        });
        TlsGitServer { port }
    }
}

/// One HTTP/1.1 request on `stream`: a go-import page for `?go-get=1`, else `git http-backend`.
fn serve_one(
    stream: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
    root: &Path,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
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
    let mut out = reader.into_inner();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, head, payload) = if query.split('&').any(|q| q == "go-get=1") {
        let page = format!(
            "<html><head><meta name=\"go-import\" content=\"{MODULE} git https://{MODULE}.git\">\
             </head></html>\n"
        );
        (
            "200 OK".to_owned(),
            "Content-Type: text/html; charset=utf-8\r\n".to_owned(),
            page.into_bytes(),
        )
    } else {
        http_backend(root, &method, path, query, &header, body)?
    };
    out.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    out.write_all(&payload)?;
    out.conn.send_close_notify();
    out.flush()?;
    let _ = out.sock.shutdown(Shutdown::Write);
    Ok(())
}

/// Runs `git http-backend` as CGI; returns the status, the other response headers (CRLF
/// terminated) and the body.
fn http_backend(
    root: &Path,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: Vec<u8>,
) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
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
        return Ok((
            "500 Internal Server Error".to_owned(),
            String::new(),
            vec![],
        ));
    };
    let mut status = "200 OK".to_owned();
    let mut head = String::new();
    for h in String::from_utf8_lossy(&stdout[..at]).lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            _ => {
                head.push_str(h.trim_end());
                head.push_str("\r\n");
            }
        }
    }
    Ok((status, head, stdout[at + sep..].to_vec()))
}

/// An HTTP proxy on 127.0.0.1 that answers every `CONNECT` by tunnelling to 127.0.0.1:`to`;
/// records the requested targets.
struct ConnectProxy {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start(to: u16) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = tunnel(client, to, &seen);
                });
            }
        });
        ConnectProxy { port, targets }
    }
}

fn tunnel(client: TcpStream, to: u16, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Read the request head byte by byte, so nothing of the tunnelled stream is consumed.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let mut reader = &client;
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    seen.lock()
        .expect("lock")
        .push(format!("{method} {target}"));
    let mut writer = &client;
    if method != "CONNECT" {
        writer.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    }
    let upstream = TcpStream::connect(("127.0.0.1", to))?;
    writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut up_r, mut up_w) = (upstream.try_clone()?, upstream);
    let (mut cl_r, mut cl_w) = (client.try_clone()?, client);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut cl_r, &mut up_w);
        let _ = up_w.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_r, &mut cl_w);
    let _ = cl_w.shutdown(Shutdown::Write);
    let _ = t.join();
    Ok(())
}

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
    git(
        base,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf8"),
            bare.to_str().expect("utf8"),
        ],
    );
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
