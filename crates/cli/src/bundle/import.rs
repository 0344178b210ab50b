//! `modferry bundle import` and `bundle verify`: read a bundle as a stream, check every file,
//! then (import) commit the entries that passed.
//!
//! Nothing is written outside one temp directory in the store's staging area until every file
//! has been read and checked. The archive as a whole is refused (nothing imported) when it is
//! not a complete zstd/tar stream, when its first entry is not a valid `manifest.json`, or
//! when any entry is not a regular file with one of the names the manifest implies (so a
//! `../` path, an absolute path, a link or an unexpected name refuses the bundle). Each module
//! version is then checked on its own, and one that fails is rejected by name with the reason
//! while the others import:
//!
//! - size and SHA-256 of each file against the manifest;
//! - `.info` is JSON naming the version; `.mod` parses as a dependency's go.mod (x/mod
//!   `modfile.ParseLax`) and declares the module path; its `h1:` equals the manifest's;
//! - the zip passes [`modzip::validate_zip`] (x/mod `zip.CheckZip` plus reading every entry
//!   under the go command's size limits: a zip bomb stops at the limit), its `h1:` equals the
//!   manifest's, and its go.mod equals the `.mod` (or the `.mod` is the synthesized `module`
//!   line for a zip without one, as `cmd/go/internal/modfetch/coderepo.go` makes it);
//! - with `--go-sum`, every hash the go.sum has for the version matches.
//!
//! Committing uses create-only writes: an existing file with the same content is kept (so
//! re-importing is a no-op); an existing file with different content is a conflict that
//! rejects the entry, naming both SHA-256s.
//!
//! Speed (docs/benchmarks.md, "bundle import"): every byte of the archive is read from it
//! once and each zip is read back once, from the page cache. One thread copies entries to temp
//! files (hashing the small ones on the way); as soon as a module version's files are all in,
//! a pool of checker threads reads its zip once for both the SHA-256 and the zip checks with
//! their `h1:`. Large temp files are synced in the background while reading goes on, and after
//! everything is checked, module versions are committed several at a time (commits mostly wait
//! for syncs). Zips enter the store by link, not by copy ([`Payload::File`]).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use modferry_formats::modzip::ZipSummary;
use modferry_formats::{dirhash, gosum, modfile, modzip};
use modferry_store::{DynStore, FileKind, Payload, PutMode, PutOutcome, layout};

use super::export::{open_read, sha256_reader};
use super::manifest::{self, Entry, Manifest};

/// What happened to one module version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Checked, and (import) at least one file written.
    Imported,
    /// Checked; every file was already in the store.
    Present,
    /// Checked (verify only).
    Verified,
    /// Rejected, with the reason.
    Rejected(String),
}

/// The result of reading a bundle.
#[derive(Debug)]
pub struct Outcomes {
    /// The manifest.
    pub manifest: Manifest,
    /// Per module version (`module@version`), in manifest order.
    pub entries: Vec<(String, Outcome)>,
    /// How many checksum databases the bundle carried (all verified).
    pub sumdbs: usize,
    /// Remarks about checksum-database objects the store already had in another copy.
    pub sumdb_remarks: Vec<String>,
}

impl Outcomes {
    /// Whether any entry was rejected.
    pub fn any_rejected(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Rejected(_)))
    }
}

/// A file read out of the archive into the temp directory.
#[derive(Debug, Clone)]
struct Extracted {
    path: PathBuf,
    /// Computed while copying, except for module zips: their SHA-256 is computed by
    /// [`check_entry`] in the same read as the zip checks.
    sha256: Option<String>,
    size: u64,
}

/// Checks that an archive name is a plain relative path: no `..`, no leading `/`, no `\`,
/// no empty or `.` elements, valid UTF-8.
fn check_name(raw: &[u8]) -> Result<String, String> {
    let name = std::str::from_utf8(raw)
        .map_err(|_| format!("entry name {:?} is not UTF-8", String::from_utf8_lossy(raw)))?;
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return Err(format!(
            "entry {name:?} has an absolute or non-portable path"
        ));
    }
    if name
        .split('/')
        .any(|e| e.is_empty() || e == "." || e == "..")
    {
        return Err(format!(
            "entry {name:?} has an empty, '.' or '..' path element (path traversal)"
        ));
    }
    Ok(name.to_string())
}

