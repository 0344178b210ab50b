//! A self-signed TLS git host on 127.0.0.1 for tests, shared by
//! `crates/sources/tests/git_routing_tls.rs` and `crates/cli/tests/doctor_tls.rs` (included
//! with `#[path]`): a test CA and server certificate made with the `openssl` command, a rustls
//! server that answers `?go-get=1` for [`MODULE`] and serves bare repositories through
//! `git http-backend`, and a CONNECT proxy so that `example.com` resolves to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The module path the TLS host serves.
pub const MODULE: &str = "example.com/tls/lib";

pub fn git(dir: &Path, args: &[&str]) {
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

pub fn openssl(dir: &Path, args: &[&str]) {
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
pub fn make_certificates(dir: &Path) {
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
pub struct TlsGitServer {
    pub port: u16,
}

impl TlsGitServer {
    pub fn start(certs: &Path, root: PathBuf) -> TlsGitServer {
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
pub fn serve_one(
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
pub fn http_backend(
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
pub struct ConnectProxy {
    pub port: u16,
    pub targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start(to: u16) -> ConnectProxy {
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

pub fn tunnel(client: TcpStream, to: u16, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
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
