//! Proxy mode: relays an upstream checksum database under `/sumdb/<name>/`, caches what it
//! relays so the go command can verify offline, and verifies what it relays.
//!
//! Go rules: the database protocol and its client-side checks in x/mod `sumdb/client.go`
//! (`Lookup`, `mergeLatest`, `checkTrees`, `checkRecord`, `readTile`), the tile layout of x/mod
//! `sumdb/tlog/tile.go`, and the go command's cache layout in cmd/go `modfetch/sumdb.go`
//! (`ReadCache`/`WriteCache`: `$GOMODCACHE/cache/download/sumdb/<name>/…`). Restated:
//!
//! - Cache keys mirror the go command's cache: `sumdb/<name>/lookup/<escaped module>@<escaped
//!   version>`, `sumdb/<name>/tile/<H>/<L>/<N>[.p/<W>]` and `sumdb/<name>/latest`. A first path
//!   element without a dot (`sumdb`) is never a module path, so these keys cannot collide with
//!   module files.
//! - Tiles are immutable: a tile path names a fixed range of hashes of an append-only log, so
//!   full *and* partial tiles are stored once (`PutMode::Create`) and never fetched again. A
//!   partial tile that is not stored is cut from a stored full or wider partial tile of the same
//!   position (as x/mod `readTile` does with the full tile).
//! - Lookups are immutable too: the record of a module version never changes, and the signed
//!   tree note that comes with it stays a valid (older) tree head, which the go command accepts
//!   after checking it is consistent with its newer one. So a lookup is stored once, after it
//!   has been verified.
//! - `latest` changes: it is cached with a TTL ([`ProxyDbConfig::latest_ttl`]) and served stale
//!   when the upstream fails; offline it is served whatever its age.
//! - Nothing is relayed unverified except tiles: every `latest` and lookup note must be signed
//!   by the configured key; every lookup record must be proven included in its tree with tiles;
//!   every new tree head must be consistent with the last verified one, kept under
//!   `.modferry/sumdb/<name>/verified-head` (an inconsistent head is a fork: logged as an alarm
//!   and refused, never installed). Tiles used by a proof are proven against the tree head
//!   before they are stored.
//! - Module paths matching the `nosum` patterns (GONOSUMDB syntax) are never sent upstream: a
//!   lookup for one is answered 404 without any request.
//! - Paths that do not parse (tile paths, lookup module@version) are answered 400 and never
//!   relayed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use modferry_formats::module;
use modferry_formats::note::{self, Verifier};
use modferry_formats::tlog::{self, Tile, TileHashReader, TileReader, TlogError, Tree};
use modferry_sources::{SourceError, SumdbClient, lookup_path};
use modferry_store::{DynStore, Key, Payload, PutMode};

use crate::checks::SumdbService;
use crate::error::ApiError;
use crate::flight::SingleFlight;

/// The verifier key of `sum.golang.org` (cmd/go `modfetch/key.go`, `knownGOSUMDB`).
pub const SUM_GOLANG_ORG_KEY: &str =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
/// Where `sum.golang.org` is reached by default.
pub const SUM_GOLANG_ORG_URL: &str = "https://sum.golang.org";

/// The tile height of the go.sum database (x/mod `sumdb/client.go`).
const TILE_HEIGHT: u8 = tlog::SUMDB_TILE_HEIGHT;
/// Largest stored lookup, latest or tile read back into memory.
const READ_LIMIT: u64 = 8 << 20;
/// Rounds of "find which tiles a proof needs, then fetch them" before giving up.
const TILE_ROUNDS: usize = 4;

/// Settings of one proxied database.
#[derive(Clone, Debug)]
pub struct ProxyDbConfig {
    /// The database's verifier key; its name is the database name.
    pub verifier: Verifier,
    /// How long a fetched `latest` is served before asking the upstream again.
    pub latest_ttl: Duration,
    /// GONOSUMDB-style patterns (comma-separated globs): matching modules are never looked up.
    pub nosum: String,
}

