//! Hooks that see every module version before it enters the store, and the registry of the
//! checksum databases served under `/sumdb/<name>/`.
//!
//! - [`ModuleCheck`]: called by the [`Mirror`](crate::Mirror) after a file passed validation
//!   and before it is stored, with its `h1:` hash. An error refuses the file: nothing is
//!   stored and the client gets the error. The public-database verifier (proxy mode) and our
//!   own signed database (which records every version the mirror serves) implement it.
//! - [`SumdbService`]: answers `/sumdb/<name>/<path>` for one database name (`supported`,
//!   `latest`, `lookup/…`, `tile/…`), either relaying and caching a database or serving our own.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response;

use crate::error::ApiError;

/// A check run on each module version before its files are stored.
#[async_trait::async_trait]
pub trait ModuleCheck: Send + Sync + 'static {
    /// Before `.mod` of `module@version` is stored; `go_mod_h1` is its `h1:` hash (the
    /// go.sum `/go.mod` line's hash).
    async fn check_go_mod(
        &self,
        module: &str,
        version: &str,
        go_mod_h1: &str,
    ) -> Result<(), ApiError>;
    /// Before the `.zip` of `module@version` is stored; `zip_h1` is its `h1:` hash.
    async fn check_zip(&self, module: &str, version: &str, zip_h1: &str) -> Result<(), ApiError>;
}

/// One checksum database served under `/sumdb/<name>/`.
#[async_trait::async_trait]
pub trait SumdbService: Send + Sync + 'static {
    /// Answers `GET /sumdb/<name>/<path>`; `path` is what follows `<name>/` (e.g. `latest`,
    /// `lookup/example.com/m@v1.0.0`, `tile/8/0/000`). `supported` is answered by the registry.
    async fn handle(&self, path: &str) -> Result<Response, ApiError>;
}

/// The checksum databases this mirror serves, by name.
#[derive(Default, Clone)]
pub struct SumdbRegistry {
    dbs: BTreeMap<String, Arc<dyn SumdbService>>,
}

impl SumdbRegistry {
    /// Registers `service` under `name` (a later registration of the same name replaces it).
    pub fn insert(&mut self, name: impl Into<String>, service: Arc<dyn SumdbService>) {
        self.dbs.insert(name.into(), service);
    }

    /// The service for `name`, if this mirror serves that database.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn SumdbService>> {
        self.dbs.get(name)
    }

    /// The names served, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.dbs.keys().map(String::as_str)
    }
}
