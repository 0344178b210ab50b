//! What `sync` stores for the checksum databases, so a go command can verify offline later.
//!
//! Go rules: the client side of the checksum-database protocol in x/mod `sumdb/client.go`
//! (`Lookup` asks `lookup/<module>@<version>`; `mergeLatest`/`checkTrees` prove each newly seen
//! signed tree consistent with the newest one it has seen, reading hashes through a
//! `TileHashReader` of the newer tree; `checkRecord` proves the record in the lookup's tree
//! through the same kind of reader; `readTile` asks the exact tile, then the full tile) and the
//! tile arithmetic of x/mod `sumdb/tlog/tile.go`. Restated for an air gap:
//!
//! - A client with an empty cache asks, per module version, the lookup; then the hash tiles of
//!   the lookup's tree that prove its record; and, whenever two lookups carry different trees,
//!   the tiles of the larger tree that prove the smaller one consistent with it. Which pairs it
//!   compares depends on the order of its lookups, so `sync` stores the tiles for every pair
//!   of distinct trees it collected (and the database's `latest`).
//! - Proxy mode: every lookup goes through the mirror's [`ProxyDb`] (verified and cached under
//!   `sumdb/<name>/…`, exactly as `serve` caches it); the consistency tiles are fetched through
//!   it too, and proven against the signed trees before `sync` reports success.
//! - Own database: every synced version is recorded (zip and go.mod hashes), because a
//!   lookup names a whole version: a go.mod-only version gets its zip fetched so its record
//!   can be complete.
//! - Modules matching the `nosum` patterns are never looked up.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use modferry_formats::note::{self, Verifier};
use modferry_formats::tlog::{self, Tile, TileHashReader, TileReader, TlogError, Tree};
use modferry_service::sumdb::own::OwnSumdb;
use modferry_service::sumdb::proxy::ProxyDb;
use modferry_service::{Mirror, ModuleCheck};
use modferry_store::DynStore;

use super::graph::ModVer;
use crate::config::ServeConfig;

/// The checksum databases `sync` fills: the proxied ones the configuration names (not the
/// built-in default) and the own database.
#[derive(Default)]
pub struct SyncSumdbs {
    /// Proxied databases, each with its verifier key.
    pub proxies: Vec<(ProxyDb, Verifier)>,
    /// The own database, when `sumdb_key_file` is set.
    pub own: Option<Arc<OwnSumdb>>,
    /// What the mirror runs before storing a module version (as `serve` does).
    pub checks: Vec<Arc<dyn ModuleCheck>>,
}

impl SyncSumdbs {
    /// The databases of `cfg` over `store`, asked online.
    pub async fn open(cfg: &ServeConfig, store: &DynStore) -> Result<SyncSumdbs> {
        let mut out = SyncSumdbs::default();
        if !cfg.sumdb_proxy.sumdb_proxy_default {
            let mut verifying = false;
            for ((db, check), spec) in crate::serve::build_sumdb_proxies(cfg, store)?
                .into_iter()
                .zip(&cfg.sumdb_proxy.sumdb_proxy)
            {
                if let Some(check) = check.filter(|_| !verifying) {
                    verifying = true;
                    out.checks.push(Arc::new(check));
                }
                let v = Verifier::parse(&spec.key)
                    .with_context(|| format!("invalid sumdb_proxy key {:?}", spec.key))?;
                out.proxies.push((db, v));
            }
        }
        if let Some(file) = &cfg.sumdb_key_file {
            let signer = crate::sumdb::read_signer_key(file)?;
            let db = OwnSumdb::open(Arc::clone(store), signer)
                .await
                .context("opening the own checksum database")?;
            out.checks.push(Arc::clone(&db) as Arc<dyn ModuleCheck>);
            out.own = Some(db);
        }
        Ok(out)
    }

    /// Whether there is anything to fill.
    pub fn is_empty(&self) -> bool {
        self.proxies.is_empty() && self.own.is_none()
    }

    /// Lets the own database fetch what it records through `mirror`.
    pub fn attach(&self, mirror: &Arc<Mirror>) {
        if let Some(own) = &self.own {
            own.attach_mirror(mirror);
        }
    }

