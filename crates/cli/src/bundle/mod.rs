//! `modferry bundle`: move module versions across an air gap as a verified, deterministic
//! `.tar.zst` bundle ([`export`]), and check ([`import`]) it on the other side before anything
//! enters the store. The format is documented in docs/bundle-format.md ([`manifest`]).
//!
//! Exit codes: 0 success; 1 some entries (or the whole archive) failed verification, or an
//! export lacks files; 2 usage or fatal errors.

pub mod export;
pub mod import;
pub mod manifest;
pub mod sumdb;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};

use crate::config::SumdbFlags;
use crate::sync::{self, InputArgs, MirrorLoader};
use import::Outcome;

/// `modferry bundle` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BundleCommand {
    /// Write module versions from the store into a bundle (.tar.zst).
    Export(ExportArgs),
    /// Check a bundle and import what passes into the store.
    Import(ImportArgs),
    /// Check a bundle without importing anything.
    Verify(VerifyArgs),
}

/// Flags of `bundle export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Store: a directory, file://DIR or s3://BUCKET[/PREFIX] [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// TOML configuration file (its store key applies)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The bundle to write
    #[arg(long, value_name = "FILE.tar.zst")]
    pub out: PathBuf,
    /// Export every module version in the store
    #[arg(long)]
    pub all: bool,
    /// Leave out what this older bundle (or its manifest.json) already carried
    #[arg(long, value_name = "OLD_MANIFEST")]
    pub since: Option<PathBuf>,
    /// How many go.mod files to read at once while resolving inputs
    #[arg(long, short = 'j', default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    #[command(flatten)]
    pub sumdb: SumdbFlags,
    #[command(flatten)]
    pub inputs: InputArgs,
}

/// Flags of `bundle import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The bundle to import
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Store: a directory, file://DIR or s3://BUCKET[/PREFIX] [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// TOML configuration file (its store key applies)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also check every hash against this go.sum
    #[arg(long, value_name = "FILE")]
    pub go_sum: Option<PathBuf>,
    /// A checksum database verifier key (`<name>+<hash>+<key>`) to trust for the bundle's
    /// checksum-database data (repeatable); configured databases are trusted too
    #[arg(long = "sumdb-key", value_name = "KEY")]
    pub sumdb_keys: Vec<String>,
    #[command(flatten)]
    pub sumdb: SumdbFlags,
}

/// Flags of `bundle verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The bundle to check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also check every hash against this go.sum
    #[arg(long, value_name = "FILE")]
    pub go_sum: Option<PathBuf>,
    /// A checksum database verifier key (`<name>+<hash>+<key>`) to trust for the bundle's
    /// checksum-database data (repeatable); configured databases are trusted too
    #[arg(long = "sumdb-key", value_name = "KEY")]
    pub sumdb_keys: Vec<String>,
    /// TOML configuration file (its checksum-database keys apply)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub sumdb: SumdbFlags,
}

/// Runs a bundle subcommand.
pub fn run(cmd: BundleCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        BundleCommand::Export(a) => runtime.block_on(run_export(a)),
        BundleCommand::Import(a) => runtime.block_on(run_import(a, true)),
        BundleCommand::Verify(a) => runtime.block_on(run_import(
            ImportArgs {
                file: a.file,
                store: None,
                config: a.config,
                go_sum: a.go_sum,
                sumdb_keys: a.sumdb_keys,
                sumdb: a.sumdb,
            },
            false,
        )),
    }
}

