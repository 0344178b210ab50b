//! Network probes with short timeouts: does a GOPROXY entry, a checksum database, a VCS host or
//! a modferry mirror answer, and what does the mirror hold.
//!
//! "Answers" means an HTTP response of any status: a 404 from a proxy's root still proves the
//! go command can talk to it. The checksum-database probe follows cmd/go
//! internal/modfetch/sumdb.go: each GOPROXY entry is asked `<proxy>/sumdb/<name>/supported`
//! (a 200 means the proxy serves it), and otherwise the database is contacted directly at
//! `https://<name>/` (or the URL given in GOSUMDB), asking for `latest`.

use std::time::Duration;

use modferry_formats::module::{escape_path, escape_version};
use serde::Deserialize;

/// How long any single probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Result of a probe: `Ok(status)` for any HTTP answer, `Err(reason)` when none came.
pub type Probe = Result<u16, String>;

/// The HTTP client used by doctor (honours HTTPS_PROXY/NO_PROXY like the go command).
pub fn client() -> reqwest::Client {
    builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A longer-timeout client for downloads (module zips from a mirror).
pub fn download_client() -> reqwest::Client {
    builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Trusts what the go command trusts: on Linux, Go's crypto/x509 reads the CA bundle named by
/// `SSL_CERT_FILE` (root_unix.go), so a private CA given that way works for both.
fn builder() -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .connect_timeout(PROBE_TIMEOUT)
        .user_agent(concat!("modferry-doctor/", env!("CARGO_PKG_VERSION")));
    if let Some(file) = std::env::var_os("SSL_CERT_FILE")
        && let Ok(pem) = std::fs::read(file)
        && let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem)
    {
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b
}

/// Whether a probe failure is a certificate problem (self-signed, unknown CA, wrong name).
pub fn is_tls_error(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("certificate")
        || r.contains("unknownissuer")
        || r.contains("tls")
        || r.contains("ssl")
        || r.contains("x509")
}

/// Whether a TLS failure means the certificate's issuer is not trusted (self-signed, or
/// signed by a private CA): rustls says "UnknownIssuer", git/curl "self-signed certificate" or
/// "unable to get local issuer certificate", GnuTLS "certificate verification failed".
pub fn is_unknown_authority(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "unknownissuer",
        "unknown issuer",
        "unknown authority",
        "self signed",
        "self-signed",
        "local issuer",
        "certificate verification failed",
        "server certificate verification",
        "unknownca",
    ]
    .iter()
    .any(|s| r.contains(s))
}

/// Describes a reqwest error with its causes (e.g. "connection refused", a certificate error).
pub fn describe(err: &reqwest::Error) -> String {
    let mut s = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(e) = src {
        s.push_str(": ");
        s.push_str(&e.to_string());
        src = e.source();
    }
    s
}

/// GET `url`, any status counts as an answer.
pub async fn probe(client: &reqwest::Client, url: &str) -> Probe {
    match client.get(url).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(describe(&e)),
    }
}

/// Probes one GOPROXY entry (`file://` entries are checked on disk).
pub async fn probe_proxy(client: &reqwest::Client, entry: &str) -> Probe {
    if let Some(path) = entry.strip_prefix("file://") {
        return if std::path::Path::new(path).is_dir() {
            Ok(200)
        } else {
            Err(format!("directory {path} does not exist"))
        };
    }
    probe(client, &format!("{}/", entry.trim_end_matches('/'))).await
}

/// GETs the `?go-get=1` page of `module` as the go command does in direct mode
/// (`https://<module>?go-get=1`, cmd/go `vcs/discovery.go`); the body whatever the status.
pub async fn go_get_page(client: &reqwest::Client, module: &str) -> Result<String, String> {
    let url = format!("https://{module}?go-get=1");
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    Ok(String::from_utf8_lossy(&body[..body.len().min(1 << 20)]).into_owned())
}

/// How long `git ls-remote` may take against one repository.
pub const GIT_PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `git ls-remote <url>` (what the go command's first contact with a repository amounts
/// to: cmd/go `modfetch/codehost/git.go` lists the remote's refs) with the process environment,
/// so `GIT_SSL_CAINFO`, `HTTPS_PROXY` and git's config apply as they would for the go command;
/// never prompts. `Err` carries git's message.
pub async fn git_ls_remote(git: std::path::PathBuf, url: String) -> Result<(), String> {
    let run = move || -> Result<(), String> {
        let mut child = std::process::Command::new(git)
            .args(["ls-remote", "-q", &url, "HEAD"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run git: {e}"))?;
        let deadline = std::time::Instant::now() + GIT_PROBE_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read as _;
                        let _ = e.read_to_string(&mut err);
                    }
                    return if status.success() {
                        Ok(())
                    } else {
                        Err(format!("git ls-remote {url}: {}", err.trim()))
                    };
                }
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "git ls-remote {url}: timed out after {}s",
                        GIT_PROBE_TIMEOUT.as_secs()
                    ));
                }
                Err(e) => return Err(format!("git ls-remote {url}: {e}")),
            }
        }
    };
    tokio::task::spawn_blocking(run)
        .await
        .unwrap_or_else(|e| Err(format!("git probe failed: {e}")))
}