/// The size of the buffer each archive entry is copied through.
const COPY_CHUNK: usize = 256 * 1024;

/// How many threads check module versions while the archive is still being read: one per
/// core, at most four. Checking (SHA-256, CRC-32 and `h1:` over every byte of a zip) costs
/// more than reading the archive (copying), so the checks get the cores and the reading
/// thread fits in between. Memory stays bounded: a check streams its zip from the temp file
/// and keeps only the go.mod.
fn check_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

/// How many module versions are committed at once. Committing mostly waits for the disk
/// (every put is synced, and so is its directory), so this is more than the number of cores.
const COMMIT_THREADS: usize = 8;

/// Runs `f` on every item on up to `threads` threads (this one included); the results are in
/// item order. A helper thread that cannot be started only means less parallelism.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, f(item)));
        }
        done
    };
    let helpers = threads.min(items.len()).saturating_sub(1);
    let mut out: Vec<(usize, R)> = std::thread::scope(|s| {
        let started: Vec<_> = (0..helpers)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let mut out = work();
        for h in started {
            match h.join() {
                Ok(done) => out.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    });
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// What reading the archive produced: the manifest, the extracted files by archive name, and
/// the result of [`check_entry`] for each manifest entry whose files all arrived (by index).
struct Extraction {
    manifest: Manifest,
    got: HashMap<String, Extracted>,
    checked: HashMap<usize, Result<CheckedFiles, String>>,
}

/// Streams the archive at `bundle` into `tmp`. Any structural problem refuses the whole
/// archive.
///
/// The archive is read once, each file copied to a temp file (and hashed on the way, except
/// module zips). As soon as all files of a module version are in, [`check_entry`] runs on it
/// on one of the [`check_threads`] (its zip is then still in the page cache; the zip's SHA-256
/// is computed in the same read as its checks), while this thread goes on reading. Checks only
/// read temp files, so their results are simply dropped when the archive turns out to be
/// refused. With `flush`, large temp files are synced in the background ([`flush_staged`]).
fn extract(
    bundle: &Path,
    tmp: &Path,
    sums: Option<&SumIndex>,
    flush: bool,
) -> Result<Extraction, String> {
    let file = File::open(bundle).map_err(|e| format!("cannot open {}: {e}", bundle.display()))?;
    let dec = zstd::Decoder::new(file).map_err(|e| format!("not a zstd stream: {e}"))?;
    let mut ar = tar::Archive::new(dec);
    let mut entries = ar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    let broken = |e: std::io::Error| format!("the archive is truncated or corrupt: {e}");

    let mut first = entries
        .next()
        .ok_or("the archive is empty (no manifest.json)")?
        .map_err(broken)?;
    let name = check_name(&first.path_bytes())?;
    if name != manifest::MANIFEST_NAME || first.header().entry_type() != tar::EntryType::Regular {
        return Err(format!(
            "the first entry is {name:?}, not the regular file {:?}",
            manifest::MANIFEST_NAME
        ));
    }
    if first.header().size().map_err(broken)? > manifest::MAX_MANIFEST {
        return Err("manifest.json is larger than 256 MiB".into());
    }
    let mut json = Vec::new();
    first.read_to_end(&mut json).map_err(broken)?;
    drop(first);
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|e| format!("manifest.json is invalid: {e}"))?;
    manifest.check()?;

    let mut expected: HashMap<String, u64> = HashMap::new();
    // Module files: archive name -> manifest entry; and how many files each entry still lacks.
    let mut owner: HashMap<String, (usize, FileKind)> = HashMap::new();
    let mut lacking: Vec<usize> = Vec::with_capacity(manifest.modules.len());
    for (i, e) in manifest.modules.iter().enumerate() {
        let files = e.files()?;
        lacking.push(files.len());
        for (kind, name, sum) in files {
            expected.insert(name.clone(), sum.size);
            owner.insert(name, (i, kind));
        }
    }
    for (name, size) in super::sumdb::expected_files(manifest.sumdb.as_ref())? {
        expected.insert(name, size);
    }

    let modules = &manifest.modules;
    let (job_tx, job_rx) = mpsc::channel::<(usize, HashMap<String, Extracted>)>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Result<CheckedFiles, String>)>();
    let (flush_tx, flush_rx) = mpsc::channel::<PathBuf>();
    // Set when the archive is refused: the checkers drop what is queued.
    let refused = AtomicBool::new(false);
    // Set when reading ends: the flusher stops (committing syncs what it did not reach).
    let read_all = AtomicBool::new(false);
    let got = std::thread::scope(|s| {
        // A thread that fails to start is no loss: unchecked entries are checked afterwards.
        if flush {
            let _ = std::thread::Builder::new()
                .name("bundle-flush".into())
                .spawn_scoped(s, || flush_staged(flush_rx, &refused, &read_all));
        }
        for _ in 0..check_threads() {
            let done_tx = done_tx.clone();
            let (job_rx, refused) = (&job_rx, &refused);
            let _ = std::thread::Builder::new()
                .name("bundle-check".into())
                .spawn_scoped(s, move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((i, files)) = job else { break };
                        if refused.load(Ordering::Relaxed) {
                            break;
                        }
                        let res = check_entry(&modules[i], &|n| files.get(n), sums);
                        if done_tx.send((i, res)).is_err() {
                            break;
                        }
                    }
                });
        }
        drop(done_tx);
        let hash_later = |name: &str| owner.get(name).is_some_and(|o| o.1 == FileKind::Zip);
        let res = read_files(&mut entries, tmp, &expected, hash_later, |name, got| {
            let Some(&(i, _)) = owner.get(name) else {
                return;
            };
            if let Some(x) = got.get(name)
                && x.size >= FLUSH_EARLY
            {
                // Sending fails only when the flusher is not running; then commit syncs.
                let _ = flush_tx.send(x.path.clone());
            }
            lacking[i] = lacking[i].saturating_sub(1);
            if lacking[i] > 0 {
                return;
            }
            let files = modules[i]
                .files()
                .into_iter()
                .flatten()
                .filter_map(|(_, n, _)| got.get(&n).map(|x| (n, x.clone())))
                .collect();
            // Sending fails only when no checker is running; then the entry is checked below.
            let _ = job_tx.send((i, files));
        });
        if res.is_err() {
            refused.store(true, Ordering::Relaxed);
        }
        read_all.store(true, Ordering::Relaxed);
        drop(job_tx);
        drop(flush_tx);
        res
    })?;
    let checked: HashMap<_, _> = done_rx.into_iter().collect();
    // Read the compressed stream to its end so a truncated frame (or a bad zstd checksum) is
    // noticed even when the tar end marker happened to survive.
    let mut dec = ar.into_inner();
    std::io::copy(&mut dec, &mut std::io::sink()).map_err(broken)?;
    Ok(Extraction {
        manifest,
        got,
        checked,
    })
}

