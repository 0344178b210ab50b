//! Our own checksum database: a signed, append-only transparency log of every module version
//! the mirror serves, answering the protocol of x/mod `sumdb/server.go` (`/latest`,
//! `/lookup/<module>@<version>`, `/tile/<H>/<L>/<N>[.p/<W>]`, `/tile/<H>/data/<N>[.p/<W>]`)
//! that the go command's client (x/mod `sumdb/client.go`) checks.
//!
//! Clients set only `GOSUMDB="<verifier key> <mirror>/sumdb/<name>"`; the unmodified go command
//! then checks every module it downloads, public or private, against this log.
//!
//! - **What is recorded**: every module version the mirror serves. A lookup of a version not
//!   yet recorded makes the mirror fetch (or find) its zip and go.mod through
//!   [`Mirror::ensure_zip`] — so the mirror's other checks, such as verification against the
//!   public database, run first — and records their `h1:` hashes. As a [`ModuleCheck`], the
//!   database also records each version when its zip is stored. `golang.org/toolchain`
//!   versions are modules like any other.
//! - **Append-only**: a module version is recorded once. A different hash offered later is
//!   refused ([`OwnError::Conflict`]), logged as a security alarm, and nothing is stored.
//! - **Persistence** and crash safety: see [`log`].
//! - **Serving**: only the committed tree is visible; tiles are served when the committed tree
//!   holds all their entries and are 404 beyond it ([`Log::tile`]).
//!
//! Deviations from x/mod's server: a lookup of a version the mirror can serve records it
//! instead of answering 404, and database names are limited to one host name (no `/path`), as
//! the mirror's `/sumdb/<name>/` routes take one element.

pub mod audit;
pub mod log;

use std::sync::{Arc, OnceLock, Weak};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use modferry_formats::note::{NoteError, Signer};
use modferry_formats::tlog::{Tile, TlogError};
use modferry_formats::{dirhash, module, modzip};
use modferry_store::{DynStore, layout};

use crate::checks::{ModuleCheck, SumdbService};
use crate::error::ApiError;
use crate::mirror::Mirror;

pub use audit::{AuditReport, audit, check_against, remember};
pub use log::{Appended, FAILPOINT_ENV, GoSumRecord, Log, LogKeys};

/// Why an operation of the own database failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OwnError {
    /// The database name cannot be used.
    #[error("invalid checksum database name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A different hash for a recorded module version: refused, never recorded.
    #[error(
        "{module}@{version}: SECURITY ERROR: checksum mismatch with the mirror's checksum database \
         (record {id} has {recorded}, this copy has {offered}); the log is append-only, so this \
         version is refused"
    )]
    Conflict {
        /// Module path.
        module: String,
        /// Version.
        version: String,
        /// The record id.
        id: i64,
        /// The recorded zip and go.mod hashes.
        recorded: String,
        /// The hashes offered now.
        offered: String,
    },
    /// The module path or version is not valid.
    #[error("{module}@{version}: {reason}")]
    InvalidModule {
        /// Module path.
        module: String,
        /// Version.
        version: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error("checksum database: cannot {op} {key}: {reason}")]
    Store {
        /// What was being done (`read`, `write`, `list`, `delete`).
        op: &'static str,
        /// The key.
        key: String,
        /// The store's error.
        reason: String,
    },
    /// The head in the store is not signed by this key.
    #[error(
        "checksum database {name}: the signed tree head does not verify with this key: {reason}"
    )]
    WrongKey {
        /// Database name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The stored log is inconsistent.
    #[error("checksum database log is inconsistent: {detail}")]
    Corrupt {
        /// What is wrong.
        detail: String,
    },
    /// A log computation failed.
    #[error("checksum database: {0}")]
    Tlog(String),
    /// Signing failed.
    #[error("checksum database: signing: {0}")]
    Note(String),
    /// A public database could not be asked (audit `--against`).
    #[error("cannot ask the checksum database {name}: {reason}")]
    Unreachable {
        /// Database name.
        name: String,
        /// Why.
        reason: String,
    },
    /// No mirror is attached, so a version cannot be fetched to be recorded.
    #[error("{module}@{version} is not recorded in the checksum database {name}")]
    NotRecorded {
        /// Database name.
        name: String,
        /// Module path.
        module: String,
        /// Version.
        version: String,
    },
}

impl From<TlogError> for OwnError {
    fn from(e: TlogError) -> Self {
        OwnError::Tlog(e.to_string())
    }
}

impl From<NoteError> for OwnError {
    fn from(e: NoteError) -> Self {
        OwnError::Note(e.to_string())
    }
}

