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
//! | `head` | compare-and-swap | the signed tree head note: **the single commit point** |
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
//! Appends are serialized by one lock per process. Several processes may append to one store
//! (replicas sharing a bucket); exactly one of them commits at a time:
//!
//! - **Leases decide who tries** ([`Log::open_with_lease`]): an appending process first takes
//!   the lease `.modferry/meta/lease/sumdb-writer/<name>` ([`crate::lease`]); others wait until it is released or expires.
//! - **A compare-and-swap on the head fences the rest** ([`Store::put_if_match`], S3 `If-Match`):
//!   a commit replaces the head only if it is still the version this process last read. A
//!   writer whose lease expired while it worked (or a log opened without leases) loses that swap
//!   when someone else committed meanwhile; so does a writer whose `Create` of the next record
//!   id finds it taken. Either way it re-reads the head and the records it adds
//!   ([`Log::refresh`]), settles, and tries again (a bounded number of times, then refuses).
//!   Settling completes another writer's provisional record only with exactly the hashes that
//!   writer would have written, so completing it twice is harmless.
//! - **Readers on every replica**: a replica that does not write picks up other replicas'
//!   appends with [`Log::refresh`]: the database calls it on a lookup miss, on a tile beyond
//!   its tree, and (at most once a second) for `/latest`.
//!
//! [`Store::put_if_match`]: modferry_store::Store::put_if_match

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use modferry_formats::module;
use modferry_formats::note::{self, Signer, Verifier};
use modferry_formats::tlog::{self, HASH_SIZE, Hash, Tile, Tree};
use modferry_store::{DynStore, Key, Payload, PutMode, PutOutcome, StoreError, SwapOutcome};

use super::OwnError;
use crate::lease::{Acquired, Lease, Leases};