async fn run_export(a: ExportArgs) -> Result<ExitCode> {
    let modes = usize::from(a.all) + usize::from(!a.inputs.is_empty());
    if modes != 1 {
        bail!(
            "give either inputs (go.mod, go.sum, go.work, directories, module@version, --list) or --all"
        );
    }
    let cfg = sync::resolve_config_sumdb(&a.store, &None, &a.config, &a.sumdb)?;
    let (mirror, _) = sync::open_mirror(&cfg, true).await?;
    let store = export::store_of(&mirror);
    let since = match &a.since {
        Some(p) => Some(export::read_manifest_file(p).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let handle = tokio::runtime::Handle::current();
    let wants = if a.all {
        let (h, s) = (handle.clone(), store.clone());
        tokio::task::spawn_blocking(move || export::all_stored(&h, &s))
            .await?
            .map_err(|e| anyhow!(e))?
    } else {
        let loader = MirrorLoader::new(mirror.clone());
        let (inputs, mut errors) = a.inputs.classify();
        let toolchains = a.inputs.toolchains()?;
        let mut plan = sync::plan(&loader, &inputs, a.jobs, &toolchains).await;
        errors.append(&mut plan.input_errors);
        let mut problems: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.input, e.error))
            .collect();
        problems.extend(plan.failed.iter().map(|(m, e)| format!("{m}: {e}")));
        if !problems.is_empty() {
            for p in &problems {
                eprintln!("missing: {p}");
            }
            eprintln!(
                "bundle export: {} problems; the store lacks what the inputs need (run modferry sync first); no bundle written",
                problems.len()
            );
            return Ok(ExitCode::from(1));
        }
        plan.wants
    };
    let out = a.out.clone();
    let all = a.all;
    let result =
        tokio::task::spawn_blocking(move || -> Result<Result<(usize, u64), Vec<String>>> {
            let mut entries = Vec::new();
            let mut missing = Vec::new();
            for (m, w) in &wants {
                match export::describe(&handle, &store, m, *w) {
                    Ok(e) => entries.push(e),
                    Err(e) => missing.push(e),
                }
            }
            if !missing.is_empty() {
                return Ok(Err(missing));
            }
            if let Some(old) = &since {
                entries = export::subtract(entries, old);
            }
            let (section, warnings) =
                sumdb::collect(&handle, &store, &cfg, &entries, all).map_err(|e| anyhow!(e))?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let manifest =
                export::write_bundle(&handle, &store, entries, since.as_ref(), section, &out)
                    .map_err(|e| anyhow!(e))?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            Ok(Ok((manifest.modules.len(), bytes)))
        })
        .await??;
    match result {
        Ok((n, bytes)) => {
            println!(
                "bundle export: wrote {} module versions to {} ({})",
                n,
                a.out.display(),
                sync::report::human_bytes(bytes)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(missing) => {
            for m in &missing {
                eprintln!("missing: {m}");
            }
            eprintln!(
                "bundle export: {} module versions lack files; no bundle written",
                missing.len()
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn run_import(a: ImportArgs, write: bool) -> Result<ExitCode> {
    let verb = if write { "import" } else { "verify" };
    let mut trusted = a.sumdb_keys.clone();
    let cfg = sync::resolve_config_sumdb(&a.store, &None, &a.config, &a.sumdb)?;
    trusted.extend(trusted_keys(&cfg)?);
    let store = if write {
        let (mirror, _) = sync::open_mirror(&cfg, true).await?;
        Some(export::store_of(&mirror))
    } else {
        None
    };
    let tmp_parent = match &store {
        Some(s) => s.staging_dir().to_path_buf(),
        None => std::env::temp_dir(),
    };
    let handle = tokio::runtime::Handle::current();
    let file = a.file.clone();
    let go_sum = a.go_sum.clone();
    let res = tokio::task::spawn_blocking(move || {
        import::import(
            &handle,
            &file,
            store.as_ref(),
            &tmp_parent,
            go_sum.as_deref(),
            &trusted,
        )
    })
    .await?;
    let outcomes = match res {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "bundle {verb}: {}: refused: {e}; nothing was imported",
                a.file.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let (mut imported, mut present, mut verified, mut rejected) = (0, 0, 0, 0);
    for (what, o) in &outcomes.entries {
        match o {
            Outcome::Imported => imported += 1,
            Outcome::Present => present += 1,
            Outcome::Verified => verified += 1,
            Outcome::Rejected(r) => {
                rejected += 1;
                eprintln!("rejected: {what}: {r}");
            }
        }
    }
    for r in &outcomes.sumdb_remarks {
        eprintln!("note: {r}");
    }
    if outcomes.sumdbs > 0 {
        eprintln!(
            "bundle {verb}: checksum-database data of {} database(s) verified",
            outcomes.sumdbs
        );
    }
    eprintln!(
        "bundle {verb}: {} (created {} by modferry {})",
        a.file.display(),
        outcomes.manifest.created,
        outcomes.manifest.modferry_version
    );
    if write {
        println!(
            "bundle import: {} module versions: {imported} imported, {present} already stored, {rejected} rejected",
            outcomes.entries.len()
        );
    } else {
        println!(
            "bundle verify: {} module versions: {verified} verified, {rejected} rejected",
            outcomes.entries.len()
        );
    }
    Ok(if outcomes.any_rejected() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The checksum-database keys the importing configuration trusts: the explicitly configured
/// proxied databases and the own database.
fn trusted_keys(cfg: &crate::config::ServeConfig) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if !cfg.sumdb_proxy.sumdb_proxy_default {
        out.extend(cfg.sumdb_proxy.sumdb_proxy.iter().map(|s| s.key.clone()));
    }
    if let Some(file) = &cfg.sumdb_key_file {
        out.push(crate::sumdb::read_signer_key(file)?.verifier_key());
    }
    Ok(out)
}
