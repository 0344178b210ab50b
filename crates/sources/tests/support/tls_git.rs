//! A self-signed TLS git host on 127.0.0.1 for tests, shared by
//! `crates/sources/tests/git_routing_tls.rs` and `crates/cli/tests/doctor_tls.rs` (included
//! with `#[path]`): a test CA and server certificate made with the `openssl` command, a rustls
//! server that answers `?go-get=1` for [`MODULE`] and serves bare repositories through
//! `git http-backend`, and a CONNECT proxy so that `example.com` resolves to it. The `git`
//! runner and the CGI bridge come from `support/commands.rs`, re-exported here.
#![allow(dead_code)]

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[path = "commands.rs"]
mod commands;
// Not every test that includes this file uses every re-export.
#[allow(unused_imports)]
pub use commands::{RequestHead, clone_bare, git, http_backend};

/// The module path the TLS host serves.
pub const MODULE: &str = "example.com/tls/lib";

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
    let request = RequestHead::read(&mut reader)?;
    let header = |name: &str| request.header(name);
    let body = request.read_body(&mut reader)?;
    let (method, target) = (&request.method, &request.target);
    let mut out = reader.into_inner();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
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
        http_backend(root, None, method, path, query, &header, body)?
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
