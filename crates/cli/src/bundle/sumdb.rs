//! Checksum-database data in bundles: the manifest's `sumdb` section (docs/bundle-format.md),
//! written by `bundle export` and checked by `bundle import`/`verify` before anything is
//! committed.
//!
//! Go rules: the client checks of x/mod `sumdb/client.go` (`note.Open` of every signed tree
//! against the database key, `checkRecord`: the lookup's record proven in its tree through a
//! `tlog.TileHashReader`, `checkTrees`: every tree consistent with the newest), the tile
//! layout of x/mod `sumdb/tlog/tile.go` (`ReadTileData`), and for our own database the replay
//! that `modferry sumdb audit` does. Restated:
//!
//! - A **proxied** database travels as the objects the mirror caches (`sumdb/<name>/latest`,
//!   hash tiles, and the lookups of the bundled versions, or all of them with `--all`), so the
//!   isolated mirror answers the go command with exactly what the public database signed.
//! - Our **own** database travels as its whole log (`.modferry/sumdb-own/<name>/`: records,
//!   stored hashes, index, signed head) up to the signed head, because the go command checks
//!   lookups and tiles against the signed log: the isolated side must serve the same log, not
//!   a re-recorded one signed anew. The signer key never travels.
//! - On import, the database's verifier key must be one the importer trusts (`--sumdb-key`, or
//!   the importer's `sumdb_proxy`/`sumdb_key_file` configuration), the key in the manifest must
//!   be that key, every signed note must verify with it, every lookup must be proven included
//!   in its tree by the carried tiles, every tree must be consistent with the newest, every
//!   carried tile must be what the newest tree says it is, and the own log must replay (an
//!   audit in a scratch store). An existing own log that the carried one does not extend (or
//!   is not a prefix of) is a conflict. Any failure refuses the whole bundle.
//! - A module version whose hashes differ from a verified record of a carried database is
//!   rejected by name ("SECURITY ERROR").

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use modferry_formats::module;
use modferry_formats::note::Verifier;
use modferry_formats::tlog::{self, Tile, TlogError, Tree};
use modferry_service::sumdb::own::{GoSumRecord, LogKeys, audit};
use modferry_store::{DynStore, Key, Payload, PutMode, PutOutcome};

use super::manifest::{Entry, FileSum};
use crate::config::ServeConfig;
use crate::sync::sumdb::{MemTiles, check_consistent, open_tree, with_tiles};

/// Where a proxied database's cache lives in the store (and in the archive).
fn proxy_prefix(name: &str) -> String {
    format!("sumdb/{name}/")
}

/// Where our own database's log lives in the store (and in the archive).
fn own_prefix(name: &str) -> String {
    format!(".modferry/sumdb-own/{name}/")
}

/// The largest checksum-database object read into memory.
const MAX_OBJECT: u64 = 8 << 20;

/// What kind of database a section entry carries.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    /// A proxied (public-style) database: the mirror's cache of it.
    Proxy,
    /// The mirror's own database: its log.
    Own,
}

/// One database in the manifest's `sumdb` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DbData {
    /// Proxied or own.
    pub kind: DbKind,
    /// The verifier key (`<name>+<hash>+<key>`).
    pub key: String,
    /// The newest signed tree head the exporting side verified (proxy) or committed (own).
    pub head: String,
    /// The carried objects: archive name (= store key) → size and SHA-256.
    pub files: BTreeMap<String, FileSum>,
}

/// The manifest's `sumdb` section: database name → data.
pub type Section = BTreeMap<String, DbData>;

fn get(handle: &Handle, store: &DynStore, key: &str) -> Result<Option<Bytes>, String> {
    let k = Key::new(key).map_err(|e| format!("{key}: {e}"))?;
    handle
        .block_on(store.get_bytes(&k, MAX_OBJECT))
        .map_err(|e| format!("reading {key}: {e}"))
}

fn list(handle: &Handle, store: &DynStore, prefix: &str) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = handle
        .block_on(store.list(prefix))
        .map_err(|e| format!("listing {prefix}: {e}"))?
        .into_iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    keys.sort();
    Ok(keys)
}

