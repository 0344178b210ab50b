//! Configuration: flags, `MODFERRY_*` environment variables and a TOML file, merged with the
//! precedence flag > environment > file > default. clap resolves flag > environment; the
//! file and the defaults are applied here. Every key is documented in docs/configuration.md,
//! and `modferry serve --print-config` prints the effective configuration as TOML.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use modferry_store::S3Settings;
use serde::{Deserialize, Serialize};

/// Flags of `modferry serve`. All optional: unset ones fall back to the file, then defaults.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(long, env = "MODFERRY_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Store: a directory (laid out like $GOMODCACHE/cache/download), file://DIR or
    /// s3://BUCKET[/PREFIX] (AWS_* variables or the file's [s3] table, docs/configuration.md)
    /// [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// Upstream list with GOPROXY syntax: URLs separated by ',' (fall through on 404/410)
    /// or '|' (fall through on any error), or 'off' [default: https://proxy.golang.org]
    #[arg(long, env = "MODFERRY_UPSTREAM", value_name = "LIST")]
    pub upstream: Option<String>,
    /// Never contact an upstream: serve only what the store has
    #[arg(long, env = "MODFERRY_OFFLINE", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub offline: Option<bool>,
    /// TOML configuration file (keys as in docs/configuration.md)
    #[arg(long, env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How long an upstream @v/list or @latest answer is reused [default: 5m]
    #[arg(long, env = "MODFERRY_LIST_TTL", value_name = "DURATION")]
    pub list_ttl: Option<String>,
    /// How long an upstream "not found" is remembered [default: 1m]
    #[arg(long, env = "MODFERRY_NEGATIVE_TTL", value_name = "DURATION")]
    pub negative_ttl: Option<String>,
    /// Timeout for connecting to an upstream [default: 10s]
    #[arg(long, env = "MODFERRY_CONNECT_TIMEOUT", value_name = "DURATION")]
    pub connect_timeout: Option<String>,
    /// Total timeout for small upstream requests (list, info, mod, latest) [default: 60s]
    #[arg(long, env = "MODFERRY_REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// Longest wait for the next bytes of an upstream zip [default: 60s]
    #[arg(long, env = "MODFERRY_IDLE_TIMEOUT", value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "MODFERRY_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info, debug, modferry=debug [default: info]
    #[arg(long, env = "MODFERRY_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Serve modules below PREFIX from the git repository at URL; a `*` element in PREFIX
    /// matches one path element and fills the next `*` in URL (repeatable; in the environment,
    /// rules separated by white space or commas)
    #[arg(long = "vcs", env = "MODFERRY_VCS", value_name = "PREFIX=URL")]
    pub vcs: Vec<String>,
    /// Private module path patterns (GOPRIVATE syntax): served only from git, never asked of
    /// an upstream [default: none]
    #[arg(long, env = "MODFERRY_PRIVATE", value_name = "PATTERNS")]
    pub private: Option<String>,
    /// Directory of the bare git mirrors [default: <store>/.modferry/git]
    #[arg(long, env = "MODFERRY_GIT_CACHE", value_name = "DIR")]
    pub git_cache: Option<PathBuf>,
    /// How often a git mirror is fetched for version lists, @latest and branches [default: 1m]
    #[arg(long, env = "MODFERRY_GIT_REFRESH_TTL", value_name = "DURATION")]
    pub git_refresh_ttl: Option<String>,
    /// The most git processes running at once [default: 4]
    #[arg(long, env = "MODFERRY_GIT_MAX_PROCS", value_name = "N")]
    pub git_max_procs: Option<usize>,
    /// The longest a git process may run before it is killed [default: 10m]
    #[arg(long, env = "MODFERRY_GIT_TIMEOUT", value_name = "DURATION")]
    pub git_timeout: Option<String>,
    /// How long a replica's lease on a fetch, and on appending to the own checksum database,
    /// holds if the replica dies (s3:// stores only; 1s to 1h) [default: 60s]
    #[arg(long, env = "MODFERRY_LEASE_TTL", value_name = "DURATION")]
    pub lease_ttl: Option<String>,
    /// Checksum-database settings (shared with sync and bundle)
    #[command(flatten)]
    pub sumdb: SumdbFlags,
    /// Print the effective configuration as TOML and exit
    #[arg(long)]
    pub print_config: bool,
}

/// The checksum-database flags, shared by `serve`, `sync` and `bundle` so every command
/// resolves them the same way (flag > environment > file > default).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct SumdbFlags {
    /// The mirror's own checksum database, signed with this key file (from
    /// `modferry sumdb init`): serve serves it at /sumdb/<name>/, sync records what it
    /// fetches in it, bundle export carries it [default: none]
    #[arg(long, env = "MODFERRY_SUMDB_KEY_FILE", value_name = "FILE")]
    pub sumdb_key_file: Option<PathBuf>,
    /// Checksum databases to proxy under /sumdb/<name>/, each in GOSUMDB syntax `KEY [URL]`
    /// (KEY a verifier key or `sum.golang.org`; URL the database or a proxy's /sumdb/<name>
    /// prefix), or `off` (repeatable; in the environment, separated by commas)
    /// [default: sum.golang.org]
    #[arg(
        long,
        env = "MODFERRY_SUMDB_PROXY",
        value_name = "KEY [URL]",
        value_delimiter = ','
    )]
    pub sumdb_proxy: Vec<String>,
    /// How long a proxied database's `latest` is reused [default: 1h]
    #[arg(long, env = "MODFERRY_SUMDB_LATEST_TTL", value_name = "DURATION")]
    pub sumdb_latest_ttl: Option<String>,
    /// Module path patterns (GONOSUMDB syntax) never looked up in a proxied database; the
    /// `private` patterns are added [default: none]
    #[arg(long, env = "MODFERRY_SUMDB_NOSUM", value_name = "PATTERNS")]
    pub sumdb_nosum: Option<String>,
    /// Store modules unverified when a proxied database is unreachable (a mismatch is always
    /// refused) [default: false]
    #[arg(long, env = "MODFERRY_SUMDB_FAIL_OPEN", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub sumdb_fail_open: Option<bool>,
}

