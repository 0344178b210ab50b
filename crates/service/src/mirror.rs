//! The mirror: answers each GOPROXY request from the store, and on a miss fetches from the
//! upstream source, validates, stores, then answers.
//!
//! Rules (each tested in `tests/relay.rs` under a name that states it):
//! - `.info`, `.mod` and `.zip` of a canonical version are immutable once stored
//!   (`PutMode::Create`: the first complete write wins, nothing is ever replaced).
//! - A `.info` or `.mod` miss fetches `.info` and `.mod` together; a `.zip` miss fetches the
//!   zip (and `.info`/`.mod` first if missing), so a go.mod-only need never downloads zips.
//! - Everything is validated before it enters the store: `.info` names the requested version;
//!   `.mod` parses (leniently, as the go command parses dependencies' go.mod files) and
//!   declares the requested module path; the zip passes [`modzip::validate_zip`] (structure,
//!   CRCs, prefixes, names, limits) and its go.mod equals the `.mod` (or, when it has none,
//!   the `.mod` is exactly the synthesized `module <path>` line, as `coderepo.go` makes it).
//! - `@v/list` in the store always lists the versions actually stored (so `GOPROXY=file://`
//!   on the store is consistent); the upstream's list and `@latest` are cached as side data
//!   under `.modferry/` with a TTL, and served stale when the upstream fails.
//! - Concurrent misses of the same file cause one upstream fetch ([`SingleFlight`]).
//! - Offline (or with no upstream), list and latest are computed from stored versions.
//! - Replicas sharing one store: with [`MirrorConfig::lease_ttl`] set, a fetch from the
//!   upstream runs under a lease stored in the store ([`crate::lease`]), so concurrent misses on
//!   several replicas cause one upstream fetch; the others wait for the stored object.
//! - A create-only write that finds the object already there (another replica was first)
//!   verifies it: `.info`/`.mod` byte for byte, the zip by its h1 (`.ziphash`, or recomputed).
//!   Content that differs is an alarm (an `error` log line with `alarm=true` and the
//!   [`Mirror::immutable_conflicts`] counter); the existing object wins and is served, except a
//!   "zip" that is not a zip at all, which is kept but refused (500) rather than served.
//! - A zip is served once its `.ziphash` is stored (written after it); one found without it is
//!   hashed first, so an object that is not a zip is never served as one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use modferry_formats::{dirhash, modfile, module, modzip, pseudo, semver};
use modferry_sources::{DynSource, SourceError};
use modferry_store::{DynStore, FileKind, Key, Payload, PutMode, PutOutcome, layout};

use crate::checks::{ModuleCheck, SumdbRegistry};
use crate::error::ApiError;
use crate::flight::{KeyedLocks, SingleFlight};
use crate::lease::{Acquired, Leases};

/// The largest `.info`, `@latest` or `@v/list` body we read from the store into memory.
const SMALL_FILE_LIMIT: u64 = 16 << 20;

/// Behaviour switches of the mirror.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// Never contact an upstream; answer only from the store.
    pub offline: bool,
    /// How long an upstream `@v/list` or `@latest` answer is reused before asking again.
    pub list_ttl: Duration,
    /// How long an upstream "not found" is remembered (in memory) before asking again.
    pub negative_ttl: Duration,
    /// Bytes of `.info`/`.mod` files (immutable) kept in memory; 0 disables the cache.
    pub small_cache_bytes: usize,
    /// Coordinate upstream fetches with other replicas through leases in the store, each
    /// valid this long; `None` (the default) when this process is the store's only writer.
    pub lease_ttl: Option<Duration>,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            offline: false,
            list_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(60),
            small_cache_bytes: 32 << 20,
            lease_ttl: None,
        }
    }
}

/// Optional parts of a mirror: checks run before storing, and the checksum databases served.
#[derive(Default, Clone)]
pub struct MirrorExtras {
    /// Run in order on every module version before its `.mod` and `.zip` are stored.
    pub checks: Vec<Arc<dyn ModuleCheck>>,
    /// The databases answered under `/sumdb/<name>/`.
    pub sumdbs: SumdbRegistry,
    /// What `GET /.well-known/modferry` says about this mirror (for `modferry doctor`).
    pub description: MirrorDescription,
}

/// The parts of the mirror's self-description the serving command knows (the offline flag
/// and the checksum databases come from the mirror itself).
#[derive(Debug, Default, Clone)]
pub struct MirrorDescription {
    /// The modferry version serving.
    pub version: String,
    /// Module path patterns (GOPRIVATE syntax) the mirror treats as private.
    pub private: Vec<String>,
}

/// Result of a fetch shared between single-flight waiters.
type Shared = Result<(), ApiError>;

/// What a list/latest answer came from, for the `Cache-Control` decision and logs.
pub struct Fresh<T> {
    pub value: T,
}

/// Store + upstream + the rules that join them.
pub struct Mirror {
    store: DynStore,
    source: Option<DynSource>,
    cfg: MirrorConfig,
    extras: MirrorExtras,
    flights: SingleFlight<Shared>,
    list_locks: KeyedLocks,
    negative: std::sync::Mutex<std::collections::HashMap<String, (Instant, ApiError)>>,
    small_cache: std::sync::Mutex<SmallCache>,
    leases: Option<Leases>,
    conflicts: AtomicU64,
}

