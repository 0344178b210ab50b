//! Errors of the git source, and how they map onto [`SourceError`].
//!
//! The split follows the go command: errors it treats as `fs.ErrNotExist` (an unknown
//! revision, a missing go.mod, a repository with no commits; `codehost.UnknownRevisionError`,
//! `notExistError` in `coderepo.go`) are [`GitError::NotFound`]; a version the module rules
//! reject is [`GitError::Invalid`]. A proxy answers both with 404, as proxy.golang.org does, so
//! they become [`SourceError::Module`], whose text names the module and version but not the
//! repository URL (a `file://` path or credentials must not reach clients). Failures of git itself (network, credentials, a
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

    /// The [`SourceError`] a caller sees for `module@version` (`version` empty for the list);
    /// `url` is the redacted repository URL, named only in transport errors. Module-rule
    /// errors become [`SourceError::Module`] and never name the URL.
    pub(crate) fn into_source_error(self, url: &str, module: &str, version: &str) -> SourceError {
        match self {
            GitError::NotFound { message } | GitError::Invalid { message } => SourceError::Module {
                module: module.to_owned(),
                version: version.to_owned(),
                reason: strip_subject(&message, module, version).to_owned(),
            },
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

/// `message` without a leading `module@version: `, `module: ` or `module module: ` (Go's
/// messages name their subject; [`SourceError::Module`] names it itself).
fn strip_subject<'a>(message: &'a str, module: &str, version: &str) -> &'a str {
    let with_version = format!("{module}@{version}: ");
    let bare = format!("{module}: ");
    let worded = format!("module {module}: ");
    for prefix in [with_version, bare, worded] {
        if let Some(rest) = message.strip_prefix(prefix.as_str())
            && !rest.is_empty()
        {
            return rest;
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_name_module_and_version_once_and_no_url() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "example.com/m@v1.2.3: invalid version: unknown revision v1.2.3",
                "v1.2.3",
                "example.com/m@v1.2.3: invalid version: unknown revision v1.2.3",
            ),
            (
                "module example.com/m: no commits",
                "latest",
                "example.com/m@latest: no commits",
            ),
            (
                "unknown revision main",
                "main",
                "example.com/m@main: unknown revision main",
            ),
        ];
        for &(message, version, want) in cases {
            let e = GitError::not_found(message).into_source_error(
                "file:///secret/repo.git",
                "example.com/m",
                version,
            );
            assert!(e.is_not_found());
            assert_eq!(e.to_string(), want);
        }
    }
}
