//! `modferry import-cache`: import an existing module cache (`$GOMODCACHE/cache/download`,
//! the layout of `cmd/go/internal/modfetch/cache.go`) into the store, verifying everything.
//!
//! For each module version in the cache:
//! - a `.mod` is required (a version without one has nothing to serve and is skipped);
//! - the `.mod` parses and declares the module; the `.info` names the version;
//! - a zip is imported only with its `.ziphash` (the go command writes it after verifying the
//!   zip against go.sum, `modfetch/fetch.go` `downloadZip`): the zip must pass
//!   [`modferry_formats::modzip::validate_zip`], hash to that `h1:`, and agree with the `.mod`;
//!   a zip without `.ziphash` (an interrupted download) is rejected;
//! - existing store files are never overwritten (a different one is a conflict).
//!
//! Deliberate deviation: the go command writes no `.info` for versions whose go.mod alone it
//! needed (module graph loading), but a proxy must answer `.info` for every version it serves.
//! For those, a minimal `{"Version":"…"}` `.info` is written (with the commit time as `Time`
//! for a pseudo-version), and the report counts them.
//!
//! The default cache is `go env GOMODCACHE` when go is on PATH, else `$GOMODCACHE`, else
//! `$GOPATH/pkg/mod` (first GOPATH entry), else `$HOME/go/pkg/mod`, as `go help environment`
//! describes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use modferry_formats::module;
use modferry_store::{DynStore, FileKind, Key};

use crate::bundle::import::{check_module_files, commit, refresh_list};
use crate::sync;