/// Copies the archive's remaining entries into `tmp`, hashing each on the way unless
/// `hash_later` says otherwise, and calls `arrived` after each one with the files so far.
fn read_files<R: Read>(
    entries: &mut tar::Entries<'_, R>,
    tmp: &Path,
    expected: &HashMap<String, u64>,
    hash_later: impl Fn(&str) -> bool,
    mut arrived: impl FnMut(&str, &HashMap<String, Extracted>),
) -> Result<HashMap<String, Extracted>, String> {
    let broken = |e: std::io::Error| format!("the archive is truncated or corrupt: {e}");
    let mut got: HashMap<String, Extracted> = HashMap::new();
    let mut buf = vec![0u8; COPY_CHUNK];
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(broken)?;
        let name = check_name(&entry.path_bytes())?;
        let et = entry.header().entry_type();
        if et != tar::EntryType::Regular {
            return Err(format!(
                "entry {name:?} is not a regular file ({et:?}); bundles hold only regular files"
            ));
        }
        let Some(&want_size) = expected.get(&name) else {
            return Err(format!(
                "unexpected entry {name:?}: the manifest lists no such file"
            ));
        };
        if got.contains_key(&name) {
            return Err(format!("entry {name:?} appears twice"));
        }
        let size = entry.header().size().map_err(broken)?;
        if size > want_size {
            return Err(format!(
                "entry {name:?} is {size} bytes but the manifest says {want_size}"
            ));
        }
        let path = tmp.join(format!("{n}"));
        let mut out = File::create(&path).map_err(|e| format!("temp file: {e}"))?;
        let mut h = (!hash_later(&name)).then(Sha256::new);
        let mut total = 0u64;
        loop {
            let k = entry.read(&mut buf).map_err(broken)?;
            if k == 0 {
                break;
            }
            if let Some(h) = &mut h {
                h.update(&buf[..k]);
            }
            out.write_all(&buf[..k])
                .map_err(|e| format!("writing a temp file: {e}"))?;
            total += k as u64;
        }
        out.flush()
            .map_err(|e| format!("writing a temp file: {e}"))?;
        got.insert(
            name.clone(),
            Extracted {
                path,
                sha256: h.map(|h| hex::encode(h.finalize())),
                size: total,
            },
        );
        arrived(&name, &got);
    }
    Ok(got)
}

