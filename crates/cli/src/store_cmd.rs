//! `modferry store copy --from STORE --to STORE`: copies a store (directory ↔ bucket), verifying
//! every module file on the way (docs/scale-out.md, "Migrating a store").
//!
//! The checks are the mirror's own, stated by the Go rules they come from:
//! - a zip must pass x/mod `zip.CheckZip`-style validation ([`modzip::validate_zip`]: structure,
//!   CRCs, `<module>@<version>/` prefixes, names, limits), and its `h1:` (`dirhash.HashZip`)
//!   must equal the source's `.ziphash` when there is one (`cmd/go/internal/modfetch/fetch.go`
//!   writes that file next to each zip); the target gets the `.ziphash` either way;
//! - a `.mod` must parse as a dependency's go.mod (`modfile.ParseLax`) and declare the module
//!   path of its key;
//! - an `.info` must be JSON naming the version of its key (`proxy.go` `Stat`).
//!
//! Writes are create-only: a target object with the same bytes is skipped (so a copy can be
//! resumed), different bytes are a conflict, reported by name, and the target's object is kept.
//! `@v/list` is not copied but rewritten in the target from the versions stored there (as the
//! mirror keeps it). Side data under `.modferry/` (upstream list caches, checksum database
//! state) is copied when the target has none, never replacing the target's; leases are never
//! copied. Exit status: 0 all copied or present, 1 some objects refused or in conflict,
//! 2 a store cannot be opened or listed.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use modferry_formats::{dirhash, modfile, module, modzip};
use modferry_store::{DynStore, FileKind, Key, Payload, PutMode, PutOutcome, layout};

/// `modferry store …`.
#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy every module file (and side data) from one store to another, verifying each.
    ///
    /// A STORE is a directory, file://DIR or s3://BUCKET[/PREFIX] (AWS_* variables or the
    /// [s3] table of --config, see docs/configuration.md). Existing equal objects are
    /// skipped; different ones are conflicts (exit 1) and are never replaced.
    Copy(CopyArgs),
}

/// Flags of `modferry store copy`.
#[derive(clap::Args, Debug)]
pub struct CopyArgs {
    /// The store to read.
    #[arg(long, value_name = "STORE")]
    pub from: String,
    /// The store to write.
    #[arg(long, value_name = "STORE")]
    pub to: String,
    /// Do not print a line per object.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub s3: crate::config::S3ConfigFlag,
}

/// Runs `modferry store …`.
pub fn run(cmd: StoreCommand) -> Result<ExitCode> {
    let StoreCommand::Copy(args) = cmd;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(copy(args))
}

/// What happened to one object.
enum Outcome {
    Copied,
    Present,
    Kept,
}

#[derive(Default)]
struct Tally {
    copied: usize,
    present: usize,
    kept: usize,
    failed: Vec<String>,
    bytes: u64,
}

