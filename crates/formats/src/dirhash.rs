//! The `h1:` hash of a list of files, as recorded in go.sum and the checksum database.
//!
//! Implements golang.org/x/mod `sumdb/dirhash/hash.go` (`Hash1`, `HashZip`) and the go.mod hash
//! of cmd/go/internal/modfetch/fetch.go (`goModSum`, used by `checkGoMod`).
//!
//! # The rule
//!
//! For every file, in the byte order of the names: a summary line made of the lowercase hex
//! SHA-256 of the file's content, two spaces, the name, and `\n`. The hash is `h1:` followed by
//! the standard (padded) base64 of the SHA-256 of all summary lines. A name containing `\n` would
//! make the summary ambiguous and is rejected. The same name listed twice gets two lines.
//!
//! - A module zip's hash ([`hash_zip`]) uses every entry of the zip, named exactly as in the zip
//!   (so with the `<module>@<version>/` prefix, and including directory entries, which are
//!   empty); compression, timestamps and other metadata do not matter. When a name appears twice,
//!   Go opens the last entry of that name for both lines; so does this code.
//! - A go.mod file's hash ([`hash_go_mod`], the `<module> <version>/go.mod h1:` line) is the hash
//!   of a one-file list whose single file is named `go.mod`.
//!
//! # Deviation
//!
//! Go's zip reader keeps names as raw bytes; ours ([`zip`] crate) indexes entries by a decoded
//! name. Two different non-UTF-8 names that decode alike cannot be told apart, and [`hash_zip`]
//! fails on such a zip ([`DirhashError::AmbiguousZipEntry`]) instead of hashing it. No zip that
//! Go's module zip rules accept can contain such names.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The prefix of hashes made by [`hash1`].
pub const H1_PREFIX: &str = "h1:";

