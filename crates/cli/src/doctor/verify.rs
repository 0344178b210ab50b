//! `modferry verify`: recompute `h1:` hashes and compare them with what claims to know them.
//!
//! - A store or the module cache's `cache/download` tree: each `.zip` is hashed as Go's
//!   `dirhash.HashZip` does and compared with its `.ziphash` (written by the go command) and
//!   with go.sum; each `.mod` is hashed as a one-file tree named `go.mod` (the go.sum `/go.mod`
//!   line) and compared with go.sum and with the `go.mod` inside the zip.
//! - The module cache's extracted trees (`$GOMODCACHE/<path>@<version>/`): hashed as Go's
//!   `dirhash.HashDir` does (every regular file, named `<path>@<version>/<relative path>`), then
//!   compared with the zip's hash (x/mod sumdb/dirhash; cmd/go modfetch/fetch.go checks the
//!   same after extraction).
//! - vendor/: vendor has no hashes of its own (cmd/go modload/vendor.go), so each vendored file
//!   is compared byte for byte with the same file inside the module's zip, taken from the
//!   store or module cache given alongside, whose own `h1:` is checked first.
//!
//! Path and version elements on disk are case-escaped (x/mod module EscapePath).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use modferry_formats::dirhash;
use modferry_formats::gosum::{self, SumLine};
use modferry_formats::module::{escape_path, escape_version, unescape_path, unescape_version};
use serde::Serialize;

use super::VerifyArgs;
use super::project::parse_modules_txt;

/// One disagreement.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    /// `module@version`.
    pub module: String,
    /// The file or tree concerned.
    pub file: String,
    /// What disagrees with what.
    pub detail: String,
}

/// What a verification found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Module versions whose hashes were recomputed.
    pub checked: usize,
    /// Every disagreement.
    pub mismatches: Vec<Mismatch>,
    /// Things that could not be checked (no reference hash, unreadable file).
    pub notes: Vec<String>,
}