fn file_sum(b: &[u8]) -> FileSum {
    FileSum {
        size: b.len() as u64,
        sha256: hex::encode(Sha256::digest(b)),
    }
}

/// The `sumdb` section for a bundle of `modules` from `store`, with warnings (lookups the
/// store lacks). Databases come from the exporting configuration: the explicit `sumdb_proxy`
/// ones and the own database (`sumdb_key_file`). `all` carries every cached lookup.
pub fn collect(
    handle: &Handle,
    store: &DynStore,
    cfg: &ServeConfig,
    modules: &[Entry],
    all: bool,
) -> Result<(Option<Section>, Vec<String>), String> {
    let mut section = Section::new();
    let mut warnings = Vec::new();
    if !cfg.sumdb_proxy.sumdb_proxy_default {
        let nosum = [
            cfg.sumdb_proxy.sumdb_nosum.as_str(),
            cfg.git.private.as_str(),
        ]
        .join(",");
        for spec in &cfg.sumdb_proxy.sumdb_proxy {
            let v = Verifier::parse(&spec.key)
                .map_err(|e| format!("invalid sumdb_proxy key {:?}: {e}", spec.key))?;
            if let Some(d) = collect_proxy(
                handle,
                store,
                &v,
                &spec.key,
                modules,
                all,
                &nosum,
                &mut warnings,
            )? {
                section.insert(v.name().to_owned(), d);
            }
        }
    }
    if let Some(file) = &cfg.sumdb_key_file {
        let signer = crate::sumdb::read_signer_key(file).map_err(|e| format!("{e:#}"))?;
        let v = signer.verifier();
        if let Some(d) = collect_own(handle, store, &v, &signer.verifier_key())? {
            section.insert(v.name().to_owned(), d);
        }
    }
    Ok(((!section.is_empty()).then_some(section), warnings))
}

#[allow(clippy::too_many_arguments)]
fn collect_proxy(
    handle: &Handle,
    store: &DynStore,
    v: &Verifier,
    key: &str,
    modules: &[Entry],
    all: bool,
    nosum: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<DbData>, String> {
    let name = v.name();
    let prefix = proxy_prefix(name);
    let head = match get(
        handle,
        store,
        &format!(".modferry/sumdb/{name}/verified-head"),
    )? {
        Some(h) => h,
        None => match get(handle, store, &format!("{prefix}latest"))? {
            Some(h) => h,
            None => {
                warnings.push(format!(
                    "checksum database {name}: nothing cached (run sync with it configured); not carried"
                ));
                return Ok(None);
            }
        },
    };
    let mut wanted: Vec<String> = Vec::new();
    for k in list(handle, store, &prefix)? {
        let rel = &k[prefix.len()..];
        let keep = rel == "latest"
            || (rel.starts_with("tile/") && tlog::parse_tile_path(rel).is_ok_and(|t| !t.is_data()))
            || (all && rel.starts_with("lookup/"));
        if keep {
            wanted.push(k);
        }
    }
    if !all {
        for e in modules {
            if module::match_prefix_patterns(nosum, &e.module) {
                continue;
            }
            let rel =
                modferry_sources::lookup_path(&e.module, &e.version).map_err(|x| x.to_string())?;
            let k = format!("{prefix}{rel}");
            if get(handle, store, &k)?.is_some() {
                wanted.push(k);
            } else {
                warnings.push(format!(
                    "checksum database {name}: no lookup of {} stored (run sync with the database configured)",
                    e.what()
                ));
            }
        }
    }
    let mut files = BTreeMap::new();
    for k in wanted {
        if let Some(b) = get(handle, store, &k)? {
            files.insert(k, file_sum(&b));
        }
    }
    Ok(Some(DbData {
        kind: DbKind::Proxy,
        key: key.to_owned(),
        head: String::from_utf8_lossy(&head).into_owned(),
        files,
    }))
}

fn collect_own(
    handle: &Handle,
    store: &DynStore,
    v: &Verifier,
    key: &str,
) -> Result<Option<DbData>, String> {
    let name = v.name();
    let prefix = own_prefix(name);
    let Some(head) = get(handle, store, &format!("{prefix}head"))? else {
        return Ok(None);
    };
    let tree = open_tree(&head, v).map_err(|e| format!("own checksum database {name}: {e}"))?;
    let mut files = BTreeMap::new();
    for k in list(handle, store, &prefix)? {
        let rel = &k[prefix.len()..];
        let Some(b) = get(handle, store, &k)? else {
            continue;
        };
        // Only what the signed head covers: provisional objects of an interrupted append stay.
        let id_of = |s: &str| s.parse::<i64>().ok();
        let keep = if rel == "head" {
            true
        } else if let Some(id) = rel.strip_prefix("records/").or(rel.strip_prefix("hashes/")) {
            id_of(id).is_some_and(|i| i < tree.n)
        } else if rel.starts_with("index/") {
            std::str::from_utf8(&b)
                .ok()
                .and_then(id_of)
                .is_some_and(|i| i < tree.n)
        } else {
            false
        };
        if keep {
            files.insert(k, file_sum(&b));
        }
    }
    Ok(Some(DbData {
        kind: DbKind::Own,
        key: key.to_owned(),
        head: String::from_utf8_lossy(&head).into_owned(),
        files,
    }))
}

/// The archive names a section implies (with their sizes), for the importer's allow-list.
pub fn expected_files(section: Option<&Section>) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for (name, d) in section.into_iter().flatten() {
        let prefix = match d.kind {
            DbKind::Proxy => proxy_prefix(name),
            DbKind::Own => own_prefix(name),
        };
        for (f, sum) in &d.files {
            let rel = f.strip_prefix(&prefix).ok_or_else(|| {
                format!("manifest sumdb {name}: file {f:?} is not under {prefix}")
            })?;
            if rel.is_empty() || Key::new(f.as_str()).is_err() {
                return Err(format!("manifest sumdb {name}: invalid file name {f:?}"));
            }
            if sum.sha256.len() != 64 || !sum.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("manifest sumdb {name}: {f}: not a hex SHA-256"));
            }
            out.push((f.clone(), sum.size));
        }
    }
    Ok(out)
}