/// Why an `h1:` hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DirhashError {
    /// A file name contains a newline, which the summary format cannot represent.
    #[error("dirhash: file name {name:?} contains a newline; h1 hashes do not support it")]
    NewlineInName {
        /// The offending name (lossily decoded when it is not UTF-8).
        name: String,
    },
    /// Opening or reading a file failed.
    #[error("dirhash: reading {name}: {source}")]
    Read {
        /// The file that could not be read.
        name: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The zip archive could not be opened or one of its entries could not be read.
    #[error("dirhash: reading zip: {source}")]
    Zip {
        /// The underlying error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A zip entry's content is not as long as its header says (Go's zip reader rejects it).
    #[error("dirhash: zip entry {name} has {actual} bytes, but its header says {declared}")]
    ZipEntrySize {
        /// The entry name.
        name: String,
        /// The uncompressed size the central directory declares.
        declared: u64,
        /// The number of bytes actually read (stopped one past `declared` when larger).
        actual: u64,
    },
    /// The zip lists entries that cannot be told apart (see the module docs).
    #[error("dirhash: zip entry {name} cannot be read unambiguously")]
    AmbiguousZipEntry {
        /// The entry name (lossily decoded).
        name: String,
    },
}

/// The SHA-256 digest of one file's content, as it appears in an `h1:` summary line.
pub type FileDigest = [u8; 32];

/// Builds an `h1:` hash from names and content digests supplied in any order; lets callers that
/// already read each file once (a zip validator, a downloader) hash it in the same pass.
///
/// Names are bytes, compared bytewise, as Go compares strings.
#[derive(Debug, Default, Clone)]
pub struct Hash1Builder {
    lines: Vec<(Vec<u8>, FileDigest)>,
}

impl Hash1Builder {
    /// An empty builder; finishing it right away gives the hash of an empty file list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file by name and the SHA-256 of its content.
    pub fn add(
        &mut self,
        name: impl Into<Vec<u8>>,
        digest: FileDigest,
    ) -> Result<(), DirhashError> {
        let name = name.into();
        if name.contains(&b'\n') {
            return Err(DirhashError::NewlineInName {
                name: String::from_utf8_lossy(&name).into_owned(),
            });
        }
        self.lines.push((name, digest));
        Ok(())
    }

    /// Reads `content` to its end and adds it under `name`.
    pub fn add_reader(&mut self, name: &str, content: impl Read) -> Result<(), DirhashError> {
        if name.contains('\n') {
            return Err(DirhashError::NewlineInName {
                name: name.to_owned(),
            });
        }
        let digest = digest_reader(content).map_err(|source| DirhashError::Read {
            name: name.to_owned(),
            source,
        })?;
        self.add(name, digest)
    }

    /// The number of files added so far.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Sorts the names and returns `h1:` + base64(SHA-256(summary)).
    pub fn finish(mut self) -> String {
        self.lines.sort_by(|a, b| a.0.cmp(&b.0));
        let mut summary = Sha256::new();
        for (name, digest) in &self.lines {
            summary.update(hex::encode(digest).as_bytes());
            summary.update(b"  ");
            summary.update(name);
            summary.update(b"\n");
        }
        let sum = summary.finalize();
        format!(
            "{H1_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(sum)
        )
    }
}

/// Computes the SHA-256 of everything `r` yields.
pub fn digest_reader(mut r: impl Read) -> io::Result<FileDigest> {
    let mut h = Sha256::new();
    let mut buf = [0u8; 32 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(h.finalize().into())
}

/// The `h1:` hash of `files` (Go's `dirhash.Hash1`): each name is opened with `open` and read
/// to its end. Fails on a name containing `\n` (before opening it) or on an I/O error.
pub fn hash1<R: Read>(
    files: &[String],
    mut open: impl FnMut(&str) -> io::Result<R>,
) -> Result<String, DirhashError> {
    let mut sorted: Vec<&String> = files.iter().collect();
    sorted.sort();
    let mut b = Hash1Builder::new();
    for name in sorted {
        if name.contains('\n') {
            return Err(DirhashError::NewlineInName { name: name.clone() });
        }
        let r = open(name).map_err(|source| DirhashError::Read {
            name: name.clone(),
            source,
        })?;
        b.add_reader(name, r)?;
    }
    Ok(b.finish())
}

/// The `h1:` hash of a go.mod file's content, as recorded on `<module> <version>/go.mod` lines
/// of go.sum (a one-file list named `go.mod`).
pub fn hash_go_mod(data: &[u8]) -> String {
    let mut b = Hash1Builder::new();
    // The name is a constant without a newline, so `add` cannot fail.
    let digest: FileDigest = Sha256::digest(data).into();
    b.lines.push((b"go.mod".to_vec(), digest));
    b.finish()
}

/// The `h1:` hash of a module zip (Go's `dirhash.HashZip` with `Hash1`): every entry, named as
/// in the zip. Each entry is read fully, so CRC-32 and the declared sizes are verified.
///
/// This does not check the module zip rules or limit the total it reads (each entry is read up
/// to its declared size plus one byte); for a zip from an untrusted source use
/// [`crate::modzip::validate_zip`], which checks the rules and limits and computes the same hash
/// in the same pass.
pub fn hash_zip<R: Read + Seek>(mut r: R) -> Result<String, DirhashError> {
    let entries = central_directory(&mut r).map_err(|source| DirhashError::Zip {
        source: zip::result::ZipError::Io(source),
    })?;
    r.seek(SeekFrom::Start(0))
        .map_err(|source| DirhashError::Zip {
            source: zip::result::ZipError::Io(source),
        })?;
    let mut archive = zip::ZipArchive::new(r).map_err(|source| DirhashError::Zip { source })?;

    // The reader keeps one entry per name: the last one, as Go's HashZip opens.
    let mut digests: HashMap<Vec<u8>, FileDigest> = HashMap::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut f = archive
            .by_index(i)
            .map_err(|source| DirhashError::Zip { source })?;
        let name = f.name_raw().to_vec();
        let lossy = String::from_utf8_lossy(&name).into_owned();
        let declared = f.size();
        let (digest, actual) =
            digest_limited(&mut f, declared).map_err(|source| DirhashError::Read {
                name: lossy.clone(),
                source,
            })?;
        if actual != declared {
            return Err(DirhashError::ZipEntrySize {
                name: lossy,
                declared,
                actual,
            });
        }
        digests.insert(name, digest);
    }

    let mut b = Hash1Builder::new();
    for CentralEntry { name, .. } in entries {
        let Some(digest) = digests.get(&name) else {
            return Err(DirhashError::AmbiguousZipEntry {
                name: String::from_utf8_lossy(&name).into_owned(),
            });
        };
        b.add(name, *digest)?;
    }
    Ok(b.finish())
}

/// Reads `r` to its end, or until it has yielded one byte more than `limit`; returns the digest
/// of what was read and how many bytes that was.
pub(crate) fn digest_limited(r: &mut impl Read, limit: u64) -> io::Result<(FileDigest, u64)> {
    let mut h = Sha256::new();
    let mut n: u64 = 0;
    let mut buf = [0u8; 32 * 1024];
    loop {
        let want = usize::try_from((limit + 1).saturating_sub(n))
            .unwrap_or(usize::MAX)
            .clamp(1, buf.len());
        match r.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
                if n > limit {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((h.finalize().into(), n))
}

// ---------------------------------------------------------------------------------------------
// Central directory names

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;

/// One central-directory entry: what Go's zip reader lists for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CentralEntry {
    /// The raw name bytes.
    pub(crate) name: Vec<u8>,
    /// The declared uncompressed size (from the zip64 extra field when the 32-bit one is full).
    pub(crate) uncompressed_size: u64,
}

/// Every central-directory entry, in order, duplicates included.
///
/// The [`zip`] crate indexes entries by name and so hides a repeated name; Go's reader does not,
/// and both the hash and the module zip rules depend on seeing every entry. This walks the
/// central directory that the end-of-central-directory record (or its zip64 form) points to.
/// An archive that is not a zip gives an error here or later from the [`zip`] crate.
pub(crate) fn central_directory<R: Read + Seek>(r: &mut R) -> io::Result<Vec<CentralEntry>> {
    let (start, count) = find_central_directory(r)?;
    r.seek(SeekFrom::Start(start))?;
    let mut reader = io::BufReader::new(r);
    // Each entry takes at least 46 bytes, so a bogus count cannot make us allocate much.
    let mut entries = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let mut hdr = [0u8; 46];
        reader.read_exact(&mut hdr)?;
        if le32(&hdr[0..4]) != CENTRAL_SIG {
            return Err(bad_zip("central directory entry has a bad signature"));
        }
        let size32 = le32(&hdr[24..28]);
        let name_len = usize::from(le16(&hdr[28..30]));
        let extra_len = usize::from(le16(&hdr[30..32]));
        let comment_len = i64::from(le16(&hdr[32..34]));
        let mut name = vec![0u8; name_len];
        reader.read_exact(&mut name)?;
        let mut extra = vec![0u8; extra_len];
        reader.read_exact(&mut extra)?;
        reader.seek_relative(comment_len)?;
        let mut uncompressed_size = u64::from(size32);
        if size32 == u32::MAX {
            uncompressed_size = zip64_uncompressed_size(&extra)
                .ok_or_else(|| bad_zip("zip64 size missing from extra field"))?;
        }
        entries.push(CentralEntry {
            name,
            uncompressed_size,
        });
    }
    Ok(entries)
}

/// The uncompressed size from a zip64 extended-information extra field (ID 1), whose first
/// value it is when the header's 32-bit size is saturated.
fn zip64_uncompressed_size(mut extra: &[u8]) -> Option<u64> {
    while extra.len() >= 4 {
        let id = le16(&extra[0..2]);
        let len = usize::from(le16(&extra[2..4]));
        let body = extra.get(4..4 + len)?;
        if id == 1 {
            return body.get(0..8).map(le64);
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Finds the central directory: `(absolute offset, number of entries)`.
///
/// Like Go's reader, the recorded offset is trusted unless data was prepended to the archive
/// (a self-extracting zip), in which case everything is shifted by the length of that data.
fn find_central_directory<R: Read + Seek>(r: &mut R) -> io::Result<(u64, u64)> {
    let len = r.seek(SeekFrom::End(0))?;
    // The EOCD record is 22 bytes plus a comment of at most 65535 bytes.
    let tail_len = len.min(22 + 65535);
    let tail_start = len - tail_len;
    r.seek(SeekFrom::Start(tail_start))?;
    let mut tail = vec![0u8; tail_len as usize];
    r.read_exact(&mut tail)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| le32(&tail[i..i + 4]) == EOCD_SIG)
        .ok_or_else(|| bad_zip("no end of central directory record"))?;
    let rec = &tail[eocd..eocd + 22];
    let eocd_pos = tail_start + eocd as u64;
    let mut count = u64::from(le16(&rec[10..12]));
    let mut size = u64::from(le32(&rec[12..16]));
    let mut offset = u64::from(le32(&rec[16..20]));
    let mut dir_end = eocd_pos;

    // A zip64 locator, if any, sits right before the EOCD record.
    if eocd_pos >= 20 {
        r.seek(SeekFrom::Start(eocd_pos - 20))?;
        let mut loc = [0u8; 20];
        r.read_exact(&mut loc)?;
        if le32(&loc[0..4]) == EOCD64_LOCATOR_SIG {
            let rec64_pos = le64(&loc[8..16]);
            r.seek(SeekFrom::Start(rec64_pos))?;
            let mut rec64 = [0u8; 56];
            r.read_exact(&mut rec64)?;
            if le32(&rec64[0..4]) != EOCD64_SIG {
                return Err(bad_zip("zip64 end of central directory record not found"));
            }
            count = le64(&rec64[32..40]);
            size = le64(&rec64[40..48]);
            offset = le64(&rec64[48..56]);
            dir_end = rec64_pos;
        }
    }

    // Prepended data shifts every offset by the same amount.
    let shift = dir_end
        .checked_sub(size)
        .and_then(|expected| expected.checked_sub(offset))
        .ok_or_else(|| bad_zip("central directory extends past its end record"))?;
    Ok((offset + shift, count))
}

fn bad_zip(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a valid zip file: {msg}"),
    )
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn open_from(
        files: &'static [(&'static str, &'static str)],
    ) -> impl FnMut(&str) -> io::Result<&'static [u8]> {
        move |name| {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| c.as_bytes())
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
        }
    }

    /// The summary for a list, written out by hand: `sha256(content)  name\n` per sorted name.
    fn by_hand(files: &[(&str, &str)]) -> String {
        let mut sorted = files.to_vec();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut summary = String::new();
        for (name, content) in sorted {
            summary.push_str(&hex::encode(Sha256::digest(content.as_bytes())));
            summary.push_str("  ");
            summary.push_str(name);
            summary.push('\n');
        }
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
        )
    }

    const LISTS: &[&[(&str, &str)]] = &[
        &[],
        &[("go.mod", "module example.com/m\n")],
        &[
            ("b", "2"),
            ("a", "1"),
            ("A", ""),
            ("a/b", "x"),
            ("a.go", "y"),
        ],
        &[("\u{e9}t\u{e9}.txt", "caf\u{e9}"), ("z", "")],
    ];

    #[test]
    fn hash1_sorts_names_and_hashes_summary_lines() {
        for files in LISTS {
            let names: Vec<String> = files.iter().map(|(n, _)| (*n).to_owned()).collect();
            let got = hash1(&names, open_from(files)).unwrap();
            assert_eq!(got, by_hand(files), "{files:?}");
        }
    }

    #[test]
    fn hash1_of_empty_list_is_hash_of_empty_summary() {
        // sha256("") in base64.
        assert_eq!(
            hash1::<&[u8]>(&[], |_| unreachable!()).unwrap(),
            "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn hash1_rejects_names_with_newlines() {
        let names = vec!["a\nb".to_owned()];
        let err = hash1(&names, |_| Ok(&b""[..])).unwrap_err();
        assert!(matches!(err, DirhashError::NewlineInName { .. }), "{err}");
    }

    #[test]
    fn hash1_reports_open_errors_with_the_name() {
        let names = vec!["missing".to_owned()];
        let err = hash1(&names, open_from(&[])).unwrap_err();
        assert!(
            matches!(&err, DirhashError::Read { name, .. } if name == "missing"),
            "{err}"
        );
    }

    #[test]
    fn hash1_keeps_repeated_names() {
        let names = vec!["a".to_owned(), "a".to_owned()];
        let got = hash1(&names, |_| Ok(&b"x"[..])).unwrap();
        assert_eq!(got, by_hand(&[("a", "x"), ("a", "x")]));
        assert_ne!(got, by_hand(&[("a", "x")]));
    }

    #[test]
    fn hash_go_mod_is_hash1_of_a_file_named_go_mod() {
        const MODS: &[&str] = &["", "module example.com/m\n", "module x\r\n\ngo 1.21\n"];
        for m in MODS {
            assert_eq!(
                hash_go_mod(m.as_bytes()),
                by_hand(&[("go.mod", m)]),
                "{m:?}"
            );
        }
    }

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(content.as_bytes()).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn hash_zip_hashes_every_entry_by_its_zip_name() {
        let entries = [
            ("example.com/m@v1.0.0/go.mod", "module example.com/m\n"),
            ("example.com/m@v1.0.0/sub/", ""),
            ("example.com/m@v1.0.0/a.go", "package m\n"),
        ];
        let got = hash_zip(Cursor::new(zip_of(&entries))).unwrap();
        assert_eq!(got, by_hand(&entries));
    }

    #[test]
    fn hash_zip_ignores_prepended_data() {
        let entries = [("m@v1.0.0/a", "x")];
        let mut data = b"#!/bin/sh\nexit 0\n".to_vec();
        data.extend(zip_of(&entries));
        // The zip crate and our directory walk must both find the shifted central directory.
        assert_eq!(hash_zip(Cursor::new(data)).unwrap(), by_hand(&entries));
    }

    #[test]
    fn hash_zip_rejects_data_that_is_not_a_zip() {
        for data in [&b""[..], b"not a zip at all", &[0u8; 100]] {
            assert!(hash_zip(Cursor::new(data)).is_err(), "{data:?}");
        }
    }

    #[test]
    fn hash_zip_verifies_crc() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("m@v1.0.0/a", opts).unwrap();
        w.write_all(b"hello, world").unwrap();
        let mut data = w.finish().unwrap().into_inner();
        let at = data.windows(5).position(|w| w == b"hello").unwrap();
        data[at] = b'j';
        let err = hash_zip(Cursor::new(data)).unwrap_err();
        assert!(matches!(err, DirhashError::Read { .. }), "{err}");
    }

    #[test]
    fn digest_limited_stops_one_byte_past_the_limit() {
        let data = vec![7u8; 100_000];
        let (_, n) = digest_limited(&mut &data[..], 10).unwrap();
        assert_eq!(n, 11);
        let (d, n) = digest_limited(&mut &data[..], 100_000).unwrap();
        assert_eq!(n, 100_000);
        assert_eq!(d, <[u8; 32]>::from(Sha256::digest(&data)));
    }
}