    /// Stores what an offline client needs to verify `versions`; returns the versions that
    /// failed (with the reason) and database-wide problems.
    pub async fn fill(
        &self,
        versions: &[ModVer],
        jobs: usize,
    ) -> (BTreeMap<ModVer, String>, Vec<String>) {
        use futures::StreamExt;
        let mut failed = BTreeMap::new();
        let mut problems = Vec::new();
        for (db, verifier) in &self.proxies {
            let public: Vec<&ModVer> = versions
                .iter()
                .filter(|m| !db.is_private(&m.path))
                .collect();
            let results: Vec<(&ModVer, Result<Tree, String>)> = futures::stream::iter(public)
                .map(|m| async move {
                    let res = async {
                        let body = db
                            .lookup(&m.path, &m.version)
                            .await
                            .map_err(|e| e.to_string())?;
                        let parsed = tlog::parse_lookup(&body).map_err(|e| e.to_string())?;
                        open_tree(parsed.signed_tree, verifier)
                    }
                    .await;
                    (m, res)
                })
                .buffer_unordered(jobs.max(1))
                .collect()
                .await;
            let mut trees: BTreeMap<i64, Tree> = BTreeMap::new();
            for (m, r) in results {
                match r {
                    Ok(t) => {
                        trees.insert(t.n, t);
                    }
                    Err(e) => {
                        failed.insert(m.clone(), format!("checksum database {}: {e}", db.name()));
                    }
                }
            }
            match db
                .latest()
                .await
                .map_err(|e| e.to_string())
                .and_then(|b| open_tree(&b, verifier))
            {
                Ok(t) => {
                    trees.insert(t.n, t);
                }
                Err(e) => problems.push(format!("checksum database {}: latest: {e}", db.name())),
            }
            if let Err(e) =
                store_consistency_tiles(db, &trees.into_values().collect::<Vec<_>>()).await
            {
                problems.push(format!("checksum database {}: {e}", db.name()));
            }
        }
        if let Some(own) = &self.own {
            for m in versions {
                if let Err(e) = own.ensure_recorded(&m.path, &m.version).await {
                    failed
                        .entry(m.clone())
                        .or_insert(format!("checksum database {}: {e}", own.name()));
                }
            }
        }
        (failed, problems)
    }
}

/// Opens a signed tree note with `verifier`.
pub fn open_tree(msg: &[u8], verifier: &Verifier) -> Result<Tree, String> {
    let n = note::open(msg, std::slice::from_ref(verifier))
        .map_err(|e| format!("invalid signed tree note: {e}"))?;
    tlog::parse_tree(n.text.as_bytes()).map_err(|e| format!("invalid signed tree note: {e}"))
}

