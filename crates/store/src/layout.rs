//! Where each file lives in the store: the go command's module download cache layout, plus the
//! store's own side data.
//!
//! The go command keeps downloaded modules under `$GOMODCACHE/cache/download` (Go source:
//! `cmd/go/internal/modfetch/cache.go`, `cacheDir` and `CachePath`; `rewriteVersionList` writes
//! `list`; `fetch.go` writes `.zip` and `.ziphash`). Keys here are exactly those relative paths:
//!
//! ```text
//! <escaped module>/@v/list                      versions, one per line
//! <escaped module>/@v/<escaped version>.info    {"Version":..,"Time":..} JSON
//! <escaped module>/@v/<escaped version>.mod     the go.mod file
//! <escaped module>/@v/<escaped version>.zip     the module zip
//! <escaped module>/@v/<escaped version>.ziphash the zip's h1: hash, one line
//! ```
//!
//! "Escaped" is the go command's case-encoding (x/mod `module.EscapePath`/`EscapeVersion`): each
//! upper-case letter becomes `!` plus its lower-case form, so the layout is safe on
//! case-insensitive filesystems. The go command's cache may also hold `<version>.lock`,
//! `<version>.partial` and `*.tmp` files beside these; [`parse_version_key`] ignores them.
//!
//! Side data lives under [`SIDE_DIR`] (`.modferry/`): a module path element can never start with a
//! dot (x/mod `module.CheckPath`), so no module directory can collide with it, and the go command
//! never looks there. [`meta`] places per-object metadata at `.modferry/meta/<kind>/<key>`, mirroring
//! the key it describes so that everything about one module shares a prefix.
//!
//! Deviation: unlike `CachePath`, the functions here do not require a canonical version, so the
//! same code can name side data for queries such as `master` (for example a negative-cache entry
//! for `@v/master.info`). Callers store module files only under canonical versions.

use crate::goformats;
use crate::{Key, StoreError};

/// The directory for the store's own data, ignored by the go command.
pub const SIDE_DIR: &str = ".modferry";

/// The name of the version list file inside `@v/`.
pub const LIST: &str = "list";

/// The per-version files of the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `.info`: JSON `{"Version", "Time", "Origin"?}`.
    Info,
    /// `.mod`: the go.mod file.
    Mod,
    /// `.zip`: the module zip.
    Zip,
    /// `.ziphash`: the zip's `h1:` hash (written by the go command after it checks the zip).
    ZipHash,
}

impl FileKind {
    /// Every kind, in layout order.
    pub const ALL: [FileKind; 4] = [
        FileKind::Info,
        FileKind::Mod,
        FileKind::Zip,
        FileKind::ZipHash,
    ];

    /// The file extension, without the dot (`"info"`, `"mod"`, `"zip"`, `"ziphash"`).
    pub fn ext(self) -> &'static str {
        match self {
            FileKind::Info => "info",
            FileKind::Mod => "mod",
            FileKind::Zip => "zip",
            FileKind::ZipHash => "ziphash",
        }
    }

    /// The kind for an extension (without the dot).
    pub fn from_ext(ext: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.ext() == ext)
    }
}

/// The escaped module directory, `<escaped module>` (no trailing '/').
pub fn module_dir(module: &str) -> Result<String, StoreError> {
    goformats::escape_path(module).map_err(|reason| StoreError::InvalidModule {
        module: module.to_owned(),
        version: None,
        reason,
    })
}

/// The prefix under which all of a module's version files live: `"<escaped module>/@v/"`.
pub fn versions_prefix(module: &str) -> Result<String, StoreError> {
    Ok(format!("{}/@v/", module_dir(module)?))
}

/// `<escaped module>/@v/list`.
pub fn list(module: &str) -> Result<Key, StoreError> {
    Key::new(format!("{}{LIST}", versions_prefix(module)?))
}

/// `<escaped module>/@v/<escaped version>.<ext>`.
pub fn version_file(module: &str, version: &str, kind: FileKind) -> Result<Key, StoreError> {
    let dir = versions_prefix(module)?;
    let ver = goformats::escape_version(version).map_err(|reason| StoreError::InvalidModule {
        module: module.to_owned(),
        version: Some(version.to_owned()),
        reason,
    })?;
    Key::new(format!("{dir}{ver}.{}", kind.ext()))
}

/// `<escaped module>/@v/<escaped version>.info`.
pub fn info(module: &str, version: &str) -> Result<Key, StoreError> {
    version_file(module, version, FileKind::Info)
}

