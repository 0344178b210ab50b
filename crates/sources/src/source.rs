//! The [`Source`] trait: one upstream that answers the GOPROXY protocol's questions, whether it is
//! an HTTP proxy ([`ProxySource`](crate::ProxySource)), a list of them
//! ([`ChainSource`](crate::ChainSource)), a disabled entry ([`DisabledSource`]), or, later,
//! version control (the go command's `direct`).
//!
//! The methods follow the GOPROXY protocol (`go help goproxy`, <https://go.dev/ref/mod#goproxy-protocol>)
//! endpoint for endpoint and return the upstream's bytes unchanged; checking them (versions, go.mod
//! module lines, zip contents, hashes) is the caller's job. Zip downloads go to a [`ZipSink`],
//! which can be reset: the go command's `downloadZip` (`cmd/go/internal/modfetch/fetch.go`)
//! truncates its temporary file before each entry of the GOPROXY list it tries, and
//! [`ChainSource`](crate::ChainSource) does the same through [`ZipSink::reset`].

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncSeekExt, AsyncWrite, AsyncWriteExt};

use crate::error::SourceError;

/// Where modules come from when the store lacks them.
#[async_trait::async_trait]
pub trait Source: Send + Sync + 'static {
    /// A short description for logs, e.g. `https://proxy.golang.org` (passwords redacted).
    fn describe(&self) -> String;

    /// Whether this source builds modules from version control (the go command's `direct`).
    /// Go's `TryProxies` reports a direct source's error in preference to any proxy error,
    /// because it is the most specific; [`ChainSource`](crate::ChainSource) does the same.
    fn is_direct(&self) -> bool {
        false
    }

    /// The raw `$module/@v/list` body: known versions, one per line.
    async fn list(&self, module: &str) -> Result<String, SourceError>;

    /// The raw `$module/@latest` body (`.info` JSON). A 404 here does not mean the module is
    /// unknown: the go command then derives the latest version from `@v/list`.
    async fn latest(&self, module: &str) -> Result<bytes::Bytes, SourceError>;

    /// The raw `$module/@v/$version.info` body. `version` may be a query the upstream resolves
    /// (a branch name, a commit hash prefix); the caller checks that the answer's `Version` is the
    /// one asked for when it asked for a canonical version.
    async fn info(&self, module: &str, version: &str) -> Result<bytes::Bytes, SourceError>;

    /// The raw `$module/@v/$version.mod` body.
    async fn go_mod(&self, module: &str, version: &str) -> Result<bytes::Bytes, SourceError>;

    /// Streams `$module/@v/$version.zip` into `dest`, failing with
    /// [`SourceError::TooLarge`] once more than `limit` bytes arrive; returns the bytes written.
    ///
    /// `dest` should be empty; a single source writes from its current position and flushes it
    /// at the end. After an error it may hold a partial download: the caller discards it or calls
    /// [`ZipSink::reset`].
    async fn zip(
        &self,
        module: &str,
        version: &str,
        dest: &mut dyn ZipSink,
        limit: u64,
    ) -> Result<u64, SourceError>;
}

/// A shared, type-erased [`Source`].
pub type DynSource = Arc<dyn Source>;

/// A destination for zip downloads that can be emptied, so that a download can restart from
/// byte 0 on another source after a partial write.
///
/// Implemented for [`tokio::fs::File`] (seek to 0 and truncate; the file must be open for
/// writing), `tokio::io::BufWriter<tokio::fs::File>`, [`Vec<u8>`] and
/// `std::io::Cursor<Vec<u8>>`.
#[async_trait::async_trait]
pub trait ZipSink: AsyncWrite + Unpin + Send {
    /// Discards everything written so far; the next write lands at offset 0.
    async fn reset(&mut self) -> io::Result<()>;
}

#[async_trait::async_trait]
impl ZipSink for tokio::fs::File {
    async fn reset(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.set_len(0).await?;
        self.seek(io::SeekFrom::Start(0)).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ZipSink for tokio::io::BufWriter<tokio::fs::File> {
    async fn reset(&mut self) -> io::Result<()> {
        // A buffered writer cannot drop its buffer: write it out, then cut the file.
        self.flush().await?;
        self.get_mut().reset().await
    }
}

#[async_trait::async_trait]
impl ZipSink for Vec<u8> {
    async fn reset(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

#[async_trait::async_trait]
impl ZipSink for io::Cursor<Vec<u8>> {
    async fn reset(&mut self) -> io::Result<()> {
        self.get_mut().clear();
        self.set_position(0);
        Ok(())
    }
}

/// The reason the go command gives when a GOPROXY list reaches `off`.
pub const GOPROXY_OFF_REASON: &str = "module lookup disabled by GOPROXY=off";

/// A source that refuses every request with [`SourceError::Disabled`]: the `off` entry of a
/// GOPROXY list, or a mirror running offline.
#[derive(Clone, Debug)]
pub struct DisabledSource {
    reason: String,
}

impl DisabledSource {
    /// A disabled source with the go command's `GOPROXY=off` message.
    pub fn goproxy_off() -> Self {
        DisabledSource {
            reason: GOPROXY_OFF_REASON.to_owned(),
        }
    }

    /// A disabled source with its own message (e.g. "module lookup disabled: running offline").
    pub fn new(reason: impl Into<String>) -> Self {
        DisabledSource {
            reason: reason.into(),
        }
    }

    fn error(&self) -> SourceError {
        SourceError::Disabled {
            reason: self.reason.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Source for DisabledSource {
    fn describe(&self) -> String {
        "off".to_owned()
    }

    async fn list(&self, _module: &str) -> Result<String, SourceError> {
        Err(self.error())
    }

    async fn latest(&self, _module: &str) -> Result<bytes::Bytes, SourceError> {
        Err(self.error())
    }

    async fn info(&self, _module: &str, _version: &str) -> Result<bytes::Bytes, SourceError> {
        Err(self.error())
    }

    async fn go_mod(&self, _module: &str, _version: &str) -> Result<bytes::Bytes, SourceError> {
        Err(self.error())
    }

    async fn zip(
        &self,
        _module: &str,
        _version: &str,
        _dest: &mut dyn ZipSink,
        _limit: u64,
    ) -> Result<u64, SourceError> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_sink_reset_truncates_like_download_zip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("z.tmp");
        let mut f = tokio::fs::File::create(&path).await.expect("create");
        f.write_all(b"partial download").await.expect("write");
        f.reset().await.expect("reset");
        f.write_all(b"ok").await.expect("write");
        f.flush().await.expect("flush");
        drop(f);
        assert_eq!(tokio::fs::read(&path).await.expect("read"), b"ok");
    }

    #[tokio::test]
    async fn disabled_source_answers_goproxy_off_as_not_found() {
        let s = DisabledSource::goproxy_off();
        let e = s.list("example.com/m").await.expect_err("disabled");
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), GOPROXY_OFF_REASON);
    }
}
