//! `modferry`: a Go module mirror and offline toolkit.
//!
//! The binary is glue: flags and configuration ([`config`]), then one function per command.
//! Errors end here: they are printed with their causes and mapped to exit codes
//! (0 success, 1 partial failure, 2 usage or fatal error — the same for every command).

mod bundle;
mod config;
mod doctor;
mod import_cache;
mod serve;
mod store_cmd;
mod sumdb;
mod sync;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Go module mirror and offline toolkit: a GOPROXY server that caches what it relays,
/// for builds behind firewalls and across air gaps.
#[derive(Parser, Debug)]
#[command(name = "modferry", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only obscure the code
enum Command {
    /// Serve the store over the GOPROXY protocol, fetching misses from the upstream.
    ///
    /// Every flag can also be set with a MODFERRY_* environment variable or a key in the
    /// TOML file given by --config (flag > environment > file > default).
    /// See docs/configuration.md.
    Serve(config::ServeArgs),
    /// The mirror's own checksum database: create its key (init), check its log (audit).
    /// See docs/checksum-database.md.
    Sumdb(sumdb::SumdbArgs),
    /// Say why a Go build will fail offline, and how to fix it (docs/troubleshooting.md).
    Doctor(doctor::DoctorArgs),
    /// Prove a project builds from a mirror alone, with the real go command, in a copy.
    Rehearse(doctor::RehearseArgs),
    /// Recompute h1: hashes of a store, a module cache or vendor/ and compare them.
    Verify(doctor::VerifyArgs),
    /// Fetch into the store every module a build of the inputs needs (go.mod, go.sum,
    /// go.work, directories, module@version). See docs/air-gap.md.
    Sync(sync::SyncArgs),
    /// Move modules across an air gap: export, import and verify verified bundles.
    /// See docs/bundle-format.md.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Import an existing module cache ($GOMODCACHE/cache/download) into the store.
    ImportCache(import_cache::ImportCacheArgs),
    /// Go toolchains as modules: package a local GOROOT as golang.org/toolchain.
    /// See docs/air-gap.md.
    #[command(subcommand)]
    Toolchain(sync::toolchain::ToolchainCommand),
    /// Copy stores (directory <-> S3 bucket), verifying every object. See docs/scale-out.md.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Sumdb(args) => sumdb::run(args),
        Command::Doctor(args) => doctor::run_doctor(args),
        Command::Rehearse(args) => doctor::run_rehearse(args),
        Command::Verify(args) => doctor::run_verify(args),
        Command::Sync(args) => sync::run(args),
        Command::Bundle(cmd) => bundle::run(cmd),
        Command::ImportCache(args) => import_cache::run(args),
        Command::Toolchain(cmd) => sync::toolchain::run(cmd),
        Command::Store(cmd) => store_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("modferry: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
