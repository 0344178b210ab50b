//! The classic "private module misconfigured with a self-signed certificate host" with the real
//! go command: the VCS host of a GOPRIVATE module serves `?go-get=1` and git (smart HTTP, `git
//! http-backend` behind a small CGI bridge) over TLS with a certificate from a private CA made
//! at test time with the `openssl` command.
//!
//! A module path cannot carry a port, so `example.com/tls/lib` is reached through `HTTPS_PROXY`:
//! a loopback `CONNECT` proxy tunnels every connection to the TLS server on 127.0.0.1, whose
//! certificate names `example.com`. Nothing leaves 127.0.0.1. The TLS server, the CGI bridge
//! and the proxy follow crates/sources/tests/git_routing_tls.rs.
//!
//! Shown: the go command fails with an x509 error; doctor reports `private-module-direct`
//! naming the unknown authority and the fix (a mirror rule with `ca_file`, or the CA for the go
//! command and git — never GIT_SSL_NO_VERIFY); with half the fix (discovery trusts the CA, git
//! does not) doctor still reports it, at the git stage, and go still fails; after either full
//! fix doctor clears the finding and the go command succeeds.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use util::*;

#[path = "../../sources/tests/support/tls_git.rs"]
mod tls_git;
use tls_git::*;

/// A work tree with [`MODULE`] at v1.0.0, cloned bare to `srv/tls/lib.git`.
fn make_repo(base: &Path) {
    let work = base.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("go.mod"), format!("module {MODULE}\n\ngo 1.21\n")).unwrap();
    std::fs::write(
        work.join("lib.go"),
        "package lib\n\nfunc Answer() int { return 42 }\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1.0.0"]);
    std::fs::create_dir_all(base.join("srv/tls")).expect("mkdir");
    git(
        base,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            base.join("srv/tls/lib.git").to_str().unwrap(),
        ],
    );
}

fn doctor(env: &GoEnv, dir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["doctor", dir.to_str().unwrap(), "--json"])
        .env_clear()
        .envs(&env.vars)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `modferry serve` without the git CA variables of this process's environment: git lets
/// `GIT_SSL_CAINFO` override `-c http.sslCAInfo`, so a CA bundle exported machine-wide would
/// hide the rule's `ca_file` (see the report on modferry-sources).
fn serve_mirror(dir: &Path, args: &[&str]) -> Proc {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.join(format!("modferry-{port}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("GIT_SSL_CAINFO")
        .env_remove("GIT_SSL_CAPATH")
        .env_remove("GIT_SSL_NO_VERIFY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn modferry");
    let proc = Proc { child, url, log };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !http_get(&format!("127.0.0.1:{port}"), "/healthz")
        .is_ok_and(|r| r.starts_with("HTTP/1."))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "modferry did not start: {}",
            proc.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proc
}

fn finding<'a>(doc: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
}

/// A go environment that reaches every https host through the CONNECT proxy; git is hermetic.
fn tls_env(base: &Path, proxy: u16, goproxy: &str) -> GoEnv {
    let mut env = GoEnv::new(goproxy);
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (k, v) in [
        ("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}")),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("GOSUMDB", format!("sum.golang.org {closed}")),
        ("GOFLAGS", "-mod=mod".into()),
    ] {
        env.vars.insert(k.into(), v);
    }
    let _ = base;
    env
}

fn consumer(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.21\n\nrequire {MODULE} v1.0.0\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("main.go"),
        format!("package main\n\nimport \"{MODULE}\"\n\nfunc main() {{ println(lib.Answer()) }}\n"),
    )
    .unwrap();
    d
}

