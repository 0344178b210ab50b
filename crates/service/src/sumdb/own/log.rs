//! The persistent, append-only log behind our own checksum database: the storage side of what
//! x/mod `sumdb/server.go` calls `ServerOps` (`Signed`, `ReadRecords`, `Lookup`,
//! `ReadTileData`), kept in a [`Store`](modferry_store::Store) through the trait only, so every
//! backend works.
//!
//! # Keys
//!
//! Under `.modferry/sumdb-own/<name>/`:
//!
//! | key | written with | content |
//! |---|---|---|
//! | `records/<id>` | `Create` | the record text: the two go.sum lines of one module version |
//! | `hashes/<id>` | `Create` | the stored hashes appending record `<id>` adds, 32 bytes each |
//! | `index/<escaped module>/@v/<escaped version>` | `Create` | the record id, in decimal |
//! | `head` | `Overwrite` | the signed tree head note: **the single commit point** |
//! | `audit/head` | `Overwrite` | the head `modferry sumdb audit` last found consistent |
//!
//! # Appends and crashes
//!
//! One append writes, in order: the record, its stored hashes, its index entry, then the new
//! signed head. Nothing is visible to clients until the head names it: lookups, tiles and
//! `latest` read only the committed tree. Objects for ids at or beyond the committed size are
//! *provisional*. When the log is opened (and after any append that failed half-way), the
//! provisional records are settled before anything else is appended:
//!
//! - a contiguous run of valid provisional records starting at the committed size, each for a
//!   module version not yet recorded, is *completed*: its hashes and index entry are re-derived
//!   and written (overwriting any provisional object, which was never visible), then the head
//!   is advanced past them in one commit;
//! - any other provisional record (malformed, a duplicate module version, after a gap) is
//!   deleted with its provisional hashes, since no client ever saw it.
//!
//! So a crash between any two steps leaves a log that reopens to either the old head or the
//! head with the interrupted record, never to something in between, and every record the head
//! covers has its hashes and index entry.
//!
//! Failpoints for tests: when the environment variable `MODFERRY_FAILPOINT` names a step
//! (`sumdb-append-after-record`, `sumdb-append-after-hashes`, `sumdb-append-after-index`), the
//! process aborts right after that step.
//!
//! # Writers
//!
//! Appends are serialized by one lock per process. Several processes appending to one store
//! (replicas over S3) need a fence around [`Log::append`] and the recovery step; until that
//! exists, a second writer is detected, not prevented: its `Create` of a record id that
//! another writer already took fails, the append is refused, and the next append settles the
//! log again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use modferry_formats::module;
use modferry_formats::note::{self, Signer, Verifier};
use modferry_formats::tlog::{self, HASH_SIZE, Hash, Tile, Tree};
use modferry_store::{DynStore, Key, Payload, PutMode, PutOutcome, StoreError};

use super::OwnError;

/// The largest object of the log read whole (records, heads, hashes, index entries).
const SMALL: u64 = 1 << 20;

/// The environment variable that names a failpoint (tests only).
pub const FAILPOINT_ENV: &str = "MODFERRY_FAILPOINT";

/// Aborts the process if `MODFERRY_FAILPOINT` names `step`.
fn failpoint(step: &str) {
    if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == step) {
        eprintln!("modferry: failpoint {step} reached; aborting");
        std::process::abort();
    }
}

/// The store keys of one database's log.
#[derive(Debug, Clone)]
pub struct LogKeys {
    base: String,
}