async fn copy(args: CopyArgs) -> Result<ExitCode> {
    let s3 = args.s3.s3_settings()?;
    let from = modferry_store::open_store_with(&args.from, &s3)
        .await
        .with_context(|| format!("cannot open the source store {}", args.from))?;
    let to = modferry_store::open_store_with(&args.to, &s3)
        .await
        .with_context(|| format!("cannot open the target store {}", args.to))?;
    let keys = from
        .list("")
        .await
        .with_context(|| format!("cannot list {}", from.describe()))?;
    let lease_prefix = layout::meta_prefix(modferry_service::lease::LEASE_KIND)?;
    let mut tally = Tally::default();
    let mut modules = BTreeSet::new();
    let total = keys.len();
    let mut err = std::io::stderr();
    for (i, key) in keys.iter().enumerate() {
        let name = key.as_str();
        if name.starts_with(&lease_prefix) || name.ends_with("/@v/list") {
            continue;
        }
        let res = if layout::is_side_key(name) {
            copy_other(&from, &to, key).await
        } else {
            match version_file(key) {
                Some((m, v, kind)) => {
                    let r = copy_version_file(&from, &to, key, &m, &v, kind).await;
                    if r.is_ok() {
                        modules.insert(m);
                    }
                    r
                }
                // Other files the layout allows (checksum database caches, …).
                None => copy_other(&from, &to, key).await,
            }
        };
        let line = match res {
            Ok((Outcome::Copied, n)) => {
                tally.copied += 1;
                tally.bytes += n;
                format!("copied {name} ({n} bytes)")
            }
            Ok((Outcome::Present, _)) => {
                tally.present += 1;
                format!("present {name}")
            }
            Ok((Outcome::Kept, _)) => {
                tally.kept += 1;
                format!("kept {name} (side data already in the target)")
            }
            Err(reason) => {
                let msg = format!("{name}: {reason}");
                tally.failed.push(msg.clone());
                format!("REFUSED {msg}")
            }
        };
        if !args.quiet || line.starts_with("REFUSED") {
            let _ = writeln!(err, "[{}/{total}] {line}", i + 1);
        }
    }
    for m in &modules {
        if let Err(e) = refresh_list(&to, m).await {
            tally.failed.push(format!("{m}: rewriting @v/list: {e}"));
        }
    }
    println!(
        "store copy {} -> {}: {} copied ({} bytes), {} already present, {} side objects kept, {} refused",
        from.describe(),
        to.describe(),
        tally.copied,
        tally.bytes,
        tally.present,
        tally.kept,
        tally.failed.len()
    );
    for f in &tally.failed {
        println!("refused: {f}");
    }
    Ok(if tally.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `(module, version, kind)` of a module file key, if it is one.
fn version_file(key: &Key) -> Option<(String, String, FileKind)> {
    let (dir, _) = key.as_str().split_once("/@v/")?;
    let m = module::unescape_path(dir).ok()?;
    let (v, kind) = layout::parse_version_key(&m, key)?;
    Some((m, v, kind))
}

/// Copies a module file after checking it.
async fn copy_version_file(
    from: &DynStore,
    to: &DynStore,
    key: &Key,
    m: &str,
    v: &str,
    kind: FileKind,
) -> Result<(Outcome, u64), String> {
    match kind {
        FileKind::Zip => copy_zip(from, to, key, m, v).await,
        // Written with its zip (from the verified h1).
        FileKind::ZipHash => Ok((Outcome::Present, 0)),
        FileKind::Info | FileKind::Mod => {
            let body = read_small(from, key).await?;
            if kind == FileKind::Info {
                check_info(v, &body)?;
            } else {
                check_mod(m, &body)?;
            }
            put_create(to, key, body).await
        }
    }
}

/// Copies side data or another non-module object: created when missing, never replaced.
async fn copy_other(from: &DynStore, to: &DynStore, key: &Key) -> Result<(Outcome, u64), String> {
    if to.head(key).await.map_err(|e| e.to_string())?.is_some() {
        return Ok((Outcome::Kept, 0));
    }
    let (tmp, size) = spool_source(from, to, key).await?;
    let (_, path) = tmp.into_parts();
    match to
        .put(key, Payload::File(path.to_path_buf()), PutMode::Create)
        .await
    {
        Ok(PutOutcome::Created) => Ok((Outcome::Copied, size)),
        Ok(PutOutcome::AlreadyExists) => Ok((Outcome::Kept, 0)),
        Err(e) => Err(e.to_string()),
    }
}

async fn read_small(store: &DynStore, key: &Key) -> Result<Bytes, String> {
    store
        .get_bytes(key, modzip::MAX_GO_MOD)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "vanished from the source".to_owned())
}

/// A create-only write of a small object; an existing one must have the same bytes.
async fn put_create(to: &DynStore, key: &Key, body: Bytes) -> Result<(Outcome, u64), String> {
    let n = body.len() as u64;
    match to
        .put(key, Payload::Bytes(body.clone()), PutMode::Create)
        .await
        .map_err(|e| e.to_string())?
    {
        PutOutcome::Created => Ok((Outcome::Copied, n)),
        PutOutcome::AlreadyExists => {
            let existing = to
                .get_bytes(key, modzip::MAX_GO_MOD)
                .await
                .map_err(|e| e.to_string())?;
            if existing.as_ref() == Some(&body) {
                Ok((Outcome::Present, 0))
            } else {
                Err("conflict: the target already has different content (kept)".to_owned())
            }
        }
    }
}

/// `.info` names the version of its key.
fn check_info(v: &str, body: &[u8]) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid .info JSON: {e}"))?;
    match json.get("Version").and_then(|x| x.as_str()) {
        Some(got) if got == v => Ok(()),
        Some(got) => Err(format!(".info names version {got}, not {v}")),
        None => Err(".info has no Version".to_owned()),
    }
}