/// Flags of `modferry import-cache`.
#[derive(clap::Args, Debug)]
pub struct ImportCacheArgs {
    /// The module cache [default: `go env GOMODCACHE`, else $GOMODCACHE, else $GOPATH/pkg/mod]
    #[arg(value_name = "GOMODCACHE")]
    pub cache: Option<PathBuf>,
    /// Store: a directory, file://DIR or s3://BUCKET[/PREFIX] [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// TOML configuration file (its store key applies)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The module cache to read when none is given.
pub fn default_cache() -> Option<PathBuf> {
    if let Ok(out) = std::process::Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        && out.status.success()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return Some(PathBuf::from(p));
        }
    }
    if let Some(p) = std::env::var_os("GOMODCACHE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(gp) = std::env::var_os("GOPATH").filter(|p| !p.is_empty()) {
        let first = std::env::split_paths(&gp).next()?;
        return Some(first.join("pkg/mod"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join("go/pkg/mod"))
}

/// The files of one module version found in the cache.
#[derive(Debug, Default)]
struct Found {
    files: BTreeMap<FileKind, PathBuf>,
}

/// Finds every `<module>/@v/<version>.<ext>` below `download`, skipping `sumdb/` and the
/// go command's lock, partial and temp files.
fn scan(download: &Path) -> Result<BTreeMap<(String, String), Found>, String> {
    let mut out: BTreeMap<(String, String), Found> = BTreeMap::new();
    let mut stack = vec![download.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
        for entry in rd.flatten() {
            let p = entry.path();
            let Ok(rel) = p.strip_prefix(download) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let Ok(ft) = entry.file_type() else {
                continue;
            };
            if ft.is_dir() {
                if rel != "sumdb" {
                    stack.push(p);
                }
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let Some((dir, _)) = rel.split_once("/@v/") else {
                continue;
            };
            let Ok(module) = module::unescape_path(dir) else {
                continue;
            };
            let Ok(key) = Key::new(rel.clone()) else {
                continue;
            };
            if let Some((version, kind)) = modferry_store::layout::parse_version_key(&module, &key)
            {
                out.entry((module, version))
                    .or_default()
                    .files
                    .insert(kind, p);
            }
        }
    }
    Ok(out)
}

/// A minimal `.info` for a version the cache has no `.info` for.
fn synthesize_info(version: &str) -> Vec<u8> {
    let time = modferry_formats::pseudo::pseudo_version_time(version)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    match time {
        Some(t) => format!("{{\"Version\":{version:?},\"Time\":{t:?}}}\n"),
        None => format!("{{\"Version\":{version:?}}}\n"),
    }
    .into_bytes()
}

/// What happened to one version.
enum Outcome {
    Imported { synthesized_info: bool },
    Present,
    Skipped,
    Rejected(String),
}

fn import_one(
    handle: &Handle,
    store: &DynStore,
    module: &str,
    version: &str,
    found: &Found,
) -> Outcome {
    let Some(mod_path) = found.files.get(&FileKind::Mod) else {
        return Outcome::Skipped;
    };
    let res: Result<Outcome, String> = (|| {
        let staging = store.staging_dir();
        let tmp = tempfile::Builder::new()
            .prefix("import-cache-")
            .tempdir_in(staging)
            .map_err(|e| format!("temp dir in {}: {e}", staging.display()))?;
        let go_mod = std::fs::read(mod_path).map_err(|e| format!("reading .mod: {e}"))?;
        let (info, synthesized) = match found.files.get(&FileKind::Info) {
            Some(p) => (
                std::fs::read(p).map_err(|e| format!("reading .info: {e}"))?,
                false,
            ),
            None => (synthesize_info(version), true),
        };
        let zip = match (
            found.files.get(&FileKind::Zip),
            found.files.get(&FileKind::ZipHash),
        ) {
            (Some(z), Some(h)) => {
                let want = std::fs::read_to_string(h)
                    .map_err(|e| format!("reading .ziphash: {e}"))?
                    .trim()
                    .to_string();
                let copy = tmp.path().join("zip");
                std::fs::copy(z, &copy).map_err(|e| format!("copying the zip: {e}"))?;
                Some((copy, want))
            }
            (Some(_), None) => {
                return Err(
                    "the zip has no .ziphash (an interrupted download?); not importing it".into(),
                );
            }
            _ => None,
        };
        let checked = check_module_files(
            module,
            version,
            &info,
            &go_mod,
            zip.as_ref().map(|z| z.0.as_path()),
        )?;
        let mut files = Vec::new();
        let mut put_small = |kind: FileKind, data: &[u8]| -> Result<(), String> {
            let p = tmp.path().join(kind.ext());
            std::fs::write(&p, data).map_err(|e| format!("temp file: {e}"))?;
            files.push((kind, p, hex::encode(Sha256::digest(data))));
            Ok(())
        };
        put_small(FileKind::Info, &info)?;
        put_small(FileKind::Mod, &go_mod)?;
        if let Some((copy, want)) = zip {
            let got = checked.zip_h1.unwrap_or_default();
            if got != want {
                return Err(format!(
                    "the zip hashes to {got}, but its .ziphash says {want}"
                ));
            }
            put_small(FileKind::ZipHash, got.as_bytes())?;
            let f = std::fs::File::open(&copy).map_err(|e| e.to_string())?;
            let sum = crate::bundle::export::sha256_reader(f).map_err(|e| e.to_string())?;
            files.push((FileKind::Zip, copy, sum.sha256));
        }
        // Commit in the order the mirror writes: .mod and .info, then zip and .ziphash.
        files.sort_by_key(|f| match f.0 {
            FileKind::Mod => 0,
            FileKind::Info => 1,
            FileKind::Zip => 2,
            FileKind::ZipHash => 3,
        });
        Ok(if commit(handle, store, module, version, files)? {
            Outcome::Imported {
                synthesized_info: synthesized,
            }
        } else {
            Outcome::Present
        })
    })();
    res.unwrap_or_else(Outcome::Rejected)
}

/// Runs `modferry import-cache`.
pub fn run(args: ImportCacheArgs) -> Result<ExitCode> {
    let cache = match args.cache.clone().or_else(default_cache) {
        Some(c) => c,
        None => {
            anyhow::bail!("no module cache given and none found (set GOMODCACHE or pass the path)")
        }
    };
    let download = cache.join("cache/download");
    if !download.is_dir() {
        anyhow::bail!(
            "{} is not a module cache: it has no cache/download directory",
            cache.display()
        );
    }
    let cfg = sync::resolve_config(&args.store, &None, &args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (imported, present, synthesized, skipped, rejected) = runtime.block_on(async {
        let (mirror, _) = sync::open_mirror(&cfg, true).await?;
        let store = crate::bundle::export::store_of(&mirror);
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || -> Result<(usize, usize, usize, usize, usize)> {
            let found = scan(&download).map_err(|e| anyhow!(e))?;
            let (mut imported, mut present, mut synthesized, mut skipped, mut rejected) =
                (0, 0, 0, 0, 0);
            let mut touched = std::collections::BTreeSet::new();
            for ((m, v), f) in &found {
                match import_one(&handle, &store, m, v, f) {
                    Outcome::Imported { synthesized_info } => {
                        imported += 1;
                        if synthesized_info {
                            synthesized += 1;
                        }
                        touched.insert(m.clone());
                    }
                    Outcome::Present => present += 1,
                    Outcome::Skipped => skipped += 1,
                    Outcome::Rejected(r) => {
                        rejected += 1;
                        eprintln!("rejected: {m}@{v}: {r}");
                    }
                }
            }
            for m in touched {
                refresh_list(&handle, &store, &m).map_err(|e| anyhow!(e))?;
            }
            Ok((imported, present, synthesized, skipped, rejected))
        })
        .await?
    })?;
    println!(
        "import-cache: {imported} module versions imported ({synthesized} with a synthesized .info), {present} already stored, {skipped} skipped (no .mod), {rejected} rejected"
    );
    Ok(if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_info_names_the_version_and_a_pseudo_versions_time() {
        let cases: &[(&str, &str)] = &[
            ("v1.2.3", "{\"Version\":\"v1.2.3\"}\n"),
            (
                "v0.0.0-20240102030405-abcdefabcdef",
                "{\"Version\":\"v0.0.0-20240102030405-abcdefabcdef\",\"Time\":\"2024-01-02T03:04:05Z\"}\n",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(String::from_utf8(synthesize_info(v)).unwrap(), *want);
        }
    }
}
