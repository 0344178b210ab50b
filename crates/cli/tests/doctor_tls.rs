//! The classic "private module misconfigured with a self-signed certificate host" with the real
//! go command: the VCS host of a GOPRIVATE module serves `?go-get=1` and git (smart HTTP, `git
//! http-backend` behind a small CGI bridge) over TLS with a certificate from a private CA made
//! at test time with the `openssl` command.
//!
//! A module path cannot carry a port, so `example.com/tls/lib` is reached through `HTTPS_PROXY`:
//! a loopback `CONNECT` proxy tunnels every connection to the TLS server on 127.0.0.1, whose
//! certificate names `example.com`. Nothing leaves 127.0.0.1. The TLS server, the CGI bridge
//! and the proxy follow crates/sources/tests/git_routing_tls.rs.
//!
//! Shown: the go command fails with an x509 error; doctor reports `private-module-direct`
//! naming the unknown authority and the fix (a mirror rule with `ca_file`, or the CA for the go
//! command and git — never GIT_SSL_NO_VERIFY); with half the fix (discovery trusts the CA, git
//! does not) doctor still reports it, at the git stage, and go still fails; after either full
//! fix doctor clears the finding and the go command succeeds.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use util::*;

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

/// A work tree with [`MODULE`] at v1.0.0, cloned bare to `srv/tls/lib.git`.
fn make_repo(base: &Path) {
    let work = base.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("go.mod"), format!("module {MODULE}\n\ngo 1.21\n")).unwrap();
    std::fs::write(
        work.join("lib.go"),
        "package lib\n\nfunc Answer() int { return 42 }\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1.0.0"]);
    std::fs::create_dir_all(base.join("srv/tls")).expect("mkdir");
    git(
        base,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            base.join("srv/tls/lib.git").to_str().unwrap(),
        ],
    );
}

fn doctor(env: &GoEnv, dir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["doctor", dir.to_str().unwrap(), "--json"])
        .env_clear()
        .envs(&env.vars)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `modferry serve` without the git CA variables of this process's environment: git lets
/// `GIT_SSL_CAINFO` override `-c http.sslCAInfo`, so a CA bundle exported machine-wide would
/// hide the rule's `ca_file` (see the report on modferry-sources).
fn serve_mirror(dir: &Path, args: &[&str]) -> Proc {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.join(format!("modferry-{port}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("GIT_SSL_CAINFO")
        .env_remove("GIT_SSL_CAPATH")
        .env_remove("GIT_SSL_NO_VERIFY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn modferry");
    let proc = Proc { child, url, log };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !http_get(&format!("127.0.0.1:{port}"), "/healthz")
        .is_ok_and(|r| r.starts_with("HTTP/1."))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "modferry did not start: {}",
            proc.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proc
}

fn finding<'a>(doc: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
}

/// A go environment that reaches every https host through the CONNECT proxy; git is hermetic.
fn tls_env(base: &Path, proxy: u16, goproxy: &str) -> GoEnv {
    let mut env = GoEnv::new(goproxy);
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (k, v) in [
        ("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}")),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GOSUMDB", format!("sum.golang.org {closed}")),
        ("GOFLAGS", "-mod=mod".into()),
    ] {
        env.vars.insert(k.into(), v);
    }
    let _ = base;
    env
}

fn consumer(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.21\n\nrequire {MODULE} v1.0.0\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("main.go"),
        format!("package main\n\nimport \"{MODULE}\"\n\nfunc main() {{ println(lib.Answer()) }}\n"),
    )
    .unwrap();
    d
}

