//! Verifying every module version the mirror stores against a proxied checksum database.
//!
//! Go rule: cmd/go `modfetch/fetch.go` (`checkModSum`, `checkSumDB`: the go.sum line of a
//! module version, `<path> <version> <h1>` for the zip and `<path> <version>/go.mod <h1>` for the
//! go.mod, must equal the database's, else "SECURITY ERROR … checksum mismatch") and
//! `modfetch/sumdb.go` (`useSumDB`: modules matching GONOSUMDB are never looked up).
//! Restated for a mirror:
//!
//! - Before a `.mod` or `.zip` is stored, the database's lines for `module@version` are looked
//!   up through the mirror's own cached proxy path ([`ProxyDb::hashes`]), so the lookup and the
//!   tiles that prove it are cached for later offline clients.
//! - A different hash is refused with a one-line "checksum mismatch … SECURITY ERROR" message
//!   (502); nothing is stored. So is a record without the line asked for, and a database that
//!   does not know the module (a public database knows every public module; a private one
//!   belongs in `nosum`).
//! - Modules matching the `nosum` patterns are never sent to the database.
//! - When the database cannot be reached, the module is refused (fail-closed) unless
//!   `fail_open` is set, which lets it through with a warning. A mismatch is always refused.

use crate::checks::ModuleCheck;
use crate::error::ApiError;
use crate::sumdb::proxy::{ProxyDb, SumdbError};

/// A [`ModuleCheck`] against one proxied checksum database.
#[derive(Clone)]
pub struct SumdbVerifier {
    db: ProxyDb,
    fail_open: bool,
}

impl SumdbVerifier {
    /// Verifies against `db`; `fail_open` lets modules through when `db` is unreachable.
    pub fn new(db: ProxyDb, fail_open: bool) -> SumdbVerifier {
        SumdbVerifier { db, fail_open }
    }

    async fn verify(
        &self,
        module: &str,
        version: &str,
        go_mod: bool,
        h1: &str,
    ) -> Result<(), ApiError> {
        if self.db.is_private(module) {
            return Ok(());
        }
        let name = self.db.name();
        let line_version = if go_mod {
            format!("{version}/go.mod")
        } else {
            version.to_owned()
        };
        let (zip, gomod) = match self.db.hashes(module, version).await {
            Ok(h) => h,
            Err(e) if e.is_unreachable() && self.fail_open => {
                tracing::warn!(db = %name, module, version, error = %e,
                    "checksum database unreachable; storing without verification (fail_open)");
                return Ok(());
            }
            Err(SumdbError::Upstream(ApiError::NotFound { reason, .. })) => {
                return Err(ApiError::BadUpstream(format!(
                    "verifying {module}@{line_version}: not in the checksum database {name} \
                     ({reason}); refusing to store it. A private module belongs in the \
                     mirror's sumdb nosum patterns"
                )));
            }
            Err(e) if e.is_unreachable() => {
                return Err(ApiError::BadUpstream(format!(
                    "verifying {module}@{line_version}: cannot reach the checksum database \
                     {name}: {e}; refusing to store it unverified (set sumdb fail_open to allow)"
                )));
            }
            Err(e) => {
                return Err(ApiError::BadUpstream(format!(
                    "verifying {module}@{line_version}: {e}"
                )));
            }
        };
        let want = if go_mod { gomod } else { zip };
        match want {
            Some(w) if w == h1 => Ok(()),
            Some(w) => {
                tracing::error!(db = %name, module, version = %line_version, downloaded = h1, database = %w,
                    "checksum mismatch: refusing to store");
                Err(ApiError::BadUpstream(format!(
                    "verifying {module}@{line_version}: checksum mismatch: downloaded {h1}, \
                     {name} says {w}. SECURITY ERROR: this download does not match what the \
                     checksum database recorded; it may have been tampered with. Nothing was stored"
                )))
            }
            None => Err(ApiError::BadUpstream(format!(
                "verifying {module}@{line_version}: the checksum database {name} has a record \
                 for {module}@{version} without this line; SECURITY ERROR: refusing to store it"
            ))),
        }
    }
}

#[async_trait::async_trait]
impl ModuleCheck for SumdbVerifier {
    async fn check_go_mod(
        &self,
        module: &str,
        version: &str,
        go_mod_h1: &str,
    ) -> Result<(), ApiError> {
        self.verify(module, version, true, go_mod_h1).await
    }

    async fn check_zip(&self, module: &str, version: &str, zip_h1: &str) -> Result<(), ApiError> {
        self.verify(module, version, false, zip_h1).await
    }
}