/// (module, version) → (database, zip `h1:`, go.mod `h1:`) as verified records say.
type ProvenHashes = HashMap<(String, String), Vec<(String, String, String)>>;

/// Finds an extracted archive file by name: temp path, SHA-256, size.
pub type CarriedFile<'a> = dyn Fn(&str) -> Option<(PathBuf, String, u64)> + 'a;

/// Hashes a carried database proved, with what to commit.
#[derive(Default)]
pub struct Verified {
    /// (module, version) → (database, zip h1, go.mod h1).
    hashes: ProvenHashes,
    commits: Vec<DbCommit>,
}

struct DbCommit {
    name: String,
    kind: DbKind,
    verifier: Verifier,
    /// (store key, data) in commit order; for own logs the head comes last.
    files: Vec<(String, Bytes)>,
}

impl Verified {
    /// Rejects a module version whose hashes differ from a verified database record.
    pub fn check_entry(&self, e: &Entry) -> Result<(), String> {
        for (db, zip, gomod) in self
            .hashes
            .get(&(e.module.clone(), e.version.clone()))
            .into_iter()
            .flatten()
        {
            if *gomod != e.go_mod_h1 {
                return Err(format!(
                    "SECURITY ERROR: checksum mismatch: .mod has {}, the checksum database {db} \
                     (verified in this bundle) says {gomod}",
                    e.go_mod_h1
                ));
            }
            if let Some(z) = &e.zip_h1
                && z != zip
            {
                return Err(format!(
                    "SECURITY ERROR: checksum mismatch: the zip has {z}, the checksum database \
                     {db} (verified in this bundle) says {zip}"
                ));
            }
        }
        Ok(())
    }

    /// How many databases were verified.
    pub fn databases(&self) -> usize {
        self.commits.len()
    }
}