#[test]
fn doctor_private_module_on_a_self_signed_git_host_needs_its_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let certs = base.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certificates(&certs);
    let ca = certs.join("ca.pem");
    let ca_s = ca.to_str().unwrap().to_owned();
    make_repo(base);
    let server = TlsGitServer::start(&certs, base.join("srv"));
    let proxy = ConnectProxy::start(server.port);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let dir = consumer(base, "direct");

    // GOPRIVATE sends the go command straight to the host, whose CA nobody trusts.
    let mut env = tls_env(base, proxy.port, &closed);
    env.vars
        .insert("GOPRIVATE".into(), "example.com/tls".into());
    let out = env.go(&dir, &["mod", "download", MODULE]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "go succeeded with an untrusted CA");
    assert!(
        err.contains("go-get=1") && err.contains("x509: certificate signed by unknown authority"),
        "go should fail on the certificate at discovery: {err}"
    );
    assert!(
        proxy
            .targets
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "CONNECT example.com:443"),
        "go did not go through the CONNECT proxy"
    );
    let doc = doctor(&env, &dir);
    let f = finding(&doc, "private-module-direct").unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(f["severity"], "error");
    assert_eq!(f["subject"], format!("{MODULE}@v1.0.0"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("self-signed or signed by an unknown authority") && msg.contains("x509"),
        "{f:#}"
    );
    let fix = f["fix"].as_str().unwrap();
    for want in [
        "ca_file",
        "[[vcs]]",
        "GIT_SSL_CAINFO",
        "SSL_CERT_FILE",
        "GONOPROXY=",
    ] {
        assert!(fix.contains(want), "fix lacks {want}: {f:#}");
    }
    assert!(!fix.contains("GIT_SSL_NO_VERIFY=1"), "{f:#}");

    // Half a fix: the go command trusts the CA for discovery, git still does not.
    env.vars.insert("SSL_CERT_FILE".into(), ca_s.clone());
    let doc = doctor(&env, &dir);
    let f = finding(&doc, "private-module-direct").unwrap_or_else(|| panic!("{doc:#}"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("git fails") && msg.contains("unknown authority"),
        "{f:#}"
    );
    let out = env.go(&dir, &["mod", "download", MODULE]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "go succeeded without the CA for git");
    assert!(
        err.contains("git ls-remote") && err.to_ascii_lowercase().contains("certificate"),
        "git should fail on the certificate: {err}"
    );

    // Fix 1, the go command direct: the CA for discovery and for git.
    env.vars.insert("GIT_SSL_CAINFO".into(), ca_s.clone());
    let doc = doctor(&env, &dir);
    assert!(finding(&doc, "private-module-direct").is_none(), "{doc:#}");
    env.go_ok(&dir, &["mod", "download", MODULE]);
    env.go_ok(&dir, &["build", "./..."]);

    // Fix 2, the mirror: a modferry with a rule for the repository and its CA; the go command
    // uses GOPROXY for the module (GONOPROXY/GOPRIVATE cleared) and keeps it away from the
    // checksum database (GONOSUMDB).
    let config = base.join("modferry.toml");
    std::fs::write(
        &config,
        format!(
            "[[vcs]]\nprefix = \"{MODULE}\"\nurl = \"https://127.0.0.1:{}/tls/lib.git\"\nca_file = \"{ca_s}\"\n",
            server.port
        ),
    )
    .unwrap();
    let store = base.join("store");
    let mirror = serve_mirror(
        base,
        &[
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--upstream",
            &closed,
            "--sumdb-proxy",
            "off",
        ],
    );
    let dir = consumer(base, "via-mirror");
    let mut env = tls_env(base, proxy.port, &mirror.url);
    env.vars.insert("GOPRIVATE".into(), String::new());
    env.vars.insert("GONOPROXY".into(), String::new());
    env.vars
        .insert("GONOSUMDB".into(), "example.com/tls".into());
    let doc = doctor(&env, &dir);
    assert!(finding(&doc, "private-module-direct").is_none(), "{doc:#}");
    let out = env.go(&dir, &["mod", "download", MODULE]);
    assert!(
        out.status.success(),
        "go through the mirror failed:\n{}\nmirror log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        mirror.log_text()
    );
    env.go_ok(&dir, &["build", "./..."]);
}
