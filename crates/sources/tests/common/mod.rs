//! A scriptable HTTP/1.1 upstream on 127.0.0.1 for the source tests.
//!
//! It speaks raw TCP so a test can send exactly the bytes it wants: a `Content-Length` the body
//! never reaches, a chunked body that stops, headers that come late, a body that drips. Each
//! connection carries one request and is closed after the reply. Every request head is recorded.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One action of a scripted reply.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send these bytes.
    Write(Vec<u8>),
    /// Wait before the next step.
    Sleep(Duration),
}

/// A scripted reply; the connection is closed after the last step.
#[derive(Clone, Debug)]
pub struct Reply(pub Vec<Step>);

fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

impl Reply {
    /// 200 with a `Content-Length` body.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status("200 OK", Some("application/octet-stream"), body)
    }

    /// Any status with an optional Content-Type and a `Content-Length` body.
    pub fn status(status: &str, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Reply {
        let body = body.into();
        let mut headers = vec![("Content-Length", body.len().to_string())];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct.to_owned()));
        }
        let mut bytes = head(status, &headers);
        bytes.extend_from_slice(&body);
        Reply(vec![Step::Write(bytes)])
    }

    /// 404 with a text/plain reason, as proxies answer for unknown modules.
    pub fn not_found(reason: &str) -> Reply {
        Reply::status("404 Not Found", Some("text/plain; charset=utf-8"), reason)
    }

    /// 200 that declares `declared` bytes, sends `body` and closes.
    pub fn truncated(declared: usize, body: impl Into<Vec<u8>>) -> Reply {
        let mut bytes = head("200 OK", &[("Content-Length", declared.to_string())]);
        bytes.extend_from_slice(&body.into());
        Reply(vec![Step::Write(bytes)])
    }

    /// 200 without a length: the body ends when the connection closes.
    pub fn until_close(body: impl Into<Vec<u8>>) -> Reply {
        let mut bytes = head("200 OK", &[]);
        bytes.extend_from_slice(&body.into());
        Reply(vec![Step::Write(bytes)])
    }

    /// 200 chunked, one chunk, then the connection closes without the final chunk.
    pub fn broken_chunked(body: &[u8]) -> Reply {
        let mut bytes = head("200 OK", &[("Transfer-Encoding", "chunked".to_owned())]);
        bytes.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b"\r\n");
        Reply(vec![Step::Write(bytes)])
    }

    /// A redirect to `location`.
    pub fn redirect(location: &str) -> Reply {
        let mut bytes = head(
            "302 Found",
            &[
                ("Location", location.to_owned()),
                ("Content-Length", "0".to_owned()),
            ],
        );
        bytes.extend_from_slice(b"");
        Reply(vec![Step::Write(bytes)])
    }

    /// 200 whose `body` is sent in `pieces` parts, with `gap` before each part.
    pub fn drip(body: &[u8], pieces: usize, gap: Duration) -> Reply {
        let mut steps = vec![Step::Write(head(
            "200 OK",
            &[("Content-Length", body.len().to_string())],
        ))];
        let size = body.len().div_ceil(pieces.max(1)).max(1);
        for part in body.chunks(size) {
            steps.push(Step::Sleep(gap));
            steps.push(Step::Write(part.to_vec()));
        }
        Reply(steps)
    }

    /// This reply, after waiting `delay` before sending anything.
    pub fn after(self, delay: Duration) -> Reply {
        let mut steps = vec![Step::Sleep(delay)];
        steps.extend(self.0);
        Reply(steps)
    }
}

type Handler = dyn Fn(&str) -> Reply + Send + Sync;

/// A running scripted upstream.
pub struct Upstream {
    addr: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Starts a server answering each request target (path and query as received) with
    /// `handler(target)`.
    pub async fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                        match conn.read(&mut byte).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&byte[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let target = text
                        .lines()
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or("")
                        .to_owned();
                    log.lock().expect("lock").push(text);
                    let reply = handler(&target);
                    for step in reply.0 {
                        match step {
                            Step::Write(bytes) => {
                                if conn.write_all(&bytes).await.is_err() {
                                    return;
                                }
                                let _ = conn.flush().await;
                            }
                            Step::Sleep(d) => tokio::time::sleep(d).await,
                        }
                    }
                    let _ = conn.shutdown().await;
                });
            }
        });
        Upstream { addr, heads, task }
    }

    /// `http://127.0.0.1:PORT` followed by `path` (e.g. "" or "/prefix/").
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The request targets received so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.heads()
            .iter()
            .map(|h| {
                h.lines()
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// The full request heads received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.heads.lock().expect("lock").len()
    }
}

/// A `host:port` on 127.0.0.1 where nothing listens.
pub async fn closed_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}