/// Checks the `sumdb` section against the extracted files. `trusted` are the verifier keys
/// the importer trusts; `store` the target store (for an existing own log); `tmp` a scratch
/// directory. An `Err` refuses the bundle.
pub fn verify(
    handle: &Handle,
    section: Option<&Section>,
    extracted: &CarriedFile<'_>,
    trusted: &[String],
    store: Option<&DynStore>,
    tmp: &Path,
) -> Result<Verified, String> {
    let mut out = Verified::default();
    for (name, d) in section.into_iter().flatten() {
        let what = format!("checksum database {name}");
        let v =
            Verifier::parse(&d.key).map_err(|e| format!("{what}: invalid key {:?}: {e}", d.key))?;
        if v.name() != name {
            return Err(format!("{what}: the key {:?} names {}", d.key, v.name()));
        }
        if !trusted.iter().any(|t| t.trim() == d.key) {
            return Err(format!(
                "{what}: the bundle's verifier key {} is not one this importer trusts; check it \
                 out of band and pass --sumdb-key '{}' (or configure the database)",
                d.key, d.key
            ));
        }
        let head = open_tree(d.head.as_bytes(), &v).map_err(|e| format!("{what}: head: {e}"))?;
        let mut files: BTreeMap<String, Bytes> = BTreeMap::new();
        for (f, sum) in &d.files {
            let (path, sha, size) =
                extracted(f).ok_or_else(|| format!("{what}: {f} is missing from the archive"))?;
            if size != sum.size || sha != sum.sha256 {
                return Err(format!(
                    "{what}: {f}: SHA-256 {sha} ({size} bytes) does not match the manifest's {} ({} bytes)",
                    sum.sha256, sum.size
                ));
            }
            let b = std::fs::read(&path).map_err(|e| format!("reading a temp file: {e}"))?;
            files.insert(f.clone(), Bytes::from(b));
        }
        let commit = match d.kind {
            DbKind::Proxy => verify_proxy(handle, name, &v, head, files, &mut out.hashes)?,
            DbKind::Own => verify_own(
                handle,
                name,
                &v,
                head,
                d.head.as_bytes(),
                files,
                store,
                tmp,
                &mut out.hashes,
            )?,
        };
        out.commits.push(DbCommit {
            name: name.clone(),
            kind: d.kind,
            verifier: v,
            files: commit,
        });
    }
    Ok(out)
}

/// A tile from the carried ones (cut from a wider one when needed); never fetched.
fn carried(tiles: &MemTiles, t: Tile) -> std::future::Ready<Result<Bytes, String>> {
    std::future::ready(
        tiles
            .get(&t)
            .ok_or_else(|| format!("tile {} is not in the bundle", t.path())),
    )
}

