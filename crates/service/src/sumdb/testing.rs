//! A small in-memory checksum database for tests: a signed transparency log of go.sum records
//! served over HTTP on 127.0.0.1 with the protocol of x/mod `sumdb/server.go` (`latest`,
//! `lookup/<module>@<version>`, `tile/<H>/<L>/<N>[.p/<W>]`, `tile/<H>/data/<N>…`), built only from
//! this project's `note` and `tlog` formats. It counts the requests it gets and can rewrite
//! its history (a fork) to test that clients notice.
//!
//! Test support only: everything is in memory and nothing is persisted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use modferry_formats::module;
use modferry_formats::note::{self, Signer};
use modferry_formats::tlog::{self, Hash, Tree};

/// An in-memory go.sum database.
pub struct TestDb {
    signer: Signer,
    vkey: String,
    state: Mutex<LogState>,
    requests: Mutex<Vec<String>>,
}

#[derive(Default)]
struct LogState {
    records: Vec<String>,
    ids: HashMap<(String, String), i64>,
    hashes: Vec<Hash>,
}

impl LogState {
    fn rebuild(&mut self) {
        self.hashes.clear();
        for (i, text) in self.records.iter().enumerate() {
            let add = tlog::stored_hashes(i as i64, text.as_bytes(), &self.hashes)
                .expect("stored hashes of an in-memory log");
            self.hashes.extend(add);
        }
    }

    fn tree(&self) -> Tree {
        let n = self.records.len() as i64;
        Tree {
            n,
            hash: tlog::tree_hash(n, &self.hashes).expect("tree hash of an in-memory log"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TestDb {
    /// A database named `name` with a key derived from `seed`.
    pub fn new(name: &str, seed: u8) -> Arc<TestDb> {
        let (skey, vkey) = note::generate_key(name, [seed; 32]).expect("valid test db name");
        Arc::new(TestDb {
            signer: Signer::parse(&skey).expect("generated signer key"),
            vkey,
            state: Mutex::default(),
            requests: Mutex::default(),
        })
    }

    /// The verifier key clients configure (`<name>+<hash>+<key>`).
    pub fn verifier_key(&self) -> &str {
        &self.vkey
    }

    /// The database name.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// Appends the record of `module@version` with these hashes.
    pub fn add(&self, module: &str, version: &str, zip_h1: &str, mod_h1: &str) {
        let text = tlog::format_gosum_record(module, version, zip_h1, mod_h1);
        let mut st = lock(&self.state);
        let id = st.records.len() as i64;
        st.records.push(text);
        st.ids.insert((module.to_owned(), version.to_owned()), id);
        st.rebuild();
    }

    /// Rewrites the history: record `id` gets new text (so every tree head from now on
    /// contradicts the earlier ones).
    pub fn rewrite(&self, id: usize, zip_h1: &str, mod_h1: &str) {
        let mut st = lock(&self.state);
        let key = st
            .ids
            .iter()
            .find(|(_, v)| **v == id as i64)
            .map(|(k, _)| k.clone())
            .expect("record id exists");
        st.records[id] = tlog::format_gosum_record(&key.0, &key.1, zip_h1, mod_h1);
        st.rebuild();
    }

    /// The current tree head, signed.
    pub fn signed_tree(&self) -> Vec<u8> {
        let tree = lock(&self.state).tree();
        note::sign(&tlog::format_tree(&tree), &[&self.signer]).expect("sign tree")
    }

    /// Every request path received, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }

    /// Serves the database on a free port of 127.0.0.1 until the runtime ends.
    pub async fn serve(self: &Arc<Self>) -> SocketAddr {
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(self));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    }

    fn answer(&self, path: &str) -> Result<Vec<u8>, String> {
        if path == "/latest" {
            return Ok(self.signed_tree());
        }
        if let Some(rest) = path.strip_prefix("/lookup/") {
            let (em, ev) = rest.rsplit_once('@').ok_or("bad lookup")?;
            let m = module::unescape_path(em).map_err(|e| e.to_string())?;
            let v = module::unescape_version(ev).map_err(|e| e.to_string())?;
            let signed = self.signed_tree();
            let st = lock(&self.state);
            let id = *st
                .ids
                .get(&(m.clone(), v.clone()))
                .ok_or(format!("not found: {m}@{v}"))?;
            return tlog::format_lookup(id, st.records[id as usize].as_bytes(), &signed)
                .map_err(|e| e.to_string());
        }
        let tile =
            tlog::parse_tile_path(path.trim_start_matches('/')).map_err(|e| e.to_string())?;
        let st = lock(&self.state);
        let n = st.records.len() as i64;
        if tile.is_data() {
            let start = tile.n << tile.h;
            let end = start + i64::from(tile.w);
            if end > n {
                return Err("tile beyond the tree".into());
            }
            let recs: Vec<&str> = st.records[start as usize..end as usize]
                .iter()
                .map(String::as_str)
                .collect();
            return tlog::format_data_tile(&recs).map_err(|e| e.to_string());
        }
        // The tile must lie within the tree at its level.
        let level_size = n >> (u32::from(tile.h) * tile.l as u32);
        if (tile.n << tile.h) + i64::from(tile.w) > level_size {
            return Err("tile beyond the tree".into());
        }
        tlog::read_tile_data(&tile, &st.hashes).map_err(|e| e.to_string())
    }
}

async fn handle(State(db): State<Arc<TestDb>>, req: Request) -> Response {
    let path = req.uri().path().replace("%21", "!");
    lock(&db.requests).push(path.clone());
    match db.answer(&path) {
        Ok(body) => body.into_response(),
        Err(reason) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{reason}\n"),
        )
            .into_response(),
    }
}