#[test]
fn doctor_private_module_on_a_self_signed_git_host_needs_its_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let certs = base.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certificates(&certs);
    let ca = certs.join("ca.pem");
    let ca_s = ca.to_str().unwrap().to_owned();
    make_repo(base);
    let server = TlsGitServer::start(&certs, base.join("srv"));
    let proxy = ConnectProxy::start(server.port);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let dir = consumer(base, "direct");

    // GOPRIVATE sends the go command straight to the host, whose CA nobody trusts.
    let mut env = tls_env(base, proxy.port, &closed);
    env.vars
        .insert("GOPRIVATE".into(), "example.com/tls".into());
    let out = env.go(&dir, &["mod", "download", MODULE]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "go succeeded with an untrusted CA");
    assert!(
        err.contains("go-get=1") && err.contains("x509: certificate signed by unknown authority"),
        "go should fail on the certificate at discovery: {err}"
    );
    assert!(
        proxy
            .targets
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "CONNECT example.com:443"),
        "go did not go through the CONNECT proxy"
    );
    let doc = doctor(&env, &dir);
    let f = finding(&doc, "private-module-direct").unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(f["severity"], "error");
    assert_eq!(f["subject"], format!("{MODULE}@v1.0.0"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("self-signed or signed by an unknown authority") && msg.contains("x509"),
        "{f:#}"
    );
    let fix = f["fix"].as_str().unwrap();
    for want in [
        "ca_file",
        "[[vcs]]",
        "GIT_SSL_CAINFO",
        "SSL_CERT_FILE",
        "GONOPROXY=",
    ] {
        assert!(fix.contains(want), "fix lacks {want}: {f:#}");
    }
    assert!(!fix.contains("GIT_SSL_NO_VERIFY=1"), "{f:#}");

    // Half a fix: the go command trusts the CA for discovery, git still does not.
    env.vars.insert("SSL_CERT_FILE".into(), ca_s.clone());
    let doc = doctor(&env, &dir);
    let f = finding(&doc, "private-module-direct").unwrap_or_else(|| panic!("{doc:#}"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("git fails") && msg.contains("unknown authority"),
        "{f:#}"
    );
    let out = env.go(&dir, &["mod", "download", MODULE]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "go succeeded without the CA for git");
    assert!(
        err.contains("git ls-remote") && err.to_ascii_lowercase().contains("certificate"),
        "git should fail on the certificate: {err}"
    );

    // Fix 1, the go command direct: the CA for discovery and for git.
    env.vars.insert("GIT_SSL_CAINFO".into(), ca_s.clone());
    let doc = doctor(&env, &dir);
    assert!(finding(&doc, "private-module-direct").is_none(), "{doc:#}");
    env.go_ok(&dir, &["mod", "download", MODULE]);
    env.go_ok(&dir, &["build", "./..."]);

    // Fix 2, the mirror: a modferry with a rule for the repository and its CA; the go command
    // uses GOPROXY for the module (GONOPROXY/GOPRIVATE cleared) and keeps it away from the
    // checksum database (GONOSUMDB).
    let config = base.join("modferry.toml");
    std::fs::write(
        &config,
        format!(
            "[[vcs]]\nprefix = \"{MODULE}\"\nurl = \"https://127.0.0.1:{}/tls/lib.git\"\nca_file = \"{ca_s}\"\n",
            server.port
        ),
    )
    .unwrap();
    let store = base.join("store");
    let mirror = serve_mirror(
        base,
        &[
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &closed,
            "--sumdb-proxy",
            "off",
        ],
    );
    let dir = consumer(base, "via-mirror");
    let mut env = tls_env(base, proxy.port, &mirror.url);
    env.vars.insert("GOPRIVATE".into(), String::new());
    env.vars.insert("GONOPROXY".into(), String::new());
    env.vars
        .insert("GONOSUMDB".into(), "example.com/tls".into());
    let doc = doctor(&env, &dir);
    assert!(finding(&doc, "private-module-direct").is_none(), "{doc:#}");
    let out = env.go(&dir, &["mod", "download", MODULE]);
    assert!(
        out.status.success(),
        "go through the mirror failed:\n{}\nmirror log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        mirror.log_text()
    );
    env.go_ok(&dir, &["build", "./..."]);
}
