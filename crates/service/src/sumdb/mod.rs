//! Checksum databases (`GOSUMDB`) served under `/sumdb/<name>/`.
//!
//! Go rule: the checksum-database protocol of x/mod `sumdb` (`client.go`, `server.go`) and the
//! proxying rule of cmd/go `modfetch/sumdb.go` (`<GOPROXY>/sumdb/<name>/supported`, then every
//! database request under that prefix).
//!
//! - [`proxy`]: relays and caches an upstream database (proxy mode), and verifies every module
//!   version the mirror stores against it.
//! - [`verify`]: the [`ModuleCheck`](crate::ModuleCheck) that checks every module version
//!   against a proxied database before the mirror stores it.
//! - [`testing`]: an in-memory database on 127.0.0.1, for tests.
//! - [`own`]: the mirror's own signed log (own-database mode).

pub mod own;
pub mod proxy;
pub mod testing;
pub mod verify;