/// `.mod` parses leniently and declares the module path of its key.
fn check_mod(m: &str, body: &[u8]) -> Result<(), String> {
    let parsed = modfile::parse_lax("go.mod", body).map_err(|e| format!("go.mod: {e}"))?;
    match parsed.module.as_ref().map(|x| x.path.as_str()) {
        Some(p) if p == m => Ok(()),
        other => Err(format!(
            "go.mod declares module {:?}, not {m:?}",
            other.unwrap_or("")
        )),
    }
}

/// Streams the source's object `key` into a temp file in `to`'s staging directory; also returns
/// the size the source reported for it.
async fn spool_source(
    from: &DynStore,
    to: &DynStore,
    key: &Key,
) -> Result<(tempfile::NamedTempFile, u64), String> {
    let got = from
        .get(key, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("vanished from the source")?;
    let size = got.meta.size;
    Ok((spool(to, got.body).await?, size))
}

/// Streams `body` into a temp file in `to`'s staging directory.
async fn spool(
    to: &DynStore,
    mut body: futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
) -> Result<tempfile::NamedTempFile, String> {
    use tokio::io::AsyncWriteExt;
    let tmp = tempfile::Builder::new()
        .prefix("copy-")
        .tempfile_in(to.staging_dir())
        .map_err(|e| format!("temp file in {}: {e}", to.staging_dir().display()))?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(|e| e.to_string())?);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("reading the source: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing a temp file: {e}"))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("writing a temp file: {e}"))?;
    file.sync_all()
        .await
        .map_err(|e| format!("writing a temp file: {e}"))?;
    Ok(tmp)
}

/// Copies a zip: spooled to the target's staging directory, validated, its h1 checked against
/// the source's `.ziphash`, then stored create-only with its `.ziphash`.
async fn copy_zip(
    from: &DynStore,
    to: &DynStore,
    key: &Key,
    m: &str,
    v: &str,
) -> Result<(Outcome, u64), String> {
    let hash_key = layout::ziphash(m, v).map_err(|e| e.to_string())?;
    let (tmp, size) = spool_source(from, to, key).await?;
    let file = tmp.reopen().map_err(|e| e.to_string())?;
    let (m2, v2) = (m.to_owned(), v.to_owned());
    let summary = tokio::task::spawn_blocking(move || modzip::validate_zip(&m2, &v2, file, size))
        .await
        .map_err(|e| format!("validation task: {e}"))?
        .map_err(|e| format!("invalid module zip: {e}"))?;
    let source_h1 = from
        .get_bytes(&hash_key, 1024)
        .await
        .map_err(|e| e.to_string())?
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    if let Some(want) = &source_h1
        && *want != summary.h1
    {
        return Err(format!(
            "zip hash {} does not match the source's .ziphash {want}",
            summary.h1
        ));
    }
    let (_, path) = tmp.into_parts();
    let outcome = to
        .put(key, Payload::File(path.to_path_buf()), PutMode::Create)
        .await
        .map_err(|e| e.to_string())?;
    let result = match outcome {
        PutOutcome::Created => (Outcome::Copied, size),
        PutOutcome::AlreadyExists => {
            let existing = match to
                .get_bytes(&hash_key, 1024)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(h) => String::from_utf8_lossy(&h).trim().to_owned(),
                None => target_zip_h1(to, key).await?,
            };
            if existing != summary.h1 {
                return Err(format!(
                    "conflict: the target's zip has {existing}, the source's {} (kept)",
                    summary.h1
                ));
            }
            (Outcome::Present, 0)
        }
    };
    match put_create(to, &hash_key, Bytes::from(summary.h1.clone())).await {
        Ok(_) => Ok(result),
        Err(e) => Err(format!(".ziphash: {e}")),
    }
}

