//! `modferry`: a Go module mirror and offline toolkit.
//!
//! The binary is glue: flags and configuration ([`config`]), then one function per command.
//! Errors end here: they are printed with their causes and mapped to exit codes
//! (0 success, 1 partial failure, 2 usage or fatal error — the same for every command).

mod config;
mod serve;

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
enum Command {
    /// Serve the store over the GOPROXY protocol, fetching misses from the upstream.
    ///
    /// Every flag can also be set with a MODFERRY_* environment variable or a key in the
    /// TOML file given by --config (flag > environment > file > default).
    /// See docs/configuration.md.
    Serve(config::ServeArgs),
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
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("modferry: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
