//! `modferry doctor`, `modferry rehearse` and `modferry verify`: say why a Go build will fail
//! offline and how to fix it, prove a project builds from a mirror alone, and recompute the
//! `h1:` hashes of stored, cached and vendored modules.
//!
//! Every problem is a [`findings::Finding`] with a stable code; docs/troubleshooting.md has a
//! section per code. Exit codes: 0 no errors, 1 errors found, 2 the command could not run.

pub mod checks;
pub mod findings;
pub mod goenv;
pub mod net;
pub mod project;
pub mod rehearse;
pub mod sumdb;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use findings::{has_errors, normalize, render_human, render_json};

/// `modferry doctor [DIR] [--mirror URL] [--json]`.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// The Go module directory to inspect.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// A modferry mirror to check the project against (its description, and whether it has
    /// every required module version with the hashes go.sum records).
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// Print `{"findings":[…]}` instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// `modferry rehearse [DIR] --mirror URL`.
#[derive(clap::Args, Debug)]
pub struct RehearseArgs {
    /// The Go module directory to rehearse (never written to: a temporary copy is built).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The mirror the build may use (the only GOPROXY entry).
    #[arg(long, value_name = "URL")]
    pub mirror: String,
    /// Print `{"findings":[…]}` instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// `modferry verify --store DIR | --modcache DIR | --vendor DIR [--go-sum FILE]`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["store", "modcache", "vendor"])))]
pub struct VerifyArgs {
    /// A modferry store (the $GOMODCACHE/cache/download layout): every stored version.
    /// A directory, file://DIR or s3://BUCKET[/PREFIX] (copied to a temp directory first).
    #[arg(long, value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// A go module cache ($GOMODCACHE): its zips and extracted trees.
    #[arg(long, value_name = "DIR")]
    pub modcache: Option<PathBuf>,
    /// A project (or its vendor/ directory): each vendored file is compared with the module
    /// zip from --store or --modcache.
    #[arg(long, value_name = "DIR")]
    pub vendor: Option<PathBuf>,
    /// A go.sum whose lines are compared with the recomputed hashes.
    #[arg(long, value_name = "FILE")]
    pub go_sum: Option<PathBuf>,
    /// Print `{"mismatches":[…]}` instead of the report.
    #[arg(long)]
    pub json: bool,
    /// The [s3] table of a config file, for an s3:// --store.
    #[command(flatten)]
    pub s3: crate::config::S3ConfigFlag,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs `modferry doctor`.
pub fn run_doctor(args: DoctorArgs) -> Result<ExitCode> {
    let env = goenv::GoEnv::read();
    let mirror = args.mirror.as_deref().map(|m| m.trim_end_matches('/'));
    let mut found = runtime()?.block_on(checks::diagnose(&args.dir, &env, mirror))?;
    normalize(&mut found);
    if !args.json {
        println!(
            "modferry doctor: {} ({}, environment from {})\n",
            args.dir.display(),
            if env.get("GOVERSION").trim().is_empty() {
                "no go command on PATH"
            } else {
                env.get("GOVERSION")
            },
            if env.from_go {
                "go env"
            } else {
                "the process environment and go's defaults"
            }
        );
    }
    print_findings(&found, args.json);
    Ok(if has_errors(&found) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints findings as JSON or grouped text.
pub fn print_findings(found: &[findings::Finding], json: bool) {
    if json {
        print!("{}", render_json(found));
    } else {
        print!("{}", render_human(found));
    }
}

/// Runs `modferry rehearse`.
pub fn run_rehearse(args: RehearseArgs) -> Result<ExitCode> {
    rehearse::run(args)
}

/// Runs `modferry verify`.
pub fn run_verify(args: VerifyArgs) -> Result<ExitCode> {
    verify::run(args)
}
