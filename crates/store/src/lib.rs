//! Storage for modferry: one [`Store`] trait, a filesystem backend ([`FsStore`]), an S3 backend
//! ([`S3Store`]), store URLs ([`StoreUrl`], [`open_store`]), the key [`layout`], and the shared
//! conformance suite ([`testing::suite`]) every backend must pass.
//!
//! # The trait
//!
//! [`Store`] is shaped to fit both a local filesystem and an S3-style object store: keys are
//! '/'-separated relative names ([`Key`]); writes are whole-object and atomic ([`Store::put`]),
//! either overwriting or create-only ([`PutMode`]), or compare-and-swap on the entity tag
//! ([`Store::put_if_match`], for small objects such as a log's head); reads stream, optionally
//! over a byte range ([`Store::get`]); [`Store::list`] lists by string prefix; there is no
//! rename.
//!
//! # The layout
//!
//! Keys follow the go command's module download cache, `$GOMODCACHE/cache/download` (Go source:
//! `cmd/go/internal/modfetch/cache.go` `CachePath`), so `GOPROXY=file://<store root>` works with the
//! go command and an existing `cache/download` directory can be served as-is. See [`layout`].
//!
//! ```text
//! <root>/
//!   <escaped module>/@v/list
//!   <escaped module>/@v/<escaped version>.info | .mod | .zip | .ziphash
//!   .modferry/                     side data; no module path element starts with '.', and the go
//!                                  command never looks here
//!     meta/<kind>/<key>            metadata about <key> (TTL records, negative-cache entries),
//!                                  see layout::meta
//!     tmp/                         never a key: temp files before they are renamed into place
//!                                  (FsStore, same filesystem as the data); S3Store: large
//!                                  create-only uploads before their conditional copy
//!       <session>.lock             held locked by the FsStore instance that owns <session>/
//!       <session>/                 that instance's temp files; Store::staging_dir
//! ```
//!
//! Crash safety (fs backend): every write goes to a temp file in `.modferry/tmp/<session>/`, is
//! fsynced, then renamed (overwrite) or hard-linked (create-only) to its final name, and the
//! directory is fsynced; a reader sees the old object or the new one, never part of one. At
//! [`FsStore::open`], sessions whose lock is no longer held (their process died) are removed.

mod error;
mod fs;
mod goformats;
mod held;
mod key;
pub mod layout;
mod s3;
pub mod testing;
mod url;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use error::StoreError;
pub use fs::FsStore;
pub use held::HeldKeys;
pub use key::Key;
pub use layout::FileKind;
pub use s3::{DEFAULT_CLAIM_TTL, DEFAULT_PART_SIZE, DEFAULT_REGION, S3Config, S3Settings, S3Store};
pub use url::{StoreUrl, StoreUrlError, open_store, open_store_with};

/// What the store knows about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Size of the whole object in bytes (also for ranged reads).
    pub size: u64,
    /// A strong entity tag in HTTP form, double quotes included (`"…"`): it changes whenever the
    /// object is replaced and is cheap to compute (fs: size, modification time and inode; object
    /// stores: their own ETag).
    pub etag: String,
    /// When the object was last written.
    pub modified: SystemTime,
}

/// A streaming read: the object's metadata and the requested bytes.
pub struct GetResult {
    /// Metadata of the whole object.
    pub meta: Meta,
    /// The byte range actually returned (the requested range, its end clamped to the size; `0..size`
    /// for a full read).
    pub range: Range<u64>,
    /// The bytes of `range`, in chunks of at most [`READ_CHUNK`] bytes.
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl std::fmt::Debug for GetResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// The read buffer size of streaming reads: memory per open download is about this much.
pub const READ_CHUNK: usize = 128 * 1024;

/// How [`Store::put`] treats an existing object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutMode {
    /// Replace any existing object atomically (for `list` and side data).
    Overwrite,
    /// Write only if no object exists; the first writer wins (for immutable files: `.info`,
    /// `.mod`, `.zip`, `.ziphash`).
    Create,
}

/// What [`Store::put`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The payload is now the object (always the outcome of a successful [`PutMode::Overwrite`]).
    Created,
    /// [`PutMode::Create`] found an object already there and left it untouched.
    AlreadyExists,
}

/// What [`Store::put_if_match`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The object held the expected version and now holds the new bytes, whose entity tag this is.
    Swapped {
        /// The new object's entity tag (HTTP form, quotes included), for the next swap.
        etag: String,
    },
    /// The object is missing or no longer has the expected entity tag: someone else replaced it.
    /// Nothing was written.
    Mismatch,
}

/// The bytes to store.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Bytes in memory (small files).
    Bytes(Bytes),
    /// A finished local file, typically created in [`Store::staging_dir`]. The store takes it
    /// over: after `put` returns `Ok` the file is gone (moved into place, or removed when the
    /// outcome is [`PutOutcome::AlreadyExists`]). After an error it may remain; the caller removes it.
    File(std::path::PathBuf),
}