/// A GOSUMDB setting: `name[+key] [url]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumdbSetting {
    /// Database name, e.g. `sum.golang.org`.
    pub name: String,
    /// Explicit URL, if given.
    pub url: Option<String>,
}

/// Parses GOSUMDB; `None` for `off` or empty.
pub fn parse_gosumdb(v: &str) -> Option<SumdbSetting> {
    let mut f = v.split_whitespace();
    let first = f.next()?;
    if first == "off" {
        return None;
    }
    let name = first.split('+').next().unwrap_or(first).to_string();
    Some(SumdbSetting {
        name,
        url: f.next().map(str::to_string),
    })
}

/// How the checksum database can be reached: `(how, base URL)` (the base serves `lookup/…`,
/// `tile/…`), or why it cannot.
pub async fn probe_sumdb(
    client: &reqwest::Client,
    db: &SumdbSetting,
    proxies: &[String],
) -> Result<(String, String), String> {
    let mut why = Vec::new();
    if db.url.is_none() {
        for p in proxies {
            if !p.starts_with("http") {
                continue;
            }
            let base = format!("{}/sumdb/{}", p.trim_end_matches('/'), db.name);
            let url = format!("{base}/supported");
            match probe(client, &url).await {
                Ok(200) => return Ok((format!("through {p}"), base)),
                Ok(s) => why.push(format!("{url}: {s}")),
                Err(e) => why.push(format!("{url}: {e}")),
            }
        }
    }
    let base = db
        .url
        .clone()
        .unwrap_or_else(|| format!("https://{}", db.name));
    let url = format!("{}/latest", base.trim_end_matches('/'));
    match probe(client, &url).await {
        Ok(200) => Ok((
            format!("directly at {base}"),
            base.trim_end_matches('/').to_owned(),
        )),
        Ok(s) => {
            why.push(format!("{url}: {s}"));
            Err(why.join("; "))
        }
        Err(e) => {
            why.push(format!("{url}: {e}"));
            Err(why.join("; "))
        }
    }
}

/// What a modferry mirror says about itself at `/.well-known/modferry`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct MirrorDescription {
    /// modferry version.
    #[serde(default)]
    pub version: String,
    /// Whether it serves only what it stores.
    #[serde(default)]
    pub offline: bool,
    /// Module path patterns (GOPRIVATE syntax) it treats as private.
    #[serde(default)]
    pub private: Vec<String>,
    /// Checksum databases it serves under `/sumdb/<name>/`.
    #[serde(default)]
    pub sumdbs: Vec<String>,
}

/// Reads the mirror's description; `Ok(None)` when the mirror answers but has none (not a
/// modferry, or an older one).
pub async fn describe_mirror(
    client: &reqwest::Client,
    mirror: &str,
) -> Result<Option<MirrorDescription>, String> {
    let url = format!("{}/.well-known/modferry", mirror.trim_end_matches('/'));
    let resp = client.get(&url).send().await.map_err(|e| describe(&e))?;
    if !resp.status().is_success() {
        return Ok(None);
    }
    let body = resp.bytes().await.map_err(|e| describe(&e))?;
    Ok(serde_json::from_slice(&body).ok())
}

/// A file of `module@version` from a GOPROXY (`ext`: `mod` or `zip`).
pub enum Fetched {
    /// 200 with the body.
    Found(Vec<u8>),
    /// 404 or 410, with the server's text.
    Missing(String),
    /// Anything else.
    Failed(String),
}

/// GETs `<proxy>/<escaped module>/@v/<escaped version>.<ext>`.
pub async fn fetch_file(
    client: &reqwest::Client,
    proxy: &str,
    module: &str,
    version: &str,
    ext: &str,
) -> Fetched {
    let (Ok(m), Ok(v)) = (escape_path(module), escape_version(version)) else {
        return Fetched::Failed(format!("{module}@{version} is not a valid module version"));
    };
    let url = format!("{}/{m}/@v/{v}.{ext}", proxy.trim_end_matches('/'));
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => return Fetched::Failed(format!("{url}: {}", describe(&e))),
    };
    let status = resp.status().as_u16();
    let body = match resp.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return Fetched::Failed(format!("{url}: {}", describe(&e))),
    };
    match status {
        200 => Fetched::Found(body),
        404 | 410 => {
            let text = String::from_utf8_lossy(&body).trim().to_string();
            Fetched::Missing(if text.is_empty() {
                format!("{status}")
            } else {
                format!("{status}: {text}")
            })
        }
        s => Fetched::Failed(format!("{url}: status {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gosumdb_setting_parses_name_key_and_url() {
        assert_eq!(parse_gosumdb("off"), None);
        assert_eq!(
            parse_gosumdb("sum.golang.org"),
            Some(SumdbSetting {
                name: "sum.golang.org".into(),
                url: None
            })
        );
        assert_eq!(
            parse_gosumdb("my.db+abcd+key https://db.example/x"),
            Some(SumdbSetting {
                name: "my.db".into(),
                url: Some("https://db.example/x".into())
            })
        );
    }
}
