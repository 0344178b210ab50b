//! Turning a `git archive` zip into the module zip.
//!
//! Go rule: `cmd/go/internal/modfetch/coderepo.go` `Zip` (with `zipFile` and `dataFile`), on
//! top of x/mod `zip.Create` ([`modferry_formats::modzip::create`] here). Restated:
//!
//! - Every entry of git's archive sits under one top-level directory (the first entry's first
//!   path element); an entry without a `/`, or under another top-level directory, is an error.
//! - Below it, only entries under the module's directory (`subdir/`) are kept, with that
//!   prefix removed; directory entries (names ending in `/`) and the directory itself are
//!   skipped.
//! - What each entry is comes from its Unix mode in the archive, as Go's zip reader reports it:
//!   symbolic links (and devices, pipes, sockets) are not regular files, so the zip rules leave
//!   them out.
//! - A module in a subdirectory without a `LICENSE` of its own gets the repository root's
//!   `LICENSE` (read by the caller), as a regular file.
//! - The module zip rules then decide what goes in (nested modules, `vendor/`, sizes).
//!
//! Entries are read straight from the archive file (stored or deflated data at its recorded
//! offset), one at a time; nothing but the file being copied is held in memory.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use modferry_formats::modzip::{self, File, FileKind, ZipError};

use super::error::GitError;

/// How an entry's data is stored in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
    Other(String),
}

/// Where an entry's data is in the archive.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    start: u64,
    compressed: u64,
    method: Method,
}

/// One file for the module zip: an archive entry, or the root LICENSE read from git.
#[derive(Debug)]
pub(crate) enum ZipInput {
    /// A file of git's archive.
    Archived {
        path: String,
        kind: FileKind,
        loc: Option<Location>,
        archive: Arc<fs::File>,
    },
    /// Bytes from elsewhere (the repository-root LICENSE).
    Data { path: String, data: Vec<u8> },
}

impl File for ZipInput {
    fn path(&self) -> &str {
        match self {
            ZipInput::Archived { path, .. } | ZipInput::Data { path, .. } => path,
        }
    }

    fn kind(&self) -> FileKind {
        match self {
            ZipInput::Archived { kind, .. } => *kind,
            ZipInput::Data { data, .. } => FileKind::Regular {
                size: data.len() as u64,
            },
        }
    }

    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        match self {
            ZipInput::Data { data, .. } => Ok(Box::new(io::Cursor::new(data.as_slice()))),
            ZipInput::Archived { loc, archive, .. } => {
                let Some(loc) = loc else {
                    return Err(io::Error::other("not a regular file"));
                };
                let raw = AtReader {
                    file: archive.clone(),
                    pos: loc.start,
                    end: loc.start.saturating_add(loc.compressed),
                };
                match &loc.method {
                    Method::Stored => Ok(Box::new(raw)),
                    Method::Deflated => Ok(Box::new(flate2::read::DeflateDecoder::new(raw))),
                    Method::Other(m) => Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("unsupported compression method {m} in git archive"),
                    )),
                }
            }
        }
    }
}

/// Reads a byte range of a file with positioned reads (several readers can share the file).
struct AtReader {
    file: Arc<fs::File>,
    pos: u64,
    end: u64,
}

impl Read for AtReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "git archive ends inside an entry",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The module's files in git's archive.
#[derive(Debug)]
pub(crate) struct ArchiveFiles {
    /// The files under the module directory, in archive order.
    pub(crate) files: Vec<ZipInput>,
    /// Whether one of them is exactly `LICENSE`.
    pub(crate) has_license: bool,
}

