//! `modferry sync`: fill the store with every file a build of the given inputs needs.
//!
//! Fetching goes through the same [`Mirror`] the server uses (`ensure_info_mod`,
//! `ensure_zip`), so what `sync` stores is validated and verified exactly as what `serve`
//! relays, and files already stored are never fetched again (a rerun after an interruption
//! fetches only the rest). Which module versions are needed is decided by [`inputs`] and
//! [`graph`] (the go command's module graph rules); [`report`] holds the outcome.
//!
//! Exit codes: 0 everything fetched, 1 some module versions or inputs failed, 2 usage or fatal
//! errors (store or upstream configuration).

pub mod graph;
pub mod inputs;
pub mod report;
pub mod sumdb;
pub mod toolchain;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::StreamExt;
use modferry_formats::{gosum, gowork, modfile};
use modferry_service::{Mirror, MirrorConfig};
use modferry_store::{DynStore, layout};

use crate::config::{ServeArgs, ServeConfig, SumdbFlags};
use graph::{GoModLoader, MainModule, ModVer, Needs, Replacements};
use inputs::Input;
use report::{InputError, ModuleReport, Report, Status, Want};

/// The inputs shared by `sync` and `bundle export`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct InputArgs {
    /// go.mod, go.sum or go.work files, directories (every go.mod below them),
    /// module@version or module@query
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// A file with one input per line ('#' starts a comment line)
    #[arg(long = "list", value_name = "FILE")]
    pub lists: Vec<PathBuf>,
    /// Platforms (GOOS/GOARCH) to fetch Go toolchains (golang.org/toolchain) for when a main
    /// module's `go`/`toolchain` line names a newer Go than --go-version (repeatable)
    /// [default: the host's]
    #[arg(long = "platform", value_name = "GOOS/GOARCH")]
    pub platforms: Vec<String>,
    /// The Go version of the machines that will build (toolchains newer than it are fetched)
    /// [default: the version of the `go` on PATH; none found: no toolchains]
    #[arg(long, env = "MODFERRY_GO_VERSION", value_name = "VERSION")]
    pub go_version: Option<String>,
}

impl InputArgs {
    /// Every input, the `--list` files expanded, classified; unusable ones as errors.
    pub fn classify(&self) -> (Vec<Input>, Vec<InputError>) {
        let mut raw: Vec<String> = self.inputs.clone();
        let mut errors = Vec::new();
        for l in &self.lists {
            match inputs::read_list(l) {
                Ok(v) => raw.extend(v),
                Err(e) => errors.push(InputError {
                    input: format!("--list {}", l.display()),
                    error: e,
                }),
            }
        }
        let mut out = Vec::new();
        for r in raw {
            match inputs::classify(&r) {
                Ok(i) => out.push(i),
                Err(e) => errors.push(InputError { input: r, error: e }),
            }
        }
        (out, errors)
    }

    /// Which toolchains the inputs' main modules make the go command download.
    pub fn toolchains(&self) -> Result<toolchain::ToolchainWants> {
        toolchain::ToolchainWants::resolve(self.go_version.as_deref(), &self.platforms)
    }

    /// Whether no input was given.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.lists.is_empty()
    }
}

/// Flags of `modferry sync`.
#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// Store: a directory, file://DIR or s3://BUCKET[/PREFIX] [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// Upstream list with GOPROXY syntax [default: https://proxy.golang.org]
    #[arg(long, env = "MODFERRY_UPSTREAM", value_name = "LIST")]
    pub upstream: Option<String>,
    /// TOML configuration file (the keys of `serve`; store, upstream and timeouts apply)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How many module versions to fetch and store at once
    #[arg(long, short = 'j', default_value_t = 16, value_name = "N")]
    pub jobs: usize,
    /// Print the report as JSON on stdout (schema in docs/air-gap.md) and no progress bar
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sumdb: SumdbFlags,
    #[command(flatten)]
    pub inputs: InputArgs,
}

/// The effective store/upstream configuration, resolved like `serve`'s (flag > env > file >
/// default).
pub fn resolve_config(
    store: &Option<PathBuf>,
    upstream: &Option<String>,
    config: &Option<PathBuf>,
) -> Result<ServeConfig> {
    resolve_config_sumdb(store, upstream, config, &SumdbFlags::default())
}

