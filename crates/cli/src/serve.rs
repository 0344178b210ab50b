//! `modferry serve`: open the store, build the upstream chain, serve until SIGTERM/Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use modferry_service::{Mirror, MirrorConfig, router};
use modferry_sources::{ChainSource, DynSource, HttpConfig};
use modferry_store::{DynStore, FsStore};

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
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
    if cfg.offline || cfg.upstream.trim() == "off" {
        return Ok(None);
    }
    let http = HttpConfig {
        connect_timeout: cfg.connect_timeout,
        request_timeout_small: cfg.request_timeout,
        idle_read_timeout: cfg.idle_timeout,
        ..HttpConfig::default()
    };
    let chain = ChainSource::from_proxy_list(&cfg.upstream, &http, None)
        .with_context(|| format!("invalid upstream list {:?}", cfg.upstream))?;
    Ok(Some(Arc::new(chain)))
}

async fn serve(cfg: ServeConfig) -> Result<()> {
    let store = FsStore::open(&cfg.store)
        .with_context(|| format!("cannot open the store at {}", cfg.store.display()))?;
    let store: DynStore = Arc::new(store);
    let source = build_source(&cfg)?;
    let upstream_desc = match (&source, cfg.offline) {
        (_, true) => "none (offline)".to_string(),
        (None, false) => "off".to_string(),
        (Some(s), false) => s.describe(),
    };
    let mirror = Mirror::new(
        Arc::clone(&store),
        source,
        MirrorConfig {
            offline: cfg.offline,
            list_ttl: cfg.list_ttl,
            negative_ttl: cfg.negative_ttl,
        },
    );
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