/// Staged files at least this large are synced to disk while the archive is still being read.
const FLUSH_EARLY: u64 = 1 << 20;

/// Syncs the staged files sent on `paths` until reading ends. An import has to sync every
/// file it commits; starting on the large ones early lets the disk write them while the CPU
/// reads and checks the rest, instead of all at commit time. Errors are ignored here: commit
/// syncs again and reports them.
fn flush_staged(paths: mpsc::Receiver<PathBuf>, refused: &AtomicBool, read_all: &AtomicBool) {
    for p in paths {
        if refused.load(Ordering::Relaxed) || read_all.load(Ordering::Relaxed) {
            break;
        }
        if let Ok(f) = File::open(&p) {
            let _ = f.sync_data();
        }
    }
}

/// Checked files ready to commit: (kind, temp path, SHA-256).
type CheckedFiles = Vec<(FileKind, PathBuf, String)>;

/// The hashes a go.sum gives, by (module, version field).
type SumIndex = HashMap<(String, String), Vec<String>>;

fn read_go_sum(path: &Path) -> Result<SumIndex, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines = gosum::parse(&path.display().to_string(), &data).map_err(|e| e.to_string())?;
    let mut idx: SumIndex = HashMap::new();
    for l in lines {
        idx.entry((l.path.clone(), l.version_field()))
            .or_default()
            .push(l.hash);
    }
    Ok(idx)
}

/// The hashes of module files that passed [`check_module_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `h1:` of the go.mod.
    pub mod_h1: String,
    /// `h1:` of the zip, when one was checked.
    pub zip_h1: Option<String>,
}

/// The content rules for a module version's files, wherever they come from: `.info` names
/// the version; `.mod` parses as a dependency's go.mod and declares the module; the zip (if
/// any) passes [`modzip::validate_zip`] and agrees with the `.mod`.
pub fn check_module_files(
    module: &str,
    version: &str,
    info: &[u8],
    go_mod: &[u8],
    zip: Option<&Path>,
) -> Result<Checked, String> {
    let validate = zip.map(|p| move || validate_zip_path(module, version, p));
    check_files_with(module, version, info, go_mod, validate)
}

/// [`modzip::validate_zip`] on the zip at `p`.
fn validate_zip_path(module: &str, version: &str, p: &Path) -> Result<ZipSummary, String> {
    let f = File::open(p).map_err(|err| format!("reading {}: {err}", p.display()))?;
    validate_zip_file(module, version, f)
}