/// Like [`resolve_config`], with the checksum-database flags (`--sumdb-proxy`,
/// `--sumdb-key-file`, …) resolved by the same code as `serve`'s.
pub fn resolve_config_sumdb(
    store: &Option<PathBuf>,
    upstream: &Option<String>,
    config: &Option<PathBuf>,
    sumdb: &SumdbFlags,
) -> Result<ServeConfig> {
    ServeConfig::resolve(&ServeArgs {
        store: store.clone(),
        upstream: upstream.clone(),
        config: config.clone(),
        sumdb: sumdb.clone(),
        ..ServeArgs::default()
    })
}

/// Opens the store of `cfg` and builds a mirror over it: with the upstream chain, or
/// offline (only what is stored) when `offline`.
pub async fn open_mirror(cfg: &ServeConfig, offline: bool) -> Result<(Arc<Mirror>, String)> {
    let (mirror, desc, _) = open_mirror_sumdb(cfg, offline, false).await?;
    Ok((mirror, desc))
}

/// Like [`open_mirror`]; with `sumdb`, the checksum databases of `cfg` (see [`sumdb`]) also
/// check every module version before it is stored, as `serve` does.
pub async fn open_mirror_sumdb(
    cfg: &ServeConfig,
    offline: bool,
    sumdb: bool,
) -> Result<(Arc<Mirror>, String, sumdb::SyncSumdbs)> {
    let store_url = cfg.store.to_string_lossy().into_owned();
    let store: DynStore = modferry_store::open_store_with(&store_url, &cfg.s3.settings)
        .await
        .with_context(|| format!("cannot open the store {store_url}"))?;
    let (source, desc) = if offline {
        (None, "none (offline)".to_string())
    } else {
        let s = crate::serve::build_source(cfg)?;
        let d = s
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_else(|| "off".into());
        (s, d)
    };
    let dbs = if sumdb {
        sumdb::SyncSumdbs::open(cfg, &store).await?
    } else {
        sumdb::SyncSumdbs::default()
    };
    let mirror = Mirror::with_extras(
        store,
        source,
        MirrorConfig {
            offline,
            ..MirrorConfig::default()
        },
        modferry_service::MirrorExtras {
            checks: dbs.checks.clone(),
            ..Default::default()
        },
    );
    dbs.attach(&mirror);
    Ok((mirror, desc, dbs))
}

/// Loads go.mod files through the mirror (fetching and storing `.info` and `.mod`), and
/// remembers which ones were not stored before.
pub struct MirrorLoader {
    mirror: Arc<Mirror>,
    fetched: Mutex<HashSet<ModVer>>,
}

