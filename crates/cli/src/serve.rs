//! `modferry serve`: open the store, build the upstream chain, serve until SIGTERM/Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use modferry_service::sumdb::proxy::{ProxyDb, ProxyDbConfig};
use modferry_service::sumdb::verify::SumdbVerifier;
use modferry_service::{Mirror, MirrorConfig, router};
use modferry_sources::{ChainSource, DynSource, HttpConfig, SumdbClient};
use modferry_store::DynStore;

use crate::config::{LogFormat, ServeArgs, ServeConfig};

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let cfg = ServeConfig::resolve(&args)?;
    if args.print_config {
        print!(
            "{}",
            toml::to_string(&cfg).context("formatting the configuration")?
        );
        return Ok(ExitCode::SUCCESS);
    }
    init_logging(&cfg)?;
    // File reads run on the blocking pool; a bound keeps memory flat under hundreds of
    // concurrent downloads (tokio's default allows 512 threads).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(cfg))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(cfg: &ServeConfig) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .with_context(|| format!("invalid log filter {:?}", cfg.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// Builds the upstream chain, or `None` when the mirror must not go upstream.
pub fn build_source(cfg: &ServeConfig) -> Result<Option<DynSource>> {
    if cfg.offline || (cfg.upstream.trim() == "off" && !cfg.git.has_git_routes()) {
        return Ok(None);
    }
    let http = HttpConfig {
        connect_timeout: cfg.connect_timeout,
        request_timeout_small: cfg.request_timeout,
        idle_read_timeout: cfg.idle_timeout,
        ..HttpConfig::default()
    };
    let wants_direct = cfg.upstream.split([',', '|']).any(|e| e.trim() == "direct");
    let git = if wants_direct || cfg.git.has_git_routes() {
        Some(build_git(cfg)?)
    } else {
        None
    };
    let chain = ChainSource::from_proxy_list(
        &cfg.upstream,
        &http,
        git.as_ref().map(|(g, _)| Arc::clone(g)),
    )
    .with_context(|| format!("invalid upstream list {:?}", cfg.upstream))?;
    let chain: DynSource = Arc::new(chain);
    match git {
        Some((git, explicit)) if cfg.git.has_git_routes() => Ok(Some(Arc::new(
            modferry_sources::RoutedSource::new(&cfg.git.private, explicit, git, chain),
        ))),
        _ => Ok(Some(chain)),
    }
}

/// The git source (`direct`) and the explicit `--vcs` rules: rules first, then the hosting
/// sites the go command knows, then `?go-get=1` discovery.
fn build_git(cfg: &ServeConfig) -> Result<(DynSource, modferry_sources::StaticRouter)> {
    use modferry_sources::{
        ChainRouter, DiscoveryConfig, DiscoveryRouter, DiscoveryRule, GitConfig, GitSource,
        KnownHostRouter, StaticRouter,
    };
    let mut statics = Vec::new();
    let mut discovery = Vec::new();
    for rule in &cfg.git.vcs {
        if rule.insecure {
            tracing::warn!(
                prefix = %rule.prefix,
                "vcs rule is insecure: TLS certificates are not verified and plain http is allowed"
            );
        }
        match rule.static_rule()? {
            Some(r) => statics.push(r),
            None => discovery.push(DiscoveryRule {
                patterns: rule.prefix.clone(),
                ca_file: rule.ca_file.clone(),
                insecure: rule.insecure,
            }),
        }
    }
    let explicit = StaticRouter::new(statics);
    let discovery = DiscoveryRouter::new(DiscoveryConfig {
        rules: discovery,
        connect_timeout: cfg.connect_timeout,
        request_timeout: cfg.request_timeout,
        ..DiscoveryConfig::default()
    })
    .context("setting up go-get discovery: check the ca_file of each [[vcs]] rule")?;
    std::fs::create_dir_all(&cfg.git.git_cache).with_context(|| {
        format!(
            "cannot create the git cache {}: set --git-cache to a writable directory",
            cfg.git.git_cache.display()
        )
    })?;
    let mut git_cfg = GitConfig::new(&cfg.git.git_cache);
    git_cfg.refresh_ttl = cfg.git.git_refresh_ttl;
    git_cfg.max_concurrent = cfg.git.git_max_procs;
    git_cfg.command_timeout = cfg.git.git_timeout;
    let router = ChainRouter::new(vec![
        Arc::new(explicit.clone()),
        Arc::new(KnownHostRouter),
        Arc::new(discovery),
    ]);
    Ok((
        Arc::new(GitSource::new(git_cfg, Arc::new(router))),
        explicit,
    ))
}