/// [`modzip::validate_zip`] on `r`, whose size is found by seeking.
fn validate_zip_file(
    module: &str,
    version: &str,
    mut r: impl Read + Seek,
) -> Result<ZipSummary, String> {
    let size = r.seek(SeekFrom::End(0)).map_err(|err| err.to_string())?;
    r.seek(SeekFrom::Start(0)).map_err(|err| err.to_string())?;
    modzip::validate_zip(module, version, r, size).map_err(|err| format!("zip rejected: {err}"))
}

/// [`check_module_files`] with the zip check given as `validate` (run after the `.info` and
/// `.mod` checks passed, or its result reported then).
fn check_files_with(
    module: &str,
    version: &str,
    info: &[u8],
    go_mod: &[u8],
    validate: Option<impl FnOnce() -> Result<ZipSummary, String>>,
) -> Result<Checked, String> {
    let v: serde_json::Value =
        serde_json::from_slice(info).map_err(|err| format!(".info is not JSON: {err}"))?;
    if v.get("Version").and_then(|x| x.as_str()) != Some(version) {
        return Err(format!(".info does not name version {version}"));
    }
    let parsed = modfile::parse_lax("go.mod", go_mod)
        .map_err(|err| format!(".mod does not parse: {err}"))?;
    let declared = parsed.module.as_ref().map(|m| m.path.as_str());
    if declared != Some(module) {
        return Err(format!(
            ".mod declares module {:?}, not {module:?}",
            declared.unwrap_or("")
        ));
    }
    let mod_h1 = dirhash::hash_go_mod(go_mod);
    let mut zip_h1 = None;
    if let Some(validate) = validate {
        let summary = validate()?;
        match &summary.go_mod {
            Some(zm) if zm.as_slice() != go_mod => {
                return Err(format!(
                    "the zip's go.mod ({}) differs from the .mod ({mod_h1})",
                    dirhash::hash_go_mod(zm)
                ));
            }
            None if go_mod != format!("module {module}\n").as_bytes() => {
                return Err(
                    "the zip has no go.mod, but the .mod is not the synthesized module line".into(),
                );
            }
            _ => {}
        }
        zip_h1 = Some(summary.h1);
    }
    Ok(Checked { mod_h1, zip_h1 })
}

/// Reads the zip at `p` once for both its SHA-256 (returned first) and
/// [`modzip::validate_zip`] (whose result is returned second, to be reported in its turn).
fn hash_and_validate(
    module: &str,
    version: &str,
    p: &Path,
) -> Result<(String, Result<ZipSummary, String>), String> {
    let f = File::open(p).map_err(|e| format!("reading a temp file: {e}"))?;
    let mut r = HashingReader::new(f);
    let checked = validate_zip_file(module, version, &mut r);
    let sha256 = r
        .finish()
        .map_err(|e| format!("reading a temp file: {e}"))?;
    Ok((sha256, checked))
}

/// A file reader that computes the SHA-256 of the whole file as a side effect of reading it
/// for something else, in whatever order: bytes are hashed when a read first covers them in
/// file order (the zip checks read a zip's entries front to back, so that is nearly all of
/// them); [`HashingReader::finish`] reads and hashes whatever the reads skipped.
struct HashingReader {
    file: File,
    /// The file position.
    pos: u64,
    /// Everything before this offset is hashed, nothing after it.
    hashed: u64,
    hash: Sha256,
}

impl HashingReader {
    fn new(file: File) -> Self {
        HashingReader {
            file,
            pos: 0,
            hashed: 0,
            hash: Sha256::new(),
        }
    }

    /// Hashes the rest of the file and returns the hex SHA-256.
    fn finish(mut self) -> std::io::Result<String> {
        self.file.seek(SeekFrom::Start(self.hashed))?;
        std::io::copy(&mut self.file, &mut self.hash)?;
        Ok(hex::encode(self.hash.finalize()))
    }
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.file.read(buf)?;
        let end = self.pos + k as u64;
        if self.pos <= self.hashed && self.hashed < end {
            // Within `buf` because pos <= hashed < pos + k.
            let from = usize::try_from(self.hashed - self.pos).unwrap_or(k);
            self.hash.update(&buf[from..k]);
            self.hashed = end;
        }
        self.pos = end;
        Ok(k)
    }
}

