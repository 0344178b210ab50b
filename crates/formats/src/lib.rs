//! Go module formats, as the go command defines them: pure functions over bytes, no I/O, no async.
//!
//! One module per golang.org/x/mod package (and `go help goproxy` for [`proxy`]), with Go's names in
//! snake_case so a reviewer can read ours beside theirs. Every rule is stated in the module's doc
//! comment and tested by a unit test that names it.

pub mod dirhash;
pub mod gosum;
pub mod gowork;
pub mod modfile;
pub mod module;
pub mod modzip;
pub mod note;
pub mod proxy;
pub mod pseudo;
pub mod semver;
pub mod tlog;
