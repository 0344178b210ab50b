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
    /// Store directory, laid out like $GOMODCACHE/cache/download [default: ./modferry-data]
    #[arg(long, env = "MODFERRY_STORE", value_name = "DIR")]
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
    /// Print the effective configuration as TOML and exit
    #[arg(long)]
    pub print_config: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

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