impl LogKeys {
    /// The keys of database `name` (the name must be a valid key element).
    pub fn new(name: &str) -> Result<LogKeys, OwnError> {
        let base = format!(".modferry/sumdb-own/{name}/");
        Key::new(format!("{base}head")).map_err(|e| OwnError::BadName {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(LogKeys { base })
    }

    fn key(&self, rest: &str) -> Result<Key, OwnError> {
        Key::new(format!("{}{rest}", self.base)).map_err(|e| OwnError::Corrupt {
            detail: format!("cannot form a log key: {e}"),
        })
    }

    /// The signed tree head (the commit point).
    pub fn head(&self) -> Result<Key, OwnError> {
        self.key("head")
    }

    /// The head the last successful audit saw.
    pub fn audit_head(&self) -> Result<Key, OwnError> {
        self.key("audit/head")
    }

    /// The prefix of all records.
    pub fn records_prefix(&self) -> String {
        format!("{}records/", self.base)
    }

    /// Record `id`'s text.
    pub fn record(&self, id: i64) -> Result<Key, OwnError> {
        self.key(&format!("records/{id}"))
    }

    /// The stored hashes record `id` added.
    pub fn hashes(&self, id: i64) -> Result<Key, OwnError> {
        self.key(&format!("hashes/{id}"))
    }

    /// The index entry of `module@version`.
    pub fn index(&self, module: &str, version: &str) -> Result<Key, OwnError> {
        let bad = |e: module::PathError| OwnError::InvalidModule {
            module: module.to_owned(),
            version: version.to_owned(),
            reason: e.to_string(),
        };
        let m = module::escape_path(module).map_err(bad)?;
        let v = module::escape_version(version).map_err(bad)?;
        self.key(&format!("index/{m}/@v/{v}"))
    }

    /// The record id a record key names, if it is one.
    pub fn parse_record_key(&self, key: &Key) -> Option<i64> {
        let id = key.as_str().strip_prefix(&self.records_prefix())?;
        let n = id.parse::<i64>().ok()?;
        (n >= 0 && n.to_string() == id).then_some(n)
    }
}

/// A go.sum record of the log, parsed: `<path> <version> <h1>\n<path> <version>/go.mod <h1>\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSumRecord {
    /// Module path.
    pub module: String,
    /// Version.
    pub version: String,
    /// `h1:` of the zip.
    pub zip_h1: String,
    /// `h1:` of the go.mod.
    pub mod_h1: String,
}

impl GoSumRecord {
    /// The record text.
    pub fn text(&self) -> String {
        tlog::format_gosum_record(&self.module, &self.version, &self.zip_h1, &self.mod_h1)
    }

    /// Parses a record text; `None` unless it is exactly the two lines this log writes, for a
    /// valid module version.
    pub fn parse(text: &str) -> Option<GoSumRecord> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        let (a, b) = (lines.next()?, lines.next()?);
        if lines.next().is_some() {
            return None;
        }
        let f: Vec<&str> = a.split(' ').collect();
        let g: Vec<&str> = b.split(' ').collect();
        let ([m, v, zh], [m2, v2, mh]) = (f.as_slice(), g.as_slice()) else {
            return None;
        };
        if m != m2 || format!("{v}/go.mod") != *v2 || module::check(m, v).is_err() {
            return None;
        }
        if !zh.starts_with("h1:") || !mh.starts_with("h1:") {
            return None;
        }
        Some(GoSumRecord {
            module: (*m).to_owned(),
            version: (*v).to_owned(),
            zip_h1: (*zh).to_owned(),
            mod_h1: (*mh).to_owned(),
        })
    }
}

/// The committed log, in memory.
#[derive(Debug, Clone)]
struct State {
    tree: Tree,
    signed: Bytes,
    /// Stored hashes of the committed tree.
    hashes: Vec<Hash>,
    /// Record texts of the committed tree, by id.
    records: Vec<Arc<str>>,
    /// module@version → record id, for committed records.
    index: HashMap<(String, String), i64>,
    /// Set when an append failed half-way: settle provisional records before the next.
    unsettled: bool,
}

/// What [`Log::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// A new record with this id was committed.
    New(i64),
    /// The same record was already committed under this id.
    Existing(i64),
}

/// The persistent log of one database.
pub struct Log {
    store: DynStore,
    keys: LogKeys,
    signer: Signer,
    verifier: Verifier,
    state: RwLock<State>,
    /// Serializes appends (one writer per process; see the module docs for several).
    writer: tokio::sync::Mutex<()>,
}

fn store_err(op: &'static str, key: &Key, e: StoreError) -> OwnError {
    OwnError::Store {
        op,
        key: key.to_string(),
        reason: e.to_string(),
    }
}

