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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

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
struct Extracted {
    path: PathBuf,
    sha256: String,
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

/// Streams the archive at `bundle` into `tmp` and returns the manifest and the extracted files
/// by archive name. Any structural problem refuses the whole archive.
fn extract(bundle: &Path, tmp: &Path) -> Result<(Manifest, HashMap<String, Extracted>), String> {
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
    for e in &manifest.modules {
        for (_, name, sum) in e.files()? {
            expected.insert(name, sum.size);
        }
    }
    for (name, size) in super::sumdb::expected_files(manifest.sumdb.as_ref())? {
        expected.insert(name, size);
    }
    let mut got: HashMap<String, Extracted> = HashMap::new();
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
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let k = entry.read(&mut buf).map_err(broken)?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            out.write_all(&buf[..k])
                .map_err(|e| format!("writing a temp file: {e}"))?;
            total += k as u64;
        }
        out.flush()
            .map_err(|e| format!("writing a temp file: {e}"))?;
        got.insert(
            name,
            Extracted {
                path,
                sha256: hex::encode(h.finalize()),
                size: total,
            },
        );
    }
    // Read the compressed stream to its end so a truncated frame (or a bad zstd checksum) is
    // noticed even when the tar end marker happened to survive.
    let mut dec = ar.into_inner();
    std::io::copy(&mut dec, &mut std::io::sink()).map_err(broken)?;
    Ok((manifest, got))
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
    if let Some(p) = zip {
        let mut f = File::open(p).map_err(|err| format!("reading {}: {err}", p.display()))?;
        let size = f.seek(SeekFrom::End(0)).map_err(|err| err.to_string())?;
        f.seek(SeekFrom::Start(0)).map_err(|err| err.to_string())?;
        let summary = modzip::validate_zip(module, version, f, size)
            .map_err(|err| format!("zip rejected: {err}"))?;
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

/// Checks one entry's extracted files; returns the files to commit (kind, temp path).
fn check_entry(
    e: &Entry,
    got: &HashMap<String, Extracted>,
    sums: Option<&SumIndex>,
) -> Result<Vec<(FileKind, PathBuf, String)>, String> {
    let mut files = Vec::new();
    for (kind, name, sum) in e.files()? {
        let x = got
            .get(&name)
            .ok_or_else(|| format!("{name} is missing from the archive"))?;
        if x.size != sum.size {
            return Err(format!(
                ".{}: {} bytes, the manifest says {}",
                kind.ext(),
                x.size,
                sum.size
            ));
        }
        if x.sha256 != sum.sha256 {
            return Err(format!(
                ".{}: SHA-256 {} does not match the manifest's {}",
                kind.ext(),
                x.sha256,
                sum.sha256
            ));
        }
        files.push((kind, x.path.clone(), x.sha256.clone()));
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
    let zip_path = files
        .iter()
        .find(|f| f.0 == FileKind::Zip)
        .map(|f| f.1.clone());
    let checked = check_module_files(&e.module, &e.version, &info, &go_mod, zip_path.as_deref())?;
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
    let (manifest, got) = extract(bundle, tmp.path())?;
    let carried = |name: &str| {
        got.get(name)
            .map(|x| (x.path.clone(), x.sha256.clone(), x.size))
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
    let mut checked: Vec<(String, Result<CheckedFiles, String>)> = Vec::new();
    for e in &manifest.modules {
        let res = check_entry(e, &got, sums.as_ref())
            .and_then(|files| verified.check_entry(e).map(|()| files));
        checked.push((e.what(), res));
    }
    let mut entries = Vec::new();
    let mut touched: BTreeMap<String, ()> = BTreeMap::new();
    for (e, (what, res)) in manifest.modules.iter().zip(checked) {
        let outcome = match (res, store) {
            (Err(r), _) => Outcome::Rejected(r),
            (Ok(_), None) => Outcome::Verified,
            (Ok(files), Some(store)) => match commit(handle, store, &e.module, &e.version, files) {
                Ok(true) => {
                    touched.insert(e.module.clone(), ());
                    Outcome::Imported
                }
                Ok(false) => Outcome::Present,
                Err(r) => Outcome::Rejected(r),
            },
        };
        entries.push((what, outcome));
    }
    let mut sumdb_remarks = Vec::new();
    if let Some(store) = store {
        for module in touched.keys() {
            refresh_list(handle, store, module)?;
        }
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
}
