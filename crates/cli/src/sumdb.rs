//! `modferry sumdb init|audit`: the mirror's own checksum database (the `GOSUMDB` protocol of
//! x/mod `sumdb`, keys as x/mod `sumdb/note` `GenerateKey` writes them).
//!
//! - `init` makes a key pair from 32 bytes of OS randomness, writes the signer key to a new
//!   file with mode 0600 (never printed or logged), and prints the verifier key and the
//!   `GOSUMDB` value clients set.
//! - `audit` replays the log in a store and checks it
//!   ([`modferry_service::sumdb::own::audit`]); exit 0 if it is sound, 1 if it found problems,
//!   2 if it could not run.
//!
//! The serving side is `modferry serve --sumdb-key-file FILE` (see serve.rs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use modferry_formats::note::{self, Signer, Verifier};
use modferry_service::sumdb::own::{self, Log};
use std::sync::Arc;

use modferry_service::sumdb::proxy::{ProxyDb, ProxyDbConfig};
use modferry_sources::{HttpConfig, SumdbClient};
use modferry_store::{DynStore, FsStore};

/// `modferry sumdb`.
#[derive(clap::Args, Debug)]
pub struct SumdbArgs {
    #[command(subcommand)]
    command: SumdbCommand,
}

#[derive(clap::Subcommand, Debug)]
enum SumdbCommand {
    /// Create the signing key of the mirror's own checksum database and print the GOSUMDB
    /// value for clients.
    Init(InitArgs),
    /// Replay the whole log in a store and check every record, hash and signature, and that
    /// it extends the previously audited head. Exit 0 ok, 1 problems found, 2 could not run.
    Audit(AuditArgs),
}

/// Flags of `modferry sumdb init`.
#[derive(clap::Args, Debug)]
struct InitArgs {
    /// Database name: a host name clients will see in GOSUMDB, e.g. sumdb.example.internal
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Where to write the secret signer key (a new file, mode 0600; never overwritten)
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// Also start the (empty, signed) log in this store now (a directory or s3:// URL)
    #[arg(long, value_name = "STORE")]
    store: Option<PathBuf>,
    /// The mirror's URL as clients reach it (GOPROXY), to print a complete GOSUMDB value
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    s3: crate::config::S3ConfigFlag,
}

/// Flags of `modferry sumdb audit`.
#[derive(clap::Args, Debug)]
struct AuditArgs {
    /// The store holding the log (a directory or s3:// URL)
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    store: PathBuf,
    /// The signer key file (only its public half is used)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "vkey",
        required_unless_present = "vkey"
    )]
    key_file: Option<PathBuf>,
    /// The verifier key, as in GOSUMDB (name+hash+key)
    #[arg(long, value_name = "KEY")]
    vkey: Option<String>,
    /// Also re-check every record against a public checksum database, in GOSUMDB syntax:
    /// `sum.golang.org`, or `KEY [URL]` (online only; module names are sent to it)
    #[arg(long, value_name = "DB")]
    against: Option<String>,
    /// Module path patterns (GONOSUMDB syntax) never looked up with --against: private modules
    #[arg(long, value_name = "PATTERNS", default_value = "")]
    nosum: String,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    s3: crate::config::S3ConfigFlag,
}

/// Runs `modferry sumdb …`.
pub fn run(args: SumdbArgs) -> Result<ExitCode> {
    match args.command {
        SumdbCommand::Init(a) => init(a),
        SumdbCommand::Audit(a) => audit(a),
    }
}

/// Reads a signer key file written by `sumdb init`. Errors never include the key.
pub fn read_signer_key(path: &Path) -> Result<Signer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the sumdb key file {}", path.display()))?;
    Signer::parse(text.trim()).with_context(|| {
        format!(
            "{} does not hold a checksum database signer key (PRIVATE+KEY+<name>+…) as `modferry sumdb init` writes",
            path.display()
        )
    })
}

/// Opens the store named by `--store`: a directory or an `s3://` URL, as `serve` accepts,
/// with the `[s3]` table of `--config`.
async fn open_store(store: &Path, s3: &crate::config::S3ConfigFlag) -> Result<DynStore> {
    let url = store.to_string_lossy();
    modferry_store::open_store_with(&url, &s3.s3_settings()?)
        .await
        .with_context(|| format!("cannot open the store {url}"))
}