/// Why talking to the database failed or what it did wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SumdbError {
    /// The upstream could not be asked or answered with an error (unreachable, 5xx, timeout,
    /// not found), or the mirror is offline and does not have the answer.
    #[error("{0}")]
    Upstream(ApiError),
    /// A signed note is malformed or not signed by the configured key.
    #[error("checksum database {name}: invalid signed tree note: {reason}")]
    BadNote {
        /// Database name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The upstream answered something that is not what was asked for (malformed lookup,
    /// record not in its tree, tiles that do not hash to the signed tree head).
    #[error("checksum database {name}: SECURITY ERROR: {reason}")]
    Misbehaving {
        /// Database name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A new signed tree head does not extend the last verified one: the log has forked.
    #[error(
        "checksum database {name}: SECURITY ERROR: the log has forked: signed tree #{} ({}) is \
         not consistent with the verified tree #{} ({}); refusing it (the last verified head is \
         kept under .modferry/sumdb/{name}/verified-head)",
        newer.n, newer.hash, older.n, older.hash
    )]
    Fork {
        /// Database name.
        name: String,
        /// The tree verified earlier (or the smaller of the two).
        older: Tree,
        /// The tree that contradicts it.
        newer: Tree,
    },
    /// The store failed.
    #[error("{0}")]
    Store(ApiError),
}

impl SumdbError {
    /// Whether the database could not be reached at all (the only case `fail_open` lets pass).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SumdbError::Upstream(ApiError::BadUpstream(_) | ApiError::UpstreamTimeout(_))
        )
    }
}

impl From<SumdbError> for ApiError {
    fn from(e: SumdbError) -> ApiError {
        match e {
            SumdbError::Upstream(e) | SumdbError::Store(e) => e,
            e => ApiError::BadUpstream(e.to_string()),
        }
    }
}

/// One upstream database relayed, cached and verified (proxy mode). Cheap to clone.
#[derive(Clone)]
pub struct ProxyDb {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    cfg: ProxyDbConfig,
    /// `None` when offline: answer from the store only.
    client: Option<SumdbClient>,
    store: DynStore,
    flights: SingleFlight<Result<Bytes, SumdbError>>,
    head_lock: tokio::sync::Mutex<()>,
}

