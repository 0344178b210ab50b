//! Errors of the git source, and how they map onto [`SourceError`].
//!
//! The split follows the go command: errors it treats as `fs.ErrNotExist` (an unknown
//! revision, a missing go.mod, a repository with no commits; `codehost.UnknownRevisionError`,
//! `notExistError` in `coderepo.go`) are [`GitError::NotFound`]; a version the module rules
//! reject is [`GitError::Invalid`]. A proxy answers both with 404, as proxy.golang.org does, so
//! they become [`SourceError::NotFound`]. Failures of git itself (network, credentials, a
//! timeout) are upstream failures.

use crate::error::SourceError;

use super::command::RunError;

/// Why a git-backed request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    /// The module, version or revision does not exist (Go: `fs.ErrNotExist`).
    #[error("{message}")]
    NotFound {
        /// Go's message, e.g. `example.com/m@v1.2.3: invalid version: unknown revision v1.2.3`.
        message: String,
    },
    /// The version exists in git but the module rules reject it (a wrong major version,
    /// a misplaced `+incompatible`, a pseudo-version that does not match its commit).
    #[error("{message}")]
    Invalid {
        /// Go's message.
        message: String,
    },
    /// The module path cannot be served from git at all.
    #[error("malformed module path {path:?}: {reason}")]
    InvalidPath {
        /// The module path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A git command failed, timed out or produced too much output.
    #[error(transparent)]
    Command(#[from] RunError),
    /// The module is larger than the module zip limit.
    #[error("{module}: module too large: {reason}")]
    TooLarge {
        /// `path@version`.
        module: String,
        /// What exceeded which limit.
        reason: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A local file operation (mirror directory, temporary file) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// Shorthand for [`GitError::NotFound`].
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        GitError::NotFound {
            message: message.into(),
        }
    }

    /// Shorthand for [`GitError::Invalid`].
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        GitError::Invalid {
            message: message.into(),
        }
    }

    /// Shorthand for [`GitError::Io`].
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        GitError::Io {
            what: what.into(),
            source,
        }
    }

    /// Whether this is Go's "does not exist" class: fetching more from the remote might help.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, GitError::NotFound { .. })
    }

    /// The same error with `prefix: ` in front of its message (for Go's wrapped messages).
    pub(crate) fn context(self, prefix: &str) -> Self {
        match self {
            GitError::NotFound { message } => GitError::NotFound {
                message: format!("{prefix}: {message}"),
            },
            GitError::Invalid { message } => GitError::Invalid {
                message: format!("{prefix}: {message}"),
            },
            other => other,
        }
    }

    /// The [`SourceError`] a caller sees; `url` is the redacted repository URL.
    pub(crate) fn into_source_error(self, url: &str) -> SourceError {
        match self {
            GitError::NotFound { message } | GitError::Invalid { message } => {
                SourceError::NotFound {
                    url: url.to_owned(),
                    status: 404,
                    reason: message,
                }
            }
            GitError::InvalidPath { path, reason } => SourceError::InvalidPath { path, reason },
            GitError::Command(RunError::Timeout { after, .. }) => SourceError::Timeout {
                url: url.to_owned(),
                after,
            },
            GitError::Command(RunError::OutputTooLarge { limit, .. }) => SourceError::TooLarge {
                url: url.to_owned(),
                limit,
            },
            GitError::Command(e) => SourceError::Connect {
                url: url.to_owned(),
                reason: e.to_string(),
            },
            GitError::TooLarge { limit, .. } => SourceError::TooLarge {
                url: url.to_owned(),
                limit,
            },
            GitError::Io { what, source } => SourceError::Io {
                url: url.to_owned(),
                source: std::io::Error::new(source.kind(), format!("{what}: {source}")),
            },
        }
    }
}