/// How many times one append tries again after losing a race to another writer.
const MAX_RACES: usize = 20;

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

    /// The key the writer lease is taken on (`sumdb-writer/<name>`, so the lease object is
    /// `.modferry/meta/lease/sumdb-writer/<name>`); nothing is stored at the key itself.
    pub fn writer_lease_target(&self) -> Result<Key, OwnError> {
        let name = self
            .base
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        Key::new(format!("sumdb-writer/{name}")).map_err(|e| OwnError::Corrupt {
            detail: format!("cannot form the writer lease key: {e}"),
        })
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
    /// The entity tag of the head object `signed` was read from (or written as): what the next
    /// commit's compare-and-swap expects.
    head_etag: String,
    /// When the head was last read from the store.
    checked: Instant,
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
    /// Serializes [`Log::refresh`].
    refreshing: tokio::sync::Mutex<()>,
    /// The writer lease across processes, when several may append.
    leases: Option<Leases>,
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
        Log::open_with_lease(store, signer, None).await
    }

    /// [`Log::open`] for a store several processes append to: with `lease_ttl`, each append
    /// first takes the writer lease (see the module docs). Without it, appends are still fenced
    /// by the head's compare-and-swap, just not kept from colliding.
    pub async fn open_with_lease(
        store: DynStore,
        signer: Signer,
        lease_ttl: Option<Duration>,
    ) -> Result<Log, OwnError> {
        let keys = LogKeys::new(signer.name())?;
        let verifier = signer.verifier();
        let head_key = keys.head()?;
        let (signed, head_etag) = match get_head(&store, &head_key).await? {
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
                get_head(&store, &head_key)
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
        check_records_hash_to(&tree, &hashes)?;
        let leases = lease_ttl.map(|ttl| Leases::new(Arc::clone(&store), ttl));
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
                head_etag,
                checked: Instant::now(),
            }),
            writer: tokio::sync::Mutex::new(()),
            refreshing: tokio::sync::Mutex::new(()),
            leases,
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
        let lease = self.take_lease().await?;
        let res = self.append_fenced(rec, &text).await;
        if let (Some(leases), Some(lease)) = (&self.leases, lease) {
            leases.release(lease).await;
        }
        res
    }

    /// Takes the writer lease (when leases are on), waiting while another process holds it.
    async fn take_lease(&self) -> Result<Option<Lease>, OwnError> {
        let Some(leases) = &self.leases else {
            return Ok(None);
        };
        // Leases name what they guard with a non-side-data key; no object is stored there.
        let target = self.keys.writer_lease_target()?;
        let lease_err = |e: StoreError| OwnError::Store {
            op: "take the writer lease on",
            key: target.to_string(),
            reason: e.to_string(),
        };
        let deadline = Instant::now() + leases.ttl() * 3;
        while Instant::now() < deadline {
            match leases.acquire(&target).await.map_err(lease_err)? {
                Acquired::Owned(lease) => return Ok(Some(lease)),
                Acquired::Held { owner, expires } => {
                    tracing::debug!(db = %self.name(), %owner, "checksum database: waiting for the writer lease");
                    leases
                        .wait(&target, expires, || async { Ok(false) })
                        .await
                        .map_err(lease_err)?;
                }
            }
        }
        Err(OwnError::Store {
            op: "take the writer lease on",
            key: target.to_string(),
            reason: "other replicas keep holding it; try again".to_owned(),
        })
    }

    /// Appends under the writer lock, starting over when another process won a race.
    async fn append_fenced(&self, rec: &GoSumRecord, text: &str) -> Result<Appended, OwnError> {
        for race in 0..MAX_RACES {
            if race > 0 {
                // Someone else appended: catch up before trying again.
                tokio::time::sleep(Duration::from_millis(10 * race as u64)).await;
                self.refresh().await?;
                if let Some(found) = self.check_existing(rec, text)? {
                    return Ok(found);
                }
            }
            if self.read().unsettled {
                self.settle().await?;
                if let Some(found) = self.check_existing(rec, text)? {
                    return Ok(found);
                }
            }
            match self.append_locked(rec, text).await {
                Ok(Some(id)) => return Ok(Appended::New(id)),
                Ok(None) => self.write().unsettled = true,
                Err(e) => {
                    self.write().unsettled = true;
                    return Err(e);
                }
            }
        }
        Err(OwnError::Store {
            op: "append to",
            key: self.keys.head()?.to_string(),
            reason: format!("lost {MAX_RACES} races to other writers in a row; try again"),
        })
    }

    /// Reads the head from the store and, if another process committed since this one last
    /// looked, loads the records it added (checking them against the signed head). Returns
    /// whether the tree grew.
    pub async fn refresh(&self) -> Result<bool, OwnError> {
        let _r = self.refreshing.lock().await;
        let hkey = self.keys.head()?;
        let (signed, etag) =
            get_head(&self.store, &hkey)
                .await?
                .ok_or_else(|| OwnError::Corrupt {
                    detail: format!("the signed head {hkey} is missing"),
                })?;
        let (old, mut hashes, old_etag) = {
            let mut s = self.write();
            s.checked = Instant::now();
            (s.tree, s.hashes.clone(), s.head_etag.clone())
        };
        if etag == old_etag {
            return Ok(false);
        }
        let tree = open_head(&signed, &self.verifier)?;
        if tree.n < old.n || (tree.n == old.n && tree.hash != old.hash) {
            return Err(OwnError::Corrupt {
                detail: format!(
                    "the signed head went from size {} to size {} with a different hash: the log was rewritten",
                    old.n, tree.n
                ),
            });
        }
        let mut new: Vec<(Arc<str>, GoSumRecord)> = Vec::new();
        for id in old.n..tree.n {
            let key = self.keys.record(id)?;
            let text = get(&self.store, &key)
                .await?
                .ok_or_else(|| OwnError::Corrupt {
                    detail: format!("committed record {id} is missing ({key})"),
                })?;
            let text = std::str::from_utf8(&text).map_err(|_| OwnError::Corrupt {
                detail: format!("record {id} is not UTF-8"),
            })?;
            let rec = GoSumRecord::parse(text).ok_or_else(|| OwnError::Corrupt {
                detail: format!("record {id} is not a go.sum record"),
            })?;
            hashes.extend(tlog::stored_hashes(id, text.as_bytes(), &hashes)?);
            new.push((Arc::from(text), rec));
        }
        check_records_hash_to(&tree, &hashes)?;
        let mut s = self.write();
        if s.tree != old {
            // This process committed meanwhile; the next refresh looks again.
            return Ok(false);
        }
        for (text, rec) in new {
            let id = s.records.len() as i64;
            if s.index.insert((rec.module, rec.version), id).is_some() {
                return Err(OwnError::Corrupt {
                    detail: format!("record {id} repeats an earlier module version"),
                });
            }
            s.records.push(text);
        }
        s.hashes = hashes;
        s.tree = tree;
        s.signed = signed;
        s.head_etag = etag;
        Ok(tree.n > old.n)
    }

    /// [`Log::refresh`] unless the head was read less than `interval` ago.
    pub async fn refresh_if_older(&self, interval: Duration) -> Result<bool, OwnError> {
        if self.read().checked.elapsed() < interval {
            return Ok(false);
        }
        self.refresh().await
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

    /// One attempt; `None` when another writer got there first (the record id was taken or
    /// the head changed).
    async fn append_locked(&self, rec: &GoSumRecord, text: &str) -> Result<Option<i64>, OwnError> {
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
            tracing::debug!(db = %self.name(), id, "checksum database: record id taken by another writer");
            return Ok(None);
        }
        failpoint("sumdb-append-after-record");
        let hkey = self.keys.hashes(id)?;
        self.put_provisional(&hkey, hash_bytes(&add)).await?;
        failpoint("sumdb-append-after-hashes");
        let ikey = self.keys.index(&rec.module, &rec.version)?;
        self.put_provisional(&ikey, Bytes::from(id.to_string()))
            .await?;
        failpoint("sumdb-append-after-index");
        if !self.commit(&[(Arc::from(text), add)]).await? {
            tracing::debug!(db = %self.name(), id, "checksum database: head changed under this writer");
            return Ok(None);
        }
        tracing::info!(
            db = %self.name(), id, module = %rec.module, version = %rec.version,
            "checksum database: recorded"
        );
        Ok(Some(id))
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
    /// hashes), then publishes them in memory. The head is replaced only if it is still the one
    /// this process last read or wrote; `false` means another writer changed it (nothing was
    /// written).
    async fn commit(&self, new: &[(Arc<str>, Vec<Hash>)]) -> Result<bool, OwnError> {
        let (tree, hashes, expected) = {
            let s = self.read();
            let mut hashes = s.hashes.clone();
            for (_, add) in new {
                hashes.extend_from_slice(add);
            }
            let n = s.tree.n + new.len() as i64;
            let hash = tlog::tree_hash(n, &hashes)?;
            (Tree { n, hash }, hashes, s.head_etag.clone())
        };
        let signed = Bytes::from(sign_tree(&self.signer, &tree)?);
        let hkey = self.keys.head()?;
        let swapped = self
            .store
            .put_if_match(&hkey, signed.clone(), &expected)
            .await
            .map_err(|e| store_err("write", &hkey, e))?;
        let SwapOutcome::Swapped { etag } = swapped else {
            return Ok(false);
        };
        let mut s = self.write();
        s.head_etag = etag;
        s.checked = Instant::now();
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
        Ok(true)
    }

    /// Completes or removes provisional records (see the module docs). Call with the writer
    /// lock held.
    async fn settle(&self) -> Result<(), OwnError> {
        // Another process may have committed what looks provisional from a stale head.
        self.refresh().await?;
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
        if !complete.is_empty() && !self.commit(&complete).await? {
            // Another writer committed meanwhile: stay unsettled, the caller catches up.
            self.refresh().await?;
            return Ok(());
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

/// Checks that the stored hashes of the first `tree.n` records give the signed head's hash.
fn check_records_hash_to(tree: &Tree, hashes: &[Hash]) -> Result<(), OwnError> {
    let th = tlog::tree_hash(tree.n, hashes)?;
    if th != tree.hash {
        return Err(OwnError::Corrupt {
            detail: format!(
                "the records do not hash to the signed head (size {}, head {}, records {th}); run modferry sumdb audit",
                tree.n, tree.hash
            ),
        });
    }
    Ok(())
}

/// Reads the head object whole with its entity tag (one request, so the two agree).
async fn get_head(store: &DynStore, key: &Key) -> Result<Option<(Bytes, String)>, OwnError> {
    let Some(got) = store
        .get(key, None)
        .await
        .map_err(|e| store_err("read", key, e))?
    else {
        return Ok(None);
    };
    if got.meta.size > SMALL {
        return Err(OwnError::Corrupt {
            detail: format!(
                "{key} is {} bytes, too large for a signed head",
                got.meta.size
            ),
        });
    }
    let etag = got.meta.etag.clone();
    let mut data = Vec::with_capacity(got.meta.size as usize);
    let mut body = got.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| OwnError::Store {
            op: "read",
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        data.extend_from_slice(&chunk);
    }
    Ok(Some((Bytes::from(data), etag)))
}

/// Reads a small object of the log.
pub async fn get(store: &DynStore, key: &Key) -> Result<Option<Bytes>, OwnError> {
    store
        .get_bytes(key, SMALL)
        .await
        .map_err(|e| store_err("read", key, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sumdb::own::audit;

    fn signer() -> Signer {
        let (skey, _) = note::generate_key("sumdb.example.internal", [7; 32]).unwrap();
        Signer::parse(&skey).unwrap()
    }

    fn record(i: usize) -> GoSumRecord {
        GoSumRecord {
            module: format!("example.com/m{i}"),
            version: "v1.0.0".to_owned(),
            zip_h1: format!("h1:zip{i}="),
            mod_h1: format!("h1:mod{i}="),
        }
    }

    /// Several processes appending to one store: the head's compare-and-swap fences them, so
    /// every record is committed exactly once and the log stays consistent, with or without the
    /// writer lease.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_commit_each_record_exactly_once() {
        const WRITERS: usize = 4;
        const RECORDS: usize = 12;
        let dir = tempfile::tempdir().unwrap();
        let mut logs = Vec::new();
        for w in 0..WRITERS {
            // A store per writer, as separate processes would have.
            let store: DynStore = Arc::new(modferry_store::FsStore::open(dir.path()).unwrap());
            let lease = (w % 2 == 0).then_some(Duration::from_secs(10));
            logs.push(Arc::new(
                Log::open_with_lease(store, signer(), lease).await.unwrap(),
            ));
        }
        let mut tasks = Vec::new();
        for (w, log) in logs.iter().enumerate() {
            let log = Arc::clone(log);
            tasks.push(tokio::spawn(async move {
                // Every writer offers every record, each in its own order.
                let mut ids = Vec::new();
                for i in 0..RECORDS {
                    let rec = record((i * (w + 1) + w) % RECORDS);
                    match log.append(&rec).await.unwrap() {
                        Appended::New(id) | Appended::Existing(id) => ids.push((rec, id)),
                    }
                }
                ids
            }));
        }
        let mut by_record: HashMap<String, i64> = HashMap::new();
        for t in tasks {
            for (rec, id) in t.await.unwrap() {
                let prev = by_record.insert(rec.module.clone(), id);
                assert!(prev.is_none_or(|p| p == id), "{} got two ids", rec.module);
            }
        }
        assert_eq!(by_record.len(), RECORDS);
        let store: DynStore = Arc::new(modferry_store::FsStore::open(dir.path()).unwrap());
        let report = audit(&store, &signer().verifier(), false).await.unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.size, RECORDS as i64, "each record exactly once");
        // A reader that did not write catches up by re-reading the head.
        for log in &logs {
            log.refresh().await.unwrap();
            assert_eq!(log.tree().n, RECORDS as i64);
            for (module, id) in &by_record {
                assert_eq!(log.lookup(module, "v1.0.0").map(|(i, _)| i), Some(*id));
            }
        }
    }

    /// A writer whose view is stale (another process committed since it read the head) loses
    /// the swap instead of overwriting the other's head, then catches up and appends after it.
    #[tokio::test]
    async fn stale_writer_loses_the_head_swap_and_appends_after_catching_up() {
        let dir = tempfile::tempdir().unwrap();
        let open = || async {
            let store: DynStore = Arc::new(modferry_store::FsStore::open(dir.path()).unwrap());
            Log::open(store, signer()).await.unwrap()
        };
        let (a, b) = (open().await, open().await);
        assert_eq!(a.append(&record(0)).await.unwrap(), Appended::New(0));
        // b still believes the tree is empty.
        assert_eq!(b.tree().n, 0);
        assert_eq!(b.append(&record(1)).await.unwrap(), Appended::New(1));
        assert_eq!(b.append(&record(0)).await.unwrap(), Appended::Existing(0));
        assert!(a.refresh().await.unwrap());
        assert_eq!(a.tree().n, 2);
        assert_eq!(
            a.lookup("example.com/m1", "v1.0.0").map(|(i, _)| i),
            Some(1)
        );
    }
}