impl Seek for HashingReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

/// Checks one entry's extracted files; returns the files to commit (kind, temp path).
fn check_entry<'a>(
    e: &Entry,
    got: &dyn Fn(&str) -> Option<&'a Extracted>,
    sums: Option<&SumIndex>,
) -> Result<CheckedFiles, String> {
    let mut files = Vec::new();
    // The zip checks, when they ran in the same read as the zip's SHA-256.
    let mut zip_checked = None;
    for (kind, name, sum) in e.files()? {
        let x = got(&name).ok_or_else(|| format!("{name} is missing from the archive"))?;
        if x.size != sum.size {
            return Err(format!(
                ".{}: {} bytes, the manifest says {}",
                kind.ext(),
                x.size,
                sum.size
            ));
        }
        let sha256 = match &x.sha256 {
            Some(h) => h.clone(),
            None if kind == FileKind::Zip => {
                let (h, checked) = hash_and_validate(&e.module, &e.version, &x.path)?;
                zip_checked = Some(checked);
                h
            }
            None => {
                let f = File::open(&x.path).map_err(|e| format!("reading a temp file: {e}"))?;
                sha256_reader(f)
                    .map_err(|e| format!("reading a temp file: {e}"))?
                    .sha256
            }
        };
        if sha256 != sum.sha256 {
            return Err(format!(
                ".{}: SHA-256 {sha256} does not match the manifest's {}",
                kind.ext(),
                sum.sha256
            ));
        }
        files.push((kind, x.path.clone(), sha256));
    }
    let read_small = |kind: FileKind| -> Result<Vec<u8>, String> {
        let p = &files
            .iter()
            .find(|f| f.0 == kind)
            .ok_or("internal: file list")?
            .1;
        std::fs::read(p).map_err(|e| format!("reading a temp file: {e}"))
    };
    let info = read_small(FileKind::Info)?;
    let go_mod = read_small(FileKind::Mod)?;
    let validate = files.iter().find(|f| f.0 == FileKind::Zip).map(|f| {
        let p = f.1.clone();
        move || zip_checked.unwrap_or_else(|| validate_zip_path(&e.module, &e.version, &p))
    });
    let checked = check_files_with(&e.module, &e.version, &info, &go_mod, validate)?;
    let mod_h1 = checked.mod_h1;
    if mod_h1 != e.go_mod_h1 {
        return Err(format!(
            ".mod has {mod_h1}, the manifest says {}",
            e.go_mod_h1
        ));
    }
    let zip_h1 = checked.zip_h1;
    if zip_h1 != e.zip_h1 {
        return Err(format!(
            "zip has {}, the manifest says {}",
            zip_h1.as_deref().unwrap_or("none"),
            e.zip_h1.as_deref().unwrap_or("none")
        ));
    }
    if let Some(idx) = sums {
        let check = |field: String, have: &str| -> Result<(), String> {
            if let Some(hs) = idx.get(&(e.module.clone(), field.clone())) {
                for h in hs.iter().filter(|h| h.starts_with("h1:")) {
                    if h != have {
                        return Err(format!(
                            "go.sum has {h} for {} {field}, the bundle has {have}",
                            e.module
                        ));
                    }
                }
            }
            Ok(())
        };
        check(format!("{}/go.mod", e.version), &mod_h1)?;
        if let Some(h) = &zip_h1 {
            check(e.version.clone(), h)?;
        }
    }
    if let Some(h) = zip_h1 {
        // The go command writes .ziphash beside each verified zip; so does the mirror.
        let p = files[0].1.with_extension("ziphash");
        std::fs::write(&p, &h).map_err(|err| format!("writing a temp file: {err}"))?;
        files.push((
            FileKind::ZipHash,
            p,
            hex::encode(Sha256::digest(h.as_bytes())),
        ));
    }
    Ok(files)
}