/// `.info` and `.mod` of canonical versions never change once stored, so hot ones are kept in
/// memory (with their ETag), up to a byte budget; the oldest entries go first.
#[derive(Default)]
struct SmallCache {
    map: std::collections::HashMap<String, (Bytes, Arc<str>)>,
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

impl Mirror {
    /// A mirror over `store`. `source` is `None` when the upstream is `off`.
    pub fn new(store: DynStore, source: Option<DynSource>, cfg: MirrorConfig) -> Arc<Self> {
        Self::with_extras(store, source, cfg, MirrorExtras::default())
    }

    /// A mirror with checks and checksum databases.
    pub fn with_extras(
        store: DynStore,
        source: Option<DynSource>,
        cfg: MirrorConfig,
        extras: MirrorExtras,
    ) -> Arc<Self> {
        let leases = cfg
            .lease_ttl
            .map(|ttl| Leases::new(Arc::clone(&store), ttl));
        Arc::new(Mirror {
            leases,
            conflicts: AtomicU64::new(0),
            store,
            source,
            cfg,
            extras,
            flights: SingleFlight::default(),
            list_locks: KeyedLocks::default(),
            negative: Default::default(),
            small_cache: Default::default(),
        })
    }

    /// The checksum databases served under `/sumdb/<name>/`.
    pub fn sumdbs(&self) -> &SumdbRegistry {
        &self.extras.sumdbs
    }

    /// What the serving command says about this mirror.
    pub fn description(&self) -> &MirrorDescription {
        &self.extras.description
    }

    /// Whether the mirror answers only from its store.
    pub fn is_offline(&self) -> bool {
        self.cfg.offline || self.source.is_none()
    }

    /// The store this mirror serves.
    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// How many create-only writes found a different object already stored (since start).
    pub fn immutable_conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// The upstream, unless offline or off.
    fn source(&self) -> Option<&DynSource> {
        if self.cfg.offline {
            None
        } else {
            self.source.as_ref()
        }
    }

    /// The not-found answer for a miss when no upstream may be asked.
    fn miss(&self, what: &str) -> ApiError {
        if self.cfg.offline {
            ApiError::not_found(format!(
                "{what} is not in the mirror (serving offline); add it on a connected machine \
                 (modferry serve with an upstream, then copy the store) or run without --offline"
            ))
        } else {
            ApiError::not_found(format!(
                "{what} is not in the mirror and the upstream is off (--upstream off)"
            ))
        }
    }

    /// Side data about a module's list (`.modferry/meta/<kind>/<escaped>/@v/list`): the
    /// upstream's last `@v/list` or `@latest` answer; its age is the object's modification time.
    fn side_key(module: &str, kind: &str) -> Result<Key, ApiError> {
        let list = store_key(layout::list(module))?;
        store_key(layout::meta(kind, &list))
    }

    // ---- negative cache -------------------------------------------------------------------