/// The configuration file's keys (all optional).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub store: Option<PathBuf>,
    pub upstream: Option<String>,
    pub offline: Option<bool>,
    pub list_ttl: Option<String>,
    pub negative_ttl: Option<String>,
    pub connect_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub log_format: Option<String>,
    pub log: Option<String>,
    pub sumdb_key_file: Option<PathBuf>,
    pub vcs: Option<Vec<VcsRule>>,
    pub private: Option<String>,
    pub git_cache: Option<PathBuf>,
    pub git_refresh_ttl: Option<String>,
    pub git_max_procs: Option<usize>,
    pub git_timeout: Option<String>,
    pub sumdb_proxy: Option<Vec<String>>,
    pub sumdb_latest_ttl: Option<String>,
    pub sumdb_nosum: Option<String>,
    pub sumdb_fail_open: Option<bool>,
    pub lease_ttl: Option<String>,
    /// The `[s3]` table: settings of `s3://` stores.
    pub s3: Option<S3File>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective configuration of `serve`.
#[derive(Debug, Clone, Serialize)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub store: PathBuf,
    pub upstream: String,
    pub offline: bool,
    #[serde(serialize_with = "ser_duration")]
    pub list_ttl: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub negative_ttl: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub request_timeout: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub idle_timeout: Duration,
    pub log_format: LogFormat,
    pub log: String,
    /// The own checksum database's signer key file, if one is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sumdb_key_file: Option<PathBuf>,
    /// Building modules from git: `--vcs` rules, private patterns, the git cache.
    #[serde(flatten)]
    pub git: GitSettings,
    /// Proxied checksum databases (proxy mode).
    #[serde(flatten)]
    pub sumdb_proxy: SumdbProxySettings,
    /// Validity of replica leases (fills and the own checksum database's writer lease),
    /// used when the store is an object store shared by replicas.
    #[serde(serialize_with = "ser_duration")]
    pub lease_ttl: Duration,
    /// Settings of `s3://` stores: the `AWS_*` environment over the file's `[s3]` table.
    #[serde(skip_serializing_if = "S3Section::is_hidden")]
    pub s3: S3Section,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// The default upstream, like the go command's own GOPROXY default.
pub const DEFAULT_UPSTREAM: &str = "https://proxy.golang.org";