fn verify_proxy(
    handle: &Handle,
    name: &str,
    v: &Verifier,
    head: Tree,
    files: BTreeMap<String, Bytes>,
    hashes: &mut ProvenHashes,
) -> Result<Vec<(String, Bytes)>, String> {
    let what = format!("checksum database {name}");
    let prefix = proxy_prefix(name);
    let mut tiles = MemTiles::default();
    let mut trees: Vec<(String, Tree)> = vec![("head".into(), head)];
    let mut lookups = Vec::new();
    for (f, b) in &files {
        let rel = &f[prefix.len()..];
        if rel == "latest" {
            trees.push((
                f.clone(),
                open_tree(b, v).map_err(|e| format!("{what}: {f}: {e}"))?,
            ));
        } else if rel.starts_with("tile/") {
            let t = tlog::parse_tile_path(rel).map_err(|e| format!("{what}: {f}: {e}"))?;
            if t.is_data()
                || t.h != tlog::SUMDB_TILE_HEIGHT
                || b.len() != t.w as usize * tlog::HASH_SIZE
            {
                return Err(format!(
                    "{what}: {f}: not a hash tile of height 8 with {} bytes",
                    b.len()
                ));
            }
            tiles.have.insert(t, b.clone());
        } else if let Some(mv) = rel.strip_prefix("lookup/") {
            lookups.push((f.clone(), mv.to_owned(), b.clone()));
        } else {
            return Err(format!("{what}: unexpected file {f}"));
        }
    }
    for (f, mv, b) in &lookups {
        let (m, ver) = modferry_service::sumdb::proxy::parse_lookup_path(mv)
            .map_err(|e| format!("{what}: {f}: {e}"))?;
        let parsed = tlog::parse_lookup(b).map_err(|e| format!("{what}: {f}: {e}"))?;
        let tree = open_tree(parsed.signed_tree, v).map_err(|e| format!("{what}: {f}: {e}"))?;
        if parsed.id < 0 || parsed.id >= tree.n {
            return Err(format!(
                "{what}: {f}: record {} is not in its tree of size {}",
                parsed.id, tree.n
            ));
        }
        let index = tlog::stored_hash_index(0, parsed.id);
        let got = handle
            .block_on(with_tiles(
                tree,
                |t| carried(&tiles, t),
                |r| {
                    tlog::HashReader::read_hashes(r, &[index])?
                        .first()
                        .copied()
                        .ok_or(TlogError::ShortRead { want: 1, got: 0 })
                },
            ))
            .map_err(|e| format!("{what}: {f}: {e}"))?;
        if got != tlog::record_hash(parsed.text.as_bytes()) {
            return Err(format!(
                "{what}: {f}: SECURITY ERROR: record {} is not the one in tree #{}: the lookup was tampered with",
                parsed.id, tree.n
            ));
        }
        let line = |ver: &str| {
            tlog::lookup_lines(parsed.text, &m, ver)
                .first()
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        let (Some(zip), Some(gomod)) = (line(&ver), line(&format!("{ver}/go.mod"))) else {
            return Err(format!("{what}: {f}: the record is not for {m}@{ver}"));
        };
        hashes
            .entry((m, ver))
            .or_default()
            .push((name.to_owned(), zip, gomod));
        trees.push((f.clone(), tree));
    }
    // Every tree is consistent with the newest; every tile is what the newest says.
    let top = trees
        .iter()
        .map(|t| t.1)
        .max_by_key(|t| t.n)
        .unwrap_or(head);
    for (f, t) in &trees {
        if t.n == top.n {
            if t.hash != top.hash {
                return Err(format!(
                    "{what}: {f}: SECURITY ERROR: two different signed trees of size {}: the log has forked",
                    t.n
                ));
            }
            continue;
        }
        if t.n == 0 {
            continue;
        }
        handle
            .block_on(with_tiles(
                top,
                |t| carried(&tiles, t),
                |r| check_consistent(r, *t, top),
            ))
            .map_err(|e| format!("{what}: {f}: {e}"))?
            .map_err(|e| format!("{what}: {f}: {e}"))?;
    }
    for (t, data) in &tiles.have {
        let level_size = top.n >> (u32::from(t.h) * t.l as u32);
        if (t.n << t.h) + i64::from(t.w) > level_size {
            return Err(format!(
                "{what}: tile {} lies beyond the newest signed tree (size {})",
                t.path(),
                top.n
            ));
        }
        let want = handle
            .block_on(with_tiles(
                top,
                |t| carried(&tiles, t),
                |r| tlog::read_tile_data(t, r),
            ))
            .map_err(|e| format!("{what}: tile {}: {e}", t.path()))?;
        if want.as_slice() != data.as_ref() {
            return Err(format!(
                "{what}: tile {}: SECURITY ERROR: its hashes are not those of the signed tree",
                t.path()
            ));
        }
    }
    Ok(files.into_iter().collect())
}

#[allow(clippy::too_many_arguments)]
fn verify_own(
    handle: &Handle,
    name: &str,
    v: &Verifier,
    head: Tree,
    head_note: &[u8],
    files: BTreeMap<String, Bytes>,
    store: Option<&DynStore>,
    tmp: &Path,
    hashes: &mut ProvenHashes,
) -> Result<Vec<(String, Bytes)>, String> {
    let what = format!("own checksum database {name}");
    let keys = LogKeys::new(name).map_err(|e| e.to_string())?;
    let head_key = keys.head().map_err(|e| e.to_string())?;
    if files.get(head_key.as_str()).map(|b| b.as_ref()) != Some(head_note) {
        return Err(format!(
            "{what}: the carried head is not the manifest's head"
        ));
    }
    // Replay the carried log in a scratch store, as `sumdb audit` does.
    let scratch_dir = tempfile::Builder::new()
        .prefix("sumdb-own-")
        .tempdir_in(tmp)
        .map_err(|e| format!("scratch dir: {e}"))?;
    let scratch_url = scratch_dir.path().to_string_lossy().into_owned();
    let scratch = handle
        .block_on(modferry_store::open_store(&scratch_url))
        .map_err(|e| format!("scratch store: {e}"))?;
    for (k, b) in &files {
        let key = Key::new(k.as_str()).map_err(|e| format!("{k}: {e}"))?;
        handle
            .block_on(scratch.put(&key, Payload::Bytes(b.clone()), PutMode::Overwrite))
            .map_err(|e| format!("scratch store: {e}"))?;
    }
    // An existing log must be a prefix of the carried one (then the audit proves the carried
    // head extends it) or extend it (then the carried records must be its first ones).
    let existing = match store {
        Some(s) => match get(handle, s, head_key.as_str())? {
            Some(b) => Some((
                open_tree(&b, v).map_err(|e| format!("{what}: the store's head: {e}"))?,
                b,
            )),
            None => None,
        },
        None => None,
    };
    let report = handle
        .block_on(audit(&scratch, v, false))
        .map_err(|e| format!("{what}: {e}"))?;
    if !report.ok() {
        return Err(format!(
            "{what}: the carried log does not replay: {}",
            report.problems.join("; ")
        ));
    }
    if report.size != head.n {
        return Err(format!(
            "{what}: the replayed log has size {}, the head says {}",
            report.size, head.n
        ));
    }
    let mut log_hashes = Vec::new();
    for id in 0..head.n {
        let k = keys.record(id).map_err(|e| e.to_string())?;
        let b = files
            .get(k.as_str())
            .ok_or_else(|| format!("{what}: record {id} missing"))?;
        let rec = std::str::from_utf8(b)
            .ok()
            .and_then(GoSumRecord::parse)
            .ok_or_else(|| format!("{what}: record {id} is not a go.sum record"))?;
        if let Some((old, _)) = &existing
            && id < old.n
            && let Some(s) = store
            && get(handle, s, k.as_str())?.as_deref() != Some(b.as_ref())
        {
            return Err(format!(
                "{what}: record {id} differs from the store's log: the logs conflict; refusing"
            ));
        }
        let add = tlog::stored_hashes(id, b, &log_hashes).map_err(|e| format!("{what}: {e}"))?;
        log_hashes.extend(add);
        hashes.entry((rec.module, rec.version)).or_default().push((
            name.to_owned(),
            rec.zip_h1,
            rec.mod_h1,
        ));
    }
    if let Some((old, _)) = &existing
        && old.n <= head.n
        && old.n > 0
        && tlog::tree_hash(old.n, &log_hashes).map_err(|e| format!("{what}: {e}"))? != old.hash
    {
        return Err(format!(
            "{what}: the store already has a different log of this database (size {}, hash {}) \
             that the carried log (size {}) does not extend: the logs conflict; refusing",
            old.n, old.hash, head.n
        ));
    }
    if let Some((old, _)) = &existing
        && old.n > head.n
    {
        // The store's log already extends the carried one: nothing to write.
        return Ok(Vec::new());
    }
    let mut commit: Vec<(String, Bytes)> = files
        .iter()
        .filter(|(k, _)| k.as_str() != head_key.as_str())
        .map(|(k, b)| (k.clone(), b.clone()))
        .collect();
    commit.push((
        head_key.as_str().to_owned(),
        Bytes::copy_from_slice(head_note),
    ));
    Ok(commit)
}

/// Writes verified database objects into `store`: create-only, except a newer `latest` (proxy)
/// and the own log's head (written last: the log's commit point). Returns remarks (objects
/// kept because the store has a different, equally valid copy).
pub fn commit(handle: &Handle, store: &DynStore, v: Verified) -> Result<Vec<String>, String> {
    let mut remarks = Vec::new();
    for db in v.commits {
        let own_head = LogKeys::new(&db.name)
            .and_then(|k| k.head())
            .map_err(|e| e.to_string())?;
        for (k, b) in db.files {
            let key = Key::new(k.as_str()).map_err(|e| format!("{k}: {e}"))?;
            let newer_latest = db.kind == DbKind::Proxy && k.ends_with("/latest") && {
                let new = open_tree(&b, &db.verifier).map(|t| t.n).unwrap_or(0);
                let old = get(handle, store, &k)?
                    .and_then(|o| open_tree(&o, &db.verifier).ok())
                    .map(|t| t.n);
                old.is_none_or(|o| new > o)
            };
            let mode = if newer_latest || (db.kind == DbKind::Own && key == own_head) {
                PutMode::Overwrite
            } else {
                PutMode::Create
            };
            match handle.block_on(store.put(&key, Payload::Bytes(b.clone()), mode)) {
                Ok(PutOutcome::Created) => {}
                Ok(PutOutcome::AlreadyExists) => {
                    let have = get(handle, store, &k)?;
                    if have.as_deref() != Some(b.as_ref())
                        && !k.contains("/lookup/")
                        && !k.ends_with("/latest")
                    {
                        remarks.push(format!("{k}: the store has a different copy; kept it"));
                    }
                }
                Err(e) => return Err(format!("storing {k}: {e}")),
            }
        }
    }
    Ok(remarks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum() -> FileSum {
        FileSum {
            size: 1,
            sha256: "b".repeat(64),
        }
    }

    fn data(kind: DbKind, names: &[&str]) -> Section {
        let mut files = BTreeMap::new();
        for n in names {
            files.insert((*n).to_owned(), sum());
        }
        let d = DbData {
            kind,
            key: String::new(),
            head: String::new(),
            files,
        };
        BTreeMap::from([("sum.example.test".to_owned(), d)])
    }

    #[test]
    fn carried_files_must_live_under_their_database_prefix() {
        let cases: &[(DbKind, &str, bool)] = &[
            (DbKind::Proxy, "sumdb/sum.example.test/latest", true),
            (DbKind::Proxy, "sumdb/sum.example.test/tile/8/0/000", true),
            (DbKind::Proxy, "sumdb/other.test/latest", false),
            (DbKind::Proxy, "files/example.com/m/@v/v1.0.0.zip", false),
            (DbKind::Proxy, "sumdb/sum.example.test/", false),
            (DbKind::Proxy, "sumdb/sum.example.test/../x", false),
            (
                DbKind::Own,
                ".modferry/sumdb-own/sum.example.test/head",
                true,
            ),
            (DbKind::Own, "sumdb/sum.example.test/latest", false),
        ];
        for &(kind, name, want) in cases {
            let got = expected_files(Some(&data(kind, &[name]))).is_ok();
            assert_eq!(got, want, "{kind:?} {name}");
        }
    }

    #[test]
    fn module_hashes_must_match_a_verified_record_like_check_mod_sum() {
        let mut v = Verified::default();
        v.hashes.insert(
            ("example.com/m".into(), "v1.0.0".into()),
            vec![("db".into(), "h1:zip=".into(), "h1:mod=".into())],
        );
        let entry = |mod_h1: &str, zip_h1: Option<&str>| Entry {
            module: "example.com/m".into(),
            version: "v1.0.0".into(),
            info: sum(),
            go_mod: sum(),
            zip: zip_h1.map(|_| sum()),
            go_mod_h1: mod_h1.into(),
            zip_h1: zip_h1.map(str::to_owned),
            source: String::new(),
        };
        assert!(v.check_entry(&entry("h1:mod=", Some("h1:zip="))).is_ok());
        assert!(v.check_entry(&entry("h1:mod=", None)).is_ok());
        assert!(
            v.check_entry(&entry("h1:other=", None))
                .unwrap_err()
                .contains("SECURITY ERROR")
        );
        assert!(v.check_entry(&entry("h1:mod=", Some("h1:bad="))).is_err());
    }
}