impl ProxyDb {
    /// A proxied database over `store`, asking `client` (`None` when serving offline).
    pub fn new(cfg: ProxyDbConfig, client: Option<SumdbClient>, store: DynStore) -> ProxyDb {
        ProxyDb {
            inner: Arc::new(Inner {
                name: cfg.verifier.name().to_owned(),
                cfg,
                client,
                store,
                flights: SingleFlight::default(),
                head_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The database name (from its key).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether `module` matches the `nosum` patterns: it is never looked up.
    pub fn is_private(&self, module: &str) -> bool {
        module::match_prefix_patterns(&self.inner.cfg.nosum, module)
    }

    /// The last verified tree head, if any.
    pub async fn verified_head(&self) -> Result<Option<Tree>, SumdbError> {
        let key = self.inner.head_key()?;
        match self.inner.read(&key).await? {
            None => Ok(None),
            Some(msg) => Ok(Some(self.inner.open_tree(&msg)?)),
        }
    }

    /// The signed tree note `latest`, verified and consistent with the verified head.
    pub async fn latest(&self) -> Result<Bytes, SumdbError> {
        let inner = &self.inner;
        let key = inner.cache_key("latest")?;
        let cached = inner.read_with_age(&key).await?;
        if inner.client.is_none() {
            return cached.map(|(b, _)| b).ok_or_else(|| inner.miss("latest"));
        }
        if let Some((body, age)) = &cached
            && *age < inner.cfg.latest_ttl
        {
            return Ok(body.clone());
        }
        let this = Arc::clone(inner);
        let fetched = inner
            .flights
            .run("latest", move || async move {
                let client = this.client.as_ref().ok_or_else(|| this.miss("latest"))?;
                let body = client
                    .latest()
                    .await
                    .map_err(|e| this.upstream("latest", &e))?;
                let tree = this.open_tree(&body)?;
                this.accept_tree(tree, &body).await?;
                this.put(&this.cache_key("latest")?, body.clone(), PutMode::Overwrite)
                    .await?;
                Ok(body)
            })
            .await;
        match (fetched, cached) {
            (Ok(body), _) => Ok(body),
            (Err(e), Some((stale, _))) if e.is_unreachable() => {
                tracing::warn!(db = %inner.name, error = %e, "checksum database latest failed; serving the cached one");
                Ok(stale)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// The lookup response for `module@version` (record and signed tree note), verified:
    /// the note is signed, its tree is consistent with the verified head, and the record is in
    /// it. Served from the store when there.
    pub async fn lookup(&self, module: &str, version: &str) -> Result<Bytes, SumdbError> {
        let inner = &self.inner;
        if self.is_private(module) {
            return Err(SumdbError::Upstream(ApiError::not_found(format!(
                "{module}: matches this mirror's nosum patterns, so it is never looked up in \
                 the checksum database {}; list it in GONOSUMDB (or GOPRIVATE) on the client",
                inner.name
            ))));
        }
        let rel = lookup_path(module, version)
            .map_err(|e| SumdbError::Upstream(ApiError::BadRequest(e.to_string())))?;
        let key = inner.cache_key(&rel)?;
        if let Some(body) = inner.read(&key).await? {
            return Ok(body);
        }
        if inner.client.is_none() {
            return Err(inner.miss(&rel));
        }
        let this = Arc::clone(inner);
        let (m, v) = (module.to_owned(), version.to_owned());
        inner
            .flights
            .run(&rel.clone(), move || async move {
                let client = this.client.as_ref().ok_or_else(|| this.miss(&rel))?;
                let body = client
                    .lookup(&m, &v)
                    .await
                    .map_err(|e| this.upstream(&format!("{m}@{v}"), &e))?;
                this.verify_lookup(&body).await?;
                this.put(&key, body.clone(), PutMode::Create).await?;
                Ok(body)
            })
            .await
    }

    /// The verified go.sum lines of `module@version`: `(zip line hash, go.mod line hash)`,
    /// each `None` when the record has no such line.
    pub async fn hashes(
        &self,
        module: &str,
        version: &str,
    ) -> Result<(Option<String>, Option<String>), SumdbError> {
        let body = self.lookup(module, version).await?;
        let parsed = tlog::parse_lookup(&body).map_err(|e| self.inner.misbehaving(e))?;
        let pick = |v: &str| {
            tlog::lookup_lines(parsed.text, module, v)
                .first()
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        Ok((pick(version), pick(&format!("{version}/go.mod"))))
    }

    /// A tile, from the store or the upstream (then stored). Hash tiles must be `w · 32`
    /// bytes long.
    pub async fn tile(&self, tile: Tile) -> Result<Bytes, SumdbError> {
        let inner = &self.inner;
        if let Some(b) = inner.cached_tile(tile).await? {
            return Ok(b);
        }
        let path = tile.path();
        if inner.client.is_none() {
            return Err(inner.miss(&path));
        }
        let this = Arc::clone(inner);
        inner
            .flights
            .run(&path.clone(), move || async move {
                let body = this.fetch_tile(tile).await?;
                this.put(&this.cache_key(&path)?, body.clone(), PutMode::Create)
                    .await?;
                Ok(body)
            })
            .await
    }
}

impl Inner {
    fn cache_key(&self, rel: &str) -> Result<Key, SumdbError> {
        Key::new(format!("sumdb/{}/{rel}", self.name))
            .map_err(|e| SumdbError::Upstream(ApiError::BadRequest(e.to_string())))
    }

    fn head_key(&self) -> Result<Key, SumdbError> {
        Key::new(format!(".modferry/sumdb/{}/verified-head", self.name))
            .map_err(|e| SumdbError::Store(ApiError::Store(e.to_string())))
    }

    fn miss(&self, what: &str) -> SumdbError {
        SumdbError::Upstream(ApiError::not_found(format!(
            "{}/{what} is not cached in the mirror (serving offline); fetch it on a connected \
             machine through the mirror first, or run without --offline",
            self.name
        )))
    }

    fn upstream(&self, what: &str, e: &SourceError) -> SumdbError {
        SumdbError::Upstream(ApiError::from_source(
            &format!("checksum database {}: {what}", self.name),
            e,
        ))
    }

    fn misbehaving(&self, reason: impl std::fmt::Display) -> SumdbError {
        SumdbError::Misbehaving {
            name: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    async fn read(&self, key: &Key) -> Result<Option<Bytes>, SumdbError> {
        self.store
            .get_bytes(key, READ_LIMIT)
            .await
            .map_err(|e| SumdbError::Store(ApiError::from_store(&e)))
    }

    async fn read_with_age(&self, key: &Key) -> Result<Option<(Bytes, Duration)>, SumdbError> {
        let store_err = |e| SumdbError::Store(ApiError::from_store(&e));
        let Some(meta) = self.store.head(key).await.map_err(store_err)? else {
            return Ok(None);
        };
        let age = SystemTime::now()
            .duration_since(meta.modified)
            .unwrap_or_default();
        Ok(self.read(key).await?.map(|b| (b, age)))
    }

    async fn put(&self, key: &Key, body: Bytes, mode: PutMode) -> Result<(), SumdbError> {
        self.store
            .put(key, Payload::Bytes(body), mode)
            .await
            .map(|_| ())
            .map_err(|e| SumdbError::Store(ApiError::from_store(&e)))
    }

    /// Opens a signed tree note with the configured key and parses its tree.
    fn open_tree(&self, msg: &[u8]) -> Result<Tree, SumdbError> {
        let bad = |reason: String| SumdbError::BadNote {
            name: self.name.clone(),
            reason,
        };
        let n = note::open(msg, std::slice::from_ref(&self.cfg.verifier))
            .map_err(|e| bad(e.to_string()))?;
        tlog::parse_tree(n.text.as_bytes()).map_err(|e| bad(e.to_string()))
    }

    /// A stored tile, or one cut from a stored full or wider partial tile at the same place.
    async fn cached_tile(&self, tile: Tile) -> Result<Option<Bytes>, SumdbError> {
        if let Some(b) = self.read(&self.cache_key(&tile.path())?).await? {
            return Ok(Some(b));
        }
        if tile.is_data() || tile.is_complete() {
            return Ok(None);
        }
        let full = Tile {
            w: 1 << tile.h,
            ..tile
        };
        let mut candidates = vec![full.path()];
        let prefix = format!("sumdb/{}/{}.p/", self.name, full.path());
        let listed = self
            .store
            .list(&prefix)
            .await
            .map_err(|e| SumdbError::Store(ApiError::from_store(&e)))?;
        for key in listed {
            if let Some(rel) = key.as_str().strip_prefix(&format!("sumdb/{}/", self.name))
                && let Ok(t) = tlog::parse_tile_path(rel)
                && t.w > tile.w
                && (Tile { w: tile.w, ..t }) == tile
            {
                candidates.push(rel.to_owned());
            }
        }
        let want = tile.w as usize * tlog::HASH_SIZE;
        for rel in candidates {
            if let Some(b) = self.read(&self.cache_key(&rel)?).await?
                && b.len() >= want
            {
                return Ok(Some(b.slice(..want)));
            }
        }
        Ok(None)
    }

    /// A tile from the store or the upstream, not stored (the caller decides).
    async fn tile_for_proof(&self, tile: Tile) -> Result<Bytes, SumdbError> {
        if let Some(b) = self.cached_tile(tile).await? {
            return Ok(b);
        }
        if self.client.is_none() {
            return Err(self.miss(&tile.path()));
        }
        self.fetch_tile(tile).await
    }

    async fn fetch_tile(&self, tile: Tile) -> Result<Bytes, SumdbError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| self.miss(&tile.path()))?;
        let body = client
            .tile(&tile)
            .await
            .map_err(|e| self.upstream(&tile.path(), &e))?;
        let ok = if tile.is_data() {
            !body.is_empty()
        } else {
            body.len() == tile.w as usize * tlog::HASH_SIZE
        };
        if !ok {
            return Err(self.misbehaving(format!(
                "tile {} has {} bytes, which cannot be right",
                tile.path(),
                body.len()
            )));
        }
        Ok(body)
    }

    /// Runs `f` over the hashes of `tree`, fetching the tiles it needs (from the store or the
    /// upstream) in rounds; the tiles `f` proved are stored.
    async fn with_tiles<T>(
        &self,
        tree: Tree,
        f: impl Fn(&TileHashReader<&MemTiles>) -> Result<T, TlogError>,
    ) -> Result<T, SumdbError> {
        let mut tiles = MemTiles::default();
        for _ in 0..TILE_ROUNDS {
            let res = f(&TileHashReader::new(tree, &tiles));
            let missing = std::mem::take(&mut *lock(&tiles.missing));
            match res {
                Ok(v) => {
                    let saved = std::mem::take(&mut *lock(&tiles.saved));
                    for (t, data) in saved {
                        self.put(&self.cache_key(&t.path())?, data, PutMode::Create)
                            .await?;
                    }
                    return Ok(v);
                }
                Err(_) if !missing.is_empty() => {
                    let fetched =
                        futures::future::join_all(missing.iter().map(|t| self.tile_for_proof(*t)))
                            .await;
                    for (t, data) in missing.into_iter().zip(fetched) {
                        tiles.have.insert(t, data?);
                    }
                }
                Err(TlogError::InconsistentTile) => {
                    return Err(self.misbehaving(format!(
                        "its tiles do not hash to the signed tree head #{} ({})",
                        tree.n, tree.hash
                    )));
                }
                Err(e) => return Err(self.misbehaving(e)),
            }
        }
        Err(self.misbehaving("proof needs more tiles than expected"))
    }

    /// Checks a tree head against the last verified one and installs it if newer.
    async fn accept_tree(&self, tree: Tree, msg: &[u8]) -> Result<(), SumdbError> {
        let _guard = self.head_lock.lock().await;
        let key = self.head_key()?;
        let head = match self.read(&key).await? {
            Some(b) => match self.open_tree(&b) {
                Ok(t) => Some(t),
                // Only a head that verified was stored: the configured key has changed.
                Err(e) => {
                    tracing::warn!(db = %self.name, error = %e,
                        "the stored verified tree head is not signed by the configured key; \
                         starting over from the next head");
                    None
                }
            },
            None => None,
        };
        if let Some(head) = head {
            let (older, newer) = if tree.n >= head.n {
                (head, tree)
            } else {
                (tree, head)
            };
            self.check_consistent(older, newer).await?;
            if tree.n <= head.n {
                return Ok(());
            }
        }
        self.put(&key, Bytes::copy_from_slice(msg), PutMode::Overwrite)
            .await?;
        tracing::info!(db = %self.name, size = tree.n, hash = %tree.hash, "verified checksum database tree head");
        Ok(())
    }

    /// Proves that `newer` extends `older`: the hash of `older`'s records read from `newer`'s
    /// tiles (what the go command computes) must be `older`'s hash, and the consistency proof
    /// from those tiles must check.
    async fn check_consistent(&self, older: Tree, newer: Tree) -> Result<(), SumdbError> {
        let fork = || {
            let e = SumdbError::Fork {
                name: self.name.clone(),
                older,
                newer,
            };
            tracing::error!(db = %self.name, alarm = true, error = %e, "checksum database fork detected");
            e
        };
        if older.n == newer.n {
            return if older.hash == newer.hash {
                Ok(())
            } else {
                Err(fork())
            };
        }
        if older.n == 0 {
            return Ok(());
        }
        let (h, proof) = self
            .with_tiles(newer, |r| {
                let h = tlog::tree_hash(older.n, r)?;
                let proof = tlog::prove_tree(newer.n, older.n, r)?;
                Ok((h, proof))
            })
            .await?;
        if h != older.hash
            || tlog::check_tree(&proof, newer.n, newer.hash, older.n, older.hash).is_err()
        {
            return Err(fork());
        }
        Ok(())
    }

    /// Verifies a lookup response: signed note, consistent tree, record included.
    async fn verify_lookup(&self, body: &[u8]) -> Result<(), SumdbError> {
        let parsed = tlog::parse_lookup(body).map_err(|e| self.misbehaving(e))?;
        let tree = self.open_tree(parsed.signed_tree)?;
        self.accept_tree(tree, parsed.signed_tree).await?;
        if parsed.id < 0 || parsed.id >= tree.n {
            return Err(self.misbehaving(format!(
                "record {} is not in the tree of size {} it came with",
                parsed.id, tree.n
            )));
        }
        let index = tlog::stored_hash_index(0, parsed.id);
        let got = self
            .with_tiles(tree, |r| {
                tlog::HashReader::read_hashes(r, &[index])?
                    .first()
                    .copied()
                    .ok_or(TlogError::ShortRead { want: 1, got: 0 })
            })
            .await?;
        if got != tlog::record_hash(parsed.text.as_bytes()) {
            return Err(self.misbehaving(format!(
                "record {} is not the one in tree #{}: cannot authenticate record data",
                parsed.id, tree.n
            )));
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tiles held in memory for one proof; reports the ones it lacks.
#[derive(Default)]
struct MemTiles {
    have: HashMap<Tile, Bytes>,
    missing: Mutex<Vec<Tile>>,
    saved: Mutex<Vec<(Tile, Bytes)>>,
}

#[derive(Debug, thiserror::Error)]
#[error("tiles not fetched yet")]
struct NeedTiles;

impl TileReader for MemTiles {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        let mut out = Vec::with_capacity(tiles.len());
        let mut missing = lock(&self.missing);
        for t in tiles {
            match self.have.get(t) {
                Some(b) => out.push(b.to_vec()),
                None => missing.push(*t),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(TlogError::Reader(Box::new(NeedTiles)))
        }
    }

    fn save_tiles(&self, tiles: &[Tile], data: &[Vec<u8>]) {
        let mut saved = lock(&self.saved);
        for (t, d) in tiles.iter().zip(data) {
            saved.push((*t, Bytes::copy_from_slice(d)));
        }
    }
}

/// Parses `<escaped module>@<escaped version>` of a lookup path; the version must be a valid
/// version of the module (x/mod `module.Check`).
pub fn parse_lookup_path(rest: &str) -> Result<(String, String), ApiError> {
    let bad = |reason: String| ApiError::BadRequest(format!("lookup/{rest}: {reason}"));
    let (em, ev) = rest
        .rsplit_once('@')
        .ok_or_else(|| bad("want <module>@<version>".into()))?;
    let m = module::unescape_path(em).map_err(|e| bad(e.to_string()))?;
    let v = module::unescape_version(ev).map_err(|e| bad(e.to_string()))?;
    module::check(&m, &v).map_err(|e| bad(e.to_string()))?;
    Ok((m, v))
}

#[async_trait::async_trait]
impl SumdbService for ProxyDb {
    async fn handle(&self, path: &str) -> Result<Response, ApiError> {
        const TEXT: &str = "text/plain; charset=utf-8";
        const IMMUTABLE: &str = "public, max-age=604800, immutable";
        let (body, ctype, cache) = if path == "supported" {
            (Bytes::new(), TEXT, "public, max-age=60")
        } else if path == "latest" {
            (self.latest().await?, TEXT, "no-cache")
        } else if let Some(rest) = path.strip_prefix("lookup/") {
            let (m, v) = parse_lookup_path(rest)?;
            (self.lookup(&m, &v).await?, TEXT, IMMUTABLE)
        } else if path.starts_with("tile/") {
            let tile = tlog::parse_tile_path(path)
                .map_err(|e| ApiError::BadRequest(format!("{}: {e}", self.name())))?;
            if tile.h != TILE_HEIGHT {
                return Err(ApiError::BadRequest(format!(
                    "{path}: the go.sum database uses tiles of height {TILE_HEIGHT}"
                )));
            }
            (
                self.tile(tile).await?,
                "application/octet-stream",
                IMMUTABLE,
            )
        } else {
            return Err(ApiError::BadRequest(format!(
                "{path}: not a checksum database path (supported, latest, lookup/…, tile/…)"
            )));
        };
        let mut resp = body.into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKUP_PATHS: &[(&str, Option<(&str, &str)>)] = &[
        (
            "golang.org/x/text@v0.3.0",
            Some(("golang.org/x/text", "v0.3.0")),
        ),
        (
            "github.com/!azure/x@v1.0.0",
            Some(("github.com/Azure/x", "v1.0.0")),
        ),
        ("github.com/Azure/x@v1.0.0", None),
        ("example.com/m@latest", None),
        ("example.com/m", None),
        ("example.com/m@v2.0.0", None),
        ("../etc@v1.0.0", None),
    ];

    #[test]
    fn lookup_path_must_unescape_to_a_valid_module_version_like_sumdb_server() {
        for &(input, want) in LOOKUP_PATHS {
            let got = parse_lookup_path(input).ok();
            let want = want.map(|(m, v)| (m.to_owned(), v.to_owned()));
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn sum_golang_org_key_is_a_valid_verifier_key() {
        let v = Verifier::parse(SUM_GOLANG_ORG_KEY).expect("key");
        assert_eq!(v.name(), "sum.golang.org");
    }
}