/// `<escaped module>/@v/<escaped version>.mod`.
pub fn go_mod(module: &str, version: &str) -> Result<Key, StoreError> {
    version_file(module, version, FileKind::Mod)
}

/// `<escaped module>/@v/<escaped version>.zip`.
pub fn zip(module: &str, version: &str) -> Result<Key, StoreError> {
    version_file(module, version, FileKind::Zip)
}

/// `<escaped module>/@v/<escaped version>.ziphash`.
pub fn ziphash(module: &str, version: &str) -> Result<Key, StoreError> {
    version_file(module, version, FileKind::ZipHash)
}

/// Side data of kind `kind` about the object `target`: `.modferry/meta/<kind>/<target>`.
///
/// `kind` is a short name of lower-case ASCII letters, digits and '-', not starting with '-'
/// (for example `"ttl"` or `"notfound"`). `target` must be a layout key, not itself side data.
/// Example: `meta("ttl", &list("example.com/m")?)` is `.modferry/meta/ttl/example.com/m/@v/list`.
pub fn meta(kind: &str, target: &Key) -> Result<Key, StoreError> {
    check_meta_kind(kind)?;
    if is_side_key(target.as_str()) {
        return Err(StoreError::InvalidKey {
            key: target.as_str().to_owned(),
            reason: "side data cannot describe side data",
        });
    }
    Key::new(format!("{}{}", meta_prefix(kind)?, target.as_str()))
}

/// The prefix of all side data of one kind: `.modferry/meta/<kind>/`. Pass a module's
/// [`versions_prefix`] appended to it to list one module's side data.
pub fn meta_prefix(kind: &str) -> Result<String, StoreError> {
    check_meta_kind(kind)?;
    Ok(format!("{SIDE_DIR}/meta/{kind}/"))
}

fn check_meta_kind(kind: &str) -> Result<(), StoreError> {
    let ok = !kind.is_empty()
        && !kind.starts_with('-')
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey {
            key: kind.to_owned(),
            reason: "meta kind must be lower-case ASCII letters, digits and '-'",
        })
    }
}