/// Commits the checked files `(kind, temp path, sha256)` of `module@version`: conflicts
/// first (nothing written if any), then create-only puts. A zip's temp file is moved into the
/// store, so it must live in the store's staging area. Returns whether anything was written.
pub fn commit(
    handle: &Handle,
    store: &DynStore,
    module: &str,
    version: &str,
    files: Vec<(FileKind, PathBuf, String)>,
) -> Result<bool, String> {
    let mut todo = Vec::new();
    for (kind, path, sha) in files {
        let key = layout::version_file(module, version, kind).map_err(|x| x.to_string())?;
        let exists = handle
            .block_on(store.head(&key))
            .map_err(|x| format!("store: {x}"))?
            .is_some();
        if exists {
            let have = sha256_reader(open_read(handle, store, &key)?)
                .map_err(|x| format!("reading {key}: {x}"))?;
            if have.sha256 != sha {
                if kind == FileKind::ZipHash {
                    // Derived from the zip, which was compared above.
                    continue;
                }
                return Err(format!(
                    "conflict: the store's .{} has SHA-256 {}, the bundle's has {sha}; not overwriting",
                    kind.ext(),
                    have.sha256
                ));
            }
            continue;
        }
        todo.push((kind, key, path));
    }
    let wrote = !todo.is_empty();
    for (kind, key, path) in todo {
        let payload = if kind == FileKind::Zip {
            Payload::File(path)
        } else {
            Payload::Bytes(Bytes::from(
                std::fs::read(&path).map_err(|x| format!("reading a temp file: {x}"))?,
            ))
        };
        match handle.block_on(store.put(&key, payload, PutMode::Create)) {
            Ok(PutOutcome::Created | PutOutcome::AlreadyExists) => {}
            Err(x) => return Err(format!("storing {key}: {x}")),
        }
    }
    Ok(wrote)
}