impl From<OwnError> for ApiError {
    fn from(e: OwnError) -> Self {
        match &e {
            OwnError::Conflict { .. } => ApiError::BadUpstream(e.to_string()),
            OwnError::InvalidModule { .. } => ApiError::BadRequest(e.to_string()),
            OwnError::NotRecorded { .. } => ApiError::not_found(e.to_string()),
            OwnError::Unreachable { .. } => ApiError::BadUpstream(e.to_string()),
            OwnError::BadName { .. }
            | OwnError::Store { .. }
            | OwnError::WrongKey { .. }
            | OwnError::Corrupt { .. }
            | OwnError::Tlog(_)
            | OwnError::Note(_) => ApiError::Store(e.to_string()),
        }
    }
}

/// Checks that `name` can name our database: a host name (what the go command requires of a
/// `GOSUMDB` name, without the optional `/path`) that is also a valid note key name.
pub fn check_db_name(name: &str) -> Result<(), OwnError> {
    let bad = |reason: &str| OwnError::BadName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || name.len() > 253 {
        return Err(bad("must be 1 to 253 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(bad(
            "use a host name: letters, digits, '.' and '-' (e.g. sumdb.example.internal)",
        ));
    }
    if name.starts_with(['.', '-']) || name.ends_with(['.', '-']) || name.contains("..") {
        return Err(bad(
            "must not start or end with '.' or '-', nor contain '..'",
        ));
    }
    Ok(())
}

/// How stale `/latest` may be: the head object is re-read at most this often for it.
const LATEST_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The own checksum database: served under `/sumdb/<name>/` and run as a [`ModuleCheck`].
pub struct OwnSumdb {
    log: Log,
    store: DynStore,
    mirror: OnceLock<Weak<Mirror>>,
}

impl OwnSumdb {
    /// Opens (or creates) the log of `signer`'s database in `store`; see [`Log::open`].
    pub async fn open(store: DynStore, signer: Signer) -> Result<Arc<OwnSumdb>, OwnError> {
        OwnSumdb::open_with_lease(store, signer, None).await
    }

    /// [`OwnSumdb::open`] for a store that several replicas share: appends take a writer lease
    /// valid for `lease_ttl` first (see [`log`]'s "Writers").
    pub async fn open_with_lease(
        store: DynStore,
        signer: Signer,
        lease_ttl: Option<std::time::Duration>,
    ) -> Result<Arc<OwnSumdb>, OwnError> {
        check_db_name(signer.name())?;
        let log = Log::open_with_lease(store.clone(), signer, lease_ttl).await?;
        Ok(Arc::new(OwnSumdb {
            log,
            store,
            mirror: OnceLock::new(),
        }))
    }

    /// Connects the mirror whose versions are recorded on lookup. The mirror owns this
    /// database (in its registry and checks), so it is held weakly; call once after
    /// building the mirror.
    pub fn attach_mirror(&self, mirror: &Arc<Mirror>) {
        let _ = self.mirror.set(Arc::downgrade(mirror));
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The database name.
    pub fn name(&self) -> &str {
        self.log.name()
    }

    /// The verifier key clients put in `GOSUMDB`.
    pub fn verifier_key(&self) -> String {
        self.log.verifier_key()
    }

    /// Records `module@version` with these hashes (or finds it recorded with them).
    pub async fn record(
        &self,
        module: &str,
        version: &str,
        zip_h1: &str,
        mod_h1: &str,
    ) -> Result<i64, OwnError> {
        let rec = GoSumRecord {
            module: module.to_owned(),
            version: version.to_owned(),
            zip_h1: zip_h1.to_owned(),
            mod_h1: mod_h1.to_owned(),
        };
        match self.log.append(&rec).await {
            Ok(Appended::New(id) | Appended::Existing(id)) => Ok(id),
            Err(e) => {
                if let OwnError::Conflict { .. } = &e {
                    tracing::error!(db = %self.name(), module, version, error = %e,
                        "SECURITY ALARM: a different hash for a recorded module version was refused");
                }
                Err(e)
            }
        }
    }

    /// The record id of a version the mirror serves, recording it first if needed: the zip
    /// and go.mod are made present through the mirror (fetching and checking them), then
    /// hashed from the store.
    pub async fn ensure_recorded(&self, module: &str, version: &str) -> Result<i64, ApiError> {
        if let Some((id, _)) = self.log.lookup(module, version) {
            return Ok(id);
        }
        // Another replica may have recorded it.
        self.log.refresh().await?;
        if let Some((id, _)) = self.log.lookup(module, version) {
            return Ok(id);
        }
        let not_recorded = || OwnError::NotRecorded {
            name: self.name().to_owned(),
            module: module.to_owned(),
            version: version.to_owned(),
        };
        let mirror = self
            .mirror
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(not_recorded)?;
        mirror.ensure_zip(module, version).await?;
        if let Some((id, _)) = self.log.lookup(module, version) {
            return Ok(id);
        }
        let mod_h1 = self.stored_mod_h1(module, version).await?;
        let zip_h1 = self.stored_zip_h1(module, version).await?;
        Ok(self.record(module, version, &zip_h1, &mod_h1).await?)
    }

    async fn stored_mod_h1(&self, module: &str, version: &str) -> Result<String, ApiError> {
        let key =
            layout::go_mod(module, version).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let data = self
            .store
            .get_bytes(&key, modzip::MAX_GO_MOD)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| {
                ApiError::Store(format!("{module}@{version}: .mod is not in the store"))
            })?;
        Ok(dirhash::hash_go_mod(&data))
    }