/// For every pair of `trees` (distinct sizes), makes sure the tiles of the larger one that
/// prove the smaller consistent with it are stored, and proves them.
async fn store_consistency_tiles(db: &ProxyDb, trees: &[Tree]) -> Result<(), String> {
    for (i, newer) in trees.iter().enumerate() {
        for older in &trees[..i] {
            if older.n == 0 {
                continue;
            }
            let (older, newer) = (*older, *newer);
            with_tiles(newer, |t| db.tile(t), |r| check_consistent(r, older, newer))
                .await?
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Proves `older` consistent with `newer` through `r` (hashes of `newer`), as x/mod
/// `checkTrees` does: the hash of `older`'s records read from `newer`'s tiles must be
/// `older`'s hash, and the consistency proof must check.
pub fn check_consistent<R: TileReader>(
    r: &TileHashReader<R>,
    older: Tree,
    newer: Tree,
) -> Result<Result<(), String>, TlogError> {
    let h = tlog::tree_hash(older.n, r)?;
    let proof = tlog::prove_tree(newer.n, older.n, r)?;
    if h != older.hash
        || tlog::check_tree(&proof, newer.n, newer.hash, older.n, older.hash).is_err()
    {
        return Ok(Err(format!(
            "SECURITY ERROR: signed tree #{} ({}) is not consistent with tree #{} ({}): the log has forked",
            older.n, older.hash, newer.n, newer.hash
        )));
    }
    Ok(Ok(()))
}

/// Runs `f` over the hashes of `tree`, getting the tiles it asks for from `get` in rounds.
pub async fn with_tiles<T, G, Fut, E>(
    tree: Tree,
    get: G,
    f: impl Fn(&TileHashReader<&MemTiles>) -> Result<T, TlogError>,
) -> Result<T, String>
where
    G: Fn(Tile) -> Fut,
    Fut: std::future::Future<Output = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut tiles = MemTiles::default();
    for _ in 0..8 {
        let res = f(&TileHashReader::new(tree, &tiles));
        let missing = std::mem::take(&mut *lock(&tiles.missing));
        match res {
            Ok(v) => return Ok(v),
            Err(_) if !missing.is_empty() => {
                for t in missing {
                    let data = get(t)
                        .await
                        .map_err(|e| format!("tile {}: {e}", t.path()))?;
                    tiles.have.insert(t, data);
                }
            }
            Err(TlogError::InconsistentTile) => {
                return Err(format!(
                    "SECURITY ERROR: tiles do not hash to the signed tree head #{} ({})",
                    tree.n, tree.hash
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("the proof needs more tiles than expected".into())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tiles held in memory for one proof; remembers those it lacks. A partial tile is cut from a
/// wider one of the same position when only that is held (as x/mod `readTile` does).
#[derive(Default)]
pub struct MemTiles {
    /// The tiles held.
    pub have: HashMap<Tile, Bytes>,
    missing: Mutex<Vec<Tile>>,
}

impl MemTiles {
    /// The data of `t`, exact or cut from a wider tile of the same position.
    pub fn get(&self, t: &Tile) -> Option<Bytes> {
        if let Some(b) = self.have.get(t) {
            return Some(b.clone());
        }
        let want = t.w as usize * tlog::HASH_SIZE;
        self.have
            .iter()
            .find(|(k, b)| {
                !t.is_data()
                    && k.h == t.h
                    && k.l == t.l
                    && k.n == t.n
                    && k.w > t.w
                    && b.len() >= want
            })
            .map(|(_, b)| b.slice(..want))
    }
}

impl TileReader for MemTiles {
    fn height(&self) -> u8 {
        tlog::SUMDB_TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        let mut out = Vec::with_capacity(tiles.len());
        let mut missing = lock(&self.missing);
        for t in tiles {
            match self.get(t) {
                Some(b) => out.push(b.to_vec()),
                None => missing.push(*t),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(TlogError::BadTileRead {
                detail: format!("{} tiles not read yet", missing.len()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modferry_formats::tlog::Hash;

    /// A log of `n` records and its stored hashes.
    fn log(n: i64) -> Vec<Hash> {
        let mut hashes = Vec::new();
        for i in 0..n {
            let add = tlog::stored_hashes(i, format!("record {i}\n").as_bytes(), &hashes).unwrap();
            hashes.extend(add);
        }
        hashes
    }

    fn tree(n: i64, hashes: &[Hash]) -> Tree {
        Tree {
            n,
            hash: tlog::tree_hash(n, hashes).unwrap(),
        }
    }

    /// Serves any tile of the tree of size `size` computed from `hashes` (like a database).
    fn tile_of(hashes: &[Hash], t: Tile) -> std::future::Ready<Result<Bytes, String>> {
        std::future::ready(
            tlog::read_tile_data(&t, hashes)
                .map(Bytes::from)
                .map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn check_trees_accepts_a_prefix_and_refuses_a_fork_like_sumdb_client() {
        let hashes = log(300);
        let newer = tree(300, &hashes);
        for n in [1, 100, 256, 299] {
            let older = tree(n, &hashes);
            let got = futures::executor::block_on(with_tiles(
                newer,
                |t| tile_of(&hashes, t),
                |r| check_consistent(r, older, newer),
            ));
            assert_eq!(got, Ok(Ok(())), "size {n}");
            let forked = Tree {
                n,
                hash: tree(n + 1, &hashes).hash,
            };
            let got = futures::executor::block_on(with_tiles(
                newer,
                |t| tile_of(&hashes, t),
                |r| check_consistent(r, forked, newer),
            ))
            .unwrap();
            assert!(got.unwrap_err().contains("forked"), "size {n}");
        }
    }

    #[test]
    fn read_tile_cuts_a_partial_tile_from_a_wider_one_like_sumdb_client() {
        let hashes = log(20);
        let wide = Tile {
            h: 8,
            l: 0,
            n: 0,
            w: 20,
        };
        let data = tlog::read_tile_data(&wide, &hashes[..]).unwrap();
        let mut tiles = MemTiles::default();
        tiles.have.insert(wide, Bytes::from(data.clone()));
        let narrow = Tile { w: 5, ..wide };
        assert_eq!(
            tiles.get(&narrow).as_deref(),
            Some(&data[..5 * tlog::HASH_SIZE])
        );
        assert_eq!(tiles.get(&Tile { w: 21, ..wide }), None);
        assert_eq!(tiles.get(&Tile { n: 1, ..narrow }), None);
    }
}