    fn negative_get(&self, key: &str) -> Option<ApiError> {
        let mut map = self.negative.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((at, err)) if at.elapsed() < self.cfg.negative_ttl => Some(err.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    fn negative_put(&self, key: &str, err: &ApiError) {
        if matches!(err, ApiError::NotFound { .. }) && !self.cfg.negative_ttl.is_zero() {
            let mut map = self.negative.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 100_000 {
                let ttl = self.cfg.negative_ttl;
                map.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            map.insert(key.to_string(), (Instant::now(), err.clone()));
        }
    }

    // ---- versions -------------------------------------------------------------------------

    /// The bytes and ETag of a stored `.info` or `.mod` of a canonical version, fetching both
    /// from the upstream when missing. Served from memory when hot.
    pub async fn small_file(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        kind: FileKind,
    ) -> Result<(Bytes, Arc<str>), ApiError> {
        let key = store_key(layout::version_file(module, version, kind))?;
        if let Some(hit) = self.cache_get(key.as_str()) {
            return Ok(hit);
        }
        let body = match self.read_small(&key).await? {
            Some(b) => b,
            None => {
                self.ensure_info_mod(module, version).await?;
                self.read_small(&key).await?.ok_or_else(|| {
                    ApiError::Store(format!(
                        "{key} vanished from the store after it was written"
                    ))
                })?
            }
        };
        let etag: Arc<str> = crate::http::content_etag(&body).into();
        self.cache_put(key.as_str(), &body, &etag);
        Ok((body, etag))
    }

    async fn read_small(&self, key: &Key) -> Result<Option<Bytes>, ApiError> {
        self.store
            .get_bytes(key, modzip::MAX_GO_MOD)
            .await
            .map_err(|e| ApiError::from_store(&e))
    }

    fn cache_get(&self, key: &str) -> Option<(Bytes, Arc<str>)> {
        let cache = self.small_cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.map.get(key).cloned()
    }

    fn cache_put(&self, key: &str, body: &Bytes, etag: &Arc<str>) {
        let budget = self.cfg.small_cache_bytes;
        if body.len() > budget / 16 {
            return;
        }
        let mut cache = self.small_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.map.contains_key(key) {
            return;
        }
        while cache.bytes + body.len() > budget {
            let Some(old) = cache.order.pop_front() else {
                break;
            };
            if let Some((b, _)) = cache.map.remove(&old) {
                cache.bytes -= b.len();
            }
        }
        cache.bytes += body.len();
        cache.order.push_back(key.to_string());
        cache
            .map
            .insert(key.to_string(), (body.clone(), Arc::clone(etag)));
    }

    /// Canonical versions stored for `module` (those with an `.info`), sorted.
    pub async fn stored_versions(&self, module: &str) -> Result<Vec<String>, ApiError> {
        let mut v = modferry_store::stored_versions(self.store.as_ref(), module)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        semver::sort(&mut v);
        Ok(v)
    }

    /// Rewrites `<module>/@v/list` from the stored versions (under a per-module lock so
    /// concurrent writers cannot lose a version).
    async fn refresh_stored_list(&self, module: &str) -> Result<(), ApiError> {
        let lock = self.list_locks.get(module);
        let _guard = lock.lock().await;
        let versions = self.stored_versions(module).await?;
        let mut body = String::new();
        for v in &versions {
            body.push_str(v);
            body.push('\n');
        }
        let key = store_key(layout::list(module))?;
        self.store
            .put(&key, Payload::Bytes(Bytes::from(body)), PutMode::Overwrite)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        Ok(())
    }

    /// Reads a side-data object if it is younger than the list TTL (or any age if `stale_ok`).
    async fn read_side(&self, key: &Key, stale_ok: bool) -> Result<Option<Bytes>, ApiError> {
        let Some(meta) = self
            .store
            .head(key)
            .await
            .map_err(|e| ApiError::from_store(&e))?
        else {
            return Ok(None);
        };
        let age = SystemTime::now()
            .duration_since(meta.modified)
            .unwrap_or_default();
        if !stale_ok && age >= self.cfg.list_ttl {
            return Ok(None);
        }
        self.store
            .get_bytes(key, SMALL_FILE_LIMIT)
            .await
            .map_err(|e| ApiError::from_store(&e))
    }

    /// The body of `@v/list`: the upstream's versions (cached for the TTL) merged with the
    /// stored ones. When the upstream fails but versions are stored, the stored (and last
    /// known upstream) versions are served.
    pub async fn list(self: &Arc<Self>, module: &str) -> Result<String, ApiError> {
        let stored = self.stored_versions(module).await?;
        let Some(source) = self.source().cloned() else {
            if stored.is_empty() {
                return Err(self.miss(module));
            }
            return Ok(join_lines(stored));
        };
        let side = Self::side_key(module, "upstream-list")?;
        if let Some(body) = self.read_side(&side, false).await? {
            return Ok(merge_list(&body, stored));
        }
        let neg_key = format!("list:{module}");
        let fetched = match self.negative_get(&neg_key) {
            Some(err) => Err(err),
            None => {
                let this = Arc::clone(self);
                let m = module.to_string();
                let flight_key = neg_key.clone();
                self.flights
                    .run(&flight_key, move || async move {
                        let body = source
                            .list(&m)
                            .await
                            .map_err(|e| ApiError::from_source(&m, &e))?;
                        let clean = clean_list(&body);
                        let side = Self::side_key(&m, "upstream-list")?;
                        this.store
                            .put(
                                &side,
                                Payload::Bytes(Bytes::from(clean)),
                                PutMode::Overwrite,
                            )
                            .await
                            .map_err(|e| ApiError::from_store(&e))?;
                        Ok(())
                    })
                    .await
            }
        };
        match fetched {
            Ok(()) => {
                let body = self.read_side(&side, true).await?.unwrap_or_default();
                Ok(merge_list(&body, stored))
            }
            Err(err) => {
                self.negative_put(&neg_key, &err);
                // Serve what we know rather than fail: stored versions plus the last
                // upstream answer, however old.
                let stale = self.read_side(&side, true).await?;
                if stored.is_empty() && stale.is_none() {
                    return Err(err);
                }
                tracing::warn!(module, error = %err, "upstream list failed; serving stored versions");
                Ok(merge_list(&stale.unwrap_or_default(), stored))
            }
        }
    }

    /// The body of `@latest` (an `.info` JSON).
    pub async fn latest(self: &Arc<Self>, module: &str) -> Result<Bytes, ApiError> {
        let Some(source) = self.source().cloned() else {
            return self.latest_from_store(module).await;
        };
        let side = Self::side_key(module, "upstream-latest")?;
        if let Some(body) = self.read_side(&side, false).await? {
            return Ok(body);
        }
        let neg_key = format!("latest:{module}");
        let fetched = match self.negative_get(&neg_key) {
            Some(err) => Err(err),
            None => {
                let this = Arc::clone(self);
                let m = module.to_string();
                self.flights
                    .run(&neg_key.clone(), move || async move {
                        let body = source
                            .latest(&m)
                            .await
                            .map_err(|e| ApiError::from_source(&format!("{m}@latest"), &e))?;
                        let version = info_version(&body).map_err(|r| {
                            ApiError::BadUpstream(format!("{m}@latest: upstream sent {r}"))
                        })?;
                        if module::check(&m, &version).is_err() {
                            return Err(ApiError::BadUpstream(format!(
                                "{m}@latest: upstream named version {version:?}, which is not a valid version of this module"
                            )));
                        }
                        let side = Self::side_key(&m, "upstream-latest")?;
                        this.store
                            .put(&side, Payload::Bytes(body), PutMode::Overwrite)
                            .await
                            .map_err(|e| ApiError::from_store(&e))?;
                        Ok(())
                    })
                    .await
            }
        };
        match fetched {
            Ok(()) => Ok(self.read_side(&side, true).await?.unwrap_or_default()),
            Err(err) => {
                self.negative_put(&neg_key, &err);
                if let Some(stale) = self.read_side(&side, true).await? {
                    tracing::warn!(module, error = %err, "upstream @latest failed; serving the last answer");
                    return Ok(stale);
                }
                match self.latest_from_store(module).await {
                    Ok(b) => {
                        tracing::warn!(module, error = %err, "upstream @latest failed; computed from the store");
                        Ok(b)
                    }
                    Err(_) => Err(err),
                }
            }
        }
    }

    /// `@latest` from stored versions: the highest release, else the highest pre-release,
    /// else the newest pseudo-version (the order `cmd/go/internal/modload/query.go` prefers).
    async fn latest_from_store(&self, module: &str) -> Result<Bytes, ApiError> {
        let versions = self.stored_versions(module).await?;
        let best = pick_latest(&versions).ok_or_else(|| self.miss(&format!("{module}@latest")))?;
        let key = store_key(layout::info(module, &best))?;
        self.store
            .get_bytes(&key, SMALL_FILE_LIMIT)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| self.miss(&format!("{module}@latest")))
    }

    /// Answers a `.info` request whose version is not canonical (a query such as a branch,
    /// a commit prefix or `v1.2`): relayed to the upstream and checked, not stored.
    pub async fn info_query(
        self: &Arc<Self>,
        module: &str,
        query: &str,
    ) -> Result<Bytes, ApiError> {
        let what = format!("{module}@{query}");
        let Some(source) = self.source().cloned() else {
            return Err(ApiError::not_found(format!(
                "{what}: {query:?} is not a canonical version, and queries cannot be resolved {}; ask for a full version such as v1.2.3",
                if self.cfg.offline {
                    "offline"
                } else {
                    "with the upstream off"
                }
            )));
        };
        let neg_key = format!("query:{what}");
        if let Some(err) = self.negative_get(&neg_key) {
            return Err(err);
        }
        let m = module.to_string();
        let q = query.to_string();
        let res: Result<Bytes, ApiError> = async {
            let body = source
                .info(&m, &q)
                .await
                .map_err(|e| ApiError::from_source(&what, &e))?;
            let version = info_version(&body)
                .map_err(|r| ApiError::BadUpstream(format!("{what}: upstream sent {r}")))?;
            if module::check(&m, &version).is_err() {
                return Err(ApiError::BadUpstream(format!(
                    "{what}: upstream resolved it to {version:?}, which is not a valid version of this module"
                )));
            }
            Ok(body)
        }
        .await;
        if let Err(e) = &res {
            self.negative_put(&neg_key, e);
        }
        res
    }

    /// Checks that `version` is a canonical version of `module` (module.Check), else 404
    /// with the reason: such a version cannot exist.
    fn check_canonical(module: &str, version: &str) -> Result<(), ApiError> {
        module::check(module, version)
            .map_err(|e| ApiError::not_found(format!("{module}@{version}: invalid version: {e}")))
    }

    /// Makes sure `.info` and `.mod` of a canonical version are stored, fetching both if not.
    pub async fn ensure_info_mod(
        self: &Arc<Self>,
        module: &str,
        version: &str,
    ) -> Result<(), ApiError> {
        self.ensure_info_mod_with(module, version, None).await
    }

    /// [`Mirror::ensure_info_mod`] that also hands the go.mod to `early` as soon as it has
    /// passed every check, before it is written: a caller that needs only its content (the
    /// graph walk of `sync`) goes on while the store makes the files durable, and may drop
    /// this future then (the fetch runs as its own task; a later `ensure_info_mod` joins it).
    /// `early` gets nothing when the files were stored already, when a fetch under way for
    /// another request was joined, or on failure: the result says which. Should a conflicting
    /// `.mod` from another writer be found while storing, the store keeps that one and the
    /// early content was the upstream's.
    pub async fn ensure_info_mod_early(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        early: tokio::sync::oneshot::Sender<Bytes>,
    ) -> Result<(), ApiError> {
        self.ensure_info_mod_with(module, version, Some(early))
            .await
    }

    async fn ensure_info_mod_with(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        early: Option<tokio::sync::oneshot::Sender<Bytes>>,
    ) -> Result<(), ApiError> {
        Self::check_canonical(module, version)?;
        let info_key = store_key(layout::info(module, version))?;
        let mod_key = store_key(layout::go_mod(module, version))?;
        if self.exists(&info_key).await? && self.exists(&mod_key).await? {
            return Ok(());
        }
        let what = format!("{module}@{version}");
        let Some(source) = self.source().cloned() else {
            return Err(self.miss(&what));
        };
        let neg_key = format!("mod:{what}");
        if let Some(err) = self.negative_get(&neg_key) {
            return Err(err);
        }
        let this = Arc::clone(self);
        let (m, v) = (module.to_string(), version.to_string());
        let res = self
            .flights
            .run(&neg_key.clone(), move || async move {
                // Re-check inside the flight: an earlier flight may have just stored it.
                if this.exists(&info_key).await? && this.exists(&mod_key).await? {
                    return Ok(());
                }
                let wanted = [info_key.clone(), mod_key.clone()];
                this.under_lease(&info_key, &wanted, || {
                    this.fetch_info_mod(&source, &m, &v, &info_key, &mod_key, early)
                })
                .await
            })
            .await;
        if let Err(e) = &res {
            self.negative_put(&neg_key, e);
        }
        res
    }

    /// Fetches, validates and stores `.info` and `.mod` (inside the flight and the lease).
    async fn fetch_info_mod(
        &self,
        source: &DynSource,
        m: &str,
        v: &str,
        info_key: &Key,
        mod_key: &Key,
        early: Option<tokio::sync::oneshot::Sender<Bytes>>,
    ) -> Result<(), ApiError> {
        let what = format!("{m}@{v}");
        // Both requests at once (one round trip instead of two); the .info's outcome is
        // judged first, as if it had been asked for first.
        let (info, gomod) = futures::join!(source.info(m, v), source.go_mod(m, v));
        let info = info.map_err(|e| ApiError::from_source(&what, &e))?;
        validate_info(m, v, &info)?;
        let gomod = gomod.map_err(|e| ApiError::from_source(&what, &e))?;
        validate_go_mod(m, v, &gomod)?;
        let mod_h1 = dirhash::hash_go_mod(&gomod);
        for check in &self.extras.checks {
            check.check_go_mod(m, v, &mod_h1).await?;
        }
        if let Some(early) = early {
            // The receiver may be gone; storing goes on regardless.
            let _ = early.send(gomod.clone());
        }
        self.put_immutable(mod_key, gomod).await?;
        self.put_immutable(info_key, info).await?;
        self.refresh_stored_list(m).await?;
        tracing::info!(module = %m, version = %v, "stored .info and .mod");
        Ok(())
    }

    /// Whether the zip of a canonical version is ready to serve as stored (its `.ziphash` is
    /// there, see [`Mirror::ensure_zip`]), asking the store once and fetching or verifying
    /// nothing. `false` means `ensure_zip` has work to do.
    pub async fn zip_ready(&self, module: &str, version: &str) -> Result<bool, ApiError> {
        Self::check_canonical(module, version)?;
        self.exists(&store_key(layout::ziphash(module, version))?)
            .await
    }

    /// Makes sure the zip (and `.info`/`.mod`) of a canonical version are stored.
    ///
    /// A zip is ready to serve once its `.ziphash` is stored: that is written after the zip,
    /// and only for a zip that hashes. A zip found without one (its writer stopped in between,
    /// or it was put there by other means) is hashed first; an object there that is not a zip
    /// is never served as one ([`Mirror::verify_stored_zip`]).
    pub async fn ensure_zip(self: &Arc<Self>, module: &str, version: &str) -> Result<(), ApiError> {
        Self::check_canonical(module, version)?;
        let zip_key = store_key(layout::zip(module, version))?;
        let hash_key = store_key(layout::ziphash(module, version))?;
        if self.exists(&hash_key).await? {
            return Ok(());
        }
        let what = format!("{module}@{version}");
        let this = Arc::clone(self);
        let (m, v) = (module.to_string(), version.to_string());
        self.flights
            .run(&format!("zip:{what}"), move || async move {
                if this.exists(&hash_key).await? {
                    return Ok(());
                }
                if this.exists(&zip_key).await? {
                    return this.verify_stored_zip(&zip_key, &hash_key).await;
                }
                let Some(source) = this.source().cloned() else {
                    return Err(this.miss(&format!("{what} (zip)")));
                };
                this.ensure_info_mod(&m, &v).await?;
                // Replicas waiting on the lease look for the .ziphash, which the holder
                // writes last.
                let wanted = [hash_key.clone()];
                this.under_lease(&zip_key, &wanted, || {
                    this.fetch_zip(&source, &m, &v, &zip_key)
                })
                .await
            })
            .await
    }

    async fn fetch_zip(
        &self,
        source: &DynSource,
        m: &str,
        v: &str,
        zip_key: &Key,
    ) -> Result<(), ApiError> {
        let what = format!("{m}@{v}");
        let staging = self.store.staging_dir().to_path_buf();
        let tmp = tempfile::Builder::new()
            .prefix("fetch-")
            .suffix(".zip")
            .tempfile_in(&staging)
            .map_err(|e| {
                ApiError::Store(format!(
                    "cannot create a temp file in {}: {e}",
                    staging.display()
                ))
            })?;
        let (std_file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let written = source
            .zip(m, v, &mut file, modzip::MAX_ZIP_FILE)
            .await
            .map_err(|e| match e {
                SourceError::TooLarge { .. } => ApiError::BadUpstream(format!(
                    "{what}: zip is larger than the {} MiB limit of the go command",
                    modzip::MAX_ZIP_FILE >> 20
                )),
                e => ApiError::from_source(&what, &e),
            })?;
        use tokio::io::AsyncWriteExt;
        // No fsync here: the store syncs a payload file before it gives it a name.
        file.flush()
            .await
            .map_err(|e| ApiError::Store(format!("writing temp zip: {e}")))?;
        let std_file = file.into_std().await;

        // Validate on a blocking thread: it reads every entry to check CRCs and sizes.
        let (m2, v2) = (m.to_string(), v.to_string());
        let summary =
            tokio::task::spawn_blocking(move || modzip::validate_zip(&m2, &v2, std_file, written))
                .await
                .map_err(|e| ApiError::Store(format!("zip validation task failed: {e}")))?
                .map_err(|e| {
                    ApiError::BadUpstream(format!("{what}: upstream zip rejected: {e}"))
                })?;

        // The zip's go.mod must be the .mod we serve for this version.
        let mod_key = store_key(layout::go_mod(m, v))?;
        let served_mod = self
            .store
            .get_bytes(&mod_key, modzip::MAX_GO_MOD)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| ApiError::Store(format!("{what}: .mod vanished from the store")))?;
        match &summary.go_mod {
            Some(zip_mod) if zip_mod.as_slice() != served_mod.as_ref() => {
                return Err(ApiError::BadUpstream(format!(
                    "{what}: upstream zip's go.mod differs from its .mod file (h1 {} vs {}); refusing to store an inconsistent module",
                    dirhash::hash_go_mod(zip_mod),
                    dirhash::hash_go_mod(&served_mod)
                )));
            }
            None if served_mod.as_ref() != synthesized_go_mod(m).as_bytes() => {
                return Err(ApiError::BadUpstream(format!(
                    "{what}: upstream zip has no go.mod, but its .mod is not the synthesized \"module {m}\" line"
                )));
            }
            _ => {}
        }

        for check in &self.extras.checks {
            check.check_zip(m, v, &summary.h1).await?;
        }
        let outcome = self
            .store
            .put(
                zip_key,
                Payload::File(tmp_path.to_path_buf()),
                PutMode::Create,
            )
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        let hash_key = store_key(layout::ziphash(m, v))?;
        // The .ziphash describes the zip actually stored: ours, or the one another writer
        // stored first (verified against ours).
        let h1 = match outcome {
            PutOutcome::Created => summary.h1.clone(),
            PutOutcome::AlreadyExists => {
                let existing = match self.stored_zip_h1(zip_key, &hash_key).await? {
                    Ok(h1) => h1,
                    Err(reason) => {
                        self.immutable_conflict(
                            zip_key,
                            &format!(
                                "the stored object is not a module zip ({reason}), the upstream sent {}",
                                summary.h1
                            ),
                        );
                        return Err(unusable_stored_zip(zip_key, &reason));
                    }
                };
                if existing != summary.h1 {
                    self.immutable_conflict(
                        zip_key,
                        &format!(
                            "stored zip has {existing}, the upstream sent {}",
                            summary.h1
                        ),
                    );
                }
                existing
            }
        };
        self.put_immutable(&hash_key, Bytes::from(h1)).await?;
        tracing::info!(module = %m, version = %v, bytes = written, h1 = %summary.h1, "stored zip");
        drop(tmp_path);
        Ok(())
    }

    async fn exists(&self, key: &Key) -> Result<bool, ApiError> {
        Ok(self
            .store
            .head(key)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .is_some())
    }

    /// Stores a small immutable file create-only; when one is already there, checks that it
    /// has the same bytes (an alarm otherwise; the stored one wins).
    async fn put_immutable(&self, key: &Key, body: Bytes) -> Result<(), ApiError> {
        let outcome = self
            .store
            .put(key, Payload::Bytes(body.clone()), PutMode::Create)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        if outcome == PutOutcome::AlreadyExists
            && let Some(existing) = self.read_small(key).await?
            && existing != body
        {
            self.immutable_conflict(
                key,
                &format!(
                    "stored {} bytes differ from the {} bytes fetched",
                    existing.len(),
                    body.len()
                ),
            );
        }
        Ok(())
    }

    /// Records a create-only write that found different content: log line and counter.
    fn immutable_conflict(&self, key: &Key, detail: &str) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            alarm = true,
            key = %key,
            detail,
            "immutable file conflict: another writer stored different content; keeping the stored object (served if it is usable)"
        );
    }

