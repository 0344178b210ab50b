//! Test harness: a fault-injecting upstream GOPROXY on 127.0.0.1, module builders, and a
//! mirror over a temp store driven through the router without a socket.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use modferry_service::{Mirror, MirrorConfig, router};
use modferry_sources::{ChainSource, HttpConfig};
use modferry_store::{DynStore, FsStore};
use tower::ServiceExt;

/// How the fake upstream answers one path.
#[derive(Clone)]
pub enum Reply {
    Ok(Bytes),
    Status(u16, &'static str),
    /// Declares `declared` bytes of Content-Length, sends `body`, then closes.
    Truncated {
        body: Bytes,
        declared: u64,
    },
    Slow(Duration, Bytes),
}

#[derive(Default)]
pub struct UpstreamState {
    pub replies: Mutex<HashMap<String, Reply>>,
    pub hits: Mutex<HashMap<String, usize>>,
}

pub struct Upstream {
    pub url: String,
    pub state: Arc<UpstreamState>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let state = Arc::new(UpstreamState::default());
        let app = axum::Router::new()
            .fallback(upstream_handler)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Upstream {
            url: format!("http://{addr}"),
            state,
        }
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.state
            .replies
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.hits.lock().unwrap().get(path).unwrap_or(&0)
    }

    /// Serves a module version's .info/.mod/.zip at the escaped paths the go command uses.
    pub fn serve_module(&self, m: &Module) {
        let base = format!("/{}/@v/{}", m.escaped_path, m.escaped_version);
        self.set(&format!("{base}.info"), Reply::Ok(m.info.clone()));
        self.set(&format!("{base}.mod"), Reply::Ok(m.go_mod.clone()));
        self.set(&format!("{base}.zip"), Reply::Ok(m.zip.clone()));
    }
}

async fn upstream_handler(State(state): State<Arc<UpstreamState>>, req: Request) -> Response {
    // The go command (and our client) send `!` as %21; key replies by the decoded path.
    let path = req.uri().path().replace("%21", "!");
    *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let reply = state.replies.lock().unwrap().get(&path).cloned();
    match reply {
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("not found: {path}"),
        )
            .into_response(),
        Some(Reply::Ok(b)) => b.into_response(),
        Some(Reply::Status(code, msg)) => (
            StatusCode::from_u16(code).unwrap(),
            [(header::CONTENT_TYPE, "text/plain")],
            msg,
        )
            .into_response(),
        Some(Reply::Slow(d, b)) => {
            tokio::time::sleep(d).await;
            b.into_response()
        }
        Some(Reply::Truncated { body, declared }) => {
            let stream = futures::stream::iter(vec![
                Ok::<_, std::io::Error>(body),
                Err(std::io::Error::other("connection dropped")),
            ]);
            Response::builder()
                .header(header::CONTENT_LENGTH, declared)
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

/// A module version with its three files.
#[derive(Clone)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub escaped_path: String,
    pub escaped_version: String,
    pub info: Bytes,
    pub go_mod: Bytes,
    pub zip: Bytes,
}

impl Module {
    /// A module whose zip holds `files` (name, content) under the right prefix, plus its go.mod.
    pub fn new(path: &str, version: &str, files: &[(&str, &[u8])]) -> Module {
        let go_mod = format!("module {path}\n\ngo 1.21\n");
        let mut all: Vec<(String, Vec<u8>)> = vec![("go.mod".into(), go_mod.clone().into_bytes())];
        for (n, c) in files {
            all.push((n.to_string(), c.to_vec()));
        }
        let prefix = format!("{path}@{version}/");
        Module::raw(
            path,
            version,
            go_mod.into_bytes(),
            zip_of(&prefix, &all, false),
        )
    }

    pub fn raw(path: &str, version: &str, go_mod: Vec<u8>, zip: Vec<u8>) -> Module {
        Module {
            path: path.into(),
            version: version.into(),
            escaped_path: modferry_formats::module::escape_path(path).unwrap(),
            escaped_version: modferry_formats::module::escape_version(version).unwrap(),
            info: Bytes::from(format!(
                "{{\"Version\":\"{version}\",\"Time\":\"2024-01-02T03:04:05Z\"}}"
            )),
            go_mod: Bytes::from(go_mod),
            zip: Bytes::from(zip),
        }
    }

    pub fn url(&self, ext: &str) -> String {
        format!("/{}/@v/{}.{ext}", self.escaped_path, self.escaped_version)
    }
}

/// Builds a zip with entries `prefix + name`; `stored` keeps bytes uncompressed (so a flipped
/// byte breaks the CRC rather than the deflate stream).
pub fn zip_of(prefix: &str, files: &[(String, Vec<u8>)], stored: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, content) in files {
        w.start_file(format!("{prefix}{name}"), opts).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The mirror under test over a temp store, relaying `upstream_list`.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: DynStore,
    pub app: axum::Router,
}

impl Harness {
    pub fn new(upstream_list: Option<&str>, offline: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Self::with_dir(dir, upstream_list, offline)
    }

    pub fn with_dir(dir: tempfile::TempDir, upstream_list: Option<&str>, offline: bool) -> Harness {
        let store: DynStore = Arc::new(FsStore::open(dir.path()).unwrap());
        let http = HttpConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout_small: Duration::from_secs(2),
            idle_read_timeout: Duration::from_secs(2),
            ..HttpConfig::default()
        };
        let source = upstream_list.map(|l| {
            Arc::new(ChainSource::from_proxy_list(l, &http, None).unwrap())
                as modferry_sources::DynSource
        });
        let mirror = Mirror::new(
            Arc::clone(&store),
            source,
            MirrorConfig {
                offline,
                list_ttl: Duration::from_secs(300),
                negative_ttl: Duration::ZERO,
                ..MirrorConfig::default()
            },
        );
        Harness {
            dir,
            store,
            app: router(mirror),
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Bytes) {
        self.request("GET", path, &[]).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }

    /// Every file in the store (relative path → bytes), temp files included: a failed fetch
    /// must leave this unchanged.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(root, &p, out);
        } else if ft.is_file() {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            // The store's lock file of this session is not data.
            if rel.ends_with(".lock") {
                continue;
            }
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}