impl Log {
    /// Opens the log of `signer`'s database in `store`, creating an empty signed head if there
    /// is none, checking the committed tree against its head, and settling provisional records.
    pub async fn open(store: DynStore, signer: Signer) -> Result<Log, OwnError> {
        let keys = LogKeys::new(signer.name())?;
        let verifier = signer.verifier();
        let head_key = keys.head()?;
        let signed = match get(&store, &head_key).await? {
            Some(b) => b,
            None => {
                let empty = Tree {
                    n: 0,
                    hash: tlog::EMPTY_TREE_HASH,
                };
                let signed = Bytes::from(sign_tree(&signer, &empty)?);
                store
                    .put(&head_key, Payload::Bytes(signed.clone()), PutMode::Create)
                    .await
                    .map_err(|e| store_err("write", &head_key, e))?;
                get(&store, &head_key)
                    .await?
                    .ok_or_else(|| OwnError::Corrupt {
                        detail: "the head vanished right after it was written".into(),
                    })?
            }
        };
        let tree = open_head(&signed, &verifier)?;
        let mut records = Vec::with_capacity(usize::try_from(tree.n).unwrap_or(0));
        for id in 0..tree.n {
            let key = keys.record(id)?;
            let text = get(&store, &key).await?.ok_or_else(|| OwnError::Corrupt {
                detail: format!("committed record {id} is missing ({key})"),
            })?;
            let text = std::str::from_utf8(&text).map_err(|_| OwnError::Corrupt {
                detail: format!("record {id} is not UTF-8"),
            })?;
            records.push(Arc::<str>::from(text));
        }
        let mut hashes = Vec::new();
        let mut index = HashMap::new();
        for (id, text) in records.iter().enumerate() {
            let id = id as i64;
            let rec = GoSumRecord::parse(text).ok_or_else(|| OwnError::Corrupt {
                detail: format!("record {id} is not a go.sum record"),
            })?;
            let add = tlog::stored_hashes(id, text.as_bytes(), &hashes)?;
            hashes.extend(add);
            if index.insert((rec.module, rec.version), id).is_some() {
                return Err(OwnError::Corrupt {
                    detail: format!("record {id} repeats an earlier module version"),
                });
            }
        }
        let th = tlog::tree_hash(tree.n, &hashes)?;
        if th != tree.hash {
            return Err(OwnError::Corrupt {
                detail: format!(
                    "the records do not hash to the signed head (size {}, head {}, records {th}); run modferry sumdb audit",
                    tree.n, tree.hash
                ),
            });
        }
        let log = Log {
            store,
            keys,
            signer,
            verifier,
            state: RwLock::new(State {
                tree,
                signed,
                hashes,
                records,
                index,
                unsettled: true,
            }),
            writer: tokio::sync::Mutex::new(()),
        };
        {
            let _w = log.writer.lock().await;
            log.settle().await?;
        }
        Ok(log)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The verifier key clients configure.
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    /// The verifier of the log's signatures.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The committed tree head.
    pub fn tree(&self) -> Tree {
        self.read().tree
    }

    /// The signed committed tree head note (`/latest`).
    pub fn signed(&self) -> Bytes {
        self.read().signed.clone()
    }

    /// The committed record of `module@version`: its id and text.
    pub fn lookup(&self, module: &str, version: &str) -> Option<(i64, Arc<str>)> {
        let s = self.read();
        let id = *s.index.get(&(module.to_owned(), version.to_owned()))?;
        let text = s.records.get(usize::try_from(id).ok()?)?.clone();
        Some((id, text))
    }

    /// The `/lookup/` answer for a committed record: the record and the signed head.
    pub fn lookup_response(&self, id: i64) -> Result<Vec<u8>, OwnError> {
        let s = self.read();
        let text = usize::try_from(id)
            .ok()
            .and_then(|i| s.records.get(i))
            .ok_or_else(|| OwnError::Corrupt {
                detail: format!("record {id} is not in the committed tree"),
            })?;
        Ok(tlog::format_lookup(id, text.as_bytes(), &s.signed)?)
    }

    /// The content of `tile`, or `None` if the committed tree does not hold all of it.
    ///
    /// A tile is served exactly when every entry it names is in the committed tree: a
    /// partial tile `.p/W` for any `W` up to what the tree holds at that place (its content
    /// never changes), a complete tile once the tree has all `2^H` entries.
    pub fn tile(&self, tile: &Tile) -> Result<Option<Bytes>, OwnError> {
        let s = self.read();
        let h = u32::from(tile.h);
        let w = i64::from(tile.w);
        let Some(start) = tile.n.checked_shl(h).filter(|st| st >> h == tile.n) else {
            return Ok(None);
        };
        if tile.is_data() {
            if start + w > s.tree.n {
                return Ok(None);
            }
            let recs: Vec<&[u8]> = s.records[start as usize..(start + w) as usize]
                .iter()
                .map(|r| r.as_bytes())
                .collect();
            return Ok(Some(Bytes::from(tlog::format_data_tile(&recs)?)));
        }
        let level = h * tile.l as u32;
        let count = s.tree.n.checked_shr(level).unwrap_or(0);
        if start + w > count {
            return Ok(None);
        }
        Ok(Some(Bytes::from(tlog::read_tile_data(tile, &s.hashes)?)))
    }

    /// Appends the record of `rec` (or finds it already there); refuses a different hash for a
    /// recorded module version with [`OwnError::Conflict`].
    pub async fn append(&self, rec: &GoSumRecord) -> Result<Appended, OwnError> {
        let text = rec.text();
        if let Some(found) = self.check_existing(rec, &text)? {
            return Ok(found);
        }
        let _w = self.writer.lock().await;
        // Another task may have appended it while we waited.
        if let Some(found) = self.check_existing(rec, &text)? {
            return Ok(found);
        }
        if self.read().unsettled {
            self.settle().await?;
            if let Some(found) = self.check_existing(rec, &text)? {
                return Ok(found);
            }
        }
        match self.append_locked(rec, &text).await {
            Ok(id) => Ok(Appended::New(id)),
            Err(e) => {
                self.write().unsettled = true;
                Err(e)
            }
        }
    }

    fn check_existing(&self, rec: &GoSumRecord, text: &str) -> Result<Option<Appended>, OwnError> {
        let Some((id, have)) = self.lookup(&rec.module, &rec.version) else {
            return Ok(None);
        };
        if &*have == text {
            return Ok(Some(Appended::Existing(id)));
        }
        let recorded = GoSumRecord::parse(&have).ok_or_else(|| OwnError::Corrupt {
            detail: format!("record {id} is not a go.sum record"),
        })?;
        Err(OwnError::Conflict {
            module: rec.module.clone(),
            version: rec.version.clone(),
            id,
            recorded: format!("{} {}", recorded.zip_h1, recorded.mod_h1),
            offered: format!("{} {}", rec.zip_h1, rec.mod_h1),
        })
    }

    async fn append_locked(&self, rec: &GoSumRecord, text: &str) -> Result<i64, OwnError> {
        let (id, add) = {
            let s = self.read();
            let id = s.tree.n;
            (id, tlog::stored_hashes(id, text.as_bytes(), &s.hashes)?)
        };
        let rkey = self.keys.record(id)?;
        let created = self
            .store
            .put(
                &rkey,
                Payload::Bytes(Bytes::from(text.to_owned())),
                PutMode::Create,
            )
            .await
            .map_err(|e| store_err("write", &rkey, e))?;
        if created == PutOutcome::AlreadyExists {
            return Err(OwnError::Corrupt {
                detail: format!(
                    "record {id} already exists beyond the head: another process is appending to this log"
                ),
            });
        }
        failpoint("sumdb-append-after-record");
        let hkey = self.keys.hashes(id)?;
        self.put_provisional(&hkey, hash_bytes(&add)).await?;
        failpoint("sumdb-append-after-hashes");
        let ikey = self.keys.index(&rec.module, &rec.version)?;
        self.put_provisional(&ikey, Bytes::from(id.to_string()))
            .await?;
        failpoint("sumdb-append-after-index");
        self.commit(&[(Arc::from(text), add)]).await?;
        tracing::info!(
            db = %self.name(), id, module = %rec.module, version = %rec.version,
            "checksum database: recorded"
        );
        Ok(id)
    }

    /// Writes an object of an uncommitted record with `Create`. One already there can only be
    /// left by an append that was settled away (its record was removed), so it was never
    /// visible and is replaced.
    async fn put_provisional(&self, key: &Key, bytes: Bytes) -> Result<(), OwnError> {
        let outcome = self
            .store
            .put(key, Payload::Bytes(bytes.clone()), PutMode::Create)
            .await
            .map_err(|e| store_err("write", key, e))?;
        if outcome == PutOutcome::AlreadyExists
            && get(&self.store, key).await?.as_deref() != Some(bytes.as_ref())
        {
            tracing::warn!(db = %self.name(), %key, "checksum database: replacing a stale provisional object");
            self.put(key, bytes, PutMode::Overwrite).await?;
        }
        Ok(())
    }

    async fn put(&self, key: &Key, bytes: Bytes, mode: PutMode) -> Result<(), OwnError> {
        self.store
            .put(key, Payload::Bytes(bytes), mode)
            .await
            .map_err(|e| store_err("write", key, e))?;
        Ok(())
    }

    /// Signs and writes the head covering the committed records plus `new` (text and stored
    /// hashes), then publishes them in memory.
    async fn commit(&self, new: &[(Arc<str>, Vec<Hash>)]) -> Result<(), OwnError> {
        let (tree, hashes) = {
            let s = self.read();
            let mut hashes = s.hashes.clone();
            for (_, add) in new {
                hashes.extend_from_slice(add);
            }
            let n = s.tree.n + new.len() as i64;
            let hash = tlog::tree_hash(n, &hashes)?;
            (Tree { n, hash }, hashes)
        };
        let signed = Bytes::from(sign_tree(&self.signer, &tree)?);
        let hkey = self.keys.head()?;
        self.put(&hkey, signed.clone(), PutMode::Overwrite).await?;
        let mut s = self.write();
        for (text, _) in new {
            let id = s.records.len() as i64;
            if let Some(rec) = GoSumRecord::parse(text) {
                s.index.insert((rec.module, rec.version), id);
            }
            s.records.push(text.clone());
        }
        s.hashes = hashes;
        s.tree = tree;
        s.signed = signed;
        Ok(())
    }

    /// Completes or removes provisional records (see the module docs). Call with the writer
    /// lock held.
    async fn settle(&self) -> Result<(), OwnError> {
        let committed = self.read().tree.n;
        let prefix = self.keys.records_prefix();
        let listed = self
            .store
            .list(&prefix)
            .await
            .map_err(|e| OwnError::Store {
                op: "list",
                key: prefix.clone(),
                reason: e.to_string(),
            })?;
        let mut pending: Vec<i64> = listed
            .iter()
            .filter_map(|k| self.keys.parse_record_key(k))
            .filter(|id| *id >= committed)
            .collect();
        pending.sort_unstable();
        let mut complete: Vec<(Arc<str>, Vec<Hash>)> = Vec::new();
        let mut hashes = self.read().hashes.clone();
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut next = committed;
        for id in pending {
            let key = self.keys.record(id)?;
            let text = get(&self.store, &key).await?;
            let rec = text
                .as_deref()
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| GoSumRecord::parse(t).map(|r| (t.to_owned(), r)));
            let usable = match &rec {
                Some((_, r)) => {
                    let mv = (r.module.clone(), r.version.clone());
                    id == next && !self.read().index.contains_key(&mv) && !seen.contains(&mv)
                }
                None => false,
            };
            let Some((text, rec)) = rec.filter(|_| usable) else {
                tracing::warn!(db = %self.name(), id, "checksum database: removing a provisional record that cannot be completed");
                self.store
                    .delete(&key)
                    .await
                    .map_err(|e| store_err("delete", &key, e))?;
                let hkey = self.keys.hashes(id)?;
                self.store
                    .delete(&hkey)
                    .await
                    .map_err(|e| store_err("delete", &hkey, e))?;
                continue;
            };
            let add = tlog::stored_hashes(id, text.as_bytes(), &hashes)?;
            hashes.extend_from_slice(&add);
            // Never visible, so overwriting is safe and repairs a half-written append.
            self.put(&self.keys.hashes(id)?, hash_bytes(&add), PutMode::Overwrite)
                .await?;
            let ikey = self.keys.index(&rec.module, &rec.version)?;
            self.put(&ikey, Bytes::from(id.to_string()), PutMode::Overwrite)
                .await?;
            tracing::warn!(db = %self.name(), id, module = %rec.module, version = %rec.version,
                "checksum database: completing a record an interrupted append left behind");
            seen.push((rec.module, rec.version));
            complete.push((Arc::from(text), add));
            next += 1;
        }
        if !complete.is_empty() {
            self.commit(&complete).await?;
        }
        self.write().unsettled = false;
        Ok(())
    }
}