    /// Hashes a zip found stored without its `.ziphash`, and stores the hash (create-only; if
    /// that write fails the zip is still served, and hashed again next time). An object that
    /// is not a zip is refused: never served as one, never overwritten.
    async fn verify_stored_zip(&self, zip_key: &Key, hash_key: &Key) -> Result<(), ApiError> {
        let h1 = self
            .hash_stored_zip(zip_key)
            .await?
            .map_err(|reason| {
                tracing::error!(alarm = true, key = %zip_key, reason, "the object stored as a module zip is not one; refusing to serve it");
                unusable_stored_zip(zip_key, &reason)
            })?;
        if let Err(e) = self.put_immutable(hash_key, Bytes::from(h1)).await {
            tracing::warn!(key = %hash_key, error = %e, "cannot store the hash of a stored zip");
        }
        Ok(())
    }

    /// The h1 of the zip stored at `zip_key`: its `.ziphash` when present, else
    /// [`Mirror::hash_stored_zip`].
    async fn stored_zip_h1(
        &self,
        zip_key: &Key,
        hash_key: &Key,
    ) -> Result<Result<String, String>, ApiError> {
        if let Some(h) = self.read_small(hash_key).await? {
            return Ok(Ok(String::from_utf8_lossy(&h).trim().to_owned()));
        }
        self.hash_stored_zip(zip_key).await
    }

