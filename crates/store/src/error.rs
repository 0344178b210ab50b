//! The one error type of the store crate.
//!
//! Every variant names what failed (the key, and for I/O the filesystem path or URL) so that an
//! operator reading a log line knows which file to look at. No Go rule lives here; the variants
//! map onto HTTP answers in the service (`Unavailable` → 503, `RangeNotSatisfiable` → 416,
//! `InvalidKey`/`InvalidModule` → 4xx, the rest → 500).

use std::io;

/// Everything that can go wrong in a [`Store`](crate::Store) call or a [`layout`](crate::layout)
/// computation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation on the backing storage failed.
    #[error("store: cannot {op} {location} (key {key:?}): {source}")]
    Io {
        /// What was being done, as a verb phrase: "read", "write", "rename into place", ...
        op: &'static str,
        /// The store key concerned (empty when the operation is not about one key).
        key: String,
        /// Where the operation happened: a filesystem path for the fs backend, a URL otherwise.
        location: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A key (or list prefix) is not a valid relative, '/'-separated key, or it is reserved.
    #[error("store: invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key, as given.
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// A module path or version cannot be placed in the layout (the go command's escaping rules
    /// reject it).
    #[error("store: cannot place module {module:?}{} in the layout: {reason}", version.as_deref().map(|v| format!(" version {v:?}")).unwrap_or_default())]
    InvalidModule {
        /// The module path, as given.
        module: String,
        /// The version, when one was involved.
        version: Option<String>,
        /// Why escaping failed.
        reason: String,
    },

    /// [`Store::get_bytes`](crate::Store::get_bytes) found an object larger than its limit.
    #[error("store: object {key:?} is larger than the {limit}-byte limit for small objects")]
    TooLarge {
        /// The key read.
        key: String,
        /// The limit given by the caller.
        limit: u64,
    },

    /// A ranged read asked for bytes the object does not have (see [`Store::get`](crate::Store::get)).
    #[error("store: range {start}..{end} of {key:?} is not satisfiable (object size {size})")]
    RangeNotSatisfiable {
        /// The key read.
        key: String,
        /// Requested start (inclusive).
        start: u64,
        /// Requested end (exclusive).
        end: u64,
        /// The object's size.
        size: u64,
    },

    /// A payload given to [`Store::put`](crate::Store::put) is unusable (for example a
    /// `Payload::File` that is a directory).
    #[error("store: invalid payload for {key:?}: {reason}")]
    InvalidPayload {
        /// The key being written.
        key: String,
        /// What is wrong with the payload.
        reason: String,
    },

    /// The backend cannot be reached right now (network, credentials, throttling). Retrying later
    /// may succeed; the service answers 503.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What the backend reported.
        reason: String,
    },
}

impl StoreError {
    /// Builds an [`StoreError::Io`].
    pub fn io(
        op: &'static str,
        key: impl Into<String>,
        location: impl Into<String>,
        source: io::Error,
    ) -> Self {
        StoreError::Io {
            op,
            key: key.into(),
            location: location.into(),
            source,
        }
    }

    /// Whether this error means "the store itself is not usable right now" rather than "this
    /// request is wrong": true for [`StoreError::Unavailable`] and [`StoreError::Io`].
    pub fn is_backend_failure(&self) -> bool {
        matches!(self, StoreError::Io { .. } | StoreError::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_message_names_the_path_and_key() {
        let e = StoreError::io(
            "write",
            "example.com/m/@v/v1.0.0.zip",
            "/srv/store/example.com/m/@v/v1.0.0.zip",
            io::Error::other("disk full"),
        );
        let msg = e.to_string();
        assert!(
            msg.contains("/srv/store/example.com/m/@v/v1.0.0.zip"),
            "{msg}"
        );
        assert!(msg.contains("cannot write"), "{msg}");
        assert!(msg.contains("disk full"), "{msg}");
    }

    #[test]
    fn invalid_module_message_includes_version_only_when_given() {
        let with = StoreError::InvalidModule {
            module: "m".into(),
            version: Some("v1".into()),
            reason: "bad".into(),
        };
        assert!(with.to_string().contains("version \"v1\""));
        let without = StoreError::InvalidModule {
            module: "m".into(),
            version: None,
            reason: "bad".into(),
        };
        assert!(!without.to_string().contains("version"));
    }
}