    /// The zip's `h1:` from the stored `.ziphash`, or computed from the stored zip.
    async fn stored_zip_h1(&self, module: &str, version: &str) -> Result<String, ApiError> {
        let bad_key = |e: modferry_store::StoreError| ApiError::BadRequest(e.to_string());
        let hkey = layout::ziphash(module, version).map_err(bad_key)?;
        if let Some(h) = self
            .store
            .get_bytes(&hkey, 1024)
            .await
            .map_err(|e| ApiError::from_store(&e))?
        {
            let h = String::from_utf8_lossy(&h).trim().to_owned();
            if h.starts_with("h1:") {
                return Ok(h);
            }
        }
        let zkey = layout::zip(module, version).map_err(bad_key)?;
        let got = self
            .store
            .get(&zkey, None)
            .await
            .map_err(|e| ApiError::from_store(&e))?
            .ok_or_else(|| {
                ApiError::Store(format!("{module}@{version}: .zip is not in the store"))
            })?;
        let staging = self.store.staging_dir().to_path_buf();
        let tmp = tempfile::tempfile_in(&staging).map_err(|e| {
            ApiError::Store(format!(
                "cannot create a temp file in {}: {e}",
                staging.display()
            ))
        })?;
        let mut file = tokio::fs::File::from_std(tmp);
        let mut body = got.body;
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ApiError::Store(format!("reading {zkey}: {e}")))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::Store(format!("writing temp zip: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::Store(format!("writing temp zip: {e}")))?;
        let std_file = file.into_std().await;
        let what = format!("{module}@{version}");
        tokio::task::spawn_blocking(move || {
            let mut f = std_file;
            use std::io::Seek;
            f.rewind()?;
            dirhash::hash_zip(f).map_err(std::io::Error::other)
        })
        .await
        .map_err(|e| ApiError::Store(format!("zip hashing task failed: {e}")))?
        .map_err(|e| ApiError::Store(format!("{what}: stored zip cannot be hashed: {e}")))
    }

    async fn lookup(&self, path: &str) -> Result<Response, ApiError> {
        let (m, v) = parse_lookup_path(path)?;
        let id = self.ensure_recorded(&m, &v).await?;
        let body = self.log.lookup_response(id)?;
        Ok(text_response(body, "text/plain; charset=UTF-8", "no-cache"))
    }

    fn tile(&self, path: &str) -> Result<Response, ApiError> {
        let tile = Tile::parse_path(path)
            .map_err(|e| ApiError::BadRequest(format!("invalid tile path: {e}")))?;
        let data = self.log.tile(&tile)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "{path}: beyond the checksum database's tree of size {}",
                self.log.tree().n
            ))
        })?;
        let ctype = if tile.is_data() {
            "text/plain; charset=UTF-8"
        } else {
            "application/octet-stream"
        };
        // A tile path names fixed content: later trees only add new tiles or wider ones.
        Ok(text_response(
            data.to_vec(),
            ctype,
            "public, max-age=604800, immutable",
        ))
    }
}

/// Parses `lookup/<escaped module>@<escaped version>` (x/mod server's `modVerRE`, then
/// unescaping) into a valid, canonical module version.
fn parse_lookup_path(path: &str) -> Result<(String, String), ApiError> {
    let syntax = || ApiError::BadRequest("invalid module@version syntax".into());
    let rest = path.strip_prefix("lookup/").ok_or_else(syntax)?;
    let (em, ev) = rest.split_once('@').ok_or_else(syntax)?;
    if em.is_empty() || ev.contains('@') || !ev.starts_with('v') {
        return Err(syntax());
    }
    let m = module::unescape_path(em).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let v = module::unescape_version(ev).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if module::canonical_version(&v).as_deref() != Some(v.as_str()) {
        return Err(syntax());
    }
    module::check(&m, &v).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok((m, v))
}

fn text_response(body: Vec<u8>, ctype: &'static str, cache: &'static str) -> Response {
    let len = body.len();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CACHE_CONTROL, cache)
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