    /// The h1 recomputed from the bytes stored at `zip_key` (copied to a staging file first);
    /// `Ok(Err(reason))` when the stored object is not a zip that can be hashed.
    async fn hash_stored_zip(&self, zip_key: &Key) -> Result<Result<String, String>, ApiError> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let got = self
            .store
            .get(zip_key, None)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| ApiError::Store(format!("{zip_key} vanished from the store")))?;
        let staging = self.store.staging_dir().to_path_buf();
        let tmp = tempfile::NamedTempFile::new_in(&staging).map_err(|e| {
            ApiError::Store(format!(
                "cannot create a temp file in {}: {e}",
                staging.display()
            ))
        })?;
        let mut file = tokio::fs::File::from_std(
            tmp.reopen()
                .map_err(|e| ApiError::Store(format!("reopening a temp file: {e}")))?,
        );
        let mut body = got.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::StoreUnavailable(format!("reading {zip_key} from the store: {e}"))
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::Store(format!("writing a temp file: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::Store(format!("writing a temp file: {e}")))?;
        drop(file);
        let f = tmp
            .reopen()
            .map_err(|e| ApiError::Store(format!("reopening a temp file: {e}")))?;
        tokio::task::spawn_blocking(move || dirhash::hash_zip(f).map_err(|e| e.to_string()))
            .await
            .map_err(|e| ApiError::Store(format!("hashing task failed: {e}")))
    }

    /// Runs `fetch` under the cross-replica lease on `target` when leases are on; otherwise
    /// runs it directly. A replica that finds another's live lease waits until every key of
    /// `wanted` is stored (then returns `Ok` without fetching), or the lease goes away (then
    /// tries to take it).
    async fn under_lease<F, Fut>(
        &self,
        target: &Key,
        wanted: &[Key],
        fetch: F,
    ) -> Result<(), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), ApiError>>,
    {
        let Some(leases) = &self.leases else {
            return fetch().await;
        };
        let store_err = |e: modferry_store::StoreError| ApiError::from_store(&e);
        let mut fetch = Some(fetch);
        for _ in 0..3 {
            match leases.acquire(target).await.map_err(store_err)? {
                Acquired::Owned(lease) => {
                    // The previous holder may have finished just before we took the lease.
                    let res = match self.all_stored(wanted).await {
                        Ok(true) => Ok(()),
                        Ok(false) => match fetch.take() {
                            Some(f) => f().await,
                            None => Err(ApiError::Store(format!("{target}: fetch ran twice"))),
                        },
                        Err(e) => Err(e),
                    };
                    leases.release(lease).await;
                    return res;
                }
                Acquired::Held { owner, expires } => {
                    tracing::debug!(%target, %owner, "another replica is fetching; waiting for the store");
                    let ready = leases
                        .wait(target, expires, || async {
                            self.all_stored(wanted).await.map_err(|e| {
                                modferry_store::StoreError::Unavailable {
                                    reason: e.to_string(),
                                }
                            })
                        })
                        .await
                        .map_err(store_err)?;
                    if ready {
                        return Ok(());
                    }
                }
            }
        }
        Err(ApiError::StoreUnavailable(format!(
            "{target}: other replicas keep holding the fetch lease without storing it; try again"
        )))
    }

