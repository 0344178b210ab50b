//! A TCP relay between an S3 client and SeaweedFS that misbehaves on purpose, for fault tests
//! (included by `#[path]` from the store's and the cli's S3 tests). What the client sends is
//! forwarded either slowly ([`Link::throttled`]: an upload that outlives a claim's TTL) or until
//! a byte count, after which the sending connection hangs ([`Link::stalling`]: an upload caught
//! half-done when the object store is stopped). Answers go back at full speed. Dropping the
//! link closes every connection, so a SeaweedFS stopped afterwards has none left to wait for.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the relay does to the bytes a client sends.
#[derive(Clone, Copy)]
enum Mode {
    /// About this many bytes per second on each connection.
    Throttle(usize),
    /// Everything until this many bytes in all; then the connection that crossed the mark
    /// hangs until its server side closes.
    StallAfter(u64),
}

/// A running relay; `url` is its `http://127.0.0.1:PORT` endpoint.
pub struct Link {
    pub url: String,
    stalled: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Link {
    /// A relay to `endpoint` forwarding client bytes at about `rate` bytes per second.
    pub fn throttled(endpoint: &str, rate: usize) -> Link {
        Link::start(endpoint, Mode::Throttle(rate))
    }

    /// A relay to `endpoint` whose client side stalls once `after` bytes have been sent.
    pub fn stalling(endpoint: &str, after: u64) -> Link {
        Link::start(endpoint, Mode::StallAfter(after))
    }

    fn start(endpoint: &str, mode: Mode) -> Link {
        const CHUNK: usize = 16 * 1024;
        let target = endpoint.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let link = Link {
            url,
            stalled: Arc::default(),
            closing: Arc::default(),
            sockets: Arc::default(),
        };
        let (stalled, closing, sockets) = (
            Arc::clone(&link.stalled),
            Arc::clone(&link.closing),
            Arc::clone(&link.sockets),
        );
        let sent = Arc::new(AtomicU64::new(0));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if closing.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut client) = client else { continue };
                // The store is down: the client sees the connection close.
                let Ok(mut server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (Ok(mut client_w), Ok(mut server_r)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                let mut held = sockets.lock().unwrap();
                held.extend(client.try_clone());
                held.extend(server.try_clone());
                drop(held);
                let closed = Arc::new(AtomicBool::new(false));
                let closed_w = Arc::clone(&closed);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_r, &mut client_w);
                    let _ = client_w.shutdown(Shutdown::Both);
                    let _ = server_r.shutdown(Shutdown::Both);
                    closed_w.store(true, Ordering::SeqCst);
                });
                let (sent, stalled, closing) = (
                    Arc::clone(&sent),
                    Arc::clone(&stalled),
                    Arc::clone(&closing),
                );
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; CHUNK];
                    while !closing.load(Ordering::SeqCst) {
                        let n = match client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if let Mode::StallAfter(after) = mode {
                            let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                            if total >= after && !stalled.swap(true, Ordering::SeqCst) {
                                while !closed.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(20));
                                }
                                break;
                            }
                        }
                        if server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        if let Mode::Throttle(rate) = mode {
                            std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                        }
                    }
                    let _ = server.shutdown(Shutdown::Write);
                });
            }
        });
        link
    }

    /// Waits until an upload has stalled (panics after `limit`, with `context`).
    pub fn wait_stalled(&self, limit: Duration, context: impl Fn() -> String) {
        let deadline = Instant::now() + limit;
        while !self.stalled.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "no upload reached the stall mark: {}",
                context()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        for s in self.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so that it sees `closing`.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}