/// A storage backend. All methods are safe to call concurrently, from any number of tasks (and,
/// for the fs backend, processes sharing one root).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Metadata of `key`, or `None` if there is no such object.
    async fn head(&self, key: &Key) -> Result<Option<Meta>, StoreError>;

    /// Streams the object at `key`, or `None` if there is none.
    ///
    /// With a range `start..end`: `end` is clamped to the object size; `start > end`, or
    /// `start >= size` for a non-empty range, is [`StoreError::RangeNotSatisfiable`]. An empty range
    /// with `start <= size` gives an empty body. [`GetResult::range`] is the range actually served.
    async fn get(
        &self,
        key: &Key,
        range: Option<Range<u64>>,
    ) -> Result<Option<GetResult>, StoreError>;

    /// Reads a small object whole (`.info`, `.mod`, `list`, side data); an object larger than
    /// `limit` bytes is [`StoreError::TooLarge`].
    async fn get_bytes(&self, key: &Key, limit: u64) -> Result<Option<Bytes>, StoreError>;

    /// Stores `payload` at `key` atomically: readers see the previous object (or none) until the
    /// new one is complete.
    async fn put(
        &self,
        key: &Key,
        payload: Payload,
        mode: PutMode,
    ) -> Result<PutOutcome, StoreError>;

    /// Compare-and-swap: replaces the object at `key` with `bytes` only if it exists and its
    /// entity tag ([`Meta::etag`], as [`Store::head`] or [`Store::get`] reported it) is still
    /// `etag`; otherwise writes nothing and answers [`SwapOutcome::Mismatch`]. Concurrent swaps
    /// from the same version have exactly one winner, across processes (S3: a `PUT` with
    /// `If-Match`; fs: a lock on the object's file, see [`FsStore`]). For small objects only
    /// (the bytes are held in memory).
    async fn put_if_match(
        &self,
        key: &Key,
        bytes: Bytes,
        etag: &str,
    ) -> Result<SwapOutcome, StoreError>;

    /// Removes the object at `key`; removing a missing object succeeds.
    async fn delete(&self, key: &Key) -> Result<(), StoreError>;

    /// Every key that starts with `prefix` (plain string prefix, recursive, as S3 lists), sorted.
    /// `""` lists everything; `"example.com/m/@v/"` lists that directory and below;
    /// `"example.com/m"` also matches `example.com/mod/...`. The prefix's complete elements must
    /// follow the [`Key`] rules ([`StoreError::InvalidKey`] otherwise).
    async fn list(&self, prefix: &str) -> Result<Vec<Key>, StoreError>;

    /// A local directory where callers create temp files to pass as [`Payload::File`] (for the
    /// fs backend, on the same filesystem as the data, so the file is moved in without a copy).
    fn staging_dir(&self) -> &Path;

    /// A one-line description for logs, e.g. `file:///srv/modferry`.
    fn describe(&self) -> String;
}

/// A shared, type-erased store.
pub type DynStore = Arc<dyn Store>;

/// The versions of `module` the store can describe offline: those with an `.info` or `.mod` file,
/// keeping only canonical semantic versions (the names the go command's `CachePath` gives cache
/// files; a `+incompatible` suffix is kept), sorted by semver precedence, without duplicates.
///
/// Pseudo-versions are included; callers that build an `@v/list` answer filter them out, as the
/// go command's proxies do.
pub async fn stored_versions(store: &dyn Store, module: &str) -> Result<Vec<String>, StoreError> {
    let prefix = layout::versions_prefix(module)?;
    let mut versions: Vec<String> = store
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|key| layout::parse_version_key(module, key))
        .filter(|(v, kind)| {
            matches!(kind, FileKind::Info | FileKind::Mod) && goformats::is_canonical_version(v)
        })
        .map(|(v, _)| v)
        .collect();
    goformats::sort(&mut versions);
    versions.dedup();
    Ok(versions)
}

/// Applies the range rules of [`Store::get`] to an object of `size` bytes: `None` means the
/// whole object; `end` is clamped to `size`; `start > end`, or `start >= size` for a non-empty
/// range, is [`StoreError::RangeNotSatisfiable`]. Every backend uses this so they agree.
pub fn resolve_range(
    key: &Key,
    range: Option<Range<u64>>,
    size: u64,
) -> Result<Range<u64>, StoreError> {
    let Some(r) = range else {
        return Ok(0..size);
    };
    let unsatisfiable = || StoreError::RangeNotSatisfiable {
        key: key.as_str().to_owned(),
        start: r.start,
        end: r.end,
        size,
    };
    if r.start > r.end {
        return Err(unsatisfiable());
    }
    if r.start == r.end {
        return if r.start <= size {
            Ok(r.start..r.start)
        } else {
            Err(unsatisfiable())
        };
    }
    if r.start >= size {
        return Err(unsatisfiable());
    }
    Ok(r.start..r.end.min(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(start, end)`, or `None`.
    type Span = Option<(u64, u64)>;

    /// (range, size, want) — `None` in want means RangeNotSatisfiable.
    const RANGES: &[(Span, u64, Span)] = &[
        (None, 10, Some((0, 10))),
        (None, 0, Some((0, 0))),
        (Some((0, 10)), 10, Some((0, 10))),
        (Some((2, 5)), 10, Some((2, 5))),
        (Some((8, 100)), 10, Some((8, 10))),
        (Some((9, 10)), 10, Some((9, 10))),
        (Some((3, 3)), 10, Some((3, 3))),
        (Some((10, 10)), 10, Some((10, 10))),
        (Some((11, 11)), 10, None),
        (Some((10, 11)), 10, None),
        (Some((20, 30)), 10, None),
        (Some((5, 4)), 10, None),
        (Some((0, 1)), 0, None),
    ];

    #[test]
    fn resolve_range_clamps_end_and_rejects_start_past_size() {
        let key = Key::new("k").unwrap();
        for (range, size, want) in RANGES {
            let got = resolve_range(&key, range.map(|(s, e)| s..e), *size);
            match (want, got) {
                (Some((s, e)), Ok(r)) => assert_eq!(r, *s..*e, "{range:?} of {size}"),
                (None, Err(StoreError::RangeNotSatisfiable { size: sz, .. })) => {
                    assert_eq!(sz, *size)
                }
                (want, got) => panic!("{range:?} of {size}: want {want:?}, got {got:?}"),
            }
        }
    }
}