/// The h1 of a zip already in the target (no `.ziphash` beside it).
async fn target_zip_h1(to: &DynStore, key: &Key) -> Result<String, String> {
    let got = to
        .get(key, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("vanished from the target")?;
    let tmp = spool(to, got.body).await?;
    let file = tmp.reopen().map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || dirhash::hash_zip(file).map_err(|e| e.to_string()))
        .await
        .map_err(|e| format!("hashing task: {e}"))?
}

/// Rewrites `<module>/@v/list` in the target from the versions stored there.
async fn refresh_list(to: &DynStore, m: &str) -> Result<(), String> {
    let versions = modferry_store::stored_versions(to.as_ref(), m)
        .await
        .map_err(|e| e.to_string())?;
    let body: String = versions
        .iter()
        .filter(|v| !modferry_formats::pseudo::is_pseudo_version(v))
        .map(|v| format!("{v}\n"))
        .collect();
    let key = layout::list(m).map_err(|e| e.to_string())?;
    to.put(&key, Payload::Bytes(Bytes::from(body)), PutMode::Overwrite)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Copies the module files of the store `url` as they are (no checks: the caller verifies
/// them) into a new temp directory; returns the directory guard and its path. Used by
/// `modferry verify --store s3://…`, whose checks read files. `s3` as for
/// [`modferry_store::open_store_with`].
pub fn local_copy(
    url: &str,
    s3: &modferry_store::S3Settings,
) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("modferry-verify-")
        .tempdir()
        .context("creating a temp directory")?;
    let root = dir.path().to_path_buf();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let store = modferry_store::open_store_with(url, s3)
            .await
            .with_context(|| format!("cannot open the store {url}"))?;
        let keys = store
            .list("")
            .await
            .with_context(|| format!("cannot list {}", store.describe()))?;
        for key in keys.iter().filter(|k| version_file(k).is_some()) {
            let Some(got) = store.get(key, None).await? else {
                continue;
            };
            let path = root.join(key.as_str());
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let mut file = tokio::fs::File::create(&path).await?;
            let mut body = got.body;
            while let Some(chunk) = body.next().await {
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk?).await?;
            }
        }
        anyhow::Ok(())
    })?;
    Ok((dir, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (version, .info body, ok)
    const INFOS: &[(&str, &str, bool)] = &[
        ("v1.0.0", r#"{"Version":"v1.0.0"}"#, true),
        ("v1.0.0", r#"{"Version":"v1.0.1"}"#, false),
        ("v1.0.0", r#"{}"#, false),
        ("v1.0.0", "nope", false),
    ];

    #[test]
    fn copy_checks_info_names_the_version_of_its_key() {
        for (v, body, ok) in INFOS {
            assert_eq!(check_info(v, body.as_bytes()).is_ok(), *ok, "{body}");
        }
    }

    /// (module, go.mod, ok)
    const MODS: &[(&str, &str, bool)] = &[
        ("example.com/m", "module example.com/m\n", true),
        ("example.com/m", "module example.com/other\n", false),
        ("example.com/m", "go 1.21\n", false),
    ];

    #[test]
    fn copy_checks_go_mod_declares_the_module_of_its_key() {
        for (m, body, ok) in MODS {
            assert_eq!(check_mod(m, body.as_bytes()).is_ok(), *ok, "{body}");
        }
    }

    #[test]
    fn version_file_parses_module_keys_only() {
        let k = Key::new("example.com/!upper/@v/v1.0.0.zip").unwrap();
        let (m, v, kind) = version_file(&k).unwrap();
        assert_eq!(
            (m.as_str(), v.as_str(), kind),
            ("example.com/Upper", "v1.0.0", FileKind::Zip)
        );
        assert!(version_file(&Key::new("example.com/m/@v/list").unwrap()).is_none());
        assert!(version_file(&Key::new("sumdb/sum.golang.org/latest").unwrap()).is_none());
    }
}
