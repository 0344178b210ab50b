//! The few Go-module rules the store needs, taken from `modferry-formats` (x/mod `module`
//! `EscapePath`/`EscapeVersion`, `CanonicalVersion`; x/mod `semver`), behind one small adapter so
//! the rest of the crate does not care about their exact signatures.

use modferry_formats::{module, semver};

/// The case-escaped form of a module path (`example.com/Upper` → `example.com/!upper`).
pub(crate) fn escape_path(path: &str) -> Result<String, String> {
    module::escape_path(path).map_err(|e| e.to_string())
}

/// The case-escaped form of a version (`v1.0.0-Pre` → `v1.0.0-!pre`).
pub(crate) fn escape_version(version: &str) -> Result<String, String> {
    module::escape_version(version).map_err(|e| e.to_string())
}

/// Reverses [`escape_version`] (x/mod `module.UnescapeVersion`); `None` for text that is not a
/// well-formed escape (a bare upper-case letter, a `!` not followed by a lower-case letter).
pub(crate) fn unescape_version(escaped: &str) -> Option<String> {
    module::unescape_version(escaped).ok()
}

/// Whether `v` is a version the go command would name a cache file after: valid semver in its
/// canonical form, a `+incompatible` build suffix kept (x/mod `module.CanonicalVersion`, as
/// `cmd/go/internal/modfetch/cache.go` `CachePath` and `rewriteVersionList` require).
pub(crate) fn is_canonical_version(v: &str) -> bool {
    module::canonical_version(v).as_deref() == Some(v)
}

/// Sorts versions by semver precedence (x/mod `semver.Sort`).
pub(crate) fn sort(versions: &mut [String]) {
    semver::sort(versions);
}