/// The proxied checksum databases, each with its verifier when it is configured explicitly
/// and asked online. Offline, every database is served from the store only; with `--upstream
/// off` the built-in default (`sum.golang.org`, when nothing is configured) is too. The
/// built-in default never verifies. The `private` patterns and the prefixes of `--vcs` URL
/// rules join `sumdb_nosum`: private modules are never looked up.
pub fn build_sumdb_proxies(
    cfg: &ServeConfig,
    store: &DynStore,
) -> Result<Vec<(ProxyDb, Option<SumdbVerifier>)>> {
    let s = &cfg.sumdb_proxy;
    let http = HttpConfig {
        connect_timeout: cfg.connect_timeout,
        request_timeout_small: cfg.request_timeout,
        idle_read_timeout: cfg.idle_timeout,
        ..HttpConfig::default()
    };
    // Modules built from an explicit --vcs rule are private too: their names never go to a
    // public database.
    let vcs_prefixes = cfg
        .git
        .vcs
        .iter()
        .filter(|r| r.url.is_some())
        .map(|r| r.prefix.as_str());
    let nosum = [s.sumdb_nosum.as_str(), cfg.git.private.as_str()]
        .into_iter()
        .chain(vcs_prefixes)
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join(",");
    let default_off = s.sumdb_proxy_default && cfg.upstream.trim() == "off";
    let online = !cfg.offline && !default_off;
    let mut out = Vec::new();
    for spec in &s.sumdb_proxy {
        let verifier = modferry_formats::note::Verifier::parse(&spec.key)
            .with_context(|| format!("invalid sumdb_proxy key {:?}", spec.key))?;
        let client = if online {
            Some(
                SumdbClient::new(&spec.url, &http)
                    .with_context(|| format!("invalid sumdb_proxy URL {:?}", spec.url))?,
            )
        } else {
            None
        };
        let db = ProxyDb::new(
            ProxyDbConfig {
                verifier,
                latest_ttl: s.sumdb_latest_ttl,
                nosum: nosum.clone(),
            },
            client,
            Arc::clone(store),
        );
        // Only a database the configuration names verifies: the built-in default relays.
        let verifies = online && !s.sumdb_proxy_default;
        let check = verifies.then(|| SumdbVerifier::new(db.clone(), s.sumdb_fail_open));
        out.push((db, check));
    }
    Ok(out)
}

async fn serve(cfg: ServeConfig) -> Result<()> {
    let store_url = cfg.store.to_string_lossy().into_owned();
    let store: DynStore = modferry_store::open_store_with(&store_url, &cfg.s3.settings)
        .await
        .with_context(|| format!("cannot open the store {store_url}"))?;
    let source = build_source(&cfg)?;
    let upstream_desc = match (&source, cfg.offline) {
        (_, true) => "none (offline)".to_string(),
        (None, false) => "off".to_string(),
        (Some(s), false) => s.describe(),
    };
    // Served at /.well-known/modferry for `modferry doctor`, with the private patterns.
    let mut extras = modferry_service::MirrorExtras {
        description: modferry_service::mirror::MirrorDescription {
            version: env!("CARGO_PKG_VERSION").to_string(),
            private: cfg
                .git
                .private
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        ..Default::default()
    };
    // Proxied checksum databases (proxy mode): relayed and cached under /sumdb/<name>/; the
    // first one asked online also verifies every module version before it is stored.
    let mut verifying = false;
    for (db, check) in build_sumdb_proxies(&cfg, &store)? {
        if let Some(check) = check.filter(|_| !verifying) {
            verifying = true;
            tracing::info!(db = %db.name(), fail_open = cfg.sumdb_proxy.sumdb_fail_open, "verifying modules against the checksum database");
            extras
                .checks
                .push(Arc::new(check) as Arc<dyn modferry_service::ModuleCheck>);
        }
        extras.sumdbs.insert(
            db.name().to_owned(),
            Arc::new(db) as Arc<dyn modferry_service::SumdbService>,
        );
    }
    // The own checksum database records what the mirror serves: it runs after every other
    // check, and holds the mirror weakly (attached below) to fetch versions on lookup.
    let own_db = match &cfg.sumdb_key_file {
        Some(file) => {
            let signer = crate::sumdb::read_signer_key(file)?;
            // Replicas sharing a bucket take the writer lease before appending.
            let writer_lease = store_url.starts_with("s3://").then_some(cfg.lease_ttl);
            let db = modferry_service::sumdb::own::OwnSumdb::open_with_lease(
                Arc::clone(&store),
                signer,
                writer_lease,
            )
            .await
            .context("opening the own checksum database")?;
            extras
                .checks
                .push(Arc::clone(&db) as Arc<dyn modferry_service::ModuleCheck>);
            extras.sumdbs.insert(
                db.name().to_owned(),
                Arc::clone(&db) as Arc<dyn modferry_service::SumdbService>,
            );
            Some(db)
        }
        None => None,
    };
    let mirror = Mirror::with_extras(
        Arc::clone(&store),
        source,
        MirrorConfig {
            offline: cfg.offline,
            list_ttl: cfg.list_ttl,
            negative_ttl: cfg.negative_ttl,
            // An object store is shared by replicas (docs/scale-out.md): coordinate fetches.
            lease_ttl: store_url.starts_with("s3://").then_some(cfg.lease_ttl),
            ..MirrorConfig::default()
        },
        extras,
    );
    if let Some(db) = &own_db {
        db.attach_mirror(&mirror);
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        listen = %addr,
        store = %store.describe(),
        upstream = %upstream_desc,
        "modferry serving; use GOPROXY=http://{addr}"
    );
    if let Some(db) = &own_db {
        tracing::info!(
            db = %db.name(),
            size = db.log().tree().n,
            "own checksum database; clients set GOSUMDB=\"{} http://{addr}/sumdb/{}\"",
            db.verifier_key(),
            db.name()
        );
    }
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    // holds each small response back until the client's delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(mirror))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
