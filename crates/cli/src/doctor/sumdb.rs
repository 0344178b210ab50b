//! Comparing go.sum with the checksum database (`checksum-mismatch`).
//!
//! Go rules (cmd/go `modfetch/sumdb.go` `dbDial`, `initBase`; `modfetch/fetch.go`
//! `checkModSum`; x/mod `sumdb/client.go` `Lookup`), restated:
//!
//! - GOSUMDB is `KEY` or `KEY URL`. KEY is a verifier key (`name+hash+key`) or a name the go
//!   command knows the key of (`sum.golang.org`); `sum.golang.google.cn` is an alias for
//!   `sum.golang.org` reached at `https://sum.golang.google.cn`. An explicit URL bypasses every
//!   proxy; otherwise each GOPROXY entry that answers 200 to `<proxy>/sumdb/<name>/supported`
//!   serves the database, and `https://<name>` is the fallback.
//! - A lookup answer is trusted only when its tree note is signed by the configured key and its
//!   record is proven to be in that tree (tiles); the go.sum lines of a module version must then
//!   equal the record's, else the go command stops with "SECURITY ERROR".
//! - Modules matching GONOSUMDB (default GOPRIVATE) are never looked up: their names must not
//!   leave the machine.
//!
//! Deviation: the go command consults the database only for lines go.sum lacks, so a wrong
//! line it already has is caught only when the module is downloaded again; doctor looks up the
//! lines go.sum *has* (for the modules the build needs) to catch such a line before that. The
//! verification itself (signature, inclusion proof) is modferry-service's proxy-mode client
//! ([`ProxyDb`]) over a throwaway cache.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use modferry_formats::note::Verifier;
use modferry_service::sumdb::proxy::{ProxyDb, ProxyDbConfig, SUM_GOLANG_ORG_KEY, SumdbError};
use modferry_sources::{HttpConfig, SumdbClient};
use modferry_store::{DynStore, FsStore};

/// How many lookups run at once.
const PARALLEL_LOOKUPS: usize = 8;

/// A parsed GOSUMDB setting.
#[derive(Debug, Clone)]
pub struct Database {
    /// The verifier of the database's signed notes.
    pub verifier: Verifier,
    /// The URL given in GOSUMDB (then no proxy is asked), if any.
    pub url: Option<String>,
}

impl Database {
    /// The database name (from its key).
    pub fn name(&self) -> &str {
        self.verifier.name()
    }
}

/// Parses GOSUMDB as the go command does; `Ok(None)` for `off` or empty.
pub fn parse_database(gosumdb: &str) -> Result<Option<Database>, String> {
    let value = gosumdb.trim();
    let value = if value == "sum.golang.google.cn" {
        "sum.golang.org https://sum.golang.google.cn"
    } else {
        value
    };
    let fields: Vec<&str> = value.split_whitespace().collect();
    let (key, url) = match fields.as_slice() {
        [] | ["off"] => return Ok(None),
        [key] => (*key, None),
        [key, url] => (*key, Some((*url).to_owned())),
        _ => return Err(format!("invalid GOSUMDB {gosumdb:?}: too many fields")),
    };
    let key = if key == "sum.golang.org" {
        SUM_GOLANG_ORG_KEY
    } else {
        key
    };
    let verifier = Verifier::parse(key).map_err(|e| format!("invalid GOSUMDB {gosumdb:?}: {e}"))?;
    Ok(Some(Database { verifier, url }))
}

/// The database's go.sum lines for one module version: `(zip hash, go.mod hash)`.
pub type Hashes = (Option<String>, Option<String>);

/// A verifying client of one database at `base` (its own URL or `<proxy>/sumdb/<name>`), with a
/// cache that lives as long as the value.
pub struct Lookups {
    db: ProxyDb,
    _cache: tempfile::TempDir,
}

impl Lookups {
    /// A client of `db` at `base`; `nosum` (GONOSUMDB syntax) names modules never looked up.
    pub fn new(db: &Database, base: &str, nosum: &str) -> Result<Lookups, String> {
        let cfg = HttpConfig {
            connect_timeout: super::net::PROBE_TIMEOUT,
            request_timeout_small: Duration::from_secs(15),
            ..HttpConfig::default()
        };
        let client = SumdbClient::new(base, &cfg).map_err(|e| e.to_string())?;
        let cache = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let store: DynStore =
            Arc::new(FsStore::open(cache.path()).map_err(|e| format!("temporary cache: {e}"))?);
        let db = ProxyDb::new(
            ProxyDbConfig {
                verifier: db.verifier.clone(),
                latest_ttl: Duration::from_secs(3600),
                nosum: nosum.to_owned(),
            },
            Some(client),
            store,
        );
        Ok(Lookups { db, _cache: cache })
    }

    /// Looks up every `(module, version)` (a few at once), verified; modules the database does
    /// not know or that `nosum` covers come back as errors.
    pub async fn hashes(
        &self,
        modules: &[(String, String)],
    ) -> Vec<((String, String), Result<Hashes, SumdbError>)> {
        futures::stream::iter(modules.iter().cloned())
            .map(|(m, v)| async move {
                let res = if self.db.is_private(&m) {
                    Err(SumdbError::Misbehaving {
                        name: self.db.name().to_owned(),
                        reason: format!("{m} is private; not looked up"),
                    })
                } else {
                    self.db.hashes(&m, &v).await
                };
                ((m, v), res)
            })
            .buffer_unordered(PARALLEL_LOOKUPS)
            .collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gosumdb_known_name_alias_key_and_url_like_dbdial() {
        assert!(parse_database("off").unwrap().is_none());
        assert!(parse_database("").unwrap().is_none());
        let d = parse_database("sum.golang.org").unwrap().unwrap();
        assert_eq!(d.name(), "sum.golang.org");
        assert_eq!(d.url, None);
        let d = parse_database("sum.golang.google.cn").unwrap().unwrap();
        assert_eq!(d.name(), "sum.golang.org");
        assert_eq!(d.url.as_deref(), Some("https://sum.golang.google.cn"));
        let (_, vkey) = modferry_formats::note::generate_key("db.example", [3; 32]).unwrap();
        let d = parse_database(&format!("{vkey} http://127.0.0.1:9"))
            .unwrap()
            .unwrap();
        assert_eq!(d.name(), "db.example");
        assert_eq!(d.url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn gosumdb_unknown_name_or_extra_fields_are_invalid_like_dbdial() {
        for bad in ["db.example", "sum.golang.org a b"] {
            assert!(parse_database(bad).is_err(), "{bad}");
        }
    }
}