impl MirrorLoader {
    /// A loader over `mirror`.
    pub fn new(mirror: Arc<Mirror>) -> Self {
        MirrorLoader {
            mirror,
            fetched: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `m`'s go.mod was fetched (not already stored) by this loader.
    pub fn was_fetched(&self, m: &ModVer) -> bool {
        self.fetched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(m)
    }
}

impl GoModLoader for MirrorLoader {
    fn load(
        &self,
        m: &ModVer,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, String>> + Send {
        let m = m.clone();
        async move {
            let store = self.mirror.store();
            let key = layout::go_mod(&m.path, &m.version).map_err(|e| e.to_string())?;
            let had = store.head(&key).await.map_err(|e| e.to_string())?.is_some();
            // The walk goes on as soon as the go.mod has passed the mirror's checks; storing
            // it (fsyncs) continues in the fetch's own task, which `fetch` joins later.
            let (tx, mut rx) = tokio::sync::oneshot::channel();
            let ensure = self.mirror.ensure_info_mod_early(&m.path, &m.version, tx);
            tokio::pin!(ensure);
            let early = tokio::select! {
                res = &mut ensure => {
                    res.map_err(|e| e.to_string())?;
                    rx.try_recv().ok()
                }
                got = &mut rx => match got {
                    Ok(gomod) => Some(gomod),
                    Err(_) => {
                        (&mut ensure).await.map_err(|e| e.to_string())?;
                        None
                    }
                },
            };
            if !had {
                self.fetched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(m.clone());
            }
            if let Some(gomod) = early {
                return Ok(gomod.to_vec());
            }
            let data = store
                .get_bytes(&key, modferry_formats::modzip::MAX_GO_MOD)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{m}: .mod missing from the store after fetching"))?;
            Ok(data.to_vec())
        }
    }
}

/// What the inputs need: each module version with what is wanted of it, the versions whose
/// go.mod could not be loaded, and inputs that failed.
#[derive(Debug, Default)]
pub struct Plan {
    /// Module versions and what is needed of each (zip wins over mod).
    pub wants: BTreeMap<ModVer, Want>,
    /// Versions whose go.mod could not be had, with the reason.
    pub failed: BTreeMap<ModVer, String>,
    /// Inputs that failed as a whole.
    pub input_errors: Vec<InputError>,
}

impl Plan {
    fn add_needs(&mut self, n: Needs) {
        for m in n.mods {
            self.wants.entry(m).or_insert(Want::Mod);
        }
        for m in n.zips {
            self.wants.insert(m, Want::Zip);
        }
        self.failed.extend(n.errors);
    }
}

fn read_main(path: &std::path::Path) -> Result<MainModule, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = modfile::parse(&path.display().to_string(), &data).map_err(|e| e.to_string())?;
    let dir = path
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(MainModule { file, dir })
}

/// Works out what `inputs` need, loading go.mod files through `loader`'s mirror; the
/// toolchains their main modules switch to (per `tc`) are needed as zips.
pub async fn plan(
    loader: &MirrorLoader,
    inputs: &[Input],
    jobs: usize,
    tc: &toolchain::ToolchainWants,
) -> Plan {
    let mut plan = Plan::default();
    let add_toolchains = |plan: &mut Plan, go: Option<&str>, t: Option<&str>| {
        for v in tc.versions_for(go, t) {
            plan.wants
                .insert(ModVer::new(toolchain::TOOLCHAIN_MODULE, v), Want::Zip);
        }
    };
    for input in inputs {
        let res: Result<(), String> = async {
            match input {
                Input::GoMod(p) => {
                    let main = read_main(p)?;
                    add_toolchains(
                        &mut plan,
                        main.file.go.as_deref(),
                        main.file.toolchain.as_deref(),
                    );
                    plan.add_needs(graph::walk(&[main], None, loader, jobs).await);
                }
                Input::Dir(d) => {
                    for p in inputs::find_go_mods(d)? {
                        match read_main(&p) {
                            Ok(main) => {
                                add_toolchains(
                                    &mut plan,
                                    main.file.go.as_deref(),
                                    main.file.toolchain.as_deref(),
                                );
                                plan.add_needs(graph::walk(&[main], None, loader, jobs).await)
                            }
                            Err(e) => plan.input_errors.push(InputError {
                                input: p.display().to_string(),
                                error: e,
                            }),
                        }
                    }
                }
                Input::GoWork(p) => {
                    let data = std::fs::read(p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    let work = gowork::parse(&p.display().to_string(), &data)
                        .map_err(|e| e.to_string())?;
                    add_toolchains(&mut plan, work.go.as_deref(), work.toolchain.as_deref());
                    let dir = p.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                    let mut mains = Vec::new();
                    for u in &work.use_ {
                        mains.push(read_main(&dir.join(&u.path).join("go.mod"))?);
                    }
                    let mut repl = Replacements::default();
                    repl.add(&work.replace, &dir);
                    plan.add_needs(graph::walk(&mains, Some(&repl), loader, jobs).await);
                }
                Input::GoSum(p) => {
                    let data = std::fs::read(p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    let lines =
                        gosum::parse(&p.display().to_string(), &data).map_err(|e| e.to_string())?;
                    for l in lines {
                        let m = ModVer::new(l.path, l.version);
                        if l.go_mod {
                            plan.wants.entry(m).or_insert(Want::Mod);
                        } else {
                            plan.wants.insert(m, Want::Zip);
                        }
                    }
                }
                Input::Module { path, version } => {
                    plan.wants
                        .insert(ModVer::new(path.clone(), version.clone()), Want::Zip);
                }
                Input::Query { path, query } => {
                    let info = if query == "latest" {
                        latest(&loader.mirror, path).await
                    } else {
                        loader.mirror.info_query(path, query).await
                    }
                    .map_err(|e| e.to_string())?;
                    let v: serde_json::Value = serde_json::from_slice(&info)
                        .map_err(|e| format!("the upstream's answer is not JSON: {e}"))?;
                    let version = v
                        .get("Version")
                        .and_then(|x| x.as_str())
                        .ok_or("the upstream's answer has no Version")?;
                    plan.wants
                        .insert(ModVer::new(path.clone(), version), Want::Zip);
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            plan.input_errors.push(InputError {
                input: input.to_string(),
                error: e,
            });
        }
    }
    plan
}

/// Resolves `module@latest` as the go command does with a proxy: the highest release (else
/// pre-release) in `@v/list`, and `@latest` only when the list is empty
/// (`cmd/go/internal/modfetch/proxy.go` `Latest`, `modload/query.go`).
async fn latest(
    mirror: &Arc<Mirror>,
    path: &str,
) -> Result<bytes::Bytes, modferry_service::ApiError> {
    let listed: Vec<String> = match mirror.list(path).await {
        Ok(body) => body
            .lines()
            .map(str::to_string)
            .filter(|v| !modferry_formats::pseudo::is_pseudo_version(v))
            .collect(),
        Err(_) => Vec::new(),
    };
    match modferry_service::mirror::pick_latest(&listed) {
        Some(v) => Ok(bytes::Bytes::from(format!("{{\"Version\":{v:?}}}"))),
        None => mirror.latest(path).await,
    }
}

/// Fetches everything in `plan` through the mirror, `jobs` at a time, and reports.
pub async fn fetch(
    loader: &MirrorLoader,
    plan: Plan,
    jobs: usize,
    pb: &indicatif::ProgressBar,
) -> Vec<ModuleReport> {
    let mirror = &loader.mirror;
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let failed = plan.failed;
    let mut all: BTreeSet<ModVer> = plan.wants.keys().cloned().collect();
    all.extend(failed.keys().cloned());
    pb.set_length(all.len() as u64);
    let bytes_ref = &bytes;
    let failed_ref = &failed;
    let wants_ref = &plan.wants;
    let mut out: Vec<ModuleReport> = futures::stream::iter(all)
        .map(|m| async move {
            let want = wants_ref.get(&m).copied().unwrap_or(Want::Mod);
            let mut r = ModuleReport {
                module: m.path.clone(),
                version: m.version.clone(),
                want,
                status: Status::Present,
                zip_bytes: None,
                error: None,
            };
            if let Some(e) = failed_ref.get(&m) {
                r.status = Status::Failed;
                r.error = Some(e.clone());
                pb.inc(1);
                return r;
            }
            let res: Result<bool, String> = async {
                let store = mirror.store();
                match want {
                    Want::Mod => {
                        // Always asked: a go.mod the walk loaded may still be being stored.
                        let key = layout::info(&m.path, &m.version).map_err(|e| e.to_string())?;
                        let had = store.head(&key).await.map_err(|e| e.to_string())?.is_some();
                        mirror
                            .ensure_info_mod(&m.path, &m.version)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok(!had || loader.was_fetched(&m))
                    }
                    Want::Zip => {
                        let key = layout::zip(&m.path, &m.version).map_err(|e| e.to_string())?;
                        // A zip is complete once its .ziphash is stored (written last, after
                        // the .info and .mod): then there is nothing to fetch. A zip without
                        // one (an interrupted run) is verified or fetched by ensure_zip.
                        let ready = mirror
                            .zip_ready(&m.path, &m.version)
                            .await
                            .map_err(|e| e.to_string())?;
                        if !ready {
                            mirror
                                .ensure_zip(&m.path, &m.version)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        if let Some(meta) = store.head(&key).await.map_err(|e| e.to_string())? {
                            r.zip_bytes = Some(meta.size);
                            if !ready {
                                bytes_ref
                                    .fetch_add(meta.size, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        Ok(!ready || loader.was_fetched(&m))
                    }
                }
            }
            .await;
            match res {
                Ok(true) => r.status = Status::Fetched,
                Ok(false) => {}
                Err(e) => {
                    r.status = Status::Failed;
                    r.error = Some(e);
                }
            }
            pb.inc(1);
            pb.set_message(report::human_bytes(
                bytes_ref.load(std::sync::atomic::Ordering::Relaxed),
            ));
            r
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    out.sort_by(|a, b| {
        (a.module.as_str(), a.version.as_str()).cmp(&(b.module.as_str(), b.version.as_str()))
    });
    out
}

/// Runs `modferry sync`.
pub fn run(args: SyncArgs) -> Result<ExitCode> {
    if args.inputs.is_empty() {
        anyhow::bail!(
            "no inputs: give go.mod, go.sum or go.work files, directories, module@version or --list FILE"
        );
    }
    let cfg = resolve_config_sumdb(&args.store, &args.upstream, &args.config, &args.sumdb)?;
    let toolchains = args.inputs.toolchains()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let (mirror, upstream, dbs) = open_mirror_sumdb(&cfg, false, true).await?;
        let store_desc = mirror.store().describe();
        let loader = MirrorLoader::new(mirror);
        let (inputs, mut input_errors) = args.inputs.classify();
        let pb = report::progress(0, args.json);
        pb.set_message("resolving the module graph");
        let mut plan = plan(&loader, &inputs, args.jobs, &toolchains).await;
        input_errors.append(&mut plan.input_errors);
        let mut modules = fetch(&loader, plan, args.jobs, &pb).await;
        if !dbs.is_empty() {
            pb.set_message("checksum database proofs");
            let ok: Vec<ModVer> = modules
                .iter()
                .filter(|r| r.status != Status::Failed)
                .map(|r| ModVer::new(r.module.clone(), r.version.clone()))
                .collect();
            let (failed, problems) = dbs.fill(&ok, args.jobs).await;
            for r in &mut modules {
                if let Some(e) = failed.get(&ModVer::new(r.module.clone(), r.version.clone())) {
                    r.status = Status::Failed;
                    r.error = Some(e.clone());
                }
            }
            input_errors.extend(problems.into_iter().map(|error| InputError {
                input: "checksum database".into(),
                error,
            }));
        }
        pb.finish_and_clear();
        let mut report = Report {
            schema: 1,
            modferry_version: env!("CARGO_PKG_VERSION"),
            store: store_desc,
            upstream,
            summary: Default::default(),
            modules,
            input_errors,
        };
        report.finish();
        anyhow::Ok(report)
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("formatting the report")?
        );
    } else {
        print!("{}", report.human());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sumdb_settings_follow_flag_then_file_like_serve() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(
            &file,
            "sumdb_key_file = \"/file.key\"\nsumdb_proxy = [\"sum.golang.org\"]\nsumdb_nosum = \"corp.example\"\n",
        )
        .unwrap();
        let config = Some(file);
        let from_file =
            resolve_config_sumdb(&None, &None, &config, &SumdbFlags::default()).unwrap();
        assert_eq!(from_file.sumdb_key_file, Some(PathBuf::from("/file.key")));
        assert_eq!(from_file.sumdb_proxy.sumdb_proxy.len(), 1);
        assert!(!from_file.sumdb_proxy.sumdb_proxy_default);
        assert_eq!(from_file.sumdb_proxy.sumdb_nosum, "corp.example");

        let flags = SumdbFlags {
            sumdb_key_file: Some(PathBuf::from("/flag.key")),
            sumdb_proxy: vec!["off".into()],
            ..SumdbFlags::default()
        };
        let cfg = resolve_config_sumdb(&None, &None, &config, &flags).unwrap();
        assert_eq!(
            cfg.sumdb_key_file,
            Some(PathBuf::from("/flag.key")),
            "flag beats file"
        );
        assert!(
            cfg.sumdb_proxy.sumdb_proxy.is_empty(),
            "flag off beats file"
        );
        assert_eq!(
            cfg.sumdb_proxy.sumdb_nosum, "corp.example",
            "unset flag: file"
        );
    }
}
