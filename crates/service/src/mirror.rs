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

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use modferry_formats::{dirhash, modfile, module, modzip, pseudo, semver};
use modferry_sources::{DynSource, SourceError};
use modferry_store::{DynStore, Key, Payload, PutMode, layout};

use crate::checks::{ModuleCheck, SumdbRegistry};
use crate::error::ApiError;
use crate::flight::{KeyedLocks, SingleFlight};

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
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            offline: false,
            list_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(60),
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
        Arc::new(Mirror {
            store,
            source,
            cfg,
            extras,
            flights: SingleFlight::default(),
            list_locks: KeyedLocks::default(),
            negative: Default::default(),
        })
    }

    /// The checksum databases served under `/sumdb/<name>/`.
    pub fn sumdbs(&self) -> &SumdbRegistry {
        &self.extras.sumdbs
    }

    /// The store this mirror serves.
    pub fn store(&self) -> &DynStore {
        &self.store
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

    fn key(k: Result<Key, modferry_store::StoreError>) -> Result<Key, ApiError> {
        k.map_err(|e| ApiError::BadRequest(e.to_string()))
    }

    /// Side data about a module's list (`.modferry/meta/<kind>/<escaped>/@v/list`): the
    /// upstream's last `@v/list` or `@latest` answer; its age is the object's modification time.
    fn side_key(module: &str, kind: &str) -> Result<Key, ApiError> {
        let list = Self::key(layout::list(module))?;
        Self::key(layout::meta(kind, &list))
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
        let key = Self::key(layout::list(module))?;
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
        let key = Self::key(layout::info(module, &best))?;
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
        Self::check_canonical(module, version)?;
        let info_key = Self::key(layout::info(module, version))?;
        let mod_key = Self::key(layout::go_mod(module, version))?;
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
                let what = format!("{m}@{v}");
                let info = source
                    .info(&m, &v)
                    .await
                    .map_err(|e| ApiError::from_source(&what, &e))?;
                validate_info(&m, &v, &info)?;
                let gomod = source
                    .go_mod(&m, &v)
                    .await
                    .map_err(|e| ApiError::from_source(&what, &e))?;
                validate_go_mod(&m, &v, &gomod)?;
                let mod_h1 = dirhash::hash_go_mod(&gomod);
                for check in &this.extras.checks {
                    check.check_go_mod(&m, &v, &mod_h1).await?;
                }
                this.put_immutable(&mod_key, Payload::Bytes(gomod)).await?;
                this.put_immutable(&info_key, Payload::Bytes(info)).await?;
                this.refresh_stored_list(&m).await?;
                tracing::info!(module = %m, version = %v, "stored .info and .mod");
                Ok(())
            })
            .await;
        if let Err(e) = &res {
            self.negative_put(&neg_key, e);
        }
        res
    }

    /// Makes sure the zip (and `.info`/`.mod`) of a canonical version are stored.
    pub async fn ensure_zip(self: &Arc<Self>, module: &str, version: &str) -> Result<(), ApiError> {
        Self::check_canonical(module, version)?;
        let zip_key = Self::key(layout::zip(module, version))?;
        if self.exists(&zip_key).await? {
            return Ok(());
        }
        let what = format!("{module}@{version}");
        let Some(source) = self.source().cloned() else {
            return Err(self.miss(&format!("{what} (zip)")));
        };
        self.ensure_info_mod(module, version).await?;
        let this = Arc::clone(self);
        let (m, v) = (module.to_string(), version.to_string());
        self.flights
            .run(&format!("zip:{what}"), move || async move {
                if this.exists(&zip_key).await? {
                    return Ok(());
                }
                this.fetch_zip(&source, &m, &v, &zip_key).await
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
        file.flush()
            .await
            .map_err(|e| ApiError::Store(format!("writing temp zip: {e}")))?;
        file.sync_all()
            .await
            .map_err(|e| ApiError::Store(format!("syncing temp zip: {e}")))?;
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
        let mod_key = Self::key(layout::go_mod(m, v))?;
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
        self.put_immutable(zip_key, Payload::File(tmp_path.to_path_buf()))
            .await?;
        let hash_key = Self::key(layout::ziphash(m, v))?;
        self.put_immutable(&hash_key, Payload::Bytes(Bytes::from(summary.h1.clone())))
            .await?;
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

    async fn put_immutable(&self, key: &Key, payload: Payload) -> Result<(), ApiError> {
        self.store
            .put(key, payload, PutMode::Create)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        Ok(())
    }
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