impl ServeConfig {
    /// Merges flags/environment (already merged by clap) over the file over the defaults.
    pub fn resolve(args: &ServeArgs) -> Result<ServeConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or(file.clone());
        let dur = |name: &str, flag: &Option<String>, file: &Option<String>, default: &str| {
            let text = pick(flag, file).unwrap_or_else(|| default.to_string());
            parse_duration(&text).with_context(|| format!("invalid {name} {text:?}"))
        };
        let listen_text =
            pick(&args.listen, &file.listen).unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen = listen_text.parse::<SocketAddr>().with_context(|| {
            format!("invalid listen address {listen_text:?}: expected IP:PORT, e.g. 127.0.0.1:3000 or 0.0.0.0:8080")
        })?;
        let log_format = match pick(&args.log_format, &file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("invalid log_format {other:?}: expected \"text\" or \"json\""),
        };
        let lease_text = pick(&args.lease_ttl, &file.lease_ttl)
            .unwrap_or_else(|| format_duration(modferry_service::lease::DEFAULT_LEASE_TTL));
        let lease_ttl = parse_lease_ttl(&lease_text)?;
        let store_is_s3 = args
            .store
            .as_ref()
            .or(file.store.as_ref())
            .is_some_and(|s| s.to_string_lossy().starts_with("s3://"));
        Ok(ServeConfig {
            // Before `store`, which moves out of `file`.
            s3: S3Section::resolve(file.s3.as_ref(), store_is_s3, env_var)?,
            lease_ttl,
            git: GitSettings::resolve(args, &file)?,
            sumdb_proxy: SumdbProxySettings::resolve(args, &file)?,
            listen,
            store: args
                .store
                .clone()
                .or(file.store)
                .unwrap_or_else(|| PathBuf::from("./modferry-data")),
            upstream: pick(&args.upstream, &file.upstream)
                .unwrap_or_else(|| DEFAULT_UPSTREAM.into()),
            offline: args.offline.or(file.offline).unwrap_or(false),
            list_ttl: dur("list_ttl", &args.list_ttl, &file.list_ttl, "5m")?,
            negative_ttl: dur("negative_ttl", &args.negative_ttl, &file.negative_ttl, "1m")?,
            connect_timeout: dur(
                "connect_timeout",
                &args.connect_timeout,
                &file.connect_timeout,
                "10s",
            )?,
            request_timeout: dur(
                "request_timeout",
                &args.request_timeout,
                &file.request_timeout,
                "60s",
            )?,
            idle_timeout: dur(
                "idle_timeout",
                &args.idle_timeout,
                &file.idle_timeout,
                "60s",
            )?,
            log_format,
            log: pick(&args.log, &file.log).unwrap_or_else(|| "info".into()),
            sumdb_key_file: args.sumdb.sumdb_key_file.clone().or(file.sumdb_key_file),
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Parses durations such as `90s`, `5m`, `1h30m`, `250ms`, `2d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    if t.is_empty() {
        bail!("empty duration");
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            bail!("expected a number followed by ms, s, m, h or d (e.g. 30s, 5m, 1h30m)");
        }
        let n: u64 = rest[..digits].parse().context("number too large")?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86400),
            _ => bail!("unknown unit {unit:?}: use ms, s, m, h or d (e.g. 30s, 5m, 1h30m)"),
        };
        total += d;
    }
    Ok(total)
}

/// Formats a duration in the syntax [`parse_duration`] reads.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

// ---------------------------------------------------------------------------------------------
// vcs: building modules from git (docs/configuration.md, "Building from git")

/// One `--vcs` rule or `[[vcs]]` table. With a `url`, modules below `prefix` come from that
/// git repository; without one, `prefix` (GOPRIVATE syntax) only sets how its repositories
/// are found by `?go-get=1` discovery and fetched (`ca_file`, `insecure`).
#[derive(Deserialize, Serialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VcsRule {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub private: bool,
}

impl VcsRule {
    /// The rule as a `--vcs` URL rule, checked; `None` for a discovery-only rule.
    pub fn static_rule(&self) -> Result<Option<modferry_sources::StaticRule>> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let rule = modferry_sources::StaticRule::new(&self.prefix, url).with_context(|| {
            format!(
                "invalid vcs rule {}={url}: want PREFIX=URL with a module path prefix and a git URL, e.g. git.corp.example/*=https://git.corp.example/*.git",
                self.prefix
            )
        })?;
        let rule = match &self.ca_file {
            Some(ca) => rule.with_ca_file(ca),
            None => rule,
        };
        Ok(Some(rule.with_insecure(self.insecure)))
    }
}

/// The effective git settings of `serve`.
#[derive(Serialize, Debug, Clone)]
pub struct GitSettings {
    /// GOPRIVATE-style patterns served only from git (plus the prefixes of `private` rules).
    pub private: String,
    pub git_cache: PathBuf,
    #[serde(serialize_with = "ser_duration")]
    pub git_refresh_ttl: Duration,
    pub git_max_procs: usize,
    #[serde(serialize_with = "ser_duration")]
    pub git_timeout: Duration,
    /// Command-line and environment rules first (they win over file rules of equal length).
    pub vcs: Vec<VcsRule>,
}

/// Where the store goes when nothing says otherwise (also the base of the default git cache).
const DEFAULT_STORE: &str = "./modferry-data";

/// The git cache when none is configured: under a directory store, `<store>/.modferry/git`;
/// for an object store (`s3://…`) a local directory, `./modferry-git`: git caches are per
/// replica and never live in the bucket.
fn default_git_cache(store: &Path) -> PathBuf {
    if store.to_string_lossy().starts_with("s3://") {
        return PathBuf::from("./modferry-git");
    }
    let dir = match modferry_store::StoreUrl::parse(&store.to_string_lossy()) {
        Ok(modferry_store::StoreUrl::Fs(dir)) => dir,
        _ => store.to_path_buf(),
    };
    dir.join(".modferry").join("git")
}

impl GitSettings {
    fn resolve(args: &ServeArgs, file: &FileConfig) -> Result<GitSettings> {
        let mut vcs = Vec::new();
        for spec in args
            .vcs
            .iter()
            .flat_map(|v| v.split(|c: char| c.is_whitespace() || c == ','))
            .filter(|s| !s.is_empty())
        {
            let Some((prefix, url)) = spec.split_once('=') else {
                bail!(
                    "invalid --vcs rule {spec:?}: want PREFIX=URL, e.g. git.corp.example/*=https://git.corp.example/*.git"
                );
            };
            vcs.push(VcsRule {
                prefix: prefix.trim().to_owned(),
                url: Some(url.trim().to_owned()),
                ..VcsRule::default()
            });
        }
        vcs.extend(file.vcs.iter().flatten().cloned());
        for rule in &vcs {
            rule.static_rule()?;
            if rule.url.is_none() && rule.prefix.trim().is_empty() {
                bail!("invalid vcs rule: empty prefix; set prefix to a module path pattern");
            }
        }
        let mut private: Vec<String> = args
            .private
            .clone()
            .or_else(|| file.private.clone())
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        for rule in vcs.iter().filter(|r| r.private) {
            private.push(rule.prefix.trim_end_matches('/').to_owned());
        }
        let store = args
            .store
            .clone()
            .or_else(|| file.store.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));
        let dur = |name: &str, flag: &Option<String>, file: &Option<String>, default: &str| {
            let text = flag
                .clone()
                .or(file.clone())
                .unwrap_or_else(|| default.into());
            parse_duration(&text).with_context(|| format!("invalid {name} {text:?}"))
        };
        let git_max_procs = args.git_max_procs.or(file.git_max_procs).unwrap_or(4);
        if git_max_procs == 0 {
            bail!("invalid git_max_procs 0: at least one git process must be allowed");
        }
        Ok(GitSettings {
            private: private.join(","),
            git_cache: args
                .git_cache
                .clone()
                .or_else(|| file.git_cache.clone())
                .unwrap_or_else(|| default_git_cache(&store)),
            git_refresh_ttl: dur(
                "git_refresh_ttl",
                &args.git_refresh_ttl,
                &file.git_refresh_ttl,
                "1m",
            )?,
            git_max_procs,
            git_timeout: dur("git_timeout", &args.git_timeout, &file.git_timeout, "10m")?,
            vcs,
        })
    }

    /// Whether some modules must come from git whatever the upstream list says.
    pub fn has_git_routes(&self) -> bool {
        !self.private.is_empty() || self.vcs.iter().any(|r| r.url.is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// sumdb_proxy: relaying checksum databases (docs/checksum-database.md, "Proxy mode")

/// One proxied checksum database: its verifier key (the name comes from it) and upstream URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumdbProxySpec {
    /// The verifier key, `<name>+<hash>+<key>`.
    pub key: String,
    /// Where the database is asked: its own URL or a proxy's `/sumdb/<name>` prefix.
    pub url: String,
}

/// The effective proxy-mode settings of `serve`.
#[derive(Serialize, Debug, Clone)]
pub struct SumdbProxySettings {
    /// The databases, in GOSUMDB syntax (`KEY URL`); empty when `off`.
    #[serde(serialize_with = "ser_specs")]
    pub sumdb_proxy: Vec<SumdbProxySpec>,
    /// True when nothing was configured and the built-in `sum.golang.org` is used.
    #[serde(skip)]
    pub sumdb_proxy_default: bool,
    #[serde(serialize_with = "ser_duration")]
    pub sumdb_latest_ttl: Duration,
    pub sumdb_nosum: String,
    pub sumdb_fail_open: bool,
}

fn ser_specs<S: serde::Serializer>(v: &[SumdbProxySpec], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for spec in v {
        seq.serialize_element(&format!("{} {}", spec.key, spec.url))?;
    }
    seq.end()
}

impl SumdbProxySettings {
    fn resolve(args: &ServeArgs, file: &FileConfig) -> Result<SumdbProxySettings> {
        let specs: Vec<String> = if args.sumdb.sumdb_proxy.is_empty() {
            file.sumdb_proxy.clone().unwrap_or_default()
        } else {
            args.sumdb.sumdb_proxy.clone()
        };
        let specs: Vec<&str> = specs
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        let default = specs.is_empty();
        let mut parsed = Vec::new();
        if specs != ["off"] {
            let specs = if default {
                vec!["sum.golang.org"]
            } else {
                specs
            };
            for spec in specs {
                let db = parse_sumdb_spec(spec)?;
                if parsed
                    .iter()
                    .any(|p: &SumdbProxySpec| name_of(&p.key) == name_of(&db.key))
                {
                    bail!("sumdb_proxy lists the database {} twice", name_of(&db.key));
                }
                parsed.push(db);
            }
        }
        let text = args
            .sumdb
            .sumdb_latest_ttl
            .clone()
            .or(file.sumdb_latest_ttl.clone())
            .unwrap_or_else(|| "1h".into());
        Ok(SumdbProxySettings {
            sumdb_proxy: parsed,
            sumdb_proxy_default: default,
            sumdb_latest_ttl: parse_duration(&text)
                .with_context(|| format!("invalid sumdb_latest_ttl {text:?}"))?,
            sumdb_nosum: args
                .sumdb
                .sumdb_nosum
                .clone()
                .or(file.sumdb_nosum.clone())
                .unwrap_or_default(),
            sumdb_fail_open: args
                .sumdb
                .sumdb_fail_open
                .or(file.sumdb_fail_open)
                .unwrap_or(false),
        })
    }
}

fn name_of(key: &str) -> &str {
    key.split('+').next().unwrap_or(key)
}

/// Parses `KEY [URL]` (GOSUMDB syntax, cmd/go `modfetch/sumdb.go` `dbDial`): KEY is a verifier
/// key or the name `sum.golang.org`; URL defaults to `https://<name>`.
pub fn parse_sumdb_spec(spec: &str) -> Result<SumdbProxySpec> {
    use modferry_service::sumdb::proxy::SUM_GOLANG_ORG_KEY;
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let hint = "want KEY [URL], e.g. sum.golang.org, or \"sum.golang.org+033de0ae+Ac4z… https://sum.golang.org\"";
    let (key, url) = match fields.as_slice() {
        [key] => (*key, None),
        [key, url] => (*key, Some(*url)),
        _ => bail!("invalid sumdb_proxy {spec:?}: {hint}"),
    };
    let key = if key == "sum.golang.org" {
        SUM_GOLANG_ORG_KEY
    } else {
        key
    };
    let verifier = modferry_formats::note::Verifier::parse(key)
        .with_context(|| format!("invalid sumdb_proxy {spec:?}: bad verifier key; {hint}"))?;
    let url = url
        .map(str::to_owned)
        .unwrap_or_else(|| format!("https://{}", verifier.name()));
    Ok(SumdbProxySpec {
        key: key.to_owned(),
        url,
    })
}

// ---------------------------------------------------------------------------------------------
// lease_ttl and [s3]: object-store settings (docs/configuration.md, "Object storage")

/// The shortest `lease_ttl`: below it a normal fetch outlives its lease and replicas fetch
/// the same file twice.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);

/// The longest `lease_ttl`: a dead replica's lease holds up the others this long.
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(3600);

/// Parses `lease_ttl`, which must lie in [`MIN_LEASE_TTL`]..=[`MAX_LEASE_TTL`].
fn parse_lease_ttl(text: &str) -> Result<Duration> {
    let ttl = parse_duration(text).with_context(|| format!("invalid lease_ttl {text:?}"))?;
    if !(MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&ttl) {
        bail!(
            "invalid lease_ttl {text:?}: must be between {} and {}",
            format_duration(MIN_LEASE_TTL),
            format_duration(MAX_LEASE_TTL)
        );
    }
    Ok(ttl)
}

/// S3's smallest part (all but the last) and largest part of a multipart upload.
const PART_SIZE_RANGE: std::ops::RangeInclusive<u64> = (5 << 20)..=(5 << 30);

/// The most parts of one upload sent at once.
const MAX_UPLOAD_CONCURRENCY: usize = 64;

/// The `[s3]` table of the configuration file, as written (all optional).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct S3File {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
    pub session_token: Option<String>,
    pub allow_http: Option<bool>,
    /// A size: a number of bytes or a string such as `"16MiB"`.
    pub part_size: Option<toml::Value>,
    pub upload_concurrency: Option<usize>,
    pub request_timeout: Option<String>,
}

impl std::fmt::Debug for S3File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3File")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &modferry_store::S3Config::redact(&self.secret_access_key),
            )
            .field("secret_access_key_file", &self.secret_access_key_file)
            .field(
                "session_token",
                &modferry_store::S3Config::redact(&self.session_token),
            )
            .field("allow_http", &self.allow_http)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl S3File {
    /// The table as store settings, each value checked; errors name the key.
    fn settings(&self) -> Result<S3Settings> {
        let text = |key: &str, v: &Option<String>| -> Result<Option<String>> {
            match v {
                Some(v) if v.trim().is_empty() => {
                    bail!("invalid s3.{key}: empty; remove the key or give a value")
                }
                other => Ok(other.clone()),
            }
        };
        let endpoint = text("endpoint", &self.endpoint)?;
        if let Some(e) = &endpoint {
            let rest = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                bail!(
                    "invalid s3.endpoint {e:?}: want an http:// or https:// URL, e.g. http://127.0.0.1:8333"
                );
            }
        }
        let secret = match (&self.secret_access_key, &self.secret_access_key_file) {
            (Some(_), Some(_)) => {
                bail!("s3.secret_access_key and s3.secret_access_key_file are both set: keep one")
            }
            (_, Some(path)) => Some(read_secret_file(path)?),
            (secret, None) => text("secret_access_key", secret)?,
        };
        let part_size = match &self.part_size {
            None => None,
            Some(v) => Some(parse_part_size(v)?),
        };
        if let Some(n) = self.upload_concurrency
            && !(1..=MAX_UPLOAD_CONCURRENCY).contains(&n)
        {
            bail!(
                "invalid s3.upload_concurrency {n}: must be between 1 and {MAX_UPLOAD_CONCURRENCY}"
            );
        }
        let request_timeout = match &self.request_timeout {
            None => None,
            Some(t) => {
                let d = parse_duration(t)
                    .with_context(|| format!("invalid s3.request_timeout {t:?}"))?;
                if d.is_zero() {
                    bail!("invalid s3.request_timeout {t:?}: must be more than 0s");
                }
                Some(d)
            }
        };
        Ok(S3Settings {
            endpoint,
            region: text("region", &self.region)?,
            access_key_id: text("access_key_id", &self.access_key_id)?,
            secret_access_key: secret,
            session_token: text("session_token", &self.session_token)?,
            allow_http: self.allow_http,
            part_size,
            upload_concurrency: self.upload_concurrency,
            request_timeout,
        })
    }
}

/// Reads `secret_access_key_file`: the whole file, trailing line breaks removed. The error
/// never contains the file's content.
fn read_secret_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "invalid s3.secret_access_key_file: cannot read {}",
            path.display()
        )
    })?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        bail!(
            "invalid s3.secret_access_key_file: {} is empty",
            path.display()
        );
    }
    Ok(secret.to_owned())
}