/// Rewrites `<module>/@v/list` from the stored versions, as the mirror does.
pub fn refresh_list(handle: &Handle, store: &DynStore, module: &str) -> Result<(), String> {
    let mut versions = handle
        .block_on(modferry_store::stored_versions(store.as_ref(), module))
        .map_err(|e| e.to_string())?;
    modferry_formats::semver::sort(&mut versions);
    let mut body = String::new();
    for v in versions {
        body.push_str(&v);
        body.push('\n');
    }
    let key = layout::list(module).map_err(|e| e.to_string())?;
    handle
        .block_on(store.put(&key, Payload::Bytes(Bytes::from(body)), PutMode::Overwrite))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads, checks and (with a store) imports a bundle. `tmp_parent` holds the temp directory
/// (the store's staging area for an import). An `Err` refuses the whole archive.
pub fn import(
    handle: &Handle,
    bundle: &Path,
    store: Option<&DynStore>,
    tmp_parent: &Path,
    go_sum: Option<&Path>,
    trusted_keys: &[String],
) -> Result<Outcomes, String> {
    let sums = go_sum.map(read_go_sum).transpose()?;
    let tmp = tempfile::Builder::new()
        .prefix("bundle-import-")
        .tempdir_in(tmp_parent)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", tmp_parent.display()))?;
    let Extraction {
        manifest,
        got,
        mut checked,
    } = extract(bundle, tmp.path(), sums.as_ref(), store.is_some())?;
    let carried = |name: &str| {
        let x = got.get(name)?;
        let sha256 = match &x.sha256 {
            Some(h) => h.clone(),
            // Only module zips are hashed later, and no checksum-database file is one.
            None => sha256_reader(File::open(&x.path).ok()?).ok()?.sha256,
        };
        Some((x.path.clone(), sha256, x.size))
    };
    let verified = super::sumdb::verify(
        handle,
        manifest.sumdb.as_ref(),
        &carried,
        trusted_keys,
        store,
        tmp.path(),
    )?;
    let sumdbs = verified.databases();
    let results: Vec<Result<CheckedFiles, String>> = (manifest.modules.iter().enumerate())
        .map(|(i, e)| {
            // Entries with a file missing from the archive were never checked while reading.
            let res = checked
                .remove(&i)
                .unwrap_or_else(|| check_entry(e, &|n| got.get(n), sums.as_ref()));
            res.and_then(|files| verified.check_entry(e).map(|()| files))
        })
        .collect();
    // Everything is checked: commit the module versions that passed, several at a time.
    let work: Vec<_> = manifest.modules.iter().zip(results).collect();
    let outcomes = par_map(&work, COMMIT_THREADS, |(e, res)| match (res, store) {
        (Err(r), _) => Outcome::Rejected(r.clone()),
        (Ok(_), None) => Outcome::Verified,
        (Ok(files), Some(store)) => {
            match commit(handle, store, &e.module, &e.version, files.clone()) {
                Ok(true) => Outcome::Imported,
                Ok(false) => Outcome::Present,
                Err(r) => Outcome::Rejected(r),
            }
        }
    });
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let mut entries = Vec::new();
    for (e, outcome) in manifest.modules.iter().zip(outcomes) {
        if outcome == Outcome::Imported {
            touched.insert(&e.module);
        }
        entries.push((e.what(), outcome));
    }
    let mut sumdb_remarks = Vec::new();
    if let Some(store) = store {
        let touched: Vec<&str> = touched.into_iter().collect();
        par_map(&touched, COMMIT_THREADS, |m| refresh_list(handle, store, m))
            .into_iter()
            .collect::<Result<(), String>>()?;
        sumdb_remarks = super::sumdb::commit(handle, store, verified)?;
    }
    Ok(Outcomes {
        manifest,
        entries,
        sumdbs,
        sumdb_remarks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_must_be_plain_relative_paths() {
        let cases: &[(&str, bool)] = &[
            ("files/example.com/m/@v/v1.0.0.zip", true),
            ("manifest.json", true),
            ("../etc/passwd", false),
            ("files/../../x", false),
            ("/abs", false),
            ("files//x", false),
            ("files/./x", false),
            ("files\\x", false),
        ];
        for (name, ok) in cases {
            assert_eq!(check_name(name.as_bytes()).is_ok(), *ok, "{name}");
        }
    }

    /// One step of a read pattern: seek to an offset, then read up to that many bytes.
    type Step = (u64, usize);

    #[test]
    fn zip_sha256_is_of_the_whole_file_whatever_the_checks_read() {
        // Like a zip check: the end first (central directory), then front to back, with
        // overlaps, gaps and rereads; or nothing at all.
        let cases: &[(&str, &[Step])] = &[
            ("nothing read", &[]),
            ("front to back", &[(0, 4000), (4000, 6000)]),
            ("end first", &[(9000, 1000), (0, 10_000)]),
            ("overlap", &[(0, 100), (50, 500), (0, 30)]),
            ("gap", &[(0, 100), (200, 9800)]),
            ("past the end", &[(9990, 100), (20_000, 10)]),
        ];
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want = hex::encode(Sha256::digest(&data));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &data).unwrap();
        for (what, steps) in cases {
            let mut r = HashingReader::new(File::open(&p).unwrap());
            for &(at, len) in *steps {
                r.seek(SeekFrom::Start(at)).unwrap();
                let mut buf = vec![0u8; len];
                let mut n = 0;
                while n < len {
                    match r.read(&mut buf[n..]).unwrap() {
                        0 => break,
                        k => n += k,
                    }
                }
            }
            assert_eq!(r.finish().unwrap(), want, "{what}");
        }
    }

    #[test]
    fn parallel_commit_keeps_manifest_order() {
        let cases: &[(usize, usize)] = &[(0, 8), (1, 8), (5, 1), (100, 3), (100, 8)];
        for &(n, threads) in cases {
            let items: Vec<usize> = (0..n).collect();
            let got = par_map(&items, threads, |i| i * 2);
            let want: Vec<usize> = items.iter().map(|i| i * 2).collect();
            assert_eq!(got, want, "{n} items on {threads} threads");
        }
    }
}
