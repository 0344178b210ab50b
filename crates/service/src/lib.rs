//! The modferry HTTP service: a GOPROXY server (`go help goproxy`) over a store, with a
//! caching relay to upstream sources.
//!
//! - [`routes`] parses requests and shapes responses;
//! - [`mirror`] holds the rules that join the store and the upstream (validate, store, serve);
//! - [`error`] is the one place where failures become status codes;
//! - [`flight`] deduplicates concurrent upstream fetches.

pub mod checks;
pub mod error;
pub mod flight;
pub mod http;
pub mod lease;
pub mod mirror;
pub mod routes;
pub mod sumdb;

pub use checks::{ModuleCheck, SumdbRegistry, SumdbService};
pub use error::ApiError;
pub use mirror::{Mirror, MirrorConfig, MirrorExtras};
pub use routes::router;
