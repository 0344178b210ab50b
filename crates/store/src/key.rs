//! Store keys: relative, '/'-separated names that are safe as both a filesystem path and an
//! object-store key.
//!
//! No Go rule lives here: the keys the go command's cache uses (`cmd/go/internal/modfetch/cache.go`
//! `CachePath`) are escaped module paths and versions, which always pass these checks; the checks
//! exist so that no key can escape the store root on a filesystem (`..`, a leading `/`, `\` on
//! Windows) or mean two different things on two backends (empty elements, which an object store
//! keeps and a filesystem folds away).

use std::fmt;

use crate::StoreError;

/// A validated store key: non-empty; elements separated by '/'; no empty, `.` or `..` element (so
/// no leading, trailing or doubled '/'); no `\` and no NUL anywhere.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// Validates `key` and wraps it.
    pub fn new(key: impl Into<String>) -> Result<Key, StoreError> {
        let key = key.into();
        match check(&key) {
            Ok(()) => Ok(Key(key)),
            Err(reason) => Err(StoreError::InvalidKey { key, reason }),
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The last element (the "file name").
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether the key lies under `prefix` in the string sense used by [`Store::list`](crate::Store::list).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Key {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Key, StoreError> {
        Key::new(s)
    }
}

impl TryFrom<&str> for Key {
    type Error = StoreError;
    fn try_from(s: &str) -> Result<Key, StoreError> {
        Key::new(s)
    }
}

/// The rules for a full key.
fn check(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("key is empty");
    }
    check_chars(key)?;
    for elem in key.split('/') {
        check_elem(elem)?;
    }
    Ok(())
}

fn check_chars(s: &str) -> Result<(), &'static str> {
    if s.starts_with('/') {
        return Err("key must be relative (no leading '/')");
    }
    if s.contains('\\') {
        return Err("key must not contain '\\'");
    }
    if s.contains('\0') {
        return Err("key must not contain NUL");
    }
    Ok(())
}

fn check_elem(elem: &str) -> Result<(), &'static str> {
    match elem {
        "" => Err("key has an empty element (leading, trailing or doubled '/')"),
        "." | ".." => Err("key has a '.' or '..' element"),
        _ => Ok(()),
    }
}

/// Validates a list prefix: "" (everything), or text whose complete elements (all but the part
/// after the last '/') follow the key rules. The part after the last '/' may be empty or a
/// partial element (`"example.com/a"` matches `example.com/a/...` and `example.com/ab/...`).
pub(crate) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let fail = |reason| StoreError::InvalidKey {
        key: prefix.to_owned(),
        reason,
    };
    if prefix.is_empty() {
        return Ok(());
    }
    check_chars(prefix).map_err(fail)?;
    let mut elems: Vec<&str> = prefix.split('/').collect();
    let last = elems.pop().unwrap_or("");
    for elem in elems {
        check_elem(elem).map_err(fail)?;
    }
    // A trailing partial element of "." or ".." could only match "." / ".." elements (impossible)
    // or names starting with dots, so it is allowed except for the exact ".." which reads as a
    // traversal attempt.
    if last == ".." {
        return Err(fail("key has a '.' or '..' element"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID_KEYS: &[&str] = &[
        "a",
        "example.com/!upper/@v/v1.0.0-!pre.zip",
        ".modferry/meta/ttl/example.com/m/@v/list",
        "a/.hidden/b",
        "a/...",
        "x y/z~",
    ];

    const INVALID_KEYS: &[&str] = &[
        "", "/a", "a/", "a//b", "./a", "a/.", "a/../b", "..", "a\\b", "a\0b",
    ];

    #[test]
    fn key_new_accepts_relative_slash_separated_keys() {
        for k in VALID_KEYS {
            let key = Key::new(*k).unwrap_or_else(|e| panic!("{k:?} rejected: {e}"));
            assert_eq!(key.as_str(), *k);
        }
    }

    #[test]
    fn key_new_rejects_empty_dot_and_escaping_elements() {
        for k in INVALID_KEYS {
            match Key::new(*k) {
                Err(StoreError::InvalidKey { key, .. }) => assert_eq!(key, *k),
                other => panic!("{k:?}: want InvalidKey, got {other:?}"),
            }
        }
    }

    const PREFIXES: &[(&str, bool)] = &[
        ("", true),
        ("a", true),
        ("a/", true),
        ("a/b", true),
        ("a/.mod", true),
        ("/a", false),
        ("a//", false),
        ("../", false),
        ("a/..", false),
        ("a\\", false),
    ];

    #[test]
    fn check_prefix_allows_partial_last_element_only() {
        for (p, ok) in PREFIXES {
            assert_eq!(check_prefix(p).is_ok(), *ok, "{p:?}");
        }
    }

    #[test]
    fn key_name_is_last_element() {
        assert_eq!(Key::new("a/b/c.zip").unwrap().name(), "c.zip");
        assert_eq!(Key::new("c").unwrap().name(), "c");
    }
}
