//! Configuration: flags, `MODFERRY_*` environment variables and a TOML file, merged with the
//! precedence flag > environment > file > default. clap resolves flag > environment; the
//! file and the defaults are applied here. Every key is documented in docs/configuration.md,
//! and `modferry serve --print-config` prints the effective configuration as TOML.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Flags of `modferry serve`. All optional: unset ones fall back to the file, then defaults.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(long, env = "MODFERRY_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Store: a directory (laid out like $GOMODCACHE/cache/download), file://DIR or
    /// s3://BUCKET[/PREFIX] (AWS_* variables, docs/configuration.md) [default: ./modferry-data]
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
        Ok(ServeConfig {
            // Before `store`, which moves out of `file`.
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