/// Whether a key (or prefix) lies in the store's side-data area [`SIDE_DIR`].
pub fn is_side_key(key: &str) -> bool {
    key == SIDE_DIR
        || key
            .strip_prefix(SIDE_DIR)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Reverses [`version_file`] for `module`: when `key` is `<escaped module>/@v/<escaped
/// version>.<ext>` for one of the [`FileKind`]s, returns the (unescaped) version and the kind.
///
/// Everything else in `@v/` gives `None`: `list`, the go command's `.lock`/`.partial`/`*.tmp`
/// files, names whose escaping is not the canonical one, keys of other modules.
pub fn parse_version_key(module: &str, key: &Key) -> Option<(String, FileKind)> {
    let prefix = versions_prefix(module).ok()?;
    let name = key.as_str().strip_prefix(&prefix)?;
    if name.contains('/') {
        return None;
    }
    let (escaped, ext) = name.rsplit_once('.')?;
    let kind = FileKind::from_ext(ext)?;
    let version = goformats::unescape_version(escaped)?;
    Some((version, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (module, version, kind, key) — the go command's `cache/download` relative paths.
    const VERSION_FILES: &[(&str, &str, FileKind, &str)] = &[
        (
            "example.com/Upper/Mod",
            "v1.0.0-Pre",
            FileKind::Zip,
            "example.com/!upper/!mod/@v/v1.0.0-!pre.zip",
        ),
        (
            "example.com/Upper/Mod",
            "v1.0.0-Pre",
            FileKind::Info,
            "example.com/!upper/!mod/@v/v1.0.0-!pre.info",
        ),
        (
            "example.com/Upper/Mod",
            "v1.0.0-Pre",
            FileKind::Mod,
            "example.com/!upper/!mod/@v/v1.0.0-!pre.mod",
        ),
        (
            "example.com/Upper/Mod",
            "v1.0.0-Pre",
            FileKind::ZipHash,
            "example.com/!upper/!mod/@v/v1.0.0-!pre.ziphash",
        ),
        (
            "golang.org/x/mod",
            "v0.0.0-20240101000000-abcdefabcdef",
            FileKind::Mod,
            "golang.org/x/mod/@v/v0.0.0-20240101000000-abcdefabcdef.mod",
        ),
        (
            "example.com/m/v2",
            "v2.0.0+incompatible",
            FileKind::Info,
            "example.com/m/v2/@v/v2.0.0+incompatible.info",
        ),
    ];

    #[test]
    fn cache_path_escapes_module_and_version_case() {
        for (module, version, kind, want) in VERSION_FILES {
            let key = version_file(module, version, *kind).unwrap();
            assert_eq!(key.as_str(), *want);
        }
        assert_eq!(
            zip("example.com/Upper/Mod", "v1.0.0-Pre").unwrap().as_str(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.zip"
        );
        assert_eq!(
            ziphash("example.com/Upper/Mod", "v1.0.0-Pre")
                .unwrap()
                .as_str(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.ziphash"
        );
        assert_eq!(
            info("example.com/Upper/Mod", "v1.0.0-Pre")
                .unwrap()
                .as_str(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.info"
        );
        assert_eq!(
            go_mod("example.com/Upper/Mod", "v1.0.0-Pre")
                .unwrap()
                .as_str(),
            "example.com/!upper/!mod/@v/v1.0.0-!pre.mod"
        );
    }

    #[test]
    fn cache_dir_holds_list_under_at_v() {
        assert_eq!(
            list("example.com/Upper/Mod").unwrap().as_str(),
            "example.com/!upper/!mod/@v/list"
        );
        assert_eq!(
            versions_prefix("example.com/Upper/Mod").unwrap(),
            "example.com/!upper/!mod/@v/"
        );
    }

    #[test]
    fn escape_path_rejects_invalid_module_paths() {
        for bad in ["", "/abs", "example.com/a//b", "example.com/!bang"] {
            match list(bad) {
                Err(StoreError::InvalidModule { module, .. }) => assert_eq!(module, bad),
                other => panic!("{bad:?}: want InvalidModule, got {other:?}"),
            }
        }
    }

    #[test]
    fn escape_version_rejects_versions_with_slash() {
        assert!(matches!(
            info("example.com/m", "feature/x"),
            Err(StoreError::InvalidModule {
                version: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn parse_version_key_reverses_cache_path() {
        for (module, version, kind, key) in VERSION_FILES {
            let key = Key::new(*key).unwrap();
            assert_eq!(
                parse_version_key(module, &key),
                Some((version.to_string(), *kind)),
                "{key}"
            );
        }
    }

    const NOT_VERSION_FILES: &[&str] = &[
        "example.com/m/@v/list",
        "example.com/m/@v/v1.0.0.lock",
        "example.com/m/@v/v1.0.0.partial",
        "example.com/m/@v/v1.0.0.info123456.tmp",
        "example.com/m/@v/v1.0.0-Pre.info", // upper case must be escaped
        "example.com/m/@v/v1.0.0-!!pre.info",
        "example.com/m/@v/v1.0.0-pre!.info",
        "example.com/m/@v/sub/v1.0.0.info",
        "example.com/other/@v/v1.0.0.info",
        "example.com/m/v1.0.0.info",
    ];

    #[test]
    fn parse_version_key_ignores_other_cache_files() {
        for key in NOT_VERSION_FILES {
            let key = Key::new(*key).unwrap();
            assert_eq!(parse_version_key("example.com/m", &key), None, "{key}");
        }
    }

    #[test]
    fn meta_mirrors_the_target_key_under_side_dir() {
        let target = list("example.com/Upper/Mod").unwrap();
        assert_eq!(
            meta("ttl", &target).unwrap().as_str(),
            ".modferry/meta/ttl/example.com/!upper/!mod/@v/list"
        );
        let neg = info("example.com/m", "master").unwrap();
        assert_eq!(
            meta("notfound", &neg).unwrap().as_str(),
            ".modferry/meta/notfound/example.com/m/@v/master.info"
        );
    }

    #[test]
    fn meta_rejects_bad_kinds_and_side_targets() {
        let target = list("example.com/m").unwrap();
        for kind in ["", "TTL", "a/b", "-x", "..", "a b"] {
            assert!(meta(kind, &target).is_err(), "{kind:?}");
        }
        let side = meta("ttl", &target).unwrap();
        assert!(meta("ttl", &side).is_err());
    }

    #[test]
    fn side_dir_cannot_be_a_module_path_element() {
        // x/mod module.CheckPath: path elements may not begin with a dot.
        assert!(module_dir(".modferry/x").is_err());
        assert!(is_side_key(".modferry"));
        assert!(is_side_key(".modferry/tmp/x"));
        assert!(!is_side_key(".modferryx/a"));
        assert!(!is_side_key("example.com/.modferry"));
    }
}