    async fn all_stored(&self, keys: &[Key]) -> Result<bool, ApiError> {
        for k in keys {
            if !self.exists(k).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A store key from the layout; a module path or version that cannot name one is the
/// client's error (400).
pub(crate) fn store_key(k: Result<Key, modferry_store::StoreError>) -> Result<Key, ApiError> {
    k.map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The answer for a zip key whose stored object is not a module zip (500: the store holds
/// something wrong; modferry never overwrites an immutable key, so a person must remove it).
fn unusable_stored_zip(zip_key: &Key, reason: &str) -> ApiError {
    ApiError::Store(format!(
        "{zip_key}: the object stored there is not a module zip ({reason}); it is not served \
         and never overwritten: remove it from the store"
    ))
}

/// The go.mod the go command synthesizes for a version without one (`coderepo.go`,
/// `LegacyGoMod`): a single module line.
pub fn synthesized_go_mod(module: &str) -> String {
    format!("module {module}\n")
}

/// Extracts `Version` from an `.info` JSON body, or says what is wrong with it.
fn info_version(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("an invalid .info JSON ({e})"))?;
    let version = v
        .get("Version")
        .and_then(|x| x.as_str())
        .ok_or_else(|| "an .info JSON without a Version".to_string())?;
    if let Some(t) = v.get("Time")
        && !t.is_null()
    {
        let ok = t.as_str().is_some_and(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        });
        if !ok {
            return Err("an .info JSON whose Time is not an RFC 3339 time".into());
        }
    }
    Ok(version.to_string())
}

/// `.info` must be JSON naming exactly the requested version (proxy.go `Stat` rejects
/// "proxy returned info for version X instead of requested version").
fn validate_info(module: &str, version: &str, body: &[u8]) -> Result<(), ApiError> {
    let got = info_version(body)
        .map_err(|r| ApiError::BadUpstream(format!("{module}@{version}: upstream sent {r}")))?;
    if got != version {
        return Err(ApiError::BadUpstream(format!(
            "{module}@{version}: upstream returned info for version {got} instead of the requested version"
        )));
    }
    Ok(())
}

/// `.mod` must parse as a dependency's go.mod (lenient: unknown future directives are fine)
/// and declare the requested module path. The go command does not check the path during
/// `go mod download`, so a wrong one would poison every later build; the mirror must.
fn validate_go_mod(module: &str, version: &str, body: &[u8]) -> Result<(), ApiError> {
    let what = format!("{module}@{version}");
    let parsed = modfile::parse_lax("go.mod", body).map_err(|e| {
        ApiError::BadUpstream(format!("{what}: upstream go.mod does not parse: {e}"))
    })?;
    let declared = parsed.module.as_ref().map(|m| m.path.as_str());
    if declared != Some(module) {
        return Err(ApiError::BadUpstream(format!(
            "{what}: upstream go.mod declares module path {:?}, not {module:?}",
            declared.unwrap_or("")
        )));
    }
    Ok(())
}

/// Canonical semver lines of an upstream list (the go command ignores anything else on a
/// line and any line whose first field is not valid semver: `proxy.go`, `Versions`).
fn clean_list(body: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        if let Some(v) = line.split_whitespace().next()
            && module::canonical_version(v).as_deref() == Some(v)
        {
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

fn merge_list(upstream: &[u8], stored: Vec<String>) -> String {
    let mut all = stored;
    for line in String::from_utf8_lossy(upstream).lines() {
        let v = line.trim();
        if !v.is_empty() && !all.iter().any(|s| s == v) {
            all.push(v.to_string());
        }
    }
    semver::sort(&mut all);
    join_lines(all)
}

fn join_lines(v: Vec<String>) -> String {
    let mut s = v.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// The highest release, else the highest pre-release, else the newest pseudo-version.
pub fn pick_latest(versions: &[String]) -> Option<String> {
    let tagged = versions.iter().filter(|v| !pseudo::is_pseudo_version(v));
    let releases = tagged.clone().filter(|v| semver::prerelease(v).is_none());
    let best = |it: &mut dyn Iterator<Item = &String>| {
        it.fold(None::<&String>, |acc, v| match acc {
            Some(a) if semver::compare(a, v) != std::cmp::Ordering::Less => Some(a),
            _ => Some(v),
        })
        .cloned()
    };
    best(&mut releases.into_iter())
        .or_else(|| best(&mut tagged.into_iter()))
        .or_else(|| {
            let mut pseudos = versions.iter().filter(|v| pseudo::is_pseudo_version(v));
            best(&mut pseudos)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_prefers_release_then_prerelease_then_pseudo() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["v1.0.0", "v1.1.0-rc.1", "v0.9.0"], Some("v1.0.0")),
            (&["v1.1.0-rc.1", "v1.1.0-beta"], Some("v1.1.0-rc.1")),
            (
                &[
                    "v0.0.0-20200101000000-abcdefabcdef",
                    "v0.0.0-20210101000000-abcdefabcdef",
                ],
                Some("v0.0.0-20210101000000-abcdefabcdef"),
            ),
            (
                &["v0.0.0-20200101000000-abcdefabcdef", "v0.1.0-pre"],
                Some("v0.1.0-pre"),
            ),
            (&[], None),
        ];
        for (input, want) in cases {
            assert_eq!(pick_latest(&s(input)).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn list_keeps_only_canonical_semver_first_fields() {
        assert_eq!(
            clean_list("v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\nbogus\nv1.2\n\nv2.0.0+incompatible\n"),
            "v1.0.0\nv1.1.0\nv2.0.0+incompatible\n"
        );
    }

    #[test]
    fn info_must_name_the_requested_version() {
        assert!(
            validate_info(
                "m.com/x",
                "v1.0.0",
                br#"{"Version":"v1.0.0","Time":"2020-01-01T00:00:00Z"}"#
            )
            .is_ok()
        );
        assert!(validate_info("m.com/x", "v1.0.0", br#"{"Version":"v1.0.1"}"#).is_err());
        assert!(
            validate_info(
                "m.com/x",
                "v1.0.0",
                br#"{"Version":"v1.0.0","Time":"yesterday"}"#
            )
            .is_err()
        );
        assert!(validate_info("m.com/x", "v1.0.0", b"not json").is_err());
    }

    #[test]
    fn go_mod_must_declare_the_requested_path() {
        assert!(
            validate_go_mod(
                "m.com/x",
                "v1.0.0",
                b"module m.com/x\n\nfuturedirective foo\n"
            )
            .is_ok()
        );
        assert!(validate_go_mod("m.com/x", "v1.0.0", b"module m.com/y\n").is_err());
        assert!(validate_go_mod("m.com/x", "v1.0.0", b"go 1.21\n").is_err());
    }
}