/// Parses `part_size`: a number of bytes, or a string `<n>`, `<n>KiB`, `<n>MiB` or `<n>GiB`,
/// within S3's part limits (5 MiB to 5 GiB).
fn parse_part_size(v: &toml::Value) -> Result<usize> {
    let hint = "want a size from 5MiB to 5GiB, e.g. \"16MiB\" or 16777216";
    let bytes = match v {
        toml::Value::Integer(n) => u64::try_from(*n).ok(),
        toml::Value::String(t) => parse_size(t),
        _ => None,
    };
    match bytes {
        Some(n) if PART_SIZE_RANGE.contains(&n) => {
            usize::try_from(n).with_context(|| format!("invalid s3.part_size {v}: too large"))
        }
        _ => bail!("invalid s3.part_size {v}: {hint}"),
    }
}

/// `<n>` bytes or `<n>KiB`/`<n>MiB`/`<n>GiB`; `None` if malformed or too large.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().ok()?;
    let shift = match t[digits..].trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Formats a size in the syntax [`parse_size`] reads (the largest exact unit).
fn format_size(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// The process environment, for the `AWS_*` variables.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The effective settings of `s3://` stores: the `AWS_*` environment layered over the file's
/// `[s3]` table ([`S3Settings::over`]: each variable that is set wins; credentials as one
/// unit), then the defaults. Printed by `--print-config` as `[s3]`, secrets redacted.
#[derive(Debug, Clone, Default)]
pub struct S3Section {
    /// What the store is opened with ([`modferry_store::open_store_with`]).
    pub settings: S3Settings,
    /// The file the effective secret was read from (the file's credentials are in use).
    secret_file: Option<PathBuf>,
    /// Whether `--print-config` shows the table: for an `s3://` store, or a file with `[s3]`.
    shown: bool,
}

impl S3Section {
    /// Resolves the file's `[s3]` table under the environment `env` looks up.
    pub fn resolve(
        file: Option<&S3File>,
        store_is_s3: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Section> {
        let from_file = match file {
            Some(f) => f.settings()?,
            None => S3Settings::default(),
        };
        let from_env = S3Settings::from_lookup(env);
        let settings = from_env.over(&from_file);
        let file_creds = !from_env.has_credentials();
        if file_creds {
            match (&settings.access_key_id, &settings.secret_access_key) {
                (Some(_), None) => bail!(
                    "s3.access_key_id is set without a secret: set s3.secret_access_key or s3.secret_access_key_file"
                ),
                (None, Some(_)) => {
                    bail!("s3.secret_access_key is set without s3.access_key_id: set both")
                }
                _ => {}
            }
        }
        Ok(S3Section {
            secret_file: file
                .and_then(|f| f.secret_access_key_file.clone())
                .filter(|_| file_creds),
            shown: store_is_s3 || file.is_some(),
            settings,
        })
    }

    fn is_hidden(&self) -> bool {
        !self.shown
    }
}

/// `[s3]` as `--print-config` shows it: defaults filled in, secrets never.
#[derive(Serialize)]
struct S3Printed {
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_access_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'static str>,
    allow_http: bool,
    part_size: String,
    upload_concurrency: usize,
    request_timeout: String,
}

/// What `--print-config` prints instead of a secret.
pub const REDACTED: &str = "<redacted>";

impl Serialize for S3Section {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = modferry_store::S3Config::new(String::new(), String::new());
        let e = &self.settings;
        let secret_set = e.secret_access_key.is_some();
        S3Printed {
            endpoint: e.endpoint.clone(),
            region: e.region.clone().unwrap_or(d.region),
            access_key_id: e.access_key_id.clone(),
            secret_access_key: (secret_set && self.secret_file.is_none()).then_some(REDACTED),
            secret_access_key_file: self.secret_file.clone().filter(|_| secret_set),
            session_token: e.session_token.as_ref().map(|_| REDACTED),
            allow_http: e.allow_http.unwrap_or_else(|| {
                e.endpoint
                    .as_ref()
                    .is_some_and(|ep| ep.starts_with("http://"))
            }),
            part_size: format_size(e.part_size.unwrap_or(d.part_size) as u64),
            upload_concurrency: e.upload_concurrency.unwrap_or(d.upload_concurrency),
            request_timeout: format_duration(e.request_timeout.unwrap_or(d.request_timeout)),
        }
        .serialize(s)
    }
}

/// `--config FILE` of the commands that take a STORE but no other setting of the file
/// (`store copy`, `sumdb init|audit`, `verify --store`): only the file's `[s3]` table applies
/// (the whole file is still checked for unknown keys).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct S3ConfigFlag {
    /// TOML configuration file: only its [s3] table applies (docs/configuration.md)
    #[arg(long = "config", env = "MODFERRY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl S3ConfigFlag {
    /// The settings `s3://` stores are opened with: the `AWS_*` environment over the file's
    /// `[s3]` table.
    pub fn s3_settings(&self) -> Result<S3Settings> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Ok(S3Section::resolve(file.s3.as_ref(), true, env_var)?.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sumdb_proxy_defaults_to_sum_golang_org_and_parses_gosumdb_syntax() {
        let cfg = ServeConfig::resolve(&ServeArgs::default()).unwrap();
        let p = &cfg.sumdb_proxy;
        assert!(p.sumdb_proxy_default);
        assert_eq!(p.sumdb_proxy.len(), 1);
        assert!(p.sumdb_proxy[0].key.starts_with("sum.golang.org+033de0ae+"));
        assert_eq!(p.sumdb_proxy[0].url, "https://sum.golang.org");
        assert_eq!(p.sumdb_latest_ttl, Duration::from_secs(3600));
        assert!(!p.sumdb_fail_open);

        let args = ServeArgs {
            sumdb: SumdbFlags {
                sumdb_proxy: vec!["off".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(
            ServeConfig::resolve(&args)
                .unwrap()
                .sumdb_proxy
                .sumdb_proxy
                .is_empty()
        );

        let spec =
            parse_sumdb_spec("sum.golang.org https://proxy.example/sumdb/sum.golang.org").unwrap();
        assert_eq!(spec.url, "https://proxy.example/sumdb/sum.golang.org");
        for bad in ["a b c", "nokey", "sum.golang.org+00000000+AAAA"] {
            assert!(parse_sumdb_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_and_format() {
        let cases: &[(&str, u64)] = &[
            ("90", 90_000),
            ("90s", 90_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("250ms", 250),
            ("2d", 172_800_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text).unwrap().as_millis() as u64,
                *ms,
                "{text}"
            );
        }
        for bad in ["", "m", "5x", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn precedence_is_flag_then_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:4000\"\nupstream = \"off\"\nlist_ttl = \"10m\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            upstream: Some("http://127.0.0.1:9/".into()),
            ..Default::default()
        };
        let cfg = ServeConfig::resolve(&args).unwrap();
        assert_eq!(
            cfg.listen.to_string(),
            "127.0.0.1:4000",
            "file beats default"
        );
        assert_eq!(cfg.upstream, "http://127.0.0.1:9/", "flag beats file");
        assert_eq!(cfg.list_ttl, Duration::from_secs(600));
        assert_eq!(cfg.negative_ttl, Duration::from_secs(60), "default");
        assert_eq!(cfg.store, PathBuf::from("./modferry-data"));
    }

    #[test]
    fn vcs_rules_merge_flags_before_file_and_default_the_git_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(
            &file,
            "store = \"/srv/store\"\nprivate = \"corp.example\"\ngit_max_procs = 2\n\
             [[vcs]]\nprefix = \"git.corp.example/*\"\nurl = \"https://git.corp.example/*.git\"\n\
             ca_file = \"/etc/corp-ca.pem\"\nprivate = true\n\
             [[vcs]]\nprefix = \"*.internal.example\"\ninsecure = true\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            vcs: vec!["example.com/a=file:///srv/a.git, example.com/b=ssh://git@h/b.git".into()],
            git_refresh_ttl: Some("30s".into()),
            ..Default::default()
        };
        let cfg = ServeConfig::resolve(&args).unwrap();
        let g = &cfg.git;
        let prefixes: Vec<&str> = g.vcs.iter().map(|r| r.prefix.as_str()).collect();
        assert_eq!(
            prefixes,
            [
                "example.com/a",
                "example.com/b",
                "git.corp.example/*",
                "*.internal.example"
            ]
        );
        assert_eq!(g.private, "corp.example,git.corp.example/*");
        assert_eq!(g.git_cache, PathBuf::from("/srv/store/.modferry/git"));
        assert_eq!(g.git_refresh_ttl, Duration::from_secs(30));
        assert_eq!(g.git_max_procs, 2);
        assert_eq!(g.git_timeout, Duration::from_secs(600));
        assert!(g.has_git_routes());
        let printed = toml::to_string(&cfg).unwrap();
        assert!(printed.contains("[[vcs]]"), "{printed}");

        for bad in [
            "example.com/a",
            "example.com/a=-oProxyCommand=x",
            "nodot=https://a/b",
        ] {
            let args = ServeArgs {
                vcs: vec![bad.into()],
                ..Default::default()
            };
            let err = format!("{:#}", ServeConfig::resolve(&args).unwrap_err());
            assert!(err.contains("PREFIX=URL"), "{bad}: {err}");
        }
    }

    /// The `[s3]` table of `text` resolved under the environment `env`.
    fn s3_section(text: &str, env: &[(&str, &str)]) -> Result<S3Section> {
        let file: FileConfig = toml::from_str(text)?;
        S3Section::resolve(file.s3.as_ref(), true, |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// ([s3] table, what the one-line error says).
    const S3_BAD_VALUES: &[(&str, &str)] = &[
        ("endpoint = \"127.0.0.1:8333\"", "invalid s3.endpoint"),
        ("endpoint = \"ftp://h\"", "invalid s3.endpoint"),
        ("endpoint = \"http://\"", "invalid s3.endpoint"),
        ("region = \"\"", "invalid s3.region: empty"),
        ("access_key_id = \" \"", "invalid s3.access_key_id: empty"),
        (
            "access_key_id = \"id\"",
            "s3.access_key_id is set without a secret",
        ),
        (
            "secret_access_key = \"s\"",
            "s3.secret_access_key is set without s3.access_key_id",
        ),
        (
            "secret_access_key = \"s\"\nsecret_access_key_file = \"/nonexistent\"",
            "both set",
        ),
        (
            "secret_access_key_file = \"/nonexistent/secret\"",
            "invalid s3.secret_access_key_file: cannot read /nonexistent/secret",
        ),
        ("part_size = \"4MiB\"", "invalid s3.part_size \"4MiB\""),
        ("part_size = 1024", "invalid s3.part_size 1024"),
        ("part_size = \"6GiB\"", "invalid s3.part_size"),
        ("part_size = \"16 megabytes\"", "invalid s3.part_size"),
        ("part_size = -1", "invalid s3.part_size"),
        ("upload_concurrency = 0", "invalid s3.upload_concurrency 0"),
        (
            "upload_concurrency = 65",
            "invalid s3.upload_concurrency 65",
        ),
        (
            "request_timeout = \"0s\"",
            "invalid s3.request_timeout \"0s\"",
        ),
        (
            "request_timeout = \"soon\"",
            "invalid s3.request_timeout \"soon\"",
        ),
    ];

    #[test]
    fn s3_bad_values_give_one_line_errors_naming_the_key() {
        for (table, want) in S3_BAD_VALUES {
            let text = format!("[s3]\n{table}\n");
            let err = format!("{:#}", s3_section(&text, &[]).expect_err(table));
            assert!(err.contains(want), "{table}: {err}");
            assert!(!err.contains('\n'), "{table}: not one line: {err}");
        }
    }

    #[test]
    fn s3_unknown_keys_are_errors() {
        let err = format!(
            "{:#}",
            s3_section("[s3]\nsecret_key = \"x\"\n", &[]).unwrap_err()
        );
        assert!(err.contains("unknown field `secret_key`"), "{err}");
    }

    /// (environment, want endpoint, key id, secret).
    type S3Layer = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
        &'static str,
    );

    const S3_ENV_OVER_FILE: &[S3Layer] = &[
        (&[], "http://file:8333", "file-id", "file-secret"),
        (
            &[("AWS_ENDPOINT_URL_S3", "http://env:8333")],
            "http://env:8333",
            "file-id",
            "file-secret",
        ),
        (
            &[
                ("AWS_ACCESS_KEY_ID", "env-id"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ],
            "http://file:8333",
            "env-id",
            "env-secret",
        ),
        (
            &[("AWS_ENDPOINT_URL", ""), ("AWS_ACCESS_KEY_ID", "")],
            "http://file:8333",
            "file-id",
            "file-secret",
        ),
    ];

    #[test]
    fn s3_environment_beats_the_file_and_the_file_beats_the_default() {
        let text = "[s3]\nendpoint = \"http://file:8333\"\naccess_key_id = \"file-id\"\n\
                    secret_access_key = \"file-secret\"\npart_size = \"16MiB\"\n";
        for (env, endpoint, id, secret) in S3_ENV_OVER_FILE {
            let s = s3_section(text, env).unwrap().settings;
            assert_eq!(s.endpoint.as_deref(), Some(*endpoint), "{env:?}");
            assert_eq!(s.access_key_id.as_deref(), Some(*id), "{env:?}");
            assert_eq!(s.secret_access_key.as_deref(), Some(*secret), "{env:?}");
            assert_eq!(s.part_size, Some(16 << 20), "{env:?}");
            assert_eq!(s.region, None, "default left to the store");
        }
    }

    /// (file content, the secret).
    const SECRET_FILES: &[(&str, &str)] = &[
        ("s3cr3t", "s3cr3t"),
        ("s3cr3t\n", "s3cr3t"),
        ("s3cr3t\r\n", "s3cr3t"),
        ("s3cr3t\n\n", "s3cr3t"),
        (" s3 cr3t \n", " s3 cr3t "),
    ];

    #[test]
    fn s3_secret_file_is_read_with_trailing_line_breaks_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        for (content, want) in SECRET_FILES {
            std::fs::write(&path, content).unwrap();
            let text = format!(
                "[s3]\naccess_key_id = \"id\"\nsecret_access_key_file = {:?}\n",
                path.display().to_string()
            );
            let s = s3_section(&text, &[]).unwrap().settings;
            assert_eq!(s.secret_access_key.as_deref(), Some(*want), "{content:?}");
        }
        std::fs::write(&path, "\n").unwrap();
        let text = format!(
            "[s3]\naccess_key_id = \"id\"\nsecret_access_key_file = {:?}\n",
            path.display().to_string()
        );
        let err = format!("{:#}", s3_section(&text, &[]).unwrap_err());
        assert!(err.contains("is empty"), "{err}");
    }

    #[test]
    fn print_config_redacts_the_secret_and_the_session_token() {
        let dir = tempfile::tempdir().unwrap();
        let secret_path = dir.path().join("secret");
        std::fs::write(&secret_path, "file-secret-value\n").unwrap();
        let inline = "store = \"s3://modferry\"\n[s3]\nendpoint = \"http://127.0.0.1:8333\"\n\
                      access_key_id = \"id\"\nsecret_access_key = \"inline-secret-value\"\n\
                      session_token = \"token-value\"\n";
        let from_file = format!(
            "store = \"s3://modferry\"\n[s3]\naccess_key_id = \"id\"\n\
             secret_access_key_file = {:?}\n",
            secret_path.display().to_string()
        );
        let mut cfg = ServeConfig::resolve(&ServeArgs::default()).unwrap();
        for (text, redacted, file_key) in
            [(inline.to_owned(), true, false), (from_file, false, true)]
        {
            cfg.s3 = s3_section(&text, &[]).unwrap();
            let printed = toml::to_string(&cfg).unwrap();
            for secret in ["inline-secret-value", "file-secret-value", "token-value"] {
                assert!(!printed.contains(secret), "{printed}");
            }
            let v: toml::Value = toml::from_str(&printed).unwrap();
            let s3 = &v["s3"];
            assert_eq!(s3["access_key_id"].as_str(), Some("id"));
            assert_eq!(
                s3.get("secret_access_key").and_then(|s| s.as_str()),
                redacted.then_some(REDACTED),
                "{printed}"
            );
            assert_eq!(s3.get("secret_access_key_file").is_some(), file_key);
            assert_eq!(
                s3.get("session_token").and_then(|s| s.as_str()),
                redacted.then_some(REDACTED)
            );
            assert_eq!(s3["region"].as_str(), Some("us-east-1"), "default shown");
            assert_eq!(s3["part_size"].as_str(), Some("8MiB"));
            assert_eq!(s3["allow_http"].as_bool(), Some(redacted), "http endpoint");
        }
        // A directory store without an [s3] table prints none.
        cfg.s3 = S3Section::resolve(None, false, |_| None).unwrap();
        assert!(!toml::to_string(&cfg).unwrap().contains("[s3]"));
    }

    /// (lease_ttl, want; `None`: rejected).
    const LEASE_TTLS: &[(&str, Option<u64>)] = &[
        ("3s", Some(3_000)),
        ("1s", Some(1_000)),
        ("60", Some(60_000)),
        ("1h", Some(3_600_000)),
        ("0s", None),
        ("0", None),
        ("999ms", None),
        ("1h1s", None),
        ("2d", None),
        ("forever", None),
    ];

    #[test]
    fn lease_ttl_defaults_to_the_lease_default_and_must_be_from_1s_to_1h() {
        let cfg = ServeConfig::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(cfg.lease_ttl, modferry_service::lease::DEFAULT_LEASE_TTL);
        for (text, want) in LEASE_TTLS {
            let args = ServeArgs {
                lease_ttl: Some((*text).into()),
                ..Default::default()
            };
            match (ServeConfig::resolve(&args), want) {
                (Ok(cfg), Some(ms)) => assert_eq!(cfg.lease_ttl.as_millis() as u64, *ms),
                (Err(e), None) => {
                    let e = format!("{e:#}");
                    assert!(e.contains("invalid lease_ttl"), "{text}: {e}");
                }
                (got, _) => panic!("{text}: {:?}", got.map(|c| c.lease_ttl)),
            }
        }
        // The file's key, under the flag.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(&file, "lease_ttl = \"10s\"\n").unwrap();
        let mut args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        assert_eq!(
            ServeConfig::resolve(&args).unwrap().lease_ttl,
            Duration::from_secs(10)
        );
        args.lease_ttl = Some("3s".into());
        assert_eq!(
            ServeConfig::resolve(&args).unwrap().lease_ttl,
            Duration::from_secs(3)
        );
    }

    /// (size text, bytes).
    const SIZES: &[(&str, Option<u64>)] = &[
        ("16MiB", Some(16 << 20)),
        ("5242880", Some(5 << 20)),
        ("1GiB", Some(1 << 30)),
        ("512KiB", Some(512 << 10)),
        ("7B", Some(7)),
        ("16MB", None),
        ("MiB", None),
        ("-1MiB", None),
        ("99999999999999999999GiB", None),
    ];

    #[test]
    fn sizes_parse_with_binary_units_and_format_back() {
        for (text, want) in SIZES {
            assert_eq!(parse_size(text), *want, "{text}");
            if let Some(n) = want {
                assert_eq!(parse_size(&format_size(*n)), Some(*n), "{text}");
            }
        }
        assert_eq!(format_size(8 << 20), "8MiB");
        assert_eq!(format_size(1000), "1000");
    }

    #[test]
    fn unknown_config_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:4000\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        let err = format!("{:#}", ServeConfig::resolve(&args).unwrap_err());
        assert!(err.contains("unknown field `lisen`"), "{err}");
    }
}