/// Runs the command.
pub fn run(mut args: VerifyArgs) -> Result<ExitCode> {
    // A store given as a URL (s3://…, file://…) is read through the Store trait into a
    // local copy of its module files first (docs/scale-out.md).
    let _local = match &args.store {
        Some(s) if s.to_string_lossy().contains("://") => {
            let s3 = args.s3.s3_settings()?;
            let (dir, path) = crate::store_cmd::local_copy(&s.to_string_lossy(), &s3)?;
            args.store = Some(path);
            Some(dir)
        }
        _ => None,
    };
    let sums = match &args.go_sum {
        Some(p) => Some(read_sums(p)?),
        None => None,
    };
    let mut report = VerifyReport::default();
    if let Some(store) = &args.store {
        verify_download_tree(store, sums.as_ref(), &mut report)?;
    }
    if let Some(mc) = &args.modcache {
        verify_modcache(mc, sums.as_ref(), &mut report)?;
    }
    if let Some(v) = &args.vendor {
        let zips = ZipSource {
            store: args.store.clone(),
            modcache: args.modcache.clone(),
        };
        verify_vendor(v, &zips, sums.as_ref(), &mut report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for m in &report.mismatches {
            println!("MISMATCH {}: {}: {}", m.module, m.file, m.detail);
        }
        for n in &report.notes {
            println!("note: {n}");
        }
        println!(
            "verified {} module versions: {} mismatches",
            report.checked,
            report.mismatches.len()
        );
    }
    Ok(if report.mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// go.sum lines by (path, version, go_mod).
pub type Sums = BTreeMap<(String, String, bool), Vec<String>>;

fn read_sums(p: &Path) -> Result<Sums> {
    let data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    let lines: Vec<SumLine> =
        gosum::parse(&p.display().to_string(), &data).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = Sums::new();
    for l in lines {
        out.entry((l.path, l.version, l.go_mod))
            .or_default()
            .push(l.hash);
    }
    Ok(out)
}

fn check_sums(
    sums: Option<&Sums>,
    path: &str,
    version: &str,
    go_mod: bool,
    got: &str,
    file: &Path,
    report: &mut VerifyReport,
) {
    let Some(sums) = sums else { return };
    for want in sums
        .get(&(path.into(), version.into(), go_mod))
        .into_iter()
        .flatten()
    {
        if want != got {
            report.mismatches.push(Mismatch {
                module: format!("{path}@{version}"),
                file: file.display().to_string(),
                detail: format!("go.sum has {want}, recomputed {got}"),
            });
        }
    }
}

/// All regular files under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// `(module, version, ext)` for `<root>/<escaped path>/@v/<escaped version>.<ext>`.
fn parse_download_path(root: &Path, file: &Path) -> Option<(String, String, String)> {
    let rel = file.strip_prefix(root).ok()?;
    let rel = rel.to_str()?.replace('\\', "/");
    let (esc_path, name) = rel.rsplit_once("/@v/")?;
    let (esc_ver, ext) = name.rsplit_once('.')?;
    if !matches!(ext, "zip" | "mod" | "ziphash") || esc_ver.contains('/') {
        return None;
    }
    Some((
        unescape_path(esc_path).ok()?,
        unescape_version(esc_ver).ok()?,
        ext.to_string(),
    ))
}

fn hash_zip_file(p: &Path) -> Result<String, String> {
    let f = File::open(p).map_err(|e| e.to_string())?;
    dirhash::hash_zip(std::io::BufReader::new(f)).map_err(|e| e.to_string())
}

/// A file inside a module zip.
fn zip_entry(zip: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    let f = File::open(zip).map_err(|e| e.to_string())?;
    let mut a = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
    let mut e = match a.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut buf = Vec::new();
    e.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(Some(buf))
}

/// Verifies a `cache/download`-layout tree (a store, or `$GOMODCACHE/cache/download`).
/// Returns the recomputed zip hashes by (module, version).
pub fn verify_download_tree(
    root: &Path,
    sums: Option<&Sums>,
    report: &mut VerifyReport,
) -> Result<BTreeMap<(String, String), String>> {
    if !root.is_dir() {
        bail!("{} is not a directory", root.display());
    }
    let mut files = Vec::new();
    walk(root, &mut files).with_context(|| format!("reading {}", root.display()))?;
    let mut versions: BTreeMap<(String, String), BTreeMap<String, PathBuf>> = BTreeMap::new();
    for f in files {
        if f.strip_prefix(root)
            .ok()
            .and_then(|r| r.components().next())
            .is_some_and(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            continue; // side data such as .modferry/
        }
        if let Some((m, v, ext)) = parse_download_path(root, &f) {
            versions.entry((m, v)).or_default().insert(ext, f);
        }
    }
    let mut zip_hashes = BTreeMap::new();
    for ((m, v), exts) in versions {
        report.checked += 1;
        let mv = format!("{m}@{v}");
        let mut mod_data = None;
        if let Some(p) = exts.get("mod") {
            match std::fs::read(p) {
                Ok(d) => {
                    check_sums(sums, &m, &v, true, &dirhash::hash_go_mod(&d), p, report);
                    mod_data = Some(d);
                }
                Err(e) => report.notes.push(format!("{}: {e}", p.display())),
            }
        }
        let Some(zp) = exts.get("zip") else { continue };
        let h = match hash_zip_file(zp) {
            Ok(h) => h,
            Err(e) => {
                report.mismatches.push(Mismatch {
                    module: mv.clone(),
                    file: zp.display().to_string(),
                    detail: format!("cannot hash the zip: {e}"),
                });
                continue;
            }
        };
        if let Some(hp) = exts.get("ziphash")
            && let Ok(recorded) = std::fs::read_to_string(hp)
            && recorded.trim() != h
        {
            report.mismatches.push(Mismatch {
                module: mv.clone(),
                file: zp.display().to_string(),
                detail: format!(
                    "{} records {}, recomputed {h}",
                    hp.display(),
                    recorded.trim()
                ),
            });
        }
        check_sums(sums, &m, &v, false, &h, zp, report);
        if let Some(md) = &mod_data {
            match zip_entry(zp, &format!("{m}@{v}/go.mod")) {
                Ok(Some(inner)) if &inner != md => report.mismatches.push(Mismatch {
                    module: mv.clone(),
                    file: zp.display().to_string(),
                    detail: "the go.mod inside the zip differs from the .mod file".into(),
                }),
                Ok(_) => {}
                Err(e) => report.notes.push(format!("{}: {e}", zp.display())),
            }
        }
        zip_hashes.insert((m, v), h);
    }
    Ok(zip_hashes)
}

/// Go's `HashDir(dir, prefix, Hash1)`: every regular file under `dir`, named `prefix/rel`.
pub fn hash_dir(dir: &Path, prefix: &str) -> Result<String, String> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| e.to_string())?;
    let mut b = dirhash::Hash1Builder::new();
    for f in files {
        let rel = f.strip_prefix(dir).map_err(|e| e.to_string())?;
        let rel = rel
            .to_str()
            .ok_or("non-UTF-8 file name")?
            .replace('\\', "/");
        let file = File::open(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        b.add_reader(&format!("{prefix}/{rel}"), file)
            .map_err(|e| e.to_string())?;
    }
    Ok(b.finish())
}

/// Verifies a module cache: `cache/download`, then each extracted tree against its zip hash.
pub fn verify_modcache(mc: &Path, sums: Option<&Sums>, report: &mut VerifyReport) -> Result<()> {
    let dl = mc.join("cache/download");
    let zip_hashes = if dl.is_dir() {
        verify_download_tree(&dl, sums, report)?
    } else {
        BTreeMap::new()
    };
    let mut roots = Vec::new();
    find_module_roots(mc, mc, &mut roots);
    for (m, v, dir) in roots {
        report.checked += 1;
        let h = match hash_dir(&dir, &format!("{m}@{v}")) {
            Ok(h) => h,
            Err(e) => {
                report.notes.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        match zip_hashes.get(&(m.clone(), v.clone())) {
            Some(zh) if *zh != h => report.mismatches.push(Mismatch {
                module: format!("{m}@{v}"),
                file: dir.display().to_string(),
                detail: format!("the extracted tree hashes to {h}, its zip to {zh}"),
            }),
            Some(_) => {}
            None if sums.is_none() => report.notes.push(format!(
                "{m}@{v}: no zip in the cache and no --go-sum; the extracted tree was not compared"
            )),
            None => {}
        }
        check_sums(sums, &m, &v, false, &h, &dir, report);
    }
    Ok(())
}

/// Extracted module trees: directories named `<escaped last element>@<escaped version>`.
fn find_module_roots(root: &Path, dir: &Path, out: &mut Vec<(String, String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if dir == root && e.file_name() == "cache" {
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .ok()
            .and_then(|r| r.to_str())
            .map(|s| s.replace('\\', "/"));
        if let Some(rel) = rel
            && let Some((ep, ev)) = rel.rsplit_once('@')
            && !ev.contains('/')
            && let (Ok(m), Ok(v)) = (unescape_path(ep), unescape_version(ev))
        {
            out.push((m, v, p));
            continue;
        }
        find_module_roots(root, &p, out);
    }
}

/// Where vendor verification finds module zips.
pub struct ZipSource {
    /// A store (download layout at its root).
    pub store: Option<PathBuf>,
    /// A module cache (download layout under `cache/download`).
    pub modcache: Option<PathBuf>,
}

impl ZipSource {
    fn zip_for(&self, m: &str, v: &str) -> Option<PathBuf> {
        let rel = PathBuf::from(escape_path(m).ok()?)
            .join("@v")
            .join(format!("{}.zip", escape_version(v).ok()?));
        let roots = [
            self.store.clone(),
            self.modcache.as_ref().map(|m| m.join("cache/download")),
        ];
        roots
            .into_iter()
            .flatten()
            .map(|r| r.join(&rel))
            .find(|p| p.is_file())
    }
}

/// Verifies vendor/ against module zips.
pub fn verify_vendor(
    dir: &Path,
    zips: &ZipSource,
    sums: Option<&Sums>,
    report: &mut VerifyReport,
) -> Result<()> {
    let vendor = if dir.join("modules.txt").is_file() {
        dir.to_path_buf()
    } else {
        dir.join("vendor")
    };
    let txt = std::fs::read_to_string(vendor.join("modules.txt"))
        .with_context(|| format!("reading {}", vendor.join("modules.txt").display()))?;
    if zips.store.is_none() && zips.modcache.is_none() {
        bail!("--vendor needs --store or --modcache to find the module zips");
    }
    let own_sums;
    let sums = match sums {
        Some(s) => Some(s),
        None => {
            let gs = vendor.parent().map(|p| p.join("go.sum"));
            own_sums = match gs.filter(|p| p.is_file()) {
                Some(p) => Some(read_sums(&p)?),
                None => None,
            };
            own_sums.as_ref()
        }
    };
    let mods: Vec<_> = parse_modules_txt(&txt)
        .into_iter()
        .filter(|m| !m.packages.is_empty() && !m.version.is_empty())
        .collect();
    let mut files = Vec::new();
    walk(&vendor, &mut files)?;
    // Each vendored file belongs to the module with the longest matching path.
    let mut by_module: BTreeMap<usize, Vec<(PathBuf, String)>> = BTreeMap::new();
    for f in files {
        let Some(rel) = f.strip_prefix(&vendor).ok().and_then(|r| r.to_str()) else {
            continue;
        };
        let rel = rel.replace('\\', "/");
        if rel == "modules.txt" {
            continue;
        }
        let owner = mods
            .iter()
            .enumerate()
            .filter(|(_, m)| rel.starts_with(&format!("{}/", m.path)))
            .max_by_key(|(_, m)| m.path.len());
        match owner {
            Some((i, m)) => {
                let inner = rel[m.path.len() + 1..].to_string();
                by_module.entry(i).or_default().push((f, inner));
            }
            None => report
                .notes
                .push(format!("{rel}: no module in modules.txt provides it")),
        }
    }
    for (i, files) in by_module {
        let m = &mods[i];
        let (zp, zv) = match &m.replacement {
            Some((p, Some(v))) => (p.clone(), v.clone()),
            Some((p, None)) => {
                report.notes.push(format!(
                    "{}: replaced by directory {p}; not compared",
                    m.path
                ));
                continue;
            }
            None => (m.path.clone(), m.version.clone()),
        };
        report.checked += 1;
        let mv = format!("{zp}@{zv}");
        let Some(zip) = zips.zip_for(&zp, &zv) else {
            report.mismatches.push(Mismatch {
                module: mv,
                file: vendor.display().to_string(),
                detail:
                    "no zip for this version in the given store or module cache to compare with"
                        .into(),
            });
            continue;
        };
        // The zip must itself be trustworthy.
        let h = match hash_zip_file(&zip) {
            Ok(h) => h,
            Err(e) => {
                report.mismatches.push(Mismatch {
                    module: mv,
                    file: zip.display().to_string(),
                    detail: e,
                });
                continue;
            }
        };
        let ziphash = zip.with_extension("ziphash");
        let recorded = std::fs::read_to_string(&ziphash)
            .ok()
            .map(|s| s.trim().to_string());
        let mut reference = recorded.clone().into_iter().collect::<Vec<_>>();
        if let Some(s) = sums.and_then(|s| s.get(&(zp.clone(), zv.clone(), false))) {
            reference.extend(s.iter().cloned());
        }
        if reference.is_empty() {
            report.notes.push(format!(
                "{mv}: no .ziphash or go.sum line; the zip's own hash is unverified"
            ));
        }
        if let Some(bad) = reference.iter().find(|r| **r != h) {
            report.mismatches.push(Mismatch {
                module: mv,
                file: zip.display().to_string(),
                detail: format!(
                    "the zip hashes to {h}, expected {bad}; vendor/ not compared against it"
                ),
            });
            continue;
        }
        for (f, inner) in files {
            let name = format!("{zp}@{zv}/{inner}");
            let vendored = std::fs::read(&f)?;
            match zip_entry(&zip, &name) {
                Ok(Some(orig)) if orig == vendored => {}
                Ok(Some(_)) => report.mismatches.push(Mismatch {
                    module: mv.clone(),
                    file: f.display().to_string(),
                    detail: format!("differs from {name} in the module zip"),
                }),
                Ok(None) => report.mismatches.push(Mismatch {
                    module: mv.clone(),
                    file: f.display().to_string(),
                    detail: format!("{name} is not in the module zip"),
                }),
                Err(e) => report.notes.push(format!("{}: {e}", zip.display())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_paths_are_unescaped_like_cache_download() {
        let root = Path::new("/s");
        assert_eq!(
            parse_download_path(root, Path::new("/s/example.com/!upper/@v/v1.0.0.zip")),
            Some(("example.com/Upper".into(), "v1.0.0".into(), "zip".into()))
        );
        assert_eq!(
            parse_download_path(root, Path::new("/s/example.com/x/@v/list")),
            None
        );
    }
}