/// The public database `spec` (GOSUMDB syntax), asked online, with a throwaway cache (the
/// audited store is not written to).
fn public_db(spec: &str, nosum: &str) -> Result<(ProxyDb, tempfile::TempDir)> {
    let spec = crate::config::parse_sumdb_spec(spec)?;
    let verifier = Verifier::parse(&spec.key).context("invalid --against key")?;
    let client = SumdbClient::new(&spec.url, &HttpConfig::default())
        .with_context(|| format!("invalid --against URL {:?}", spec.url))?;
    let cache = tempfile::tempdir().context("creating a temporary cache")?;
    let store: DynStore = Arc::new(FsStore::open(cache.path()).context("opening the cache")?);
    let db = ProxyDb::new(
        ProxyDbConfig {
            verifier,
            latest_ttl: std::time::Duration::from_secs(3600),
            nosum: nosum.to_owned(),
        },
        Some(client),
        store,
    );
    Ok((db, cache))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn init(a: InitArgs) -> Result<ExitCode> {
    own::check_db_name(&a.name)?;
    if a.key_file.exists() {
        bail!(
            "{} already exists; refusing to overwrite a signing key (move it away or choose another --key-file)",
            a.key_file.display()
        );
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| anyhow::anyhow!("reading OS randomness for the key: {e}"))?;
    let (skey, vkey) = note::generate_key(&a.name, seed)?;
    seed.fill(0);
    write_secret(&a.key_file, &skey)?;
    if let Some(dir) = &a.store {
        let signer = Signer::parse(&skey)?;
        runtime()?
            .block_on(async {
                let store = open_store(dir, &a.s3).await?;
                Log::open(store, signer).await.map_err(anyhow::Error::from)
            })
            .with_context(|| format!("starting the log in {}", dir.display()))?;
    }
    let url = a
        .url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| "<mirror url>".to_owned());
    let gosumdb = format!("{vkey} {url}/sumdb/{}", a.name);
    if a.json {
        let v = serde_json::json!({
            "name": a.name,
            "verifier_key": vkey,
            "key_file": a.key_file,
            "gosumdb": gosumdb,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "Signer key written to {} (mode 0600). Keep it secret and back it up:",
            a.key_file.display()
        );
        println!("losing it means starting a new database; clients would have to change GOSUMDB.");
        println!();
        println!("Verifier key: {vkey}");
        println!();
        println!(
            "Serve it:   modferry serve --sumdb-key-file {} …",
            a.key_file.display()
        );
        println!("Clients set only:");
        println!("  GOSUMDB=\"{gosumdb}\"");
        if a.url.is_none() {
            println!("where <mirror url> is the URL clients use as GOPROXY for this mirror,");
            println!("e.g. http://modferry.internal:3000 (pass --url to fill it in).");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` (which must not exist) with mode 0600 and writes `secret` to it.
fn write_secret(path: &Path, secret: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    f.write_all(secret.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    Ok(())
}

fn audit(a: AuditArgs) -> Result<ExitCode> {
    let verifier = match (&a.key_file, &a.vkey) {
        (Some(f), _) => read_signer_key(f)?.verifier(),
        (None, Some(k)) => Verifier::parse(k.trim()).context("invalid --vkey")?,
        (None, None) => bail!("give --key-file or --vkey"),
    };
    let report = runtime()?.block_on(async {
        let store = open_store(&a.store, &a.s3).await?;
        let public = match &a.against {
            Some(spec) => Some(public_db(spec, &a.nosum)?),
            None => None,
        };
        let mut report = own::audit(&store, &verifier, false).await?;
        if let Some((db, _cache)) = &public
            && report.ok()
        {
            own::check_against(&store, &verifier, db, &mut report).await?;
        }
        own::remember(&store, &verifier, &report).await?;
        anyhow::Ok(report)
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "checksum database {}: {} records, root {}",
            report.name, report.size, report.root
        );
        if let Some(p) = report.previous_size {
            println!("previously audited head: {p} records");
        }
        for n in &report.notes {
            println!("note: {n}");
        }
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        println!(
            "{}",
            if report.ok() {
                "audit passed"
            } else {
                "audit FAILED"
            }
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