#[async_trait::async_trait]
impl SumdbService for OwnSumdb {
    async fn handle(&self, path: &str) -> Result<Response, ApiError> {
        if path == "latest" {
            // Pick up other replicas' appends, without a store read per request.
            if let Err(e) = self.log.refresh_if_older(LATEST_REFRESH).await {
                tracing::warn!(db = %self.name(), error = %e, "checksum database: cannot re-read the head");
            }
            return Ok(text_response(
                self.log.signed().to_vec(),
                "text/plain; charset=UTF-8",
                "no-cache",
            ));
        }
        if path.starts_with("lookup/") {
            return self.lookup(path).await;
        }
        if path.starts_with("tile/") {
            let first = self.tile(path);
            if matches!(&first, Err(ApiError::NotFound { .. })) && self.log.refresh().await? {
                return self.tile(path);
            }
            return first;
        }
        Err(ApiError::not_found(format!(
            "{path}: not a checksum database path (want latest, lookup/…, tile/…)"
        )))
    }
}

#[async_trait::async_trait]
impl ModuleCheck for OwnSumdb {
    async fn check_go_mod(
        &self,
        module: &str,
        version: &str,
        go_mod_h1: &str,
    ) -> Result<(), ApiError> {
        if let Some((_, text)) = self.log.lookup(module, version) {
            let rec = GoSumRecord::parse(&text);
            if let Some(rec) = rec.filter(|r| r.mod_h1 != go_mod_h1) {
                // Let record() raise and log the conflict.
                self.record(module, version, &rec.zip_h1, go_mod_h1).await?;
            }
        }
        Ok(())
    }

    /// The mirror stores `.mod` before it fetches the zip, so the go.mod hash is read back
    /// from the store (it passed [`ModuleCheck::check_go_mod`] then).
    async fn check_zip(&self, module: &str, version: &str, zip_h1: &str) -> Result<(), ApiError> {
        let mod_h1 = self.stored_mod_h1(module, version).await?;
        self.record(module, version, zip_h1, &mod_h1).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_name_must_be_a_host_name() {
        const CASES: &[(&str, bool)] = &[
            ("sumdb.example.internal", true),
            ("localhost", true),
            ("my-db.corp", true),
            ("", false),
            ("sum db", false),
            ("a/b", false),
            (".lead", false),
            ("trail.", false),
            ("a..b", false),
            ("a+b", false),
        ];
        for (name, ok) in CASES {
            assert_eq!(check_db_name(name).is_ok(), *ok, "{name}");
        }
    }

    #[test]
    fn lookup_path_follows_server_go_mod_ver_syntax() {
        const CASES: &[(&str, Option<(&str, &str)>)] = &[
            (
                "lookup/example.com/m@v1.0.0",
                Some(("example.com/m", "v1.0.0")),
            ),
            (
                "lookup/example.com/!upper@v1.0.0-rc.1",
                Some(("example.com/Upper", "v1.0.0-rc.1")),
            ),
            (
                "lookup/golang.org/toolchain@v0.0.1-go1.21.0.linux-amd64",
                Some(("golang.org/toolchain", "v0.0.1-go1.21.0.linux-amd64")),
            ),
            ("lookup/example.com/m@latest", None),
            ("lookup/example.com/m@v1.0", None),
            ("lookup/example.com/m", None),
            ("lookup/@v1.0.0", None),
            ("lookup/example.com/m@v1.0.0@v2.0.0", None),
        ];
        for (path, want) in CASES {
            let got = parse_lookup_path(path).ok();
            let want = want.map(|(m, v)| (m.to_owned(), v.to_owned()));
            assert_eq!(got, want, "{path}");
        }
    }

    #[test]
    fn gosum_record_parses_only_the_two_lines_this_log_writes() {
        let good = "example.com/m v1.0.0 h1:abc=\nexample.com/m v1.0.0/go.mod h1:def=\n";
        let rec = GoSumRecord::parse(good).unwrap();
        assert_eq!(rec.text(), good);
        for bad in [
            "example.com/m v1.0.0 h1:abc=\n",
            "example.com/m v1.0.0 h1:abc=\nexample.com/n v1.0.0/go.mod h1:def=\n",
            "example.com/m v1.0.0 h1:abc=\nexample.com/m v1.0.0/go.mod h1:def=",
            "example.com/m v1.0.0 h1:abc=\nexample.com/m v1.0.1/go.mod h1:def=\n",
            "example.com/m v1.0 h1:abc=\nexample.com/m v1.0/go.mod h1:def=\n",
        ] {
            assert!(GoSumRecord::parse(bad).is_none(), "{bad:?}");
        }
    }
}