/// Concatenates hashes.
pub fn hash_bytes(hashes: &[Hash]) -> Bytes {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    Bytes::from(out)
}

/// Splits concatenated hashes; `None` if the length is not a multiple of 32.
pub fn parse_hash_bytes(data: &[u8]) -> Option<Vec<Hash>> {
    if !data.len().is_multiple_of(HASH_SIZE) {
        return None;
    }
    Some(
        data.chunks_exact(HASH_SIZE)
            .map(|c| {
                let mut h = [0u8; HASH_SIZE];
                h.copy_from_slice(c);
                Hash(h)
            })
            .collect(),
    )
}

/// The signed note of tree head `tree`.
pub fn sign_tree(signer: &Signer, tree: &Tree) -> Result<Vec<u8>, OwnError> {
    Ok(note::sign(&tlog::format_tree(tree), &[signer])?)
}

/// Opens a signed head with the log's verifier and parses its tree.
pub fn open_head(signed: &[u8], verifier: &Verifier) -> Result<Tree, OwnError> {
    let n = note::open(signed, std::slice::from_ref(verifier)).map_err(|e| OwnError::WrongKey {
        name: verifier.name().to_owned(),
        reason: e.to_string(),
    })?;
    Ok(tlog::parse_tree(n.text.as_bytes())?)
}

/// Reads a small object of the log.
pub async fn get(store: &DynStore, key: &Key) -> Result<Option<Bytes>, OwnError> {
    store
        .get_bytes(key, SMALL)
        .await
        .map_err(|e| store_err("read", key, e))
}