/// Lists the files of `archive` (git's zip) under `subdir` (Go's loop in `codeRepo.Zip`).
pub(crate) fn read_archive(archive: fs::File, subdir: &str) -> Result<ArchiveFiles, GitError> {
    let bad = |reason: String| GitError::invalid(format!("reading git archive: {reason}"));
    let shared = Arc::new(
        archive
            .try_clone()
            .map_err(|e| GitError::io("git archive", e))?,
    );
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| bad(e.to_string()))?;
    let subdir = subdir.trim_matches('/');
    let subdir_prefix = if subdir.is_empty() {
        String::new()
    } else {
        format!("{subdir}/")
    };
    let mut top: Option<String> = None;
    let mut files = Vec::new();
    let mut has_license = false;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let top_prefix = match &top {
            Some(t) => t.clone(),
            None => {
                let Some(slash) = name.find('/') else {
                    return Err(bad("missing top-level directory prefix".to_owned()));
                };
                let t = name[..=slash].to_owned();
                top = Some(t.clone());
                t
            }
        };
        let Some(rel) = name.strip_prefix(&top_prefix) else {
            return Err(bad(
                "zip file contains more than one top-level directory".to_owned()
            ));
        };
        let Some(rel) = rel.strip_prefix(&subdir_prefix) else {
            continue;
        };
        if rel.is_empty() || rel.ends_with('/') {
            continue;
        }
        let kind = entry_kind(entry.unix_mode(), entry.size());
        let loc = match kind {
            FileKind::Regular { .. } => Some(Location {
                start: entry.data_start(),
                compressed: entry.compressed_size(),
                method: match entry.compression() {
                    zip::CompressionMethod::Stored => Method::Stored,
                    zip::CompressionMethod::Deflated => Method::Deflated,
                    other => Method::Other(format!("{other:?}")),
                },
            }),
            _ => None,
        };
        if rel == "LICENSE" {
            has_license = true;
        }
        files.push(ZipInput::Archived {
            path: rel.to_owned(),
            kind,
            loc,
            archive: shared.clone(),
        });
    }
    Ok(ArchiveFiles { files, has_license })
}

/// What an entry is, from its Unix mode as Go's `archive/zip` reads it: the file type bits
/// decide; no type bits (or no Unix mode) mean a regular file.
fn entry_kind(unix_mode: Option<u32>, size: u64) -> FileKind {
    const S_IFMT: u32 = 0o170000;
    match unix_mode.map(|m| m & S_IFMT) {
        None | Some(0) | Some(0o100000) => FileKind::Regular { size },
        Some(0o120000) => FileKind::Symlink,
        Some(0o040000) => FileKind::Dir,
        Some(_) => FileKind::Irregular,
    }
}

/// Writes the module zip for `module@version` from `files` into `out` (x/mod `zip.Create`).
pub(crate) fn create_zip(
    out: &mut fs::File,
    module: &str,
    version: &str,
    files: &[ZipInput],
) -> Result<(), GitError> {
    let mut w = io::BufWriter::new(out);
    modzip::create(&mut w, module, version, files).map_err(|e| match e {
        ZipError::TooLarge { module, error } => GitError::TooLarge {
            module,
            reason: error.to_string(),
            limit: modzip::MAX_ZIP_FILE,
        },
        other => GitError::invalid(other.to_string()),
    })?;
    io::Write::flush(&mut w).map_err(|e| GitError::io("writing module zip", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: &[(Option<u32>, &str)] = &[
        (None, "regular"),
        (Some(0o100644), "regular"),
        (Some(0o100755), "regular"),
        (Some(0o644), "regular"),
        (Some(0o120777), "symlink"),
        (Some(0o040755), "dir"),
        (Some(0o010644), "irregular"),
    ];

    #[test]
    fn entry_kind_follows_go_unix_mode_to_file_mode() {
        for &(mode, want) in MODES {
            let got = match entry_kind(mode, 3) {
                FileKind::Regular { size: 3 } => "regular",
                FileKind::Symlink => "symlink",
                FileKind::Dir => "dir",
                FileKind::Irregular => "irregular",
                FileKind::Regular { .. } => "wrong size",
            };
            assert_eq!(got, want, "{mode:?}");
        }
    }
}
